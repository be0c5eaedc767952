import { useState } from 'preact/hooks';
import { hashString, luminance, productColour, shadeOf } from '../lib/colour';

interface Props {
  src?: string | null;
  name: string;
  /** What a screen reader hears (default: the name); the art is derived from the name alone. */
  alt?: string;
  brand?: string;
  shadeHex?: string | null;
  index?: number;
  class?: string;
}

/** Images from our own origin are shown; remote ones (the demo's CDN does not exist) and broken
 * ones become drawn art in the product's colour, so no image request ever leaves the shop. */
export function ProductImage({ src, name, alt = name, brand, shadeHex, index = 0, class: className = '' }: Props) {
  const [failed, setFailed] = useState(false);
  const local = !!src && src.startsWith('/') && !src.startsWith('//');
  if (local && !failed) {
    return <img class={`product-image ${className}`} src={src!} alt={alt} loading="lazy" onError={() => setFailed(true)} />;
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
