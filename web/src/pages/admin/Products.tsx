import { useState } from 'preact/hooks';
import { Empty, Loading } from '../../components/Status';
import { api, ApiError } from '../../lib/api';
import { formatMoney, minorDigits, parseMajor, toMajor, type Money } from '../../lib/money';
import { Link, navigate } from '../../lib/router';
import { useFetch } from '../../lib/useFetch';
import { ImageUpload } from '../../components/ImageUpload';
import { ActionResult, Refusable, Table, useAction } from './common';
import { PagedList, usePagedList } from './PagedList';

interface AdminProductRow {
  id: number;
  slug: string;
  name: string;
  status: string;
  brand: { name: string };
  category: { name: string };
  price: Money | null;
  variant_count: number;
}

interface Variant {
  sku: string;
  name: string;
  shade_hex: string | null;
  size: string | null;
  price: Money | null;
  active: boolean;
  position: number;
  image: string | null;
}

interface AdminProduct {
  id: number;
  slug: string;
  name: string;
  status: 'draft' | 'active' | 'archived';
  brand: { id: number; name: string };
  category: { id: number; name: string };
  description: string;
  tags: string[];
  images: string[];
  variants: Variant[];
}

interface Named {
  id: number;
  name: string;
  depth?: number;
}

export function ProductsTable() {
  const products = usePagedList<AdminProductRow>('/api/v1/admin/products?limit=50');
  return (
    <>
      <p>
        <Link href="/admin/products/new" class="button" data-testid="new-product">
          New product
        </Link>
      </p>
      <PagedList
        list={products}
        label="Products"
        caption="Products, newest first"
        noun={['product', 'products']}
        loading="Loading products…"
        empty="No products yet."
        head={
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Brand</th>
            <th scope="col">Category</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">Variants</th>
            <th scope="col" class="num">From</th>
          </tr>
        }
        row={(p) => (
          <tr key={p.id}>
            <th scope="row">
              <Link href={`/admin/products/${p.id}`}>{p.name}</Link>
            </th>
            <td>{p.brand.name}</td>
            <td>{p.category.name}</td>
            <td>
              <span class={`badge status-${p.status}`}>{p.status}</span>
            </td>
            <td class="num">{p.variant_count}</td>
            <td class="num">{p.price ? formatMoney(p.price) : '—'}</td>
          </tr>
        )}
      />
    </>
  );
}

const loadTaxonomy = (signal: AbortSignal) =>
  Promise.all([
    api<{ items: Named[] }>('/api/v1/admin/brands', { auth: true, signal }),
    api<{ items: Named[] }>('/api/v1/admin/categories', { auth: true, signal }),
  ]).then(([brands, categories]) => ({ brands: brands.items, categories: categories.items }));

/** Create (id "new") or edit a product; archive it; add, edit and deactivate its variants. */
export function ProductEditor({ id }: { id: string }) {
  const isNew = id === 'new';
  const taxonomy = useFetch('admin-taxonomy', loadTaxonomy);
  const product = useFetch(isNew ? null : `admin-product-${id}`, (signal) =>
    api<AdminProduct>(`/api/v1/admin/products/${encodeURIComponent(id)}`, { auth: true, signal }),
  );
  if (taxonomy.status === 'loading' || (!isNew && product.status === 'loading')) return <Loading label="Loading the product…" />;
  if (taxonomy.status === 'error') return <Refusable error={taxonomy.error} retry={taxonomy.retry} />;
  if (!isNew && product.status === 'error') return <Refusable error={product.error} retry={product.retry} />;
  const current = !isNew && product.status === 'ok' ? product.data : null;
  return (
    <div class="product-editor">
      <p>
        <Link href="/admin/products">← All products</Link>
      </p>
      <h2>{current ? `Edit ${current.name}` : 'New product'}</h2>
      <ProductForm key={current?.id ?? 'new'} product={current} brands={taxonomy.data.brands} categories={taxonomy.data.categories} onSaved={(p) => product.setData(p)} />
      {current && <ImageUpload product={current} onChange={(p) => product.setData(p)} />}
      {current && <Variants product={current} onChange={(p) => product.setData(p)} />}
    </div>
  );
}

