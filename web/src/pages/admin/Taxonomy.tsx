/**
 * Brands and categories: list, create, rename/edit, move (categories) and delete. Catalog has no
 * "inactive" state for either: a brand or category is deleted, and only while nothing uses it
 * (409 BRAND_IN_USE, CATEGORY_IN_USE, CATEGORY_HAS_CHILDREN, shown as catalog words them).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Field } from '../../components/Field';
import { Loading } from '../../components/Status';
import { api, ApiError } from '../../lib/api';
import { Link, navigate } from '../../lib/router';
import {
  categoryPath,
  changedFields,
  MAX_CATEGORY_DEPTH,
  parentChoices,
  slugOf,
  treeOrder,
  type Brand,
  type Category,
} from '../../lib/taxonomy';
import { useFetch } from '../../lib/useFetch';
import { ActionResult, Refusable, useAction } from './common';
import { PagedList, usePagedList } from './PagedList';

const BRANDS = '/api/v1/admin/brands';
const CATEGORIES = '/api/v1/admin/categories';
const SLUG_PATTERN = '[a-z0-9]+(-[a-z0-9]+)*';

/** What the last create or delete did, said once by the list it returns to. */
let notice: string | null = null;
function takeNotice(): string | null {
  const said = notice;
  notice = null;
  return said;
}

function Notice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p class="form-ok" role="status" data-testid="taxonomy-notice">
      {text}
    </p>
  );
}

const fieldError = (error: unknown) => (error instanceof ApiError ? error : null);

// ---- brands ---------------------------------------------------------------------------------

export function BrandsList() {
  const [said] = useState(takeNotice);
  const brands = usePagedList<Brand>(BRANDS);
  return (
    <>
      <p>
        <Link href="/admin/brands/new" class="button" data-testid="new-brand">
          New brand
        </Link>
      </p>
      <Notice text={said} />
      <PagedList
        list={brands}
        label="Brands"
        caption="Brands by name"
        noun={['brand', 'brands']}
        loading="Loading brands…"
        empty="No brands yet: add the first."
        head={
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Slug</th>
            <th scope="col">Description</th>
          </tr>
        }
        row={(b) => (
          <tr key={b.id} data-brand-slug={b.slug}>
            <th scope="row">
              <Link href={`/admin/brands/${b.id}`}>
                {b.name}
                <span class="visually-hidden">: edit</span>
              </Link>
            </th>
            <td>
              <code>{b.slug}</code>
            </td>
            <td class="clip">{b.description || '—'}</td>
          </tr>
        )}
      />
    </>
  );
}

/** Create ("new") or edit a brand; delete one that has no products. */
export function BrandEditor({ id }: { id: string }) {
  const isNew = id === 'new';
  const all = useFetch(isNew ? null : `admin-brand-${id}`, (signal) => api<{ items: Brand[] }>(BRANDS, { auth: true, signal }));
  if (!isNew && all.status === 'loading') return <Loading label="Loading the brand…" />;
  if (!isNew && all.status === 'error') return <Refusable error={all.error} retry={all.retry} />;
  const brand = isNew ? null : (all.data?.items.find((b) => String(b.id) === id) ?? null);
  return (
    <div class="taxonomy-editor">
      <p>
        <Link href="/admin/brands">← All brands</Link>
      </p>
      {!isNew && !brand ? (
        <Missing what="brand" />
      ) : (
        <>
          <h2>{brand ? `Edit ${brand.name}` : 'New brand'}</h2>
          <BrandForm key={brand?.id ?? 'new'} brand={brand} onSaved={(saved) => all.setData({ items: (all.data?.items ?? []).map((b) => (b.id === saved.id ? saved : b)) })} />
          {brand && <DeleteBox what="brand" name={brand.name} path={`${BRANDS}/${brand.id}`} back="/admin/brands" rule="Only a brand without products can be deleted." />}
        </>
      )}
    </div>
  );
}

/** The name and slug inputs both taxonomy editors start with; on creation an empty slug is made
 *  from the name (catalog does the same). */
