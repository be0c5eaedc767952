import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from './api';
import { imageSources, moveItem, uploadProblem } from './images';
import { productColour } from './colour';

afterEach(() => vi.unstubAllGlobals());

const KEY = '0123456789abcdef0123456789abcdef-1200x800';

describe('image sources', () => {
  it('offers every served width and keeps the proportions', () => {
    const s = imageSources(`/api/v1/images/${KEY}/480.webp`)!;
    expect(s.src).toBe(`/api/v1/images/${KEY}/480.webp`);
    expect(s.srcSet).toBe(
      `/api/v1/images/${KEY}/160.webp 160w, /api/v1/images/${KEY}/480.webp 480w, /api/v1/images/${KEY}/960.webp 960w`,
    );
    expect([s.width, s.height]).toEqual([480, 320]);
    expect(imageSources(`/api/v1/images/${KEY}/960.webp`, 160)).toMatchObject({ src: `/api/v1/images/${KEY}/160.webp`, width: 160, height: 107 });
  });

  it('leaves other URLs alone', () => {
    expect(imageSources('https://cdn.example/a.jpg')).toBeNull();
    expect(imageSources(`https://evil.example/api/v1/images/${KEY}/480.webp`)).toBeNull();
    expect(imageSources('')).toBeNull();
    expect(imageSources(null)).toBeNull();
  });
});

describe('uploads', () => {
  it('answers before uploading what the catalog would refuse', () => {
    expect(uploadProblem({ type: 'image/png', size: 2000 })).toBeNull();
    expect(uploadProblem({ type: 'image/gif', size: 2000 })).toMatch(/JPEG, PNG or WebP/);
    expect(uploadProblem({ type: 'image/svg+xml', size: 2000 })).not.toBeNull();
    expect(uploadProblem({ type: 'image/jpeg', size: 0 })).toMatch(/empty/);
    expect(uploadProblem({ type: 'image/webp', size: 11 * 1024 * 1024 })).toMatch(/11\.0 MB/);
  });

  it('sends the file itself as the body, with its type', async () => {
    const seen: RequestInit[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      seen.push(init);
      return new Response('{}', { status: 201, headers: { 'Content-Type': 'application/json' } });
    });
    const file = new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: 'image/jpeg' });
    await api('/api/v1/admin/products/1/images', { method: 'POST', body: file });
    expect(seen[0].body).toBe(file);
    expect((seen[0].headers as Record<string, string>)['Content-Type']).toBe('image/jpeg');
    await api('/x', { method: 'POST', body: { a: 1 } }); // anything else is still JSON
    expect(seen[1].body).toBe('{"a":1}');
    expect((seen[1].headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('moves an image within the list', () => {
    expect(moveItem(['a', 'b', 'c'], 2, 0)).toEqual(['c', 'a', 'b']);
    expect(moveItem(['a', 'b', 'c'], 0, 1)).toEqual(['b', 'a', 'c']);
    expect(moveItem(['a', 'b'], 1, 2)).toEqual(['a', 'b']);
  });
});

describe('placeholder colours agree with the catalog', () => {
  // services/catalog/tests/test_image_rules.py pins the same values for the generated art
  it('derives the same colour from a name', () => {
    expect(productColour('Hydrating Serum')).toBe('#79c391');
    expect(productColour('Clay Mask')).toBe('#7997c3');
  });
});
