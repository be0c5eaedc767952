import { useState } from 'preact/hooks';
import { Loading } from '../components/Status';
import { api } from '../lib/api';
import { formatMoney, type Money } from '../lib/money';
import { Link, match } from '../lib/router';
import { useSession } from '../lib/session';
import type { User } from '../lib/tokens';
import { useFetch } from '../lib/useFetch';
import { ActionResult, FilterForm, NotAllowed, Refusable, useAction, when } from './admin/common';
import { PagedList, usePagedList } from './admin/PagedList';
import { AdminOrder, AdminOrders } from './admin/Orders';
import { ProductEditor, ProductsTable } from './admin/Products';
import { BrandEditor, BrandsList, CategoriesList, CategoryEditor } from './admin/Taxonomy';

interface StockRow {
  sku: string;
  on_hand: number;
  reserved: number;
  available: number;
  level: string;
  updated_at: string;
}

const TABS = [
  ['orders', 'Orders'],
  ['products', 'Products'],
  ['brands', 'Brands'],
  ['categories', 'Categories'],
  ['stock', 'Stock'],
  ['users', 'Users'],
  ['payments', 'Payments'],
] as const;

/** The admin console: the UI hides itself from non-admins, and the gateway refuses them anyway. */
export function Admin({ path, search }: { path: string; search: string }) {
  const session = useSession();
  if (!session)
    return (
      <div class="narrow">
        <h1 tabIndex={-1}>Admin console</h1>
        <p>
          Please <Link href={`/signin?next=${encodeURIComponent(path)}`}>sign in</Link> with an admin account.
        </p>
      </div>
    );
  if (!session.user.roles.includes('admin')) return <NotAllowed />;
  const tab = TABS.find(([id]) => path === `/admin/${id}` || path.startsWith(`/admin/${id}/`))?.[0] ?? 'orders';
  return (
    <div class="admin">
      <h1 tabIndex={-1}>Admin console</h1>
      <nav class="tabs" aria-label="Admin sections">
        {TABS.map(([id, label]) => (
          <Link key={id} href={`/admin/${id}`} aria-current={tab === id ? 'page' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <Section tab={tab} path={path} search={search} me={session.user} />
    </div>
  );
}

function Section({ tab, path, search, me }: { tab: string; path: string; search: string; me: User }) {
  const order = match('/admin/orders/:id', path);
  const sku = match('/admin/stock/:sku', path);
  if (tab === 'orders') return order ? <AdminOrder key={order.id} id={order.id} /> : <AdminOrders search={search} />;
  const product = match('/admin/products/:id', path);
  if (tab === 'products') return product ? <ProductEditor key={product.id} id={product.id} /> : <ProductsTable />;
  const brand = match('/admin/brands/:id', path);
  if (tab === 'brands') return brand ? <BrandEditor key={brand.id} id={brand.id} /> : <BrandsList />;
  const category = match('/admin/categories/:id', path);
  if (tab === 'categories') return category ? <CategoryEditor key={category.id + search} id={category.id} search={search} /> : <CategoriesList />;
  if (tab === 'stock') return sku ? <StockDetail key={sku.sku} sku={sku.sku} /> : <StockTable search={search} />;
  if (tab === 'users') return <UsersTable search={search} me={me} />;
  return <PaymentsTable search={search} />;
}

function StockTable({ search }: { search: string }) {
  const params = new URLSearchParams(search);
  const low = params.get('low') === '1';
  const prefix = params.get('prefix') ?? '';
  const query = new URLSearchParams({ limit: '100' });
  if (low) query.set('low', 'true');
  if (prefix) query.set('prefix', prefix);
  const stock = usePagedList<StockRow>(`/api/v1/admin/stock?${query}`);
  return (
    <>
      <FilterForm base="/admin/stock" search={search} label="Filter stock">
        <div class="field">
          <label for="stock-prefix">SKU starts with</label>
          <input id="stock-prefix" name="prefix" defaultValue={prefix} maxLength={64} />
        </div>
        <label class="check">
          <input type="checkbox" name="low" value="1" defaultChecked={low} />
          Low stock only
        </label>
      </FilterForm>
      <PagedList
        list={stock}
        label="Stock"
        caption="Stock levels by SKU"
        noun={['SKU', 'SKUs']}
        loading="Loading stock…"
        empty="No stock records match."
        head={
          <tr>
            <th scope="col">SKU</th>
            <th scope="col" class="num">On hand</th>
            <th scope="col" class="num">Reserved</th>
            <th scope="col" class="num">Available</th>
            <th scope="col">Level</th>
          </tr>
        }
        row={(s) => (
          <tr key={s.sku}>
            <th scope="row">
              <Link href={`/admin/stock/${encodeURIComponent(s.sku)}`} aria-label={`Adjust ${s.sku}`}>
                <code>{s.sku}</code>
              </Link>
            </th>
            <td class="num">{s.on_hand}</td>
            <td class="num">{s.reserved}</td>
            <td class="num">{s.available}</td>
            <td>
              <span class={`badge level-${s.level}`}>{s.level.replace(/_/g, ' ')}</span>
            </td>
          </tr>
        )}
      />
    </>
  );
}

interface LedgerRow {
  id: number;
  kind: string;
  delta_on_hand: number;
  delta_reserved: number;
  on_hand_after: number;
  reserved_after: number;
  reason: string | null;
  actor: string | null;
  order_id: string | null;
  created_at: string;
}

function StockDetail({ sku }: { sku: string }) {
  const base = `/api/v1/admin/stock/${encodeURIComponent(sku)}`;
  const [version, setVersion] = useState(0);
  const stock = useFetch(`stock-${sku}-${version}`, (signal) => api<StockRow>(base, { auth: true, signal }));
  const ledger = usePagedList<LedgerRow>(`${base}/ledger?limit=50`, version);
  const [delta, setDelta] = useState('');
  const [reason, setReason] = useState('');
  const [kind, setKind] = useState<'adjustment' | 'restock'>('adjustment');
  const action = useAction();
  const deltaValue = Number(delta);
  const deltaOk = /^[+-]?\d{1,9}$/.test(delta.trim()) && deltaValue !== 0;
  return (
    <div class="stock-detail">
      <p>
        <Link href="/admin/stock">← All stock</Link>
      </p>
      <h2>
        Stock of <code>{sku}</code>
      </h2>
      {stock.status === 'loading' && <Loading label="Loading stock…" />}
      {stock.status === 'error' && <Refusable error={stock.error} retry={stock.retry} />}
      {stock.status === 'ok' && (
        <dl class="facts" data-testid="stock-levels">
          <div>
            <dt>On hand</dt>
            <dd data-testid="on-hand">{stock.data.on_hand}</dd>
          </div>
          <div>
            <dt>Reserved</dt>
            <dd>{stock.data.reserved}</dd>
          </div>
          <div>
            <dt>Available</dt>
            <dd>{stock.data.available}</dd>
          </div>
          <div>
            <dt>Level</dt>
            <dd>{stock.data.level.replace(/_/g, ' ')}</dd>
          </div>
        </dl>
      )}
      <form
        class="admin-form"
        aria-labelledby="adjust-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (!deltaOk || !reason.trim()) return;
          void action.run(async () => {
            const after = await api<StockRow>(base, {
              method: 'POST',
              auth: true,
              body: { delta: deltaValue, reason: reason.trim(), kind },
            });
            setDelta('');
            setReason('');
            setVersion((n) => n + 1);
            return `Adjusted: ${after.on_hand} on hand.`;
          });
        }}
      >
        <h3 id="adjust-title">Adjust stock</h3>
        <div class="field">
          <label for="adjust-delta">Change (e.g. 5 or -2)</label>
          <input id="adjust-delta" inputMode="numeric" required value={delta} onInput={(e) => setDelta(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="adjust-kind">Kind</label>
          <select id="adjust-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as 'adjustment' | 'restock')}>
            <option value="adjustment">Adjustment (count, damage, loss)</option>
            <option value="restock">Restock (delivery)</option>
          </select>
        </div>
        <div class="field">
          <label for="adjust-reason">Reason</label>
          <input id="adjust-reason" required maxLength={255} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </div>
        <ActionResult action={action} testId="adjust" />
        <button type="submit" class="button" disabled={action.busy || !deltaOk || !reason.trim()} data-testid="adjust-submit">
          Apply adjustment
        </button>
      </form>
      <h3>Ledger</h3>
      <PagedList
        list={ledger}
        label="Ledger"
        caption={`Stock movements of ${sku}, newest first`}
        noun={['movement', 'movements']}
        loading="Loading the ledger…"
        empty="No movements yet."
        bodyTestId="ledger"
        head={
          <tr>
            <th scope="col">When</th>
            <th scope="col">Kind</th>
            <th scope="col" class="num">On hand ±</th>
            <th scope="col" class="num">Reserved ±</th>
            <th scope="col" class="num">On hand after</th>
            <th scope="col">Reason</th>
            <th scope="col">By</th>
          </tr>
        }
        row={(e) => (
          <tr key={e.id}>
            <td>{when(e.created_at)}</td>
            <td>{e.kind}</td>
            <td class="num">{e.delta_on_hand}</td>
            <td class="num">{e.delta_reserved}</td>
            <td class="num">{e.on_hand_after}</td>
            <td>{e.reason ?? (e.order_id ? `order ${e.order_id.slice(0, 8)}` : '—')}</td>
            <td>{e.actor ?? '—'}</td>
          </tr>
        )}
      />
    </div>
  );
}

interface AdminUser extends User {
  disabled: boolean;
  created_at: string;
}

function UsersTable({ search, me }: { search: string; me: User }) {
  const params = new URLSearchParams(search);
  const q = params.get('q') ?? '';
  const role = params.get('role') ?? '';
  const query = new URLSearchParams({ limit: '50' });
  if (q) query.set('q', q);
  if (role === 'admin' || role === 'customer') query.set('role', role);
  const [version, setVersion] = useState(0);
  const users = usePagedList<AdminUser>(`/api/v1/admin/users?${query}`, version);
  const action = useAction();
  const change = (user: AdminUser, what: 'admin' | 'customer' | 'disable' | 'enable') =>
    action.run(async () => {
      const url = `/api/v1/admin/users/${encodeURIComponent(user.id)}`;
      if (what === 'disable' || what === 'enable') await api(`${url}/${what}`, { method: 'POST', auth: true });
      else
        await api(`${url}/roles`, {
          method: 'PUT',
          auth: true,
          body: what === 'admin' ? { roles: ['admin'], permissions: ['catalog', 'inventory', 'orders', 'users', 'payments'] } : { roles: ['customer'], permissions: [] },
        });
      setVersion((n) => n + 1);
      return `${user.email}: ${what === 'admin' ? 'now an admin' : what === 'customer' ? 'now a customer' : `${what}d`}.`;
    });
  return (
    <>
      <FilterForm base="/admin/users" search={search} label="Find users">
        <div class="field">
          <label for="users-q">E-mail or name</label>
          <input id="users-q" name="q" type="search" defaultValue={q} maxLength={200} />
        </div>
        <div class="field">
          <label for="users-role">Role</label>
          <select id="users-role" name="role" value={role}>
            <option value="">Any</option>
            <option value="customer">Customer</option>
            <option value="admin">Admin</option>
          </select>
        </div>
      </FilterForm>
      <ActionResult action={action} testId="users" />
      <PagedList
        list={users}
        label="Users"
        caption="Users by e-mail"
        noun={['user', 'users']}
        loading="Loading users…"
        empty="No users match."
        head={
          <tr>
            <th scope="col">E-mail</th>
            <th scope="col">Name</th>
            <th scope="col">Roles</th>
            <th scope="col">State</th>
            <th scope="col">Actions</th>
          </tr>
        }
        row={(u) => {
          const self = u.id === me.id;
          const isAdmin = u.roles.includes('admin');
          return (
            <tr key={u.id} data-user-email={u.email}>
              <th scope="row">{u.email}</th>
              <td>{u.name}</td>
              <td>{u.roles.join(', ')}</td>
              <td>{u.disabled ? <span class="badge level-out_of_stock">disabled</span> : 'active'}</td>
              <td class="row-actions">
                {!self && (
                  <>
                    <button type="button" class="button link" disabled={action.busy} onClick={() => change(u, isAdmin ? 'customer' : 'admin')}>
                      {isAdmin ? 'Make customer' : 'Make admin'}
                      <span class="visually-hidden"> {u.email}</span>
                    </button>
                    <button type="button" class="button link" disabled={action.busy} onClick={() => change(u, u.disabled ? 'enable' : 'disable')}>
                      {u.disabled ? 'Enable' : 'Disable'}
                      <span class="visually-hidden"> {u.email}</span>
                    </button>
                  </>
                )}
                {self && <span class="hint">you</span>}
              </td>
            </tr>
          );
        }}
      />
    </>
  );
}

interface PaymentRow {
  id: string;
  order_id: string;
  user_id: string;
  status: string;
  amount: Money;
  captured: Money;
  refunded: Money;
  provider: string;
  failure_reason: string | null;
  created_at: string;
}

const PAYMENT_STATUSES = ['pending', 'requires_action', 'authorized', 'captured', 'failed', 'voided', 'refunded', 'partially_refunded'];

function PaymentsTable({ search }: { search: string }) {
  const params = new URLSearchParams(search);
  const status = params.get('status') ?? '';
  const order = params.get('order_id') ?? '';
  const query = new URLSearchParams({ limit: '50' });
  if (PAYMENT_STATUSES.includes(status)) query.set('status', status);
  if (order) query.set('order_id', order);
  const payments = usePagedList<PaymentRow>(`/api/v1/admin/payments?${query}`);
  return (
    <>
      <FilterForm base="/admin/payments" search={search} label="Filter payments">
        <div class="field">
          <label for="payments-status">Status</label>
          <select id="payments-status" name="status" value={status}>
            <option value="">Any</option>
            {PAYMENT_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="payments-order">Order id</label>
          <input id="payments-order" name="order_id" defaultValue={order} maxLength={64} />
        </div>
      </FilterForm>
      <PagedList
        list={payments}
        label="Payments"
        caption="Payments, newest first"
        noun={['payment', 'payments']}
        loading="Loading payments…"
        empty="No payments match."
        head={
          <tr>
            <th scope="col">Payment</th>
            <th scope="col">Order</th>
            <th scope="col">Created</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col" class="num">Captured</th>
            <th scope="col" class="num">Refunded</th>
          </tr>
        }
        row={(p) => (
          <tr key={p.id}>
            <th scope="row">
              <code>{p.id.slice(0, 14)}</code>
            </th>
            <td>
              <Link href={`/admin/orders/${encodeURIComponent(p.order_id)}`}>{p.order_id.slice(0, 8)}</Link>
            </td>
            <td>{when(p.created_at)}</td>
            <td>
              {p.status.replace(/_/g, ' ')}
              {p.failure_reason && <span class="hint"> ({p.failure_reason})</span>}
            </td>
            <td class="num">{formatMoney(p.amount)}</td>
            <td class="num">{formatMoney(p.captured)}</td>
            <td class="num">{formatMoney(p.refunded)}</td>
          </tr>
        )}
      />
    </>
  );
}
