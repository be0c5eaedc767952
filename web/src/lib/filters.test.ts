import { describe, expect, it } from 'vitest';
import {
  apiQuery,
  CursorTrail,
  EMPTY_FILTERS,
  filtersFromSearch,
  filtersToSearch,
  withFilters,
  toggle,
} from './filters';

describe('listing state <-> URL', () => {
  it('round-trips every field through the URL', () => {
    const state = {
      q: 'velvet lip',
      brands: ['atelier-rouge', 'maison-lumiere'],
      category: 'lipstick',
      tags: ['bestseller', 'vegan'],
      minPrice: 1000,
      maxPrice: 4000,
      sort: 'price_asc' as const,
      cursor: 'abc123',
    };
    const search = filtersToSearch(state);
    expect(search).toBe(
      '?q=velvet+lip&brand=atelier-rouge&brand=maison-lumiere&category=lipstick&tag=bestseller&tag=vegan' +
        '&min_price=1000&max_price=4000&sort=price_asc&cursor=abc123',
    );
    expect(filtersFromSearch(search)).toEqual(state);
  });

  it('gives the default state an empty query string', () => {
    expect(filtersToSearch(EMPTY_FILTERS)).toBe('');
    expect(filtersFromSearch('')).toEqual(EMPTY_FILTERS);
  });

  it('is canonical: order and duplicates in the URL do not make a new state', () => {
    const a = filtersFromSearch('?brand=b&brand=a&brand=a&tag=Vegan');
    expect(a.brands).toEqual(['a', 'b']);
    expect(a.tags).toEqual(['vegan']);
    expect(filtersToSearch(a)).toBe('?brand=a&brand=b&tag=vegan');
  });

  it('drops junk a user typed instead of sending it to the API', () => {
    const f = filtersFromSearch('?sort=cheapest&min_price=-5&max_price=1e9&brand=%3Cscript%3E&category=..%2F');
    expect(f).toEqual(EMPTY_FILTERS);
    expect(filtersFromSearch('?max_price=99999999999').maxPrice).toBeNull();
  });

  it('swaps a reversed price range rather than asking for an impossible one', () => {
    const f = filtersFromSearch('?min_price=5000&max_price=1000');
    expect([f.minPrice, f.maxPrice]).toEqual([1000, 5000]);
  });

  it('builds the catalog request with the page size', () => {
    const f = { ...EMPTY_FILTERS, brands: ['kaia-botanics'], sort: 'name' as const };
    expect(apiQuery(f, 12)).toBe('?brand=kaia-botanics&sort=name&limit=12');
  });

  it('starts from the first page when a filter changes', () => {
    const paged = { ...EMPTY_FILTERS, cursor: 'page-2' };
    expect(withFilters(paged, { brands: toggle(paged.brands, 'hanami') })).toEqual({
      ...EMPTY_FILTERS,
      brands: ['hanami'],
    });
    expect(toggle(['a', 'b'], 'a')).toEqual(['b']);
  });
});

describe('cursor trail (Previous)', () => {
  it('walks back along the followed cursors to the first page', () => {
    const trail = new CursorTrail();
    trail.followed(null, 'p2');
    trail.followed('p2', 'p3');
    expect(trail.before('p3')).toBe('p2');
    expect(trail.before('p2')).toBeNull(); // the first page
    expect(trail.before(null)).toBeUndefined(); // already on the first page
    expect(trail.before('unknown-after-reload')).toBeNull();
  });
});
