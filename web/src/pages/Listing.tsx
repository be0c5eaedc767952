import { useEffect, useState } from 'preact/hooks';
import { ProductGrid } from '../components/ProductCard';
import { Empty, ErrorState, Loading } from '../components/Status';
import { brands, categories, flattenCategories, POPULAR_TAGS, products, tagLabel } from '../lib/catalog';
import {
  activeFilterCount,
  apiQuery,
  CursorTrail,
  EMPTY_FILTERS,
  filtersFromSearch,
  filtersToSearch,
  type ListingFilters,
  type Sort,
  toggle,
  withFilters,
} from '../lib/filters';
import { parseMajor, toMajor } from '../lib/money';
import { navigate } from '../lib/router';
import { useFetch } from '../lib/useFetch';

const trail = new CursorTrail();
const CURRENCY = 'EUR'; // the catalog's one currency today (prices in the URL are its minor units)

const SORT_LABELS: Record<Sort, string> = {
  newest: 'Newest',
  price_asc: 'Price: low to high',
  price_desc: 'Price: high to low',
  name: 'Name',
};

const WIDE = '(min-width: 60em)';

function useWideScreen(): boolean {
  const [wide, setWide] = useState(() => window.matchMedia(WIDE).matches);
  useEffect(() => {
    const query = window.matchMedia(WIDE);
    const update = () => setWide(query.matches);
    query.addEventListener('change', update);
    return () => query.removeEventListener('change', update);
  }, []);
  return wide;
}

function go(filters: ListingFilters) {
  navigate(`/products${filtersToSearch(filters)}`);
}

export function Listing({ search }: { search: string }) {
  const filters = filtersFromSearch(search);
  const query = apiQuery(filters);
  const page = useFetch(query, (signal) => products(query, signal));
  const brandList = useFetch('brands', (signal) => brands(signal));
  const categoryTree = useFetch('categories', (signal) => categories(signal));

  useEffect(() => {
    // time to interactive of the grid, read by the browser tests (performance.getEntriesByName)
    if (page.status === 'ok' && !performance.getEntriesByName('listing:grid').length) performance.mark('listing:grid');
  }, [page.status]);

  const wide = useWideScreen();
  const [filtersOpen, setFiltersOpen] = useState(wide);
  useEffect(() => setFiltersOpen(wide), [wide]); // open beside the grid, folded on phones

  const previous = trail.before(filters.cursor);
  const heading = filters.q ? `Results for “${filters.q}”` : 'Shop all';

  return (
    <div class="listing">
      <h1 tabIndex={-1}>{heading}</h1>
      <div class="listing-layout">
        <details class="filters" open={filtersOpen} onToggle={(e) => setFiltersOpen(e.currentTarget.open)}>
          <summary>
            Filters{activeFilterCount(filters) ? ` (${activeFilterCount(filters)})` : ''}
          </summary>
          <FilterForm
            filters={filters}
            brandOptions={brandList.status === 'ok' ? brandList.data.items : []}
            categoryOptions={categoryTree.status === 'ok' ? flattenCategories(categoryTree.data.items) : []}
            loadingOptions={brandList.status === 'loading' || categoryTree.status === 'loading'}
          />
          {(brandList.status === 'error' || categoryTree.status === 'error') && (
            <ErrorState
              error={brandList.error ?? categoryTree.error}
              onRetry={() => {
                brandList.retry();
                categoryTree.retry();
              }}
            />
          )}
        </details>

        <section class="results" aria-labelledby="results-heading">
          <div class="results-bar">
            <h2 id="results-heading" class="visually-hidden">
              Products
            </h2>
            <div class="inline-field">
              <label for="sort-by">Sort by</label>
              <select
                id="sort-by"
                value={filters.sort}
                onChange={(e) => go(withFilters(filters, { sort: (e.currentTarget as HTMLSelectElement).value as Sort }))}
              >
                {(Object.keys(SORT_LABELS) as Sort[]).map((s) => (
                  <option key={s} value={s}>
                    {SORT_LABELS[s]}
                  </option>
                ))}
              </select>
            </div>
          </div>
          {page.status === 'loading' && <Loading label="Loading products…" />}
          {page.status === 'error' && <ErrorState error={page.error} onRetry={page.retry} />}
          {page.status === 'ok' && page.data.items.length === 0 && (
            <Empty>
              <p>No products match these filters.</p>
              <button type="button" class="button secondary" onClick={() => go(EMPTY_FILTERS)}>
                Clear all filters
              </button>
            </Empty>
          )}
          {page.status === 'ok' && page.data.items.length > 0 && <ProductGrid products={page.data.items} />}
          {page.status === 'ok' && (previous !== undefined || page.data.next_cursor) && (
            <nav class="pager" aria-label="Pages">
              <button
                type="button"
                class="button secondary"
                disabled={previous === undefined}
                onClick={() => go({ ...filters, cursor: previous ?? null })}
              >
                ← Previous
              </button>
              <button
                type="button"
                class="button secondary"
                disabled={!page.data.next_cursor}
                onClick={() => {
                  trail.followed(filters.cursor, page.data.next_cursor!);
                  go({ ...filters, cursor: page.data.next_cursor });
                  window.scrollTo(0, 0);
                }}
              >
                Next →
              </button>
            </nav>
          )}
        </section>
      </div>
    </div>
  );
}

