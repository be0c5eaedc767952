import { useEffect, useState } from 'preact/hooks';
import { LARGE_SIZES, ProductImage, THUMB_SIZES } from '../components/ProductImage';
import { ErrorState, Loading } from '../components/Status';
import { ApiError, friendlyMessage } from '../lib/api';
import { cart } from '../lib/cart';
import { openBag } from '../components/CartDrawer';
import { availability, product, tagLabel, type ProductDetail, type StockLevel, type Variant } from '../lib/catalog';
import { formatMoney } from '../lib/money';
import { Link } from '../lib/router';
import { useFetch } from '../lib/useFetch';

const LEVEL_TEXT: Record<StockLevel, string> = {
  in_stock: 'In stock',
  low: 'Only a few left',
  out_of_stock: 'Out of stock',
};

export function Product({ slug, search }: { slug: string; search: string }) {
  const detail = useFetch(`product:${slug}`, (signal) => product(slug, signal));
  if (detail.status === 'loading') return <Loading label="Loading product…" />;
  if (detail.status === 'error') {
    if (detail.error instanceof ApiError && detail.error.status === 404)
      return (
        <div class="status">
          <h1 tabIndex={-1}>Product not found</h1>
          <p>
            It may have been retired. <Link href="/products">Browse the shop</Link>.
          </p>
        </div>
      );
    return <ErrorState error={detail.error} onRetry={detail.retry} title="We could not load this product." />;
  }
  return <ProductView product={detail.data} search={search} />;
}

