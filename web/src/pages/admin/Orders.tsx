import { useRef, useState } from 'preact/hooks';
import { Loading } from '../../components/Status';
import { api, ApiError } from '../../lib/api';
import { IdempotentAttempt, STATUS_LABELS, type Order } from '../../lib/checkout';
import { formatMoney, parseMajor, type Money } from '../../lib/money';
import { Link } from '../../lib/router';
import { useFetch } from '../../lib/useFetch';
import { ActionResult, FilterForm, Refusable, useAction, when } from './common';
import { PagedList, usePagedList } from './PagedList';

const ORDER_STATUSES = Object.keys(STATUS_LABELS);

/** The picker's local date -> the API's aware datetime (start of that day, local time). */
function dayStart(value: string | null): string | null {
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return null;
  const date = new Date(`${value}T00:00:00`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function AdminOrders({ search }: { search: string }) {
  const params = new URLSearchParams(search);
  const query = new URLSearchParams({ limit: '50' });
  const status = params.get('status');
  const user = params.get('user_id');
  const from = dayStart(params.get('from'));
  const to = dayStart(params.get('to'));
  if (status && ORDER_STATUSES.includes(status)) query.set('status', status);
  if (user) query.set('user_id', user);
  if (from) query.set('created_from', from);
  if (to) query.set('created_to', new Date(new Date(to).getTime() + 86_400_000).toISOString()); // the whole "to" day
  const orders = usePagedList<Order & { user_id?: string }>(`/api/v1/admin/orders?${query}`);
  return (
    <>
      <FilterForm base="/admin/orders" search={search} label="Filter orders">
        <div class="field">
          <label for="order-status">Status</label>
          <select id="order-status" name="status" value={status ?? ''}>
            <option value="">Any</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="order-user">Customer id</label>
          <input id="order-user" name="user_id" defaultValue={user ?? ''} maxLength={64} />
        </div>
        <div class="field">
          <label for="order-from">Placed from</label>
          <input id="order-from" name="from" type="date" defaultValue={params.get('from') ?? ''} />
        </div>
        <div class="field">
          <label for="order-to">Placed to</label>
          <input id="order-to" name="to" type="date" defaultValue={params.get('to') ?? ''} />
        </div>
      </FilterForm>
      <PagedList
        list={orders}
        label="Orders"
        caption="Orders, newest first"
        noun={['order', 'orders']}
        loading="Loading orders…"
        empty="No orders match."
        head={
          <tr>
            <th scope="col">Order</th>
            <th scope="col">Placed</th>
            <th scope="col">Status</th>
            <th scope="col">Payment</th>
            <th scope="col" class="num">Total</th>
          </tr>
        }
        row={(o) => (
          <tr key={o.id} data-order-id={o.id}>
            <th scope="row">
              <Link href={`/admin/orders/${encodeURIComponent(o.id)}`}>{o.id.slice(0, 8)}</Link>
            </th>
            <td>{when(o.created_at)}</td>
            <td>
              <span class={`badge order-${o.status}`}>{STATUS_LABELS[o.status] ?? o.status}</span>
            </td>
            <td>{o.payment.status ?? '—'}</td>
            <td class="num">{formatMoney(o.total)}</td>
          </tr>
        )}
      />
    </>
  );
}

interface TimelineEntry {
  id: number;
  event: string;
  from: { state: string; step: string } | null;
  to: { state: string; step: string } | null;
  detail: string | null;
  actor: string | null;
  at: string;
}

interface AdminOrder extends Order {
  user_id: string;
  saga: { state: string; step: string; failure_reason: string | null; attempts: number } | null;
  timeline: TimelineEntry[];
  payment_record:
    | { id: string; status: string; amount: Money; refunded: Money; provider: string; failure_reason: string | null }
    | { error: string }
    | null;
}

const REFUNDABLE = new Set(['confirmed', 'partially_refunded', 'shipped']);
const CANCELLABLE = new Set(['awaiting_payment', 'confirmed']);

export function AdminOrder({ id }: { id: string }) {
  const order = useFetch(`admin-order-${id}`, (signal) =>
    api<AdminOrder>(`/api/v1/admin/orders/${encodeURIComponent(id)}`, { auth: true, signal }),
  );
  if (order.status === 'loading') return <Loading label="Loading the order…" />;
  if (order.status === 'error') return <Refusable error={order.error} retry={order.retry} />;
  const o = order.data;
  const payment = o.payment_record && 'id' in o.payment_record ? o.payment_record : null;
  return (
    <div class="admin-order" data-testid="admin-order" data-status={o.status}>
      <p>
        <Link href="/admin/orders">← All orders</Link>
      </p>
      <h2>
        Order <code>{o.id}</code>
      </h2>
      <dl class="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <span class={`badge order-${o.status}`} data-testid="admin-order-status">
              {STATUS_LABELS[o.status] ?? o.status}
            </span>
          </dd>
        </div>
        <div>
          <dt>Customer</dt>
          <dd>
            <Link href={`/admin/orders?user_id=${encodeURIComponent(o.user_id)}`}>{o.user_id}</Link>
          </dd>
        </div>
        <div>
          <dt>Total</dt>
          <dd>{formatMoney(o.total)}</dd>
        </div>
        <div>
          <dt>Refunded</dt>
          <dd data-testid="admin-order-refunded">{formatMoney(o.refunded)}</dd>
        </div>
        <div>
          <dt>Placed</dt>
          <dd>{when(o.created_at)}</dd>
        </div>
        {o.failure_reason && (
          <div>
            <dt>Failure</dt>
            <dd>{o.failure_reason.replace(/_/g, ' ')}</dd>
          </div>
        )}
        {o.tracking && (
          <div>
            <dt>Tracking</dt>
            <dd>
              {o.tracking.carrier} <code>{o.tracking.tracking_number}</code>
            </dd>
          </div>
        )}
      </dl>

      <h3>Lines</h3>
      <ul class="summary-lines">
        {o.lines.map((line) => (
          <li key={line.sku}>
            <span>
              <code>{line.sku}</code> {line.name} × {line.quantity}
            </span>
            <span>{formatMoney(line.line_total)}</span>
          </li>
        ))}
      </ul>

      <h3>Payment</h3>
      {payment ? (
        <dl class="facts">
          <div>
            <dt>Payment</dt>
            <dd>
              <code>{payment.id}</code> ({payment.provider})
            </dd>
          </div>
          <div>
            <dt>Status</dt>
            <dd>{payment.status}</dd>
          </div>
          <div>
            <dt>Amount</dt>
            <dd>{formatMoney(payment.amount)}</dd>
          </div>
          <div>
            <dt>Refunded</dt>
            <dd>{formatMoney(payment.refunded)}</dd>
          </div>
          {payment.failure_reason && (
            <div>
              <dt>Failure</dt>
              <dd>{payment.failure_reason}</dd>
            </div>
          )}
        </dl>
      ) : (
        <p class="hint">{o.payment_record && 'error' in o.payment_record ? 'Payments did not answer just now.' : 'No payment.'}</p>
      )}

      <div class="admin-actions">
        {REFUNDABLE.has(o.status) && <RefundForm order={o} onDone={order.setData} />}
        {CANCELLABLE.has(o.status) && <CancelOrder order={o} onDone={order.setData} />}
        {o.status === 'confirmed' && <ShipForm order={o} onDone={order.setData} />}
      </div>

      <h3>Saga</h3>
      {o.saga ? (
        <p>
          State <strong>{o.saga.state}</strong>, step <strong>{o.saga.step}</strong>, {o.saga.attempts} attempt(s)
          {o.saga.failure_reason && `, failed: ${o.saga.failure_reason}`}
        </p>
      ) : (
        <p class="hint">No saga record.</p>
      )}
      <ol class="timeline" data-testid="timeline">
        {o.timeline.map((e) => (
          <li key={e.id}>
            <time dateTime={e.at}>{when(e.at)}</time> <strong>{e.event.replace(/_/g, ' ')}</strong>
            {e.to && (
              <span class="hint">
                {' '}
                → {e.to.state}/{e.to.step}
              </span>
            )}
            {e.actor && <span class="hint"> by {e.actor}</span>}
            {e.detail && <div class="hint">{e.detail}</div>}
          </li>
        ))}
      </ol>
    </div>
  );
}

type Done = (order: AdminOrder) => void;

/**
 * After an action: the detail read again (the saga timeline and payments' record moved too);
 * should that read fail, the action's own answer over what was shown.
 */
async function refreshed(before: AdminOrder, after: Order): Promise<AdminOrder> {
  try {
    return await api<AdminOrder>(`/api/v1/admin/orders/${encodeURIComponent(before.id)}`, { auth: true });
  } catch {
    return { ...before, ...after };
  }
}

function RefundForm({ order, onDone }: { order: AdminOrder; onDone: Done }) {
  const remaining = order.total.amount_minor - order.refunded.amount_minor;
  const [amount, setAmount] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const attempt = useRef(new IdempotentAttempt());
  const action = useAction();
  return (
    <form
      class="admin-form"
      aria-labelledby="refund-title"
      onSubmit={(e) => {
        e.preventDefault();
        const minor = amount.trim() ? parseMajor(amount, order.total.currency) : null;
        if (amount.trim() && (minor === null || minor < 1)) {
          setInvalid('Enter an amount such as 5.00, or leave it empty to refund everything left.');
          return;
        }
        setInvalid(null);
        void action.run(async () => {
          try {
            const updated = await attempt.current.run((key) =>
              api<Order>(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/refund`, {
                method: 'POST',
                auth: true,
                body: minor === null ? {} : { amount_minor: minor },
                headers: { 'Idempotency-Key': key },
              }),
            );
            onDone(await refreshed(order, updated));
            setAmount('');
            return `Refunded. ${formatMoney(updated.refunded)} refunded in all.`;
          } catch (error) {
            if (error instanceof ApiError && error.fieldMessage('amount_minor'))
              throw new ApiError(
                error.status,
                `Refund refused: at most ${formatMoney({ amount_minor: remaining, currency: order.total.currency })} can still be refunded.`,
              );
            throw error;
          }
        });
      }}
    >
      <h3 id="refund-title">Refund</h3>
      <p class="hint">Up to {formatMoney({ amount_minor: remaining, currency: order.total.currency })} left to refund.</p>
      <div class={`field${invalid ? ' has-error' : ''}`}>
        <label for="refund-amount">Amount ({order.total.currency}); empty: everything left</label>
        <input
          id="refund-amount"
          inputMode="decimal"
          value={amount}
          aria-invalid={invalid ? true : undefined}
          aria-describedby={invalid ? 'refund-amount-error' : undefined}
          onInput={(e) => setAmount(e.currentTarget.value)}
          data-testid="refund-amount"
        />
        {invalid && (
          <span id="refund-amount-error" class="field-error">
            {invalid}
          </span>
        )}
      </div>
      <ActionResult action={action} testId="refund" />
      <button type="submit" class="button" disabled={action.busy} data-testid="refund-submit">
        {action.busy ? 'Refunding…' : amount.trim() ? 'Refund amount' : 'Refund in full'}
      </button>
    </form>
  );
}

function CancelOrder({ order, onDone }: { order: AdminOrder; onDone: Done }) {
  const action = useAction();
  return (
    <div class="admin-form">
      <h3>Cancel</h3>
      <p class="hint">Voids or refunds the payment and gives the stock back.</p>
      <ActionResult action={action} testId="admin-cancel" />
      <button
        type="button"
        class="button secondary"
        disabled={action.busy}
        onClick={() =>
          action.run(async () => {
            const updated = await api<Order>(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/cancel`, { method: 'POST', auth: true });
            onDone(await refreshed(order, updated));
            return 'Order cancelled.';
          })
        }
      >
        Cancel order
      </button>
    </div>
  );
}

function ShipForm({ order, onDone }: { order: AdminOrder; onDone: Done }) {
  const [tracking, setTracking] = useState('');
  const [carrier, setCarrier] = useState('');
  const action = useAction();
  return (
    <form
      class="admin-form"
      aria-labelledby="ship-title"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          const updated = await api<Order>(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/ship`, {
            method: 'POST',
            auth: true,
            body: { tracking_number: tracking.trim(), carrier: carrier.trim() },
          });
          onDone(await refreshed(order, updated));
          return 'Marked as shipped.';
        });
      }}
    >
      <h3 id="ship-title">Ship</h3>
      <div class="field">
        <label for="ship-tracking">Tracking number</label>
        <input id="ship-tracking" required maxLength={100} value={tracking} onInput={(e) => setTracking(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="ship-carrier">Carrier</label>
        <input id="ship-carrier" maxLength={64} value={carrier} onInput={(e) => setCarrier(e.currentTarget.value)} />
      </div>
      <ActionResult action={action} testId="ship" />
      <button type="submit" class="button" disabled={action.busy || !tracking.trim()}>
        Mark shipped
      </button>
    </form>
  );
}
