import { describe, expect, it } from 'vitest';
import { match } from './router';

describe('route matching', () => {
  it('extracts decoded parameters and refuses other shapes', () => {
    expect(match('/products/:slug', '/products/velvet-lip')).toEqual({ slug: 'velvet-lip' });
    expect(match('/products/:slug', '/products/cr%C3%A8me')).toEqual({ slug: 'crème' });
    expect(match('/products/:slug', '/products')).toBeNull();
    expect(match('/products/:slug', '/products/a/b')).toBeNull();
    expect(match('/products/:slug', '/orders/a')).toBeNull();
    expect(match('/products/:slug', '/products/%E0%A4%A')).toBeNull(); // malformed escape
  });
});
