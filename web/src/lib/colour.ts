/** Placeholder art colours, derived from the product so each one looks different but stable. */
export function hashString(text: string): number {
  let h = 2166136261; // FNV-1a: tiny, deterministic, well spread
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

const HEX = /^#([0-9a-f]{6})$/i;

export function parseHex(hex: string | null | undefined): [number, number, number] | null {
  const m = HEX.exec(hex ?? '');
  if (!m) return null;
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function toHex([r, g, b]: [number, number, number]): string {
  return `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

/** Mix towards white (amount > 0) or black (amount < 0). */
export function shadeOf(hex: string, amount: number): string {
  const rgb = parseHex(hex) ?? [128, 128, 128];
  const target = amount >= 0 ? 255 : 0;
  const a = Math.abs(amount);
  return toHex(rgb.map((c) => c + (target - c) * a) as [number, number, number]);
}

/** The product's colour: its first shade when it has one, else a soft hue from its name. */
export function productColour(name: string, shadeHex?: string | null): string {
  if (parseHex(shadeHex)) return shadeHex!.toLowerCase();
  const hue = hashString(name) % 360;
  return hslToHex(hue, 38, 62);
}

function hslToHex(h: number, s: number, l: number): string {
  s /= 100;
  l /= 100;
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return toHex([f(0) * 255, f(8) * 255, f(4) * 255]);
}

/** Relative luminance (WCAG), to pick readable text on a swatch. */
export function luminance(hex: string): number {
  const rgb = parseHex(hex) ?? [128, 128, 128];
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
