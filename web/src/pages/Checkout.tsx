import { useEffect, useRef, useState } from 'preact/hooks';
import { Empty, ErrorState, Loading } from '../components/Status';
import { api, ApiError, friendlyMessage } from '../lib/api';
import { cart, useCart } from '../lib/cart';
import {
  completeChallenge,
  failureMessage,
  getOrder,
  IdempotentAttempt,
  IN_PROGRESS,
  PAYMENT_METHODS,
  pendingChallenges,
  placeOrder,
  pollOrder,
  STATUS_LABELS,
  unsettled,
  type Order,
} from '../lib/checkout';
import { formatMoney } from '../lib/money';
import { Link, navigate } from '../lib/router';
import { useFetch } from '../lib/useFetch';
import { usePagedList } from '../lib/usePaged';
import { AddressForm, listAddresses, type Address } from './Addresses';

function addressLines(a: Partial<Address> | Record<string, string | null>): string[] {
  return [a.full_name, a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(' '), a.region, a.country].filter(
    (line): line is string => Boolean(line),
  );
}

function orderPath(order: Order, placed = false): string {
  return `/orders/${encodeURIComponent(order.id)}${placed ? '?placed=1' : ''}`;
}

/** Address, payment method, one Pay button: one order per attempt, whatever the clicks. */
export function Checkout() {
  const bag = useCart();
  const [bagState, setBagState] = useState<{ status: 'loading' | 'ok' | 'error'; error?: unknown }>({ status: 'loading' });
  const [bagAttempt, setBagAttempt] = useState(0);
  const addresses = useFetch('checkout-addresses', listAddresses);
  const [addressId, setAddressId] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [method, setMethod] = useState<string>(PAYMENT_METHODS[0].id);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<{ message: string; retry: boolean } | null>(null);
  const [declined, setDeclined] = useState<Order | null>(null);
  const attempt = useRef(new IdempotentAttempt());
  const result = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const controller = new AbortController();
    cart.load(controller.signal).then(
      () => setBagState({ status: 'ok' }),
      (error) => !controller.signal.aborted && setBagState({ status: 'error', error }),
    );
    return () => controller.abort();
  }, [bagAttempt]);

  // The default shipping address (else the first) is chosen for the shopper, in the same render that
  // lists the addresses (an effect would show them unchosen for a frame).
  const listed = addresses.status === 'ok' ? addresses.data.items : [];
  const chosenId = addressId ?? (listed.find((a) => a.is_default_shipping) ?? listed[0])?.id ?? null;
  useEffect(() => {
    if (addresses.status === 'ok' && addresses.data.items.length === 0) setAdding(true);
  }, [addresses.status]);

  useEffect(() => {
    if (problem || declined) result.current?.focus();
  }, [problem, declined]);

  async function pay() {
    if (!chosenId || busy) return;
    setBusy(true);
    setProblem(null);
    setDeclined(null);
    try {
      const order = await placeOrder(attempt.current, {
        shipping_address_id: chosenId,
        payment_method: method,
        ...(bag?.subtotal ? { expected_total_minor: bag.subtotal.amount_minor } : {}),
      });
      if (order.status === 'failed') {
        setDeclined(order);
        void cart.load().catch(() => undefined); // the bag is still the shopper's
      } else if (order.status === 'awaiting_payment' && order.payment.id && order.payment.client_secret) {
        pendingChallenges.set(order.id, { paymentId: order.payment.id, clientSecret: order.payment.client_secret });
        navigate(`/checkout/authenticate?order=${encodeURIComponent(order.id)}`);
      } else {
        navigate(orderPath(order, true));
      }
    } catch (error) {
      setProblem({
        message:
          unsettled(error) && attempt.current.open
            ? `${friendlyMessage(error)} Press Pay again: you will not be charged twice.`
            : friendlyMessage(error),
        retry: unsettled(error),
      });
    } finally {
      setBusy(false);
    }
  }

  if (bagState.status === 'loading' && !bag) return <Loading label="Loading your bag…" />;
  if (bagState.status === 'error' && !bag) return <ErrorState error={bagState.error} onRetry={() => setBagAttempt((n) => n + 1)} />;
  if (!bag || bag.lines.length === 0)
    return (
      <div class="narrow">
        <h1 tabIndex={-1}>Checkout</h1>
        <Empty>
          Your bag is empty. <Link href="/products">Continue shopping</Link>
        </Empty>
      </div>
    );

  return (
    <div class="checkout">
      <h1 tabIndex={-1}>Checkout</h1>
      <div class="checkout-layout">
        <div>
          <section aria-labelledby="ship-title">
            <h2 id="ship-title">Shipping address</h2>
            {addresses.status === 'loading' && <Loading label="Loading your addresses…" />}
            {addresses.status === 'error' && <ErrorState error={addresses.error} onRetry={addresses.retry} />}
            {addresses.status === 'ok' && (
              <>
                {addresses.data.items.length > 0 && (
                  <fieldset class="choices" data-testid="address-choices">
                    <legend class="visually-hidden">Ship to</legend>
                    {addresses.data.items.map((a) => (
                      <label key={a.id} class={`choice${chosenId === a.id ? ' selected' : ''}`}>
                        <input type="radio" name="address" value={a.id} checked={chosenId === a.id} onChange={() => setAddressId(a.id)} />
                        <span>
                          {a.label && <strong>{a.label} </strong>}
                          {addressLines(a).join(', ')}
                        </span>
                      </label>
                    ))}
                  </fieldset>
                )}
                {adding ? (
                  <AddressForm
                    onSaved={(created) => {
                      setAdding(false);
                      setAddressId(created.id);
                      addresses.setData({ items: [...addresses.data.items, created] });
                    }}
                    onCancel={() => setAdding(false)}
                  />
                ) : (
                  <button type="button" class="button secondary" onClick={() => setAdding(true)}>
                    Add a new address
                  </button>
                )}
              </>
            )}
          </section>
          <section aria-labelledby="pay-title">
            <h2 id="pay-title">Payment</h2>
            <fieldset class="choices" data-testid="payment-methods">
              <legend>Card (test cards of the mock payment provider)</legend>
              {PAYMENT_METHODS.map((m) => (
                <label key={m.id} class={`choice${method === m.id ? ' selected' : ''}`}>
                  <input type="radio" name="payment" value={m.id} checked={method === m.id} onChange={() => setMethod(m.id)} />
                  <span>
                    {m.label} <span class="hint">({m.hint})</span>
                  </span>
                </label>
              ))}
            </fieldset>
          </section>
        </div>
        <aside class="summary" aria-labelledby="summary-title">
          <h2 id="summary-title">Order summary</h2>
          <ul class="summary-lines" data-testid="checkout-lines">
            {bag.lines.map((line) => (
              <li key={line.sku}>
                <span>
                  {line.name} <span class="variant">{line.variant_name}</span> × {line.quantity}
                </span>
                <span>{line.line_total ? formatMoney(line.line_total) : '—'}</span>
              </li>
            ))}
          </ul>
          <p class="subtotal">
            Total <strong data-testid="checkout-total">{bag.subtotal ? formatMoney(bag.subtotal) : '—'}</strong>
          </p>
          <div ref={result} tabIndex={-1} aria-live="assertive">
            {declined && (
              <div class="form-error" role="alert" data-testid="checkout-declined">
                <strong>{declined.failure_reason === 'payment_declined' ? 'Payment declined.' : 'Order not placed.'}</strong>{' '}
                {failureMessage(declined.failure_reason)} Your bag has been kept.
              </div>
            )}
            {problem && (
              <div class="form-error" role="alert" data-testid="checkout-error">
                {problem.message}
              </div>
            )}
          </div>
          <button type="button" class="button pay" data-testid="pay" disabled={busy || !chosenId || adding} aria-busy={busy} onClick={pay}>
            {busy ? 'Paying…' : `Pay ${bag.subtotal ? formatMoney(bag.subtotal) : ''}`.trim()}
          </button>
          {!chosenId && addresses.status === 'ok' && <p class="hint">Choose or add a shipping address to pay.</p>}
        </aside>
      </div>
    </div>
  );
}

