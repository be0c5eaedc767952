/**
 * Product images served by the catalog (docs/catalog.md, "Product images"): the API names an
 * image by the URL of its 480 px variant, `/api/v1/images/<digest>-<w>x<h>/480.webp`; the
 * same path with 160 or 960 is the same picture at that width. `<w>x<h>` is the original's
 * size, so the page can reserve the right box before the picture arrives (no layout shift).
 */
import { api } from './api';

export const IMAGE_WIDTHS = [160, 480, 960] as const;
const OURS = /^\/api\/v1\/images\/([0-9a-f]{32}-(\d{1,5})x(\d{1,5}))\/(\d+)\.webp$/;

export interface ImageSources {
  src: string;
  srcSet: string;
  width: number;
  height: number;
}

/** `src`/`srcset`/`width`/`height` for an <img> of one of our images; null for anything else
 * (an external URL, an empty string). `width` is the variant used as `src`. */
export function imageSources(url: string | null | undefined, width: (typeof IMAGE_WIDTHS)[number] = 480): ImageSources | null {
  const match = OURS.exec(url ?? '');
  if (!match) return null;
  const [, key, w, h] = match;
  const base = `/api/v1/images/${key}`;
  return {
    src: `${base}/${width}.webp`,
    srcSet: IMAGE_WIDTHS.map((size) => `${base}/${size}.webp ${size}w`).join(', '),
    width,
    height: Math.max(1, Math.round((width * Number(h)) / Number(w))),
  };
}

// What the catalog takes (it checks again, by decoding): said here to answer before uploading.
export const UPLOAD_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const MAX_IMAGES = 12;

export function uploadProblem(file: { type: string; size: number }): string | null {
  if (!(UPLOAD_TYPES as readonly string[]).includes(file.type)) return 'Choose a JPEG, PNG or WebP image.';
  if (file.size === 0) return 'That file is empty.';
  if (file.size > MAX_UPLOAD_BYTES) return `That image is ${(file.size / 1048576).toFixed(1)} MB; the limit is 10 MB.`;
  return null;
}

/** A copy of `list` with the item at `from` moved to `to` (out-of-range moves change nothing). */
export function moveItem<T>(list: readonly T[], from: number, to: number): T[] {
  const out = [...list];
  if (from < 0 || from >= out.length || to < 0 || to >= out.length) return out;
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item);
  return out;
}

/** Uploads one image: to the product's pictures, or with `sku` as that variant's picture.
 * The body is the file itself; the answer is the product's admin view. */
export function uploadImage<T>(productId: number, file: Blob, sku?: string): Promise<T> {
  const query = sku ? `?sku=${encodeURIComponent(sku)}` : '';
  return api<T>(`/api/v1/admin/products/${productId}/images${query}`, { method: 'POST', auth: true, body: file });
}
