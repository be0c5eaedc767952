import { useState } from 'preact/hooks';
import { hashString, luminance, productColour, shadeOf } from '../lib/colour';
import { imageSources } from '../lib/images';

interface Props {
  src?: string | null;
  name: string;
  /** What a screen reader hears (default: the name); the art is derived from the name alone. */
  alt?: string;
  brand?: string;
  shadeHex?: string | null;
  index?: number;
  class?: string;
  /** How wide the picture is drawn (the <img> `sizes`), so the browser fetches the right width. */
  sizes?: string;
  /** Above the fold (the product page's main picture): fetched at once, not lazily. */
  eager?: boolean;
}

// the widths the grid, the product page and its thumbnails draw pictures at (styles.css)
export const CARD_SIZES = '(min-width: 72em) 22vw, (min-width: 40em) 30vw, 50vw';
export const LARGE_SIZES = '(min-width: 50em) 52vw, 100vw';
export const THUMB_SIZES = '72px';

/** The catalog's images come in three widths (srcset; the browser picks by `sizes`) with their
 * proportions known in advance (width/height: no layout shift). Other images from our own
 * origin are shown as they are; remote ones and broken ones become drawn art in the product's
 * colour, so no image request ever leaves the shop. */
export function ProductImage({ src, name, alt = name, brand, shadeHex, index = 0, class: className = '', sizes = CARD_SIZES, eager = false }: Props) {
  const [failed, setFailed] = useState<string | null>(null);
  const local = !!src && src.startsWith('/') && !src.startsWith('//');
  if (local && failed !== src) {
    const sources = imageSources(src);
    return (
      <img
        class={`product-image ${className}`}
        src={sources?.src ?? src!}
        srcset={sources?.srcSet}
        sizes={sources ? sizes : undefined}
        width={sources?.width}
        height={sources?.height}
        alt={alt}
        loading={eager ? 'eager' : 'lazy'}
        decoding="async"
        onError={() => setFailed(src!)}
      />
    );
  }
  return <Placeholder name={name} label={alt} brand={brand} shadeHex={shadeHex} index={index} className={className} />;
}

const SHAPES = ['bottle', 'tube', 'jar', 'compact'] as const;

function Placeholder({ name, label, brand, shadeHex, index, className }: { name: string; label: string; brand?: string; shadeHex?: string | null; index: number; className: string }) {
  const colour = productColour(name, shadeHex);
  const seed = hashString(name);
  const shape = SHAPES[(seed + index) % SHAPES.length];
  const bgTop = shadeOf(colour, 0.82);
  const bgBottom = shadeOf(colour, 0.62);
  const body = colour;
  const cap = luminance(colour) > 0.45 ? '#3d2b3d' : '#f6efe9';
  const id = `g${seed.toString(36)}${index}`;
  return (
    <svg class={`product-image placeholder ${className}`} viewBox="0 0 300 300" role="img" aria-label={label}>
      <defs>
        <linearGradient id={id} x1="0" y1="0" x2="0" y2="1">
          <stop offset="0" stop-color={bgTop} />
          <stop offset="1" stop-color={bgBottom} />
        </linearGradient>
      </defs>
      <rect width="300" height="300" fill={`url(#${id})`} />
      <ellipse cx="150" cy="252" rx="80" ry="10" fill="#000" opacity="0.08" />
      {shape === 'bottle' && (
        <g>
          <rect x="110" y="110" width="80" height="140" rx="18" fill={body} />
          <rect x="132" y="70" width="36" height="44" rx="6" fill={cap} />
          <rect x="122" y="150" width="56" height="40" rx="4" fill="#fff" opacity="0.55" />
        </g>
      )}
      {shape === 'tube' && (
        <g>
          <rect x="128" y="60" width="44" height="70" rx="8" fill={body} />
          <rect x="122" y="130" width="56" height="120" rx="6" fill={cap} />
          <rect x="134" y="170" width="32" height="50" rx="3" fill="#fff" opacity="0.35" />
        </g>
      )}
      {shape === 'jar' && (
        <g>
          <rect x="90" y="150" width="120" height="100" rx="16" fill={body} />
          <rect x="84" y="124" width="132" height="34" rx="10" fill={cap} />
          <rect x="110" y="185" width="80" height="34" rx="4" fill="#fff" opacity="0.5" />
        </g>
      )}
      {shape === 'compact' && (
        <g>
          <circle cx="150" cy="170" r="78" fill={cap} />
          <circle cx="150" cy="170" r="60" fill={body} />
          <circle cx="128" cy="148" r="14" fill="#fff" opacity="0.35" />
        </g>
      )}
      {brand && (
        <text x="150" y="40" text-anchor="middle" font-size="15" letter-spacing="3" fill="#3d2b3d" opacity="0.7">
          {brand.toUpperCase()}
        </text>
      )}
    </svg>
  );
}
