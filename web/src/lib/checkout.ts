/**
 * Placing an order exactly once. Each attempt carries one Idempotency-Key, created when the
 * shopper first presses Pay and kept until the attempt ends with an answer that settles it (an
 * order, or a refusal that will not change on retry). A double click, a retry after a network
 * error, a 429 or a 5xx all reuse the key, so the server answers them with the one order it made.
 * Changing the address or the payment method starts a new attempt only once the previous one has
 * settled; while it is unsettled the same key goes out with the new choice and the server refuses
 * the mismatch rather than making a second order.
 */
import { api, ApiError } from './api';
import type { Money } from './money';

export interface OrderLine {
  sku: string;
  name: string;
  quantity: number;
  unit_price: Money;
  line_total: Money;
}

export type OrderStatus =
  | 'pending'
  | 'awaiting_payment'
  | 'confirmed'
  | 'failed'
  | 'cancelled'
  | 'refunded'
  | 'partially_refunded'
  | 'shipped';

export interface Order {
  order_id: string;
  id: string;
  status: OrderStatus;
  total: Money;
  refunded: Money;
  created_at: string;
  updated_at: string | null;
  lines: OrderLine[];
  payment: { id: string | null; status: string | null; client_secret?: string };
  failure_reason: string | null;
  shipping_address: Record<string, string | null> | null;
  tracking: { tracking_number: string; carrier: string } | null;
}

/** The mock provider's test payment methods (Stripe's names). */
export const PAYMENT_METHODS = [
  { id: 'pm_card_visa', label: 'Visa ending 4242', hint: 'Succeeds' },
  { id: 'pm_card_visa_chargeDeclined', label: 'Visa ending 0002', hint: 'Declined by the bank' },
  { id: 'pm_card_authenticationRequired', label: 'Visa ending 3184', hint: 'Asks for 3-D Secure' },
] as const;

/** Statuses the saga may still move on from without the shopper. */
export const IN_PROGRESS: ReadonlySet<OrderStatus> = new Set(['pending', 'awaiting_payment']);

export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes); // also in non-secure contexts, unlike randomUUID
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Worth sending again with the same key: the first one may or may not have been applied. */
export function unsettled(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true; // a bug or an abort: be safe, keep the key
  return error.retryable || error.status === 409; // 409: the same key is still being processed
}

export class IdempotentAttempt {
  private key: string | null = null;
  private inFlight: Promise<unknown> | null = null;

  constructor(private readonly makeKey: () => string = newIdempotencyKey) {}

  /** The key of the attempt in progress (a new attempt when none is). */
  current(): string {
    this.key ??= this.makeKey();
    return this.key;
  }

  get open(): boolean {
    return this.key !== null;
  }

  /** The answer settled the attempt: the next press is a new one. */
  end(): void {
    this.key = null;
  }

  /**
   * Runs `send` with the attempt's key; ends the attempt unless the outcome leaves it unsettled.
   * Concurrent calls while one is in flight share it (a double click sends one request).
   */
  run<T>(send: (key: string) => Promise<T>): Promise<T> {
    if (this.inFlight) return this.inFlight as Promise<T>;
    const key = this.current();
    const call = send(key).then(
      (answer) => {
        this.end();
        return answer;
      },
      (error: unknown) => {
        if (!unsettled(error)) this.end();
        throw error;
      },
    );
    this.inFlight = call.finally(() => {
      this.inFlight = null;
    });
    return this.inFlight as Promise<T>;
  }
}

export interface CheckoutChoice {
  shipping_address_id: string;
  payment_method: string;
  /** The total the shopper saw: a price that moved meanwhile fails the order (`price_changed`), never charges more. */
  expected_total_minor?: number;
}

export function placeOrder(attempt: IdempotentAttempt, choice: CheckoutChoice): Promise<Order> {
  return attempt.run((key) =>
    api<Order>('/api/v1/checkout', {
      method: 'POST',
      auth: true,
      body: choice,
      headers: { 'Idempotency-Key': key },
    }),
  );
}

export function getOrder(id: string, signal?: AbortSignal): Promise<Order> {
  return api<Order>(`/api/v1/orders/${encodeURIComponent(id)}`, { auth: true, signal });
}

const sleepFor = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('Aborted', 'AbortError'));
    });
  });

/** Backing off: quick at first (most orders settle within a second or two), then every 5 s. */
export const POLL_DELAYS_MS = [500, 1000, 1000, 2000, 2000, 3000, 5000];

export interface PollOptions {
  delays?: number[];
  /** How many polls before giving up and letting the shopper refresh by hand. */
  maxPolls?: number;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onUpdate?: (order: Order) => void;
}

/**
 * Re-reads the order while the saga is still working on it (`pending`, or `awaiting_payment`
 * until the 3-D Secure outcome arrives). Resolves with the last order read: settled, or still in
 * progress once `maxPolls` is spent. A transient error is retried on the same schedule.
 */
export async function pollOrder(
  load: (signal?: AbortSignal) => Promise<Order>,
  first: Order,
  { delays = POLL_DELAYS_MS, maxPolls = 60, signal, sleep = sleepFor, onUpdate }: PollOptions = {},
): Promise<Order> {
  let order = first;
  for (let poll = 0; poll < maxPolls && IN_PROGRESS.has(order.status); poll++) {
    await sleep(delays[Math.min(poll, delays.length - 1)], signal);
    try {
      order = await load(signal);
    } catch (error) {
      if (error instanceof ApiError && !error.retryable) throw error;
      if (signal?.aborted) throw error;
      continue; // offline for a moment: try again on the schedule
    }
    onUpdate?.(order);
  }
  return order;
}

const REASONS: Record<string, string> = {
  payment_declined: 'Your bank declined the payment. Please try another card.',
  authentication_failed: 'Your bank could not confirm the payment (card authentication failed). Please try again or use another card.',
  payment_timeout: 'The card authentication was not completed in time.',
  payment_capture_failed: 'We could not take the payment. You have not been charged.',
  out_of_stock: 'Something in your bag has just sold out.',
  price_changed: 'A price changed while you were checking out. Please review your bag.',
  product_unavailable: 'Something in your bag is no longer available.',
  cart_empty: 'Your bag is empty.',
  cart_locked: 'Another checkout of this bag is in progress.',
  address_not_found: 'That address is no longer in your address book.',
  mixed_currencies: 'Your bag mixes currencies; please check it.',
  reservation_expired: 'Your items were held too long and went back on sale.',
  dependency_unavailable: 'The shop could not complete your order just now. You have not been charged.',
  cancelled_by_customer: 'You cancelled this order.',
  cancelled_by_admin: 'The shop cancelled this order.',
};

export function failureMessage(reason: string | null): string {
  return (reason && REASONS[reason]) || 'The order could not be completed.';
}

export const STATUS_LABELS: Record<string, string> = {
  pending: 'Processing',
  awaiting_payment: 'Awaiting card authentication',
  confirmed: 'Confirmed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  refunded: 'Refunded',
  partially_refunded: 'Partly refunded',
  shipped: 'Shipped',
};

/** The challenge's data between the Pay answer and the challenge page (memory only). */
export const pendingChallenges = new Map<string, { paymentId: string; clientSecret: string }>();

export function completeChallenge(paymentId: string, clientSecret: string, success: boolean) {
  // What Stripe.js does after the bank's page: payments' development-only route.
  return api<{ id: string; status: string }>(`/api/v1/payments/dev/${encodeURIComponent(paymentId)}/authenticate`, {
    method: 'POST',
    auth: true,
    body: { client_secret: clientSecret, success },
  });
}
