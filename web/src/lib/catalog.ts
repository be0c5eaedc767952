import { api } from './api';
import type { ProductSummary } from '../components/ProductCard';
import type { Money } from './money';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Brand {
  id: number;
  slug: string;
  name: string;
  product_count?: number;
}

export interface Category {
  id: number;
  slug: string;
  name: string;
  depth: number;
  children: Category[];
}

export interface Variant {
  sku: string;
  name: string;
  shade_hex: string | null;
  size: string | null;
  price: Money | null;
  /** The shade's own picture (an image URL, lib/images.ts), when it has one. */
  image: string | null;
}

export interface ProductDetail {
  id: number;
  slug: string;
  name: string;
  brand: { slug: string; name: string };
  category: { slug: string; name: string };
  breadcrumb: { slug: string; name: string }[];
  description: string | null;
  images: string[];
  attributes: Record<string, unknown>;
  tags: string[];
  price: Money | null;
  variants: Variant[];
}

export type StockLevel = 'in_stock' | 'low' | 'out_of_stock';

export interface Availability {
  sku: string;
  known: boolean;
  level: StockLevel;
}

export const products = (query: string, signal?: AbortSignal) => api<Page<ProductSummary>>(`/api/v1/products${query}`, { signal });
export const product = (slug: string, signal?: AbortSignal) => api<ProductDetail>(`/api/v1/products/${encodeURIComponent(slug)}`, { signal });
export const brands = (signal?: AbortSignal) => api<{ items: Brand[] }>('/api/v1/brands', { signal });
export const categories = (signal?: AbortSignal) => api<{ items: Category[] }>('/api/v1/categories', { signal });
export function availability(skus: string[], signal?: AbortSignal) {
  const query = new URLSearchParams(skus.map((s) => ['sku', s])).toString();
  return api<{ items: Availability[] }>(`/api/v1/availability?${query}`, { signal });
}

/** The category tree flattened for a <select>, indented by depth. */
export function flattenCategories(nodes: Category[], out: Category[] = []): Category[] {
  for (const node of nodes) {
    out.push(node);
    flattenCategories(node.children, out);
  }
  return out;
}

export const POPULAR_TAGS = ['bestseller', 'new', 'vegan', 'cruelty-free', 'fragrance-free', 'travel-size', 'refillable', 'gift'];

export function tagLabel(tag: string): string {
  return tag.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase());
}