function NameAndSlug({
  editing,
  values,
  set,
  error,
  usedBy,
}: {
  editing: boolean;
  values: { name: string; slug: string };
  set: (name: 'name' | 'slug') => (e: { currentTarget: { value: string } }) => void;
  error: ApiError | null;
  usedBy: string;
}) {
  return (
    <>
      <Field label="Name" name="name" required maxLength={120} value={values.name} onInput={set('name')} error={error} />
      <Field
        label={editing ? 'Slug' : 'Slug (empty: made from the name)'}
        name="slug"
        required={editing}
        maxLength={160}
        pattern={SLUG_PATTERN}
        placeholder={editing ? undefined : slugOf(values.name) || undefined}
        hint={`Lower-case letters, digits and hyphens; the shop's ${usedBy} use it.`}
        value={values.slug}
        onInput={set('slug')}
        error={error}
      />
    </>
  );
}

function BrandForm({ brand, onSaved }: { brand: Brand | null; onSaved: (b: Brand) => void }) {
  const initial = { name: brand?.name ?? '', slug: brand?.slug ?? '', description: brand?.description ?? '' };
  const [values, setValues] = useState(initial);
  const [saved, setSaved] = useState(initial);
  const save = useAction();
  const set = (name: keyof typeof values) => (e: { currentTarget: { value: string } }) => setValues({ ...values, [name]: e.currentTarget.value });
  const error = fieldError(save.error);
  const trimmed = { name: values.name.trim(), slug: values.slug.trim(), description: values.description.trim() };
  const changes = brand ? changedFields(saved, trimmed) : trimmed;
  return (
    <form
      class="admin-form wide"
      aria-label="Brand"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run(async () => {
          if (!brand) {
            const body: Record<string, string> = { name: trimmed.name, description: trimmed.description };
            if (trimmed.slug) body.slug = trimmed.slug;
            const created = await api<Brand>(BRANDS, { method: 'POST', auth: true, body });
            notice = `Brand “${created.name}” created.`;
            navigate('/admin/brands');
            return;
          }
          const updated = await api<Brand>(`${BRANDS}/${brand.id}`, { method: 'PATCH', auth: true, body: changes });
          const after = { name: updated.name, slug: updated.slug, description: updated.description };
          setSaved(after);
          setValues(after);
          onSaved(updated);
          return 'Saved.';
        });
      }}
    >
      <NameAndSlug editing={Boolean(brand)} values={values} set={set} error={error} usedBy="brand filter links" />
      <div class={`field${error?.fieldMessage('description') ? ' has-error' : ''}`}>
        <label for="brand-description">Description</label>
        <textarea id="brand-description" rows={4} maxLength={2000} value={values.description} onInput={set('description')} />
      </div>
      <ActionResult action={save} testId="brand-save" />
      <button type="submit" class="button" disabled={save.busy || !trimmed.name || (brand !== null && !Object.keys(changes).length)} data-testid="brand-submit">
        {save.busy ? 'Saving…' : brand ? 'Save changes' : 'Create brand'}
      </button>
    </form>
  );
}

// ---- categories ----------------------------------------------------------------------------

export function CategoriesList() {
  const [said] = useState(takeNotice);
  const categories = usePagedList<Category>(CATEGORIES);
  const all = categories.items;
  return (
    <>
      <p>
        <Link href="/admin/categories/new" class="button" data-testid="new-category">
          New top-level category
        </Link>
      </p>
      <Notice text={said} />
      <PagedList
        list={categories}
        label="Categories"
        caption="The category tree: each category followed by its sub-categories"
        noun={['category', 'categories']}
        loading="Loading categories…"
        empty="No categories yet: add the first."
        arrange={treeOrder}
        head={
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Sits under</th>
            <th scope="col">Slug</th>
            <th scope="col" class="num">Position</th>
            <th scope="col">Actions</th>
          </tr>
        }
        row={(c) => (
          <tr key={c.id} data-category-slug={c.slug}>
            <th scope="row" class={`tree-depth-${Math.min(c.depth, MAX_CATEGORY_DEPTH)}`}>
              <Link href={`/admin/categories/${c.id}`}>
                {c.name}
                <span class="visually-hidden">: edit</span>
              </Link>
            </th>
            <td>{c.parent_id === null ? 'top level' : categoryPath(all, c).split(' › ').slice(0, -1).join(' › ')}</td>
            <td>
              <code>{c.slug}</code>
            </td>
            <td class="num">{c.position}</td>
            <td class="row-actions">
              {c.depth < MAX_CATEGORY_DEPTH && (
                <Link href={`/admin/categories/new?parent=${c.id}`}>
                  Add sub-category<span class="visually-hidden"> to {c.name}</span>
                </Link>
              )}
            </td>
          </tr>
        )}
      />
    </>
  );
}