/** The bank's 3-D Secure page, as Stripe.js would show it, backed by payments' development route. */
export function Challenge({ search }: { search: string }) {
  const orderId = new URLSearchParams(search).get('order') ?? '';
  const order = useFetch(orderId ? `challenge-${orderId}` : null, (signal) => getOrder(orderId, signal));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (!orderId) return <ErrorState error={new ApiError(404, 'No order to authenticate.')} />;
  if (order.status === 'loading') return <Loading label="Contacting your bank…" />;
  if (order.status === 'error') return <ErrorState error={order.error} onRetry={order.retry} />;
  const o = order.data;
  const known = pendingChallenges.get(o.id);
  const paymentId = known?.paymentId ?? o.payment.id;
  const secret = known?.clientSecret ?? o.payment.client_secret;
  if (o.status !== 'awaiting_payment' || !paymentId || !secret)
    return (
      <div class="narrow">
        <h1 tabIndex={-1}>Card authentication</h1>
        <p>This payment no longer needs authentication.</p>
        <p>
          <Link href={orderPath(o, true)}>See your order</Link>
        </p>
      </div>
    );

  async function answer(success: boolean) {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await completeChallenge(paymentId!, secret!, success);
      pendingChallenges.delete(o.id);
      navigate(orderPath(o, true), { replace: true });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="narrow challenge" data-testid="challenge">
      <h1 tabIndex={-1}>Confirm your payment</h1>
      <p>
        Your bank asks you to confirm a payment of <strong>{formatMoney(o.total)}</strong> to Vanity.
      </p>
      <p class="hint">Test bank: choose the outcome of the 3-D Secure challenge.</p>
      {error !== null && <ErrorState error={error} />}
      <div class="actions">
        <button type="button" class="button" disabled={busy} onClick={() => answer(true)} data-testid="challenge-complete">
          Authenticate payment
        </button>
        <button type="button" class="button secondary" disabled={busy} onClick={() => answer(false)} data-testid="challenge-fail">
          Fail authentication
        </button>
      </div>
    </div>
  );
}

