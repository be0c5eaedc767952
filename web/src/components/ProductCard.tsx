import { Link } from '../lib/router';
import { formatMoney, type Money } from '../lib/money';
import { ProductImage } from './ProductImage';

export interface ProductSummary {
  id: number;
  slug: string;
  name: string;
  brand: { slug: string; name: string };
  category: { slug: string; name: string };
  image: string | null;
  price: Money | null;
  tags: string[];
  variant_count: number;
  shades: { sku: string; name: string; shade_hex: string }[];
}

export function ProductCard({ product }: { product: ProductSummary }) {
  const shades = product.shades.slice(0, 6);
  return (
    <li class="product-card" data-testid="product-card">
      <Link href={`/products/${product.slug}`} class="product-link">
        <ProductImage src={product.image} name={product.name} brand={product.brand.name} shadeHex={product.shades[0]?.shade_hex} />
        <span class="product-brand">{product.brand.name}</span>
        <span class="product-name">{product.name}</span>
      </Link>
      <span class="product-price">
        {product.price ? (product.variant_count > 1 ? `from ${formatMoney(product.price)}` : formatMoney(product.price)) : 'Unavailable'}
      </span>
      {shades.length > 0 && (
        <span class="swatches" aria-label={`${product.shades.length} shades`}>
          {shades.map((s) => (
            <span key={s.sku} class="swatch-dot" style={{ backgroundColor: s.shade_hex }} title={s.name} />
          ))}
          {product.shades.length > shades.length && <span class="more">+{product.shades.length - shades.length}</span>}
        </span>
      )}
    </li>
  );
}

export function ProductGrid({ products, busy = false }: { products: ProductSummary[]; busy?: boolean }) {
  return (
    <ul class="product-grid" aria-busy={busy} data-testid="product-grid">
      {products.map((p) => (
        <ProductCard key={p.id} product={p} />
      ))}
    </ul>
  );
}
