/**
 * The bag: the cart service's view, kept here so the header count, the drawer and the product
 * page agree. A guest's cart is reached with the opaque token the cart service issues (kept in
 * memory, like every credential in this app); the first call after sign-in sends it beside the
 * access token, and the cart service merges the guest cart into the shopper's, once.
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
  cart_token: string | null;
  merged: boolean;
  limits: { max_lines: number; max_quantity_per_line: number };
}

type Listener = () => void;

class CartStore {
  cart: Cart | null = null;
  private guestToken: string | null = null;
  private listeners = new Set<Listener>();
  private queue: Promise<unknown> = Promise.resolve();

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
    this.guestToken = null;
    this.set(null);
  }

  /** One cart call at a time: a guest's first write is what issues the token the next one needs. */
  private call(path: string, options: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<Cart> {
    const run = async () => {
      const headers: Record<string, string> = this.guestToken ? { 'X-Cart-Token': this.guestToken } : {};
      const cart = await api<Cart>(path, { ...options, auth: 'optional', headers });
      this.guestToken = cart.cart_token; // none in the answer: the cart is the signed-in shopper's
      this.set(cart);
      return cart;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
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

export function useCart(): Cart | null {
  const [, setVersion] = useState(0);
  useEffect(() => cart.subscribe(() => setVersion((n) => n + 1)), []);
  return cart.cart;
}