function OrderSummary({ order }: { order: Order }) {
  return (
    <>
      <ul class="summary-lines" data-testid="order-lines">
        {order.lines.map((line) => (
          <li key={line.sku}>
            <span>
              {line.name} × {line.quantity}
            </span>
            <span>{formatMoney(line.line_total)}</span>
          </li>
        ))}
      </ul>
      <p class="subtotal">
        Total <strong data-testid="order-total">{formatMoney(order.total)}</strong>
      </p>
      {order.refunded.amount_minor > 0 && <p>Refunded: {formatMoney(order.refunded)}</p>}
      {order.shipping_address && (
        <>
          <h2>Shipping to</h2>
          <address class="address-block">
            {addressLines(order.shipping_address).map((line, i) => (
              <span key={i}>{line}</span>
            ))}
          </address>
        </>
      )}
      {order.tracking && (
        <p>
          Shipped with {order.tracking.carrier || 'the carrier'}: tracking number <code>{order.tracking.tracking_number}</code>
        </p>
      )}
    </>
  );
}

const CANCELLABLE = new Set(['awaiting_payment', 'confirmed']);

/** The order page, also the confirmation: it polls while the saga is still working. */
export function OrderPage({ id, search }: { id: string; search: string }) {
  const placed = new URLSearchParams(search).get('placed') === '1';
  const [state, setState] = useState<{ order: Order | null; error: unknown; polling: boolean }>({ order: null, error: null, polling: false });
  const [attempt, setAttempt] = useState(0);
  const [cancelling, setCancelling] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [cancelError, setCancelError] = useState<unknown>(null);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    (async () => {
      setState({ order: null, error: null, polling: false });
      try {
        const first = await getOrder(id, signal);
        setState({ order: first, error: null, polling: IN_PROGRESS.has(first.status) });
        const last = await pollOrder((s) => getOrder(id, s), first, {
          signal,
          onUpdate: (order) => setState({ order, error: null, polling: IN_PROGRESS.has(order.status) }),
        });
        setState({ order: last, error: null, polling: false });
        // confirmed: the bag is now empty; failed: the saga unlocked it, lines intact
        if (placed && (last.status === 'confirmed' || last.status === 'failed')) void cart.load().catch(() => undefined);
      } catch (error) {
        if (!signal.aborted) setState((s) => ({ order: s.order, error, polling: false }));
      }
    })();
    return () => controller.abort();
  }, [id, attempt]);

  const { order, error, polling } = state;
  if (!order && error) return <ErrorState error={error} onRetry={() => setAttempt((n) => n + 1)} />;
  if (!order) return <Loading label="Loading your order…" />;

  const heading =
    placed && (order.status === 'confirmed' || order.status === 'shipped')
      ? 'Thank you for your order'
      : placed && IN_PROGRESS.has(order.status)
        ? 'Placing your order…'
        : placed && order.status === 'failed'
          ? 'Your order was not placed'
          : `Order ${order.id.slice(0, 8)}`;

  async function cancel() {
    if (cancelling) return;
    setConfirming(false);
    setCancelling(true);
    setCancelError(null);
    try {
      const updated = await api<Order>(`/api/v1/orders/${encodeURIComponent(order!.id)}/cancel`, { method: 'POST', auth: true });
      setState({ order: updated, error: null, polling: false });
    } catch (e) {
      setCancelError(e);
    } finally {
      setCancelling(false);
    }
  }

  return (
    <div class="narrow order" data-testid="order-page" data-status={order.status}>
      <h1 tabIndex={-1}>{heading}</h1>
      <p aria-live="polite">
        Status:{' '}
        <span class={`badge order-${order.status}`} data-testid="order-status">
          {STATUS_LABELS[order.status] ?? order.status}
        </span>
        {polling && <span class="hint"> — checking for updates…</span>}
      </p>
      <p class="hint">
        Order number <code data-testid="order-id">{order.id}</code>, placed {new Date(order.created_at).toLocaleString()}
      </p>
      {order.status === 'failed' && (
        <div class="form-error" role="alert" data-testid="order-failure">
          {failureMessage(order.failure_reason)}
          {placed && (
            <>
              {' '}
              Your bag has been kept: <Link href="/checkout">back to checkout</Link>.
            </>
          )}
        </div>
      )}
      {order.status === 'awaiting_payment' && (
        <p>
          <Link href={`/checkout/authenticate?order=${encodeURIComponent(order.id)}`} class="button">
            Complete card authentication
          </Link>
        </p>
      )}
      {!polling && IN_PROGRESS.has(order.status) && (
        <p>
          This is taking longer than usual.{' '}
          <button type="button" class="button link" onClick={() => setAttempt((n) => n + 1)}>
            Check again
          </button>
        </p>
      )}
      {error !== null && <ErrorState error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      <OrderSummary order={order} />
      {cancelError !== null && <ErrorState error={cancelError} />}
      <div class="actions">
        {CANCELLABLE.has(order.status) && !confirming && (
          <button type="button" class="button secondary" disabled={cancelling} onClick={() => setConfirming(true)} data-testid="cancel-order">
            {cancelling ? 'Cancelling…' : 'Cancel order'}
          </button>
        )}
        {confirming && (
          <div class="confirm-box" role="group" aria-label="Confirm cancellation">
            <span>Cancel this order? The payment is voided or refunded.</span>
            <button type="button" class="button" onClick={cancel} data-testid="confirm-cancel">
              Yes, cancel it
            </button>
            <button type="button" class="button secondary" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </div>
        )}
        <Link href="/orders" class="button secondary">
          All orders
        </Link>
      </div>
    </div>
  );
}

