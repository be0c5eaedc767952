import { useState } from 'preact/hooks';
import { ErrorState, Empty, Loading } from '../components/Status';
import { api, ApiError } from '../lib/api';
import { formatMoney, type Money } from '../lib/money';
import { Link } from '../lib/router';
import { useSession } from '../lib/session';
import { useFetch } from '../lib/useFetch';

interface AdminProduct {
  id: number;
  slug: string;
  name: string;
  status: string;
  brand: { name: string };
  category: { name: string };
  price: Money | null;
  variant_count: number;
}

interface StockRow {
  sku: string;
  on_hand: number;
  reserved: number;
  available: number;
  level: string;
  updated_at: string;
}

function NotAllowed() {
  return (
    <div class="status status-error" role="alert" data-testid="admin-refused">
      <h1 tabIndex={-1}>Not allowed</h1>
      <p>Your account is not allowed to open the admin console.</p>
      <p>
        <Link href="/">Back to the shop</Link>
      </p>
    </div>
  );
}

/** The admin console: the UI hides itself from non-admins, and the gateway refuses them anyway. */
export function Admin({ path }: { path: string }) {
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
  const tab = path.startsWith('/admin/stock') ? 'stock' : 'products';
  return (
    <div class="admin">
      <h1 tabIndex={-1}>Admin console</h1>
      <nav class="tabs" aria-label="Admin sections">
        <Link href="/admin/products" aria-current={tab === 'products' ? 'page' : undefined}>
          Products
        </Link>
        <Link href="/admin/stock" aria-current={tab === 'stock' ? 'page' : undefined}>
          Stock
        </Link>
      </nav>
      {tab === 'products' ? <ProductsTable /> : <StockTable />}
    </div>
  );
}

function Refusable({ error, retry }: { error: unknown; retry: () => void }) {
  if (error instanceof ApiError && error.status === 403) return <NotAllowed />;
  return <ErrorState error={error} onRetry={retry} />;
}

interface Paged<T> {
  items: T[];
  next_cursor: string | null;
}

/** A list read page by page: "Show more" appends the next page (admin lists are read in order). */
function usePaged<T>(key: string, path: string) {
  const page = useFetch(key, (signal) => api<Paged<T>>(path, { auth: true, signal }));
  const [more, setMore] = useState<{ items: T[]; next: string | null; busy: boolean; error: unknown }>({
    items: [],
    next: null,
    busy: false,
    error: null,
  });
  const next = more.items.length ? more.next : page.status === 'ok' ? page.data.next_cursor : null;
  async function loadMore() {
    if (!next || more.busy) return;
    setMore({ ...more, busy: true, error: null });
    try {
      const answer = await api<Paged<T>>(`${path}&cursor=${encodeURIComponent(next)}`, { auth: true });
      setMore({ items: [...more.items, ...answer.items], next: answer.next_cursor, busy: false, error: null });
    } catch (error) {
      setMore({ ...more, busy: false, error });
    }
  }
  const items = page.status === 'ok' ? [...page.data.items, ...more.items] : [];
  return { page, items, next, loadMore, busy: more.busy, moreError: more.error };
}

function ShowMore({ next, busy, error, onMore }: { next: string | null; busy: boolean; error: unknown; onMore: () => void }) {
  return (
    <>
      {error !== null && <ErrorState error={error} onRetry={onMore} />}
      {next && error === null && (
        <p class="pager">
          <button type="button" class="button secondary" disabled={busy} onClick={onMore}>
            {busy ? 'Loading…' : 'Show more'}
          </button>
        </p>
      )}
    </>
  );
}

function ProductsTable() {
  const { page, items, next, loadMore, busy, moreError } = usePaged<AdminProduct>('admin-products', '/api/v1/admin/products?limit=50');
  if (page.status === 'loading') return <Loading label="Loading products…" />;
  if (page.status === 'error') return <Refusable error={page.error} retry={page.retry} />;
  if (!items.length) return <Empty>No products yet.</Empty>;
  return (
    <>
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Products">
      <table>
        <caption class="visually-hidden">Products, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Brand</th>
            <th scope="col">Category</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">Variants</th>
            <th scope="col" class="num">From</th>
          </tr>
        </thead>
        <tbody>
          {items.map((p) => (
            <tr key={p.id}>
              <th scope="row">{p.name}</th>
              <td>{p.brand.name}</td>
              <td>{p.category.name}</td>
              <td>
                <span class={`badge status-${p.status}`}>{p.status}</span>
              </td>
              <td class="num">{p.variant_count}</td>
              <td class="num">{p.price ? formatMoney(p.price) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
    <ShowMore next={next} busy={busy} error={moreError} onMore={loadMore} />
    </>
  );
}

function StockTable() {
  const { page, items, next, loadMore, busy, moreError } = usePaged<StockRow>('admin-stock', '/api/v1/admin/stock?limit=100');
  if (page.status === 'loading') return <Loading label="Loading stock…" />;
  if (page.status === 'error') return <Refusable error={page.error} retry={page.retry} />;
  if (!items.length) return <Empty>No stock records yet.</Empty>;
  return (
    <>
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Stock">
      <table>
        <caption class="visually-hidden">Stock levels by SKU</caption>
        <thead>
          <tr>
            <th scope="col">SKU</th>
            <th scope="col" class="num">On hand</th>
            <th scope="col" class="num">Reserved</th>
            <th scope="col" class="num">Available</th>
            <th scope="col">Level</th>
          </tr>
        </thead>
        <tbody>
          {items.map((s) => (
            <tr key={s.sku}>
              <th scope="row">
                <code>{s.sku}</code>
              </th>
              <td class="num">{s.on_hand}</td>
              <td class="num">{s.reserved}</td>
              <td class="num">{s.available}</td>
              <td>
                <span class={`badge level-${s.level}`}>{s.level.replace(/_/g, ' ')}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
    <ShowMore next={next} busy={busy} error={moreError} onMore={loadMore} />
    </>
  );
}