function ProductView({ product: p, search }: { product: ProductDetail; search: string }) {
  const wanted = new URLSearchParams(search).get('sku');
  const [sku, setSku] = useState(() => (p.variants.find((v) => v.sku === wanted) ?? p.variants[0])?.sku ?? null);
  const selected = p.variants.find((v) => v.sku === sku) ?? null;
  const skus = p.variants.map((v) => v.sku);
  const stock = useFetch(skus.length ? `availability:${skus.join(',')}` : null, (signal) => availability(skus, signal));
  const [imageIndex, setImageIndex] = useState(0);

  useEffect(() => {
    // the chosen variant is in the URL (shareable), without a new history entry per click
    if (!sku) return;
    const url = new URL(window.location.href);
    url.searchParams.set('sku', sku);
    window.history.replaceState(null, '', url.pathname + url.search);
  }, [sku]);

  const shades = p.variants.filter((v) => v.shade_hex);
  const sizes = p.variants.filter((v) => !v.shade_hex);
  // the chosen shade's own picture first, then the product's
  const pictures = [...(selected?.image ? [selected.image] : []), ...p.images];
  const images = pictures.length ? pictures : [''];
  const level = stock.status === 'ok' ? stock.data.items.find((a) => a.sku === sku)?.level : undefined;
  const price = selected?.price ?? p.price;

  return (
    <article class="product">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <ol>
          <li>
            <Link href="/products">Shop</Link>
          </li>
          {p.breadcrumb.map((c) => (
            <li key={c.slug}>
              <Link href={`/products?category=${c.slug}`}>{c.name}</Link>
            </li>
          ))}
        </ol>
      </nav>
      <div class="product-layout">
        <div class="gallery">
          <ProductImage src={images[imageIndex] ?? images[0]} name={p.name} brand={p.brand.name} shadeHex={selected?.shade_hex} index={imageIndex} class="large" sizes={LARGE_SIZES} eager />
          {images.length > 1 && (
            <div class="thumbs" role="group" aria-label="Product images">
              {images.map((src, i) => (
                <button
                  key={i}
                  type="button"
                  class="thumb"
                  aria-pressed={i === imageIndex}
                  aria-label={`Image ${i + 1} of ${images.length}`}
                  onClick={() => setImageIndex(i)}
                >
                  <ProductImage src={src} name={p.name} alt={`${p.name}, image ${i + 1}`} brand="" shadeHex={selected?.shade_hex} index={i} sizes={THUMB_SIZES} />
                </button>
              ))}
            </div>
          )}
        </div>
        <div class="buy-box">
          <Link href={`/products?brand=${p.brand.slug}`} class="product-brand">
            {p.brand.name}
          </Link>
          <h1 tabIndex={-1}>{p.name}</h1>
          <p class="price" data-testid="price" aria-live="polite">
            {price ? formatMoney(price) : 'Not available'}
          </p>

          {shades.length > 0 && (
            <VariantPicker legend="Shade" variants={shades} selected={sku} onSelect={(s) => { setSku(s); setImageIndex(0); }} swatches />
          )}
          {sizes.length > 0 && <VariantPicker legend="Size" variants={sizes} selected={sku} onSelect={setSku} />}

          <p class={`availability level-${level ?? 'unknown'}`} data-testid="availability" role="status">
            {stock.status === 'loading' && 'Checking availability…'}
            {stock.status === 'ok' && (level ? LEVEL_TEXT[level] : 'Availability unknown')}
          </p>
          {stock.status === 'error' && <ErrorState error={stock.error} onRetry={stock.retry} title="We could not check availability." />}
          {selected && <AddToBag sku={selected.sku} soldOut={level === 'out_of_stock'} />}

          {p.description && <p class="description">{p.description}</p>}
          <Attributes attributes={p.attributes} />
          {p.tags.length > 0 && (
            <ul class="chips small" aria-label="Highlights">
              {p.tags.map((t) => (
                <li key={t}>
                  <Link class="chip" href={`/products?tag=${t}`}>
                    {tagLabel(t)}
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </article>
  );
}

function VariantPicker({
  legend,
  variants,
  selected,
  onSelect,
  swatches = false,
}: {
  legend: string;
  variants: Variant[];
  selected: string | null;
  onSelect: (sku: string) => void;
  swatches?: boolean;
}) {
  const chosen = variants.find((v) => v.sku === selected);
  return (
    <fieldset class={`picker${swatches ? ' shades' : ''}`}>
      <legend>
        {legend}: <strong data-testid={`selected-${legend.toLowerCase()}`}>{chosen ? chosen.name : 'choose one'}</strong>
      </legend>
      <div class="options">
        {variants.map((v) => (
          <label key={v.sku} class={`option${v.sku === selected ? ' selected' : ''}`} title={v.name}>
            <input
              type="radio"
              name={`variant-${legend}`}
              value={v.sku}
              checked={v.sku === selected}
              onChange={() => onSelect(v.sku)}
              class={swatches ? 'visually-hidden' : undefined}
            />
            {swatches ? (
              <>
                <span class="swatch" style={{ backgroundColor: v.shade_hex ?? undefined }} aria-hidden="true" />
                <span class="visually-hidden">{v.name}</span>
              </>
            ) : (
              <span>{[v.size, v.name].filter(Boolean).filter((x, i, a) => a.indexOf(x) === i).join(' · ')}</span>
            )}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function Attributes({ attributes }: { attributes: Record<string, unknown> }) {
  const rows = Object.entries(attributes).filter(([, v]) => v !== null && v !== '' && !(Array.isArray(v) && !v.length));
  if (!rows.length) return null;
  const show = (v: unknown) => (Array.isArray(v) ? v.join(', ') : typeof v === 'boolean' ? (v ? 'Yes' : 'No') : String(v));
  return (
    <dl class="attributes">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{tagLabel(k.replace(/_/g, '-'))}</dt>
          <dd>{show(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function AddToBag({ sku, soldOut }: { sku: string; soldOut: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <div class="add-to-bag">
      <button
        type="button"
        class="button"
        disabled={busy || soldOut}
        onClick={async () => {
          if (busy) return;
          setBusy(true);
          setError(null);
          try {
            await cart.add(sku, 1);
            openBag();
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        {soldOut ? 'Out of stock' : busy ? 'Adding…' : 'Add to bag'}
      </button>
      {error !== null && (
        <p class="field-error" role="alert">
          {error instanceof ApiError && error.status === 409 ? error.message : friendlyMessage(error)}
        </p>
      )}
    </div>
  );
}