export function Orders() {
  const orders = usePagedList<Order>('/api/v1/orders?limit=20');
  const items = orders.items;
  return (
    <div class="account">
      <h1 tabIndex={-1}>Your orders</h1>
      {orders.status === 'error' && <ErrorState error={orders.error} onRetry={orders.retry} />}
      {orders.status === 'loading' && <Loading label="Loading your orders…" />}
      {orders.status === 'ok' && items.length === 0 && (
        <Empty>
          You have no orders yet. <Link href="/products">Start shopping</Link>
        </Empty>
      )}
      {items.length > 0 && (
        <ul class="order-list" data-testid="order-list">
          {items.map((o) => (
            <li key={o.id} class="order-card" data-order-id={o.id}>
              <Link href={orderPath(o)}>Order {o.id.slice(0, 8)}</Link>
              <span>{new Date(o.created_at).toLocaleDateString()}</span>
              <span class={`badge order-${o.status}`}>{STATUS_LABELS[o.status] ?? o.status}</span>
              <strong>{formatMoney(o.total)}</strong>
            </li>
          ))}
        </ul>
      )}
      {orders.more === 'error' && <ErrorState error={orders.moreError} onRetry={orders.loadMore} />}
      {orders.next && orders.more !== 'error' && (
        <p class="pager">
          <button type="button" class="button secondary" disabled={orders.more === 'loading'} onClick={orders.loadMore}>
            {orders.more === 'loading' ? 'Loading…' : 'Show more'}
          </button>
        </p>
      )}
    </div>
  );
}