function ProductForm({
  product,
  brands,
  categories,
  onSaved,
}: {
  product: AdminProduct | null;
  brands: Named[];
  categories: Named[];
  onSaved: (p: AdminProduct) => void;
}) {
  const [values, setValues] = useState({
    name: product?.name ?? '',
    slug: product?.slug ?? '',
    brand_id: String(product?.brand.id ?? brands[0]?.id ?? ''),
    category_id: String(product?.category.id ?? categories[0]?.id ?? ''),
    description: product?.description ?? '',
    tags: product?.tags.join(', ') ?? '',
    status: product?.status ?? 'draft',
  });
  const save = useAction();
  const archive = useAction();
  const set = (name: keyof typeof values) => (e: { currentTarget: { value: string } }) => setValues({ ...values, [name]: e.currentTarget.value });
  return (
    <form
      class="admin-form wide"
      aria-label="Product"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run(async () => {
          const body: Record<string, unknown> = {
            name: values.name.trim(),
            brand_id: Number(values.brand_id),
            category_id: Number(values.category_id),
            description: values.description,
            tags: values.tags
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean),
            status: values.status,
          };
          if (values.slug.trim()) body.slug = values.slug.trim();
          const saved = product
            ? await api<AdminProduct>(`/api/v1/admin/products/${product.id}`, { method: 'PATCH', auth: true, body })
            : await api<AdminProduct>('/api/v1/admin/products', { method: 'POST', auth: true, body });
          if (!product) navigate(`/admin/products/${saved.id}`, { replace: true });
          else onSaved(saved);
          return 'Saved.';
        });
      }}
    >
      <div class="field">
        <label for="product-name">Name</label>
        <input id="product-name" required maxLength={200} value={values.name} onInput={set('name')} />
      </div>
      <div class="field">
        <label for="product-slug">Slug (empty: from the name)</label>
        <input id="product-slug" maxLength={160} value={values.slug} onInput={set('slug')} />
      </div>
      <div class="field">
        <label for="product-brand">Brand</label>
        <select id="product-brand" value={values.brand_id} onChange={set('brand_id')}>
          {brands.map((b) => (
            <option key={b.id} value={b.id}>
              {b.name}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="product-category">Category</label>
        <select id="product-category" value={values.category_id} onChange={set('category_id')}>
          {categories.map((c) => (
            <option key={c.id} value={c.id}>
              {'— '.repeat(c.depth ?? 0)}
              {c.name}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="product-description">Description</label>
        <textarea id="product-description" rows={4} maxLength={5000} value={values.description} onInput={set('description')} />
      </div>
      <div class="field">
        <label for="product-tags">Tags (comma separated)</label>
        <input id="product-tags" value={values.tags} onInput={set('tags')} />
      </div>
      <div class="field">
        <label for="product-status">Status</label>
        <select id="product-status" value={values.status} onChange={set('status')}>
          <option value="draft">Draft (hidden)</option>
          <option value="active">Active (on sale)</option>
          <option value="archived">Archived</option>
        </select>
      </div>
      <ActionResult action={save} testId="product-save" />
      <ActionResult action={archive} testId="product-archive" />
      <div class="actions">
        <button type="submit" class="button" disabled={save.busy || !values.name.trim()} data-testid="product-submit">
          {product ? 'Save changes' : 'Create product'}
        </button>
        {product && product.status !== 'archived' && (
          <button
            type="button"
            class="button secondary"
            disabled={archive.busy}
            data-testid="product-archive"
            onClick={() =>
              archive.run(async () => {
                const archived = await api<AdminProduct>(`/api/v1/admin/products/${product.id}`, { method: 'DELETE', auth: true });
                onSaved(archived);
                setValues((v) => ({ ...v, status: archived.status }));
                return 'Archived: off sale, kept for past orders.';
              })
            }
          >
            Archive
          </button>
        )}
      </div>
    </form>
  );
}

function Variants({ product, onChange }: { product: AdminProduct; onChange: (p: AdminProduct) => void }) {
  const action = useAction();
  const [draft, setDraft] = useState({ sku: '', name: '', shade_hex: '', size: '', price: '' });
  const [prices, setPrices] = useState<Record<string, string>>({});
  const reload = () => api<AdminProduct>(`/api/v1/admin/products/${product.id}`, { auth: true }).then(onChange);
  const base = `/api/v1/admin/products/${product.id}/variants`;
  return (
    <section aria-labelledby="variants-title">
      <h3 id="variants-title">Variants</h3>
      <ActionResult action={action} testId="variant" />
      {product.variants.length === 0 ? (
        <Empty>No variants yet: add the first below.</Empty>
      ) : (
        <Table label="Variants" caption={`Variants of ${product.name}`}>
          <thead>
            <tr>
              <th scope="col">SKU</th>
              <th scope="col">Name</th>
              <th scope="col">Shade / size</th>
              <th scope="col">Price</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {product.variants.map((v) => {
              const currency = v.price?.currency ?? 'EUR';
              const typed = prices[v.sku];
              return (
                <tr key={v.sku} data-sku={v.sku}>
                  <th scope="row">
                    <code>{v.sku}</code>
                  </th>
                  <td>{v.name}</td>
                  <td>
                    {v.shade_hex && <span class="swatch-dot inline" style={{ background: v.shade_hex }} aria-hidden="true" />} {v.shade_hex ?? ''} {v.size ?? ''}
                  </td>
                  <td>
                    <label class="visually-hidden" for={`price-${v.sku}`}>
                      Price of {v.sku} ({currency})
                    </label>
                    <input
                      id={`price-${v.sku}`}
                      class="price-input"
                      inputMode="decimal"
                      value={typed ?? (v.price ? toMajor(v.price.amount_minor, currency).toFixed(minorDigits(currency)) : '')}
                      onInput={(e) => setPrices({ ...prices, [v.sku]: e.currentTarget.value })}
                    />
                  </td>
                  <td>{v.active ? 'on sale' : 'inactive'}</td>
                  <td class="row-actions">
                    <button
                      type="button"
                      class="button link"
                      disabled={action.busy || typed === undefined}
                      onClick={() =>
                        action.run(async () => {
                          const minor = parseMajor(typed ?? '', currency);
                          if (minor === null) throw new ApiError(422, 'Enter a price such as 24.90.');
                          await api(`${base}/${encodeURIComponent(v.sku)}`, { method: 'PATCH', auth: true, body: { price_minor: minor } });
                          const { [v.sku]: _, ...rest } = prices;
                          setPrices(rest);
                          await reload();
                          return `${v.sku}: price saved.`;
                        })
                      }
                    >
                      Save price<span class="visually-hidden"> of {v.sku}</span>
                    </button>
                    {v.active ? (
                      <button
                        type="button"
                        class="button link"
                        disabled={action.busy}
                        onClick={() =>
                          action.run(async () => {
                            await api(`${base}/${encodeURIComponent(v.sku)}`, { method: 'DELETE', auth: true });
                            await reload();
                            return `${v.sku}: off sale.`;
                          })
                        }
                      >
                        Deactivate<span class="visually-hidden"> {v.sku}</span>
                      </button>
                    ) : (
                      <button
                        type="button"
                        class="button link"
                        disabled={action.busy}
                        onClick={() =>
                          action.run(async () => {
                            await api(`${base}/${encodeURIComponent(v.sku)}`, { method: 'PATCH', auth: true, body: { active: true } });
                            await reload();
                            return `${v.sku}: on sale again.`;
                          })
                        }
                      >
                        Reactivate<span class="visually-hidden"> {v.sku}</span>
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </Table>
      )}
      <form
        class="admin-form"
        aria-labelledby="new-variant-title"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            const minor = parseMajor(draft.price, 'EUR');
            if (minor === null) throw new ApiError(422, 'Enter a price such as 24.90.');
            const body: Record<string, unknown> = { sku: draft.sku.trim(), name: draft.name.trim(), price_minor: minor, currency: 'EUR' };
            if (draft.shade_hex.trim()) body.shade_hex = draft.shade_hex.trim();
            if (draft.size.trim()) body.size = draft.size.trim();
            await api(base, { method: 'POST', auth: true, body });
            setDraft({ sku: '', name: '', shade_hex: '', size: '', price: '' });
            await reload();
            return `${body.sku}: added.`;
          });
        }}
      >
        <h4 id="new-variant-title">Add a variant</h4>
        {(
          [
            ['sku', 'SKU (e.g. BRD-LIP-01)'],
            ['name', 'Name (shade or size)'],
            ['shade_hex', 'Shade colour (#rrggbb, optional)'],
            ['size', 'Size (optional)'],
            ['price', 'Price (EUR)'],
          ] as const
        ).map(([name, label]) => (
          <div class="field" key={name}>
            <label for={`variant-${name}`}>{label}</label>
            <input
              id={`variant-${name}`}
              required={name === 'sku' || name === 'name' || name === 'price'}
              inputMode={name === 'price' ? 'decimal' : undefined}
              value={draft[name]}
              onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
            />
          </div>
        ))}
        <button type="submit" class="button" disabled={action.busy || !draft.sku.trim() || !draft.name.trim() || !draft.price.trim()} data-testid="variant-submit">
          Add variant
        </button>
      </form>
    </section>
  );
}
