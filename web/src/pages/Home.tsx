import { ProductGrid } from '../components/ProductCard';
import { Empty, ErrorState, Loading } from '../components/Status';
import { categories, products } from '../lib/catalog';
import { Link } from '../lib/router';
import { useFetch } from '../lib/useFetch';

export function Home() {
  const featured = useFetch('featured', (signal) => products('?tag=bestseller&sort=name&limit=8', signal));
  const tree = useFetch('categories', (signal) => categories(signal));
  return (
    <>
      <section class="hero">
        <h1 tabIndex={-1}>Beauty, thoughtfully chosen</h1>
        <p>Skincare, makeup, fragrance, haircare and tools from independent houses.</p>
        <Link href="/products" class="button">
          Shop everything
        </Link>
      </section>

      <section aria-labelledby="shop-by-category">
        <h2 id="shop-by-category">Shop by category</h2>
        {tree.status === 'loading' && <Loading label="Loading categories…" />}
        {tree.status === 'error' && <ErrorState error={tree.error} onRetry={tree.retry} />}
        {tree.status === 'ok' && (
          <ul class="chips">
            {tree.data.items.map((c) => (
              <li key={c.id}>
                <Link href={`/products?category=${c.slug}`} class="chip">
                  {c.name}
                </Link>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="featured">
        <h2 id="featured">Bestsellers</h2>
        {featured.status === 'loading' && <Loading label="Loading bestsellers…" />}
        {featured.status === 'error' && <ErrorState error={featured.error} onRetry={featured.retry} />}
        {featured.status === 'ok' &&
          (featured.data.items.length ? <ProductGrid products={featured.data.items} /> : <Empty>No bestsellers right now.</Empty>)}
      </section>
    </>
  );
}