interface FilterFormProps {
  filters: ListingFilters;
  brandOptions: { slug: string; name: string; product_count?: number }[];
  categoryOptions: { slug: string; name: string; depth: number }[];
  loadingOptions: boolean;
}

function FilterForm({ filters, brandOptions, categoryOptions, loadingOptions }: FilterFormProps) {
  const [q, setQ] = useState(filters.q);
  const [min, setMin] = useState(filters.minPrice === null ? '' : String(toMajor(filters.minPrice, CURRENCY)));
  const [max, setMax] = useState(filters.maxPrice === null ? '' : String(toMajor(filters.maxPrice, CURRENCY)));
  const [priceError, setPriceError] = useState('');
  useEffect(() => setQ(filters.q), [filters.q]);
  useEffect(() => setMin(filters.minPrice === null ? '' : String(toMajor(filters.minPrice, CURRENCY))), [filters.minPrice]);
  useEffect(() => setMax(filters.maxPrice === null ? '' : String(toMajor(filters.maxPrice, CURRENCY))), [filters.maxPrice]);

  function apply(event: Event) {
    event.preventDefault();
    const minPrice = min.trim() ? parseMajor(min, CURRENCY) : null;
    const maxPrice = max.trim() ? parseMajor(max, CURRENCY) : null;
    if ((min.trim() && minPrice === null) || (max.trim() && maxPrice === null)) {
      setPriceError('Enter prices as numbers, like 12 or 12.50.');
      return;
    }
    if (minPrice !== null && maxPrice !== null && minPrice > maxPrice) {
      setPriceError('The lowest price must not be above the highest.');
      return;
    }
    setPriceError('');
    go(withFilters(filters, { q: q.trim(), minPrice, maxPrice }));
  }

  return (
    <form class="filter-form" onSubmit={apply} role="search" aria-label="Filter products">
      <div class="field">
        <label for="filter-q">Search</label>
        <input id="filter-q" type="search" value={q} maxLength={200} onInput={(e) => setQ(e.currentTarget.value)} />
      </div>

      <div class="field">
        <label for="filter-category">Category</label>
        <select
          id="filter-category"
          value={filters.category}
          onChange={(e) => go(withFilters(filters, { category: e.currentTarget.value }))}
        >
          <option value="">All categories</option>
          {categoryOptions.map((c) => (
            <option key={c.slug} value={c.slug}>
              {'\u2003'.repeat(c.depth)}
              {c.name}
            </option>
          ))}
        </select>
      </div>

      <fieldset class="price-range">
        <legend>Price (€)</legend>
        <div class="field">
          <label for="filter-min">From</label>
          <input id="filter-min" inputMode="decimal" value={min} onInput={(e) => setMin(e.currentTarget.value)} aria-describedby={priceError ? 'price-error' : undefined} />
        </div>
        <div class="field">
          <label for="filter-max">To</label>
          <input id="filter-max" inputMode="decimal" value={max} onInput={(e) => setMax(e.currentTarget.value)} aria-describedby={priceError ? 'price-error' : undefined} />
        </div>
        {priceError && (
          <p id="price-error" class="field-error" role="alert">
            {priceError}
          </p>
        )}
      </fieldset>
      <button type="submit" class="button">
        Apply
      </button>

      <fieldset class="checks">
        <legend>Brand</legend>
        {loadingOptions && !brandOptions.length && <Loading label="Loading brands…" />}
        {brandOptions.map((b) => (
          <label key={b.slug} class="check">
            <input
              type="checkbox"
              name="brand"
              value={b.slug}
              checked={filters.brands.includes(b.slug)}
              onChange={() => go(withFilters(filters, { brands: toggle(filters.brands, b.slug) }))}
            />
            {b.name}
            {b.product_count !== undefined && <span class="count"> ({b.product_count})</span>}
          </label>
        ))}
      </fieldset>

      <fieldset class="checks">
        <legend>Highlights</legend>
        {POPULAR_TAGS.map((t) => (
          <label key={t} class="check">
            <input
              type="checkbox"
              name="tag"
              value={t}
              checked={filters.tags.includes(t)}
              onChange={() => go(withFilters(filters, { tags: toggle(filters.tags, t) }))}
            />
            {tagLabel(t)}
          </label>
        ))}
      </fieldset>

      {activeFilterCount(filters) > 0 && (
        <button type="button" class="button link" onClick={() => go({ ...EMPTY_FILTERS, sort: filters.sort })}>
          Clear filters
        </button>
      )}
    </form>
  );
}
