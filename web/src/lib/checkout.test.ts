import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, tokens } from './api';
import { IdempotentAttempt, newIdempotencyKey, placeOrder, pollOrder, type Order } from './checkout';

const user = { id: 'u1', email: 'a@example.com', name: 'A', roles: ['customer'], permissions: [] };

function order(status: Order['status'], id = 'ord-1'): Order {
  return {
    order_id: id,
    id,
    status,
    total: { amount_minor: 1999, currency: 'EUR' },
    refunded: { amount_minor: 0, currency: 'EUR' },
    created_at: '2026-11-30T12:00:00+00:00',
    updated_at: null,
    lines: [],
    payment: { id: 'pay-1', status: null },
    failure_reason: null,
    shipping_address: null,
    tracking: null,
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function counter() {
  let n = 0;
  return () => `key-${++n}`;
}

afterEach(() => {
  vi.unstubAllGlobals();
  tokens.signOut();
});

describe('IdempotentAttempt', () => {
  it('keeps one key through double clicks: concurrent presses share one request', async () => {
    const attempt = new IdempotentAttempt(counter());
    const sent: string[] = [];
    let answer!: (o: Order) => void;
    const send = (key: string) => {
      sent.push(key);
      return new Promise<Order>((resolve) => (answer = resolve));
    };
    const presses = [attempt.run(send), attempt.run(send), attempt.run(send)];
    expect(sent).toEqual(['key-1']);
    answer(order('confirmed'));
    expect((await Promise.all(presses)).map((o) => o.id)).toEqual(['ord-1', 'ord-1', 'ord-1']);
  });

  it('reuses the key after a network error, a 503, a 429 or a 409, and only then starts a new one', async () => {
    const attempt = new IdempotentAttempt(counter());
    const sent: string[] = [];
    const failures = [new ApiError(0, 'offline'), new ApiError(503, 'busy'), new ApiError(429, 'slow down'), new ApiError(409, 'in progress')];
    for (const failure of failures) {
      await expect(
        attempt.run((key) => {
          sent.push(key);
          return Promise.reject(failure);
        }),
      ).rejects.toBe(failure);
      expect(attempt.open).toBe(true);
    }
    await attempt.run(async (key) => (sent.push(key), order('failed')));
    expect(attempt.open).toBe(false); // a declined order settles the attempt: the next Pay is new
    await attempt.run(async (key) => (sent.push(key), order('confirmed')));
    expect(sent).toEqual(['key-1', 'key-1', 'key-1', 'key-1', 'key-1', 'key-2']);
  });

  it('ends the attempt on a refusal that a retry would not change', async () => {
    const attempt = new IdempotentAttempt(counter());
    await expect(attempt.run(() => Promise.reject(new ApiError(422, 'bad address')))).rejects.toThrow('bad address');
    expect(attempt.open).toBe(false);
    expect(attempt.current()).toBe('key-2');
  });

  it('makes unguessable, distinct keys', () => {
    const keys = new Set(Array.from({ length: 50 }, newIdempotencyKey));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(/^web-[0-9a-f]{32}$/);
  });
});

describe('placeOrder', () => {
  it('sends the same Idempotency-Key when the shopper retries after a lost answer', async () => {
    tokens.signIn({ access_token: 'access', expires_in: 900, user });
    const keys: string[] = [];
    const answers = [() => Promise.reject(new TypeError('Failed to fetch')), async () => json(201, order('confirmed'))];
    vi.stubGlobal('fetch', async (path: string, init: RequestInit) => {
      expect(path).toBe('/api/v1/checkout');
      keys.push((init.headers as Record<string, string>)['Idempotency-Key']);
      return answers.shift()!();
    });
    const attempt = new IdempotentAttempt();
    const choice = { shipping_address_id: 'addr-1', payment_method: 'pm_card_visa' };
    await expect(placeOrder(attempt, choice)).rejects.toMatchObject({ status: 0 });
    expect((await placeOrder(attempt, choice)).status).toBe('confirmed');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    expect(attempt.open).toBe(false);
  });
});

describe('pollOrder', () => {
  const noWait = async () => undefined;

  it('polls while pending and awaiting payment, then returns the settled order', async () => {
    const reads = [order('pending'), order('awaiting_payment'), order('confirmed')];
    const seen: string[] = [];
    const delays: number[] = [];
    const result = await pollOrder(async () => reads.shift()!, order('pending'), {
      delays: [10, 20],
      sleep: async (ms) => void delays.push(ms),
      onUpdate: (o) => seen.push(o.status),
    });
    expect(result.status).toBe('confirmed');
    expect(seen).toEqual(['pending', 'awaiting_payment', 'confirmed']);
    expect(delays).toEqual([10, 20, 20]); // the last delay repeats
  });

  it('does not poll an order that is already settled', async () => {
    const load = vi.fn();
    expect((await pollOrder(load, order('failed'), { sleep: noWait })).status).toBe('failed');
    expect(load).not.toHaveBeenCalled();
  });

  it('rides out a transient error and gives up after maxPolls, still in progress', async () => {
    let calls = 0;
    const load = async () => {
      calls++;
      if (calls === 1) throw new ApiError(503, 'busy');
      return order('pending');
    };
    const result = await pollOrder(load, order('pending'), { sleep: noWait, maxPolls: 4 });
    expect(result.status).toBe('pending');
    expect(calls).toBe(4);
  });

  it('stops on an error a retry will not fix', async () => {
    const load = async () => Promise.reject(new ApiError(404, 'gone'));
    await expect(pollOrder(load, order('pending'), { sleep: noWait })).rejects.toMatchObject({ status: 404 });
  });

  it('stops when the page goes away (abort)', async () => {
    const controller = new AbortController();
    const load = vi.fn(async () => order('pending'));
    const sleep = async (_ms: number, signal?: AbortSignal) => {
      controller.abort();
      if (signal?.aborted) throw new DOMException('Aborted', 'AbortError');
    };
    await expect(pollOrder(load, order('pending'), { sleep, signal: controller.signal })).rejects.toThrow('Aborted');
    expect(load).not.toHaveBeenCalled();
  });
});
