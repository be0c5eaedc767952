/**
 * The bag: the cart service's view, kept here so the header count, the drawer and the product
 * page agree. A guest's cart is reached with the opaque token the cart service issues; the first
 * call after sign-in sends it beside the access token, and the cart service merges the guest
 * cart into the shopper's, once (its answer then carries no token, and the token is forgotten).
 *
 * So that a guest's bag survives a reload, the guest token is kept in this tab's sessionStorage
 * (`GUEST_CART_KEY`). It is not a credential of an account: it reaches one anonymous basket (SKUs
 * and quantities; no name, address or payment), cannot place an order (checkout needs a sign-in),
 * dies at the merge and after 30 idle days, and only its SHA-256 is stored by the cart service.
 * sessionStorage is the smallest keeping that works: this tab only, gone with the tab, never sent
 * anywhere by the browser (a cookie would ride along on every request to the shop). The session's
 * tokens stay where tokens.ts keeps them (memory and an httpOnly cookie); nothing goes to
 * localStorage. Where storage is refused (privacy settings), the token lives in memory as before.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, tokens } from './api';
import type { Money } from './money';

export interface CartLine {
  sku: string;
  name: string;
  brand: string;
  variant_name: string;
  product_slug: string;
  quantity: number;
  unit_price: Money | null;
  line_total: Money | null;
  on_sale: boolean;
  availability: { state: string; buyable_quantity: number; short: boolean } | null;
}

export interface Cart {
  lines: CartLine[];
  item_count: number;
  subtotal: Money | null;
  /** A checkout holds the bag (writes are refused with 409 CART_LOCKED until it ends). */
  locked?: boolean;
  cart_token: string | null;
  merged: boolean;
  limits: { max_lines: number; max_quantity_per_line: number };
}

type Listener = () => void;

/** Where the guest token outlives a reload. */
export interface GuestTokenShelf {
  get(): string | null;
  set(token: string | null): void;
}

export const GUEST_CART_KEY = 'vanity_guest_cart';

/** A Storage (the tab's sessionStorage) that may refuse to be read or written: then it is skipped. */
export function storageShelf(storage: () => Storage | undefined, key = GUEST_CART_KEY): GuestTokenShelf {
  return {
    get() {
      try {
        return storage()?.getItem(key) ?? null;
      } catch {
        return null;
      }
    },
    set(token) {
      try {
        if (token) storage()?.setItem(key, token);
        else storage()?.removeItem(key);
      } catch {
        /* storage disabled or full: the token stays in memory for this page */
      }
    },
  };
}

const sessionShelf = storageShelf(() => (typeof sessionStorage === 'undefined' ? undefined : sessionStorage));

export class CartStore {
  cart: Cart | null = null;
  private guestToken: string | null;
  private listeners = new Set<Listener>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly shelf: GuestTokenShelf = sessionShelf) {
    this.guestToken = shelf.get();
  }

  /** A guest bag from before the reload, worth loading at once (the header shows its count). */
  get hasGuestCart(): boolean {
    return this.guestToken !== null;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  load(signal?: AbortSignal): Promise<Cart> {
    return this.call('/api/v1/cart', { signal });
  }

  add(sku: string, quantity = 1): Promise<Cart> {
    return this.call('/api/v1/cart/items', { method: 'POST', body: { sku, quantity } });
  }

  setQuantity(sku: string, quantity: number): Promise<Cart> {
    return this.call(`/api/v1/cart/items/${encodeURIComponent(sku)}`, { method: 'PATCH', body: { quantity } });
  }

  remove(sku: string): Promise<Cart> {
    return this.call(`/api/v1/cart/items/${encodeURIComponent(sku)}`, { method: 'DELETE' });
  }

  /** Signed out: the shopper's cart stays theirs on the server; this page forgets it. */
  forget(): void {
    this.keepToken(null);
    this.set(null);
  }

  /** One cart call at a time: a guest's first write is what issues the token the next one needs. */
  private call(path: string, options: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<Cart> {
    const run = async () => {
      const headers: Record<string, string> = this.guestToken ? { 'X-Cart-Token': this.guestToken } : {};
      const cart = await api<Cart>(path, { ...options, auth: 'optional', headers });
      this.keepToken(cart.cart_token); // none in the answer: the cart is the signed-in shopper's (or gone)
      this.set(cart);
      return cart;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private keepToken(token: string | null): void {
    if (token === this.guestToken) return;
    this.guestToken = token;
    this.shelf.set(token);
  }

  private set(cart: Cart | null): void {
    this.cart = cart;
    for (const listener of this.listeners) listener();
  }
}

export const cart = new CartStore();

let signedInAs: string | null = tokens.session?.user.id ?? null;
tokens.subscribe((session) => {
  const user = session?.user.id ?? null;
  if (user === signedInAs) return; // a refresh, not a new sign-in
  signedInAs = user;
  if (user) cart.load().catch(() => undefined); // merges a guest cart into the shopper's
  else cart.forget();
});

/** Page load: a guest's bag from before the reload (a signed-in shopper's loads at sign-in). */
export function loadGuestCartAtStart(): void {
  if (cart.hasGuestCart) cart.load().catch(() => undefined);
}

export function useCart(): Cart | null {
  const [, setVersion] = useState(0);
  useEffect(() => cart.subscribe(() => setVersion((n) => n + 1)), []);
  return cart.cart;
}
