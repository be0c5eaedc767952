/**
 * The listing's state lives in the URL (shareable, Back/Forward work): one mapping both ways.
 * Parameter names are the catalog API's own (GET /api/v1/products), prices in minor units.
 */
export const SORTS = ['newest', 'price_asc', 'price_desc', 'name'] as const;
export type Sort = (typeof SORTS)[number];
export const DEFAULT_SORT: Sort = 'newest';
export const PAGE_SIZE = 24;

export interface ListingFilters {
  q: string;
  brands: string[];
  category: string;
  tags: string[];
  minPrice: number | null;
  maxPrice: number | null;
  sort: Sort;
  cursor: string | null;
}

export const EMPTY_FILTERS: ListingFilters = {
  q: '',
  brands: [],
  category: '',
  tags: [],
  minPrice: null,
  maxPrice: null,
  sort: DEFAULT_SORT,
  cursor: null,
};

const SLUG = /^[a-z0-9][a-z0-9-]{0,159}$/;
const MAX_PRICE = 2_147_483_647;

function price(value: string | null): number | null {
  if (value === null || !/^\d{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n <= MAX_PRICE ? n : null;
}

function slugs(values: string[]): string[] {
  return [...new Set(values.map((v) => v.trim().toLowerCase()).filter((v) => SLUG.test(v)))].sort();
}

/** Whatever a user typed into the address bar becomes a valid state (junk is dropped, not sent). */
export function filtersFromSearch(search: string | URLSearchParams): ListingFilters {
  const p = typeof search === 'string' ? new URLSearchParams(search) : search;
  const sort = p.get('sort');
  const category = (p.get('category') ?? '').trim().toLowerCase();
  let minPrice = price(p.get('min_price'));
  let maxPrice = price(p.get('max_price'));
  if (minPrice !== null && maxPrice !== null && minPrice > maxPrice) [minPrice, maxPrice] = [maxPrice, minPrice];
  return {
    q: (p.get('q') ?? '').trim().slice(0, 200),
    brands: slugs(p.getAll('brand')).slice(0, 20),
    category: SLUG.test(category) ? category : '',
    tags: slugs(p.getAll('tag')).slice(0, 10),
    minPrice,
    maxPrice,
    sort: SORTS.includes(sort as Sort) ? (sort as Sort) : DEFAULT_SORT,
    cursor: p.get('cursor') || null,
  };
}

/** Canonical form: defaults left out, lists sorted, so one state has exactly one URL. */
export function filtersToSearch(f: ListingFilters): string {
  const p = new URLSearchParams();
  if (f.q.trim()) p.set('q', f.q.trim());
  for (const b of [...f.brands].sort()) p.append('brand', b);
  if (f.category) p.set('category', f.category);
  for (const t of [...f.tags].sort()) p.append('tag', t);
  if (f.minPrice !== null) p.set('min_price', String(f.minPrice));
  if (f.maxPrice !== null) p.set('max_price', String(f.maxPrice));
  if (f.sort !== DEFAULT_SORT) p.set('sort', f.sort);
  if (f.cursor) p.set('cursor', f.cursor);
  const text = p.toString();
  return text ? `?${text}` : '';
}

/** The catalog request for a state (the page size is the app's, not the URL's). */
export function apiQuery(f: ListingFilters, limit = PAGE_SIZE): string {
  const p = new URLSearchParams(filtersToSearch(f));
  p.set('limit', String(limit));
  return `?${p.toString()}`;
}

/** Changing what is shown starts again from the first page: an old cursor belongs to old results. */
export function withFilters(f: ListingFilters, change: Partial<Omit<ListingFilters, 'cursor'>>): ListingFilters {
  return { ...f, ...change, cursor: null };
}

export function toggle(list: string[], value: string): string[] {
  return list.includes(value) ? list.filter((v) => v !== value) : [...list, value].sort();
}

export function activeFilterCount(f: ListingFilters): number {
  return (
    f.brands.length + f.tags.length + (f.category ? 1 : 0) + (f.q ? 1 : 0) +
    (f.minPrice !== null ? 1 : 0) + (f.maxPrice !== null ? 1 : 0)
  );
}

/**
 * The catalog pages forward only (next_cursor). "Previous" goes back along the cursors this tab
 * followed; after a reload the trail is gone and Previous leads to the first page.
 */
export class CursorTrail {
  private previous = new Map<string, string | null>();

  followed(from: string | null, to: string): void {
    this.previous.set(to, from);
  }

  /** undefined: this page is the first one (no Previous). */
  before(cursor: string | null): string | null | undefined {
    if (cursor === null) return undefined;
    return this.previous.has(cursor) ? this.previous.get(cursor)! : null;
  }
}