/** Create ("new", optionally under ?parent=) or edit a category: rename, move, reorder, delete. */
export function CategoryEditor({ id, search }: { id: string; search: string }) {
  const isNew = id === 'new';
  const all = useFetch(`admin-category-${id}`, (signal) => api<{ items: Category[] }>(CATEGORIES, { auth: true, signal }));
  if (all.status === 'loading') return <Loading label="Loading categories…" />;
  if (all.status === 'error') return <Refusable error={all.error} retry={all.retry} />;
  const categories = all.data.items;
  const category = isNew ? null : (categories.find((c) => String(c.id) === id) ?? null);
  const parent = Number(new URLSearchParams(search).get('parent')) || null;
  return (
    <div class="taxonomy-editor">
      <p>
        <Link href="/admin/categories">← All categories</Link>
      </p>
      {!isNew && !category ? (
        <Missing what="category" />
      ) : (
        <>
          <h2>{category ? `Edit ${category.name}` : 'New category'}</h2>
          {category && (
            <p class="hint">
              In the tree: <span data-testid="category-path">{categoryPath(categories, category)}</span>
            </p>
          )}
          <CategoryForm
            key={category?.id ?? `new-${parent}`}
            category={category}
            categories={categories}
            parentId={category ? category.parent_id : parent}
            onSaved={(saved) => all.setData({ items: categories.map((c) => (c.id === saved.id ? saved : c)) })}
          />
          {category && (
            <DeleteBox
              what="category"
              name={category.name}
              path={`${CATEGORIES}/${category.id}`}
              back="/admin/categories"
              rule="Only a category without sub-categories or products can be deleted."
            />
          )}
        </>
      )}
    </div>
  );
}

