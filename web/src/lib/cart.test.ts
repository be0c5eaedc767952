import { afterEach, describe, expect, it, vi } from 'vitest';
import { tokens } from './api';
import { cart, CartStore, GUEST_CART_KEY, storageShelf } from './cart';

const user = { id: 'u1', email: 'a@example.com', name: 'A', roles: ['customer'], permissions: [] };

function cartAnswer(token: string | null, count: number) {
  return new Response(
    JSON.stringify({ lines: [], item_count: count, subtotal: null, cart_token: token, merged: false, limits: { max_lines: 50, max_quantity_per_line: 10 } }),
    { status: 200, headers: { 'Content-Type': 'application/json' } },
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  tokens.signOut();
});

describe('cart store', () => {
  it('keeps the guest token, sends it back, and merges it into the shopper cart at sign-in', async () => {
    const seen: { path: string; headers: Record<string, string> }[] = [];
    const answers = [cartAnswer('guest-token-0123456789abc', 1), cartAnswer('guest-token-0123456789abc', 2), cartAnswer(null, 2), cartAnswer(null, 3)];
    vi.stubGlobal('fetch', async (path: string, init: RequestInit) => {
      seen.push({ path, headers: init.headers as Record<string, string> });
      return answers.shift()!;
    });
    await cart.add('SKU-1');
    await cart.add('SKU-2');
    expect(seen[0].headers['X-Cart-Token']).toBeUndefined();
    expect(seen[1].headers['X-Cart-Token']).toBe('guest-token-0123456789abc');
    expect(seen[1].headers.Authorization).toBeUndefined();

    tokens.signIn({ access_token: 'access', refresh_token: 'r', expires_in: 900, user });
    await vi.waitFor(() => expect(seen).toHaveLength(3));
    // the first call as the shopper carries both: the cart service merges the guest cart once
    expect(seen[2].path).toBe('/api/v1/cart');
    expect(seen[2].headers.Authorization).toBe('Bearer access');
    expect(seen[2].headers['X-Cart-Token']).toBe('guest-token-0123456789abc');
    await vi.waitFor(() => expect(cart.cart?.item_count).toBe(2));
    // the answer carried no token: it is forgotten
    await cart.add('SKU-3');
    expect(seen[3].headers['X-Cart-Token']).toBeUndefined();
  });

  it('sends concurrent writes one after another (the first may issue the token)', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    vi.stubGlobal('fetch', async (_path: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body));
      order.push(`start ${body.sku}`);
      if (body.sku === 'A') await gate;
      order.push(`end ${body.sku}`);
      return cartAnswer('guest-token-0123456789abc', 1);
    });
    const a = cart.add('A');
    const b = cart.add('B');
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['start A']);
    release();
    await Promise.all([a, b]);
    expect(order).toEqual(['start A', 'end A', 'start B', 'end B']);
  });
});

/** The tab's sessionStorage as the browser has it: strings by key, kept across a reload. */
class TabStorage implements Storage {
  private values = new Map<string, string>();
  get length() {
    return this.values.size;
  }
  clear() {
    this.values.clear();
  }
  getItem(key: string) {
    return this.values.get(key) ?? null;
  }
  key(index: number) {
    return [...this.values.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.values.delete(key);
  }
  setItem(key: string, value: string) {
    this.values.set(key, String(value));
  }
}

describe('guest cart across a reload', () => {
  const TOKEN = 'guest-token-0123456789abcdef';

  it('keeps the guest token in the tab storage, and a reloaded page sends it back', async () => {
    const storage = new TabStorage();
    const seen: Record<string, string>[] = [];
    vi.stubGlobal('fetch', async (_path: string, init: RequestInit) => {
      seen.push(init.headers as Record<string, string>);
      return cartAnswer(TOKEN, 1);
    });
    const before = new CartStore(storageShelf(() => storage));
    expect(before.hasGuestCart).toBe(false);
    await before.add('SKU-1');
    expect(storage.getItem(GUEST_CART_KEY)).toBe(TOKEN);
    expect(storage.length).toBe(1); // the guest token and nothing else

    const reloaded = new CartStore(storageShelf(() => storage)); // a new page, the same tab
    expect(reloaded.hasGuestCart).toBe(true);
    await reloaded.load();
    expect(seen[1]['X-Cart-Token']).toBe(TOKEN);
    expect(reloaded.cart?.item_count).toBe(1);
  });

  it('forgets the stored token when an answer carries none (merged, expired or unknown) and at sign-out', async () => {
    const storage = new TabStorage();
    storage.setItem(GUEST_CART_KEY, TOKEN);
    vi.stubGlobal('fetch', async () => cartAnswer(null, 0));
    const store = new CartStore(storageShelf(() => storage));
    await store.load();
    expect(storage.getItem(GUEST_CART_KEY)).toBeNull();
    expect(store.hasGuestCart).toBe(false);

    vi.stubGlobal('fetch', async () => cartAnswer(TOKEN, 1));
    await store.add('SKU-1');
    expect(storage.getItem(GUEST_CART_KEY)).toBe(TOKEN);
    store.forget();
    expect(storage.length).toBe(0);
  });

  it('still works, in memory, where the browser refuses storage', async () => {
    const refusing = {
      getItem: () => {
        throw new DOMException('denied', 'SecurityError');
      },
      setItem: () => {
        throw new DOMException('full', 'QuotaExceededError');
      },
      removeItem: () => {
        throw new DOMException('denied', 'SecurityError');
      },
    } as unknown as Storage;
    const seen: Record<string, string>[] = [];
    vi.stubGlobal('fetch', async (_path: string, init: RequestInit) => {
      seen.push(init.headers as Record<string, string>);
      return cartAnswer(TOKEN, 1);
    });
    const store = new CartStore(storageShelf(() => refusing));
    await store.add('SKU-1');
    await store.add('SKU-2');
    expect(seen[1]['X-Cart-Token']).toBe(TOKEN);
    expect(() => store.forget()).not.toThrow();
  });
});