function CategoryForm({
  category,
  categories,
  parentId,
  onSaved,
}: {
  category: Category | null;
  categories: Category[];
  parentId: number | null;
  onSaved: (c: Category) => void;
}) {
  const choices = parentChoices(categories, category);
  const validParent = parentId !== null && choices.some((c) => c.id === parentId);
  const initial = {
    name: category?.name ?? '',
    slug: category?.slug ?? '',
    parent: validParent ? String(parentId) : '',
    position: String(category?.position ?? 0),
  };
  const [values, setValues] = useState(initial);
  const [saved, setSaved] = useState(initial);
  const save = useAction();
  const set = (name: keyof typeof values) => (e: { currentTarget: { value: string } }) => setValues({ ...values, [name]: e.currentTarget.value });
  const error = fieldError(save.error);
  const trimmed = { ...values, name: values.name.trim(), slug: values.slug.trim(), position: values.position.trim() };
  const positionOk = /^\d{1,5}$/.test(trimmed.position) && Number(trimmed.position) <= 10_000;
  const changes = changedFields(saved, trimmed);
  const toBody = (fields: Partial<typeof trimmed>) => {
    const body: Record<string, unknown> = {};
    if (fields.name !== undefined) body.name = fields.name;
    if (fields.slug) body.slug = fields.slug;
    if (fields.parent !== undefined) body.parent_id = fields.parent ? Number(fields.parent) : null; // null: to the top level
    if (fields.position !== undefined) body.position = Number(fields.position);
    return body;
  };
  const parentError = error?.fieldMessage('parent_id');
  return (
    <form
      class="admin-form wide"
      aria-label="Category"
      onSubmit={(e) => {
        e.preventDefault();
        if (!positionOk) return;
        void save.run(async () => {
          if (!category) {
            const body = toBody(trimmed);
            if (body.parent_id === null) delete body.parent_id;
            const created = await api<Category>(CATEGORIES, { method: 'POST', auth: true, body });
            notice = `Category “${created.name}” created.`;
            navigate('/admin/categories');
            return;
          }
          const updated = await api<Category>(`${CATEGORIES}/${category.id}`, { method: 'PATCH', auth: true, body: toBody(changes) });
          const after = {
            name: updated.name,
            slug: updated.slug,
            parent: updated.parent_id === null ? '' : String(updated.parent_id),
            position: String(updated.position),
          };
          setSaved(after);
          setValues(after);
          onSaved(updated);
          return 'Saved.';
        });
      }}
    >
      <NameAndSlug editing={Boolean(category)} values={values} set={set} error={error} usedBy="category links" />
      <div class={`field${parentError ? ' has-error' : ''}`}>
        <label for="category-parent">Sits under</label>
        <select
          id="category-parent"
          value={values.parent}
          onChange={set('parent')}
          aria-invalid={parentError ? true : undefined}
          aria-describedby={`category-parent-hint${parentError ? ' category-parent-error' : ''}`}
        >
          <option value="">Nothing (top level)</option>
          {choices.map((c) => (
            <option key={c.id} value={String(c.id)}>
              {categoryPath(categories, c)}
            </option>
          ))}
        </select>
        <span id="category-parent-hint" class="hint">
          Moving a category moves its sub-categories with it (at most {MAX_CATEGORY_DEPTH} levels).
        </span>
        {parentError && (
          <span id="category-parent-error" class="field-error">
            {parentError}
          </span>
        )}
      </div>
      <Field
        label="Position among its siblings (0 first)"
        name="position"
        inputMode="numeric"
        required
        value={values.position}
        onInput={set('position')}
        error={error}
        aria-invalid={positionOk ? undefined : true}
      />
      <ActionResult action={save} testId="category-save" />
      <button
        type="submit"
        class="button"
        disabled={save.busy || !trimmed.name || !positionOk || (category !== null && !Object.keys(changes).length)}
        data-testid="category-submit"
      >
        {save.busy ? 'Saving…' : category ? 'Save changes' : 'Create category'}
      </button>
    </form>
  );
}

// ---- shared ----------------------------------------------------------------------------------

function Missing({ what }: { what: string }) {
  return (
    <div class="status status-error" role="alert">
      <p>There is no such {what}: it may have been deleted.</p>
    </div>
  );
}

/** Delete after a second, explicit yes; catalog refuses (409) while something still uses it. */
function DeleteBox({ what, name, path, back, rule }: { what: string; name: string; path: string; back: string; rule: string }) {
  const [asking, setAsking] = useState(false);
  const action = useAction();
  const deleteButton = useRef<HTMLButtonElement>(null);
  const keepButton = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  useEffect(() => {
    // The question takes the place of the button: focus goes to the safe answer, and back after.
    if (asking) keepButton.current?.focus();
    else if (asked.current) deleteButton.current?.focus();
    asked.current = asking;
  }, [asking]);
  return (
    <section class="admin-form" aria-labelledby="delete-title">
      <h3 id="delete-title">Delete</h3>
      <p class="hint">{rule}</p>
      <ActionResult action={action} testId={`${what}-delete`} />
      {!asking ? (
        <button type="button" class="button secondary" ref={deleteButton} onClick={() => setAsking(true)} data-testid={`${what}-delete`}>
          Delete {what}
        </button>
      ) : (
        <div class="confirm-box" role="group" aria-label={`Confirm deleting ${name}`}>
          <span>
            Delete “{name}”? This cannot be undone.
          </span>
          <button
            type="button"
            class="button"
            disabled={action.busy}
            data-testid={`${what}-delete-confirm`}
            onClick={() =>
              action.run(async () => {
                try {
                  await api(path, { method: 'DELETE', auth: true });
                } finally {
                  setAsking(false);
                }
                notice = `${what === 'brand' ? 'Brand' : 'Category'} “${name}” deleted.`;
                navigate(back);
              })
            }
          >
            Yes, delete it
          </button>
          <button type="button" class="button secondary" ref={keepButton} onClick={() => setAsking(false)}>
            Keep it
          </button>
        </div>
      )}
    </section>
  );
}
