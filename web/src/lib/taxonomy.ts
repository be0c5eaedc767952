/**
 * Brands and the category tree as catalog's admin API has them (`/api/v1/admin/brands`,
 * `/api/v1/admin/categories`), and the rules the editor needs before asking: the tree in reading
 * order, and where a category may go. Catalog applies the same rules again (at most five levels,
 * never under itself); these only keep impossible choices out of the form.
 */

export interface Brand {
  id: number;
  slug: string;
  name: string;
  description: string;
}

export interface Category {
  id: number;
  slug: string;
  name: string;
  parent_id: number | null;
  depth: number; // 1 at the top level
  position: number;
}

/** catalog's MAX_CATEGORY_DEPTH */
export const MAX_CATEGORY_DEPTH = 5;

const byPositionThenName = (a: Category, b: Category) => a.position - b.position || a.name.localeCompare(b.name) || a.id - b.id;

/**
 * Each category followed by its sub-categories (siblings by position, then name): the order a
 * reader expects of a tree. A category whose parent is not in the list is shown at the top level
 * rather than hidden.
 */
export function treeOrder(categories: Category[]): Category[] {
  const known = new Set(categories.map((c) => c.id));
  const children = new Map<number | null, Category[]>();
  for (const c of categories) {
    const parent = c.parent_id !== null && known.has(c.parent_id) ? c.parent_id : null;
    children.set(parent, [...(children.get(parent) ?? []), c]);
  }
  const out: Category[] = [];
  const seen = new Set<number>();
  const visit = (parent: number | null) => {
    for (const c of [...(children.get(parent) ?? [])].sort(byPositionThenName)) {
      if (seen.has(c.id)) continue; // a cycle in bad data must not loop forever
      seen.add(c.id);
      out.push(c);
      visit(c.id);
    }
  };
  visit(null);
  return out;
}

/** The ids of a category's sub-categories, at every level below it. */
export function descendantIds(categories: Category[], id: number): Set<number> {
  const found = new Set<number>();
  let frontier = [id];
  while (frontier.length) {
    const next = categories.filter((c) => c.parent_id !== null && frontier.includes(c.parent_id) && !found.has(c.id) && c.id !== id);
    for (const c of next) found.add(c.id);
    frontier = next.map((c) => c.id);
  }
  return found;
}

/**
 * Where a category may go (tree order): for a new one (null), any category with room for a
 * level below it; for an existing one, not itself nor anything under it, and only where its
 * whole sub-tree still fits within MAX_CATEGORY_DEPTH.
 */
export function parentChoices(categories: Category[], category: Category | null): Category[] {
  const ordered = treeOrder(categories);
  if (!category) return ordered.filter((c) => c.depth < MAX_CATEGORY_DEPTH);
  const below = descendantIds(categories, category.id);
  const deepest = Math.max(category.depth, ...categories.filter((c) => below.has(c.id)).map((c) => c.depth));
  const levels = deepest - category.depth; // levels under the category itself
  return ordered.filter((c) => c.id !== category.id && !below.has(c.id) && c.depth + 1 + levels <= MAX_CATEGORY_DEPTH);
}

/** "Makeup › Lips › Lipstick": where a category sits, for labels and the parent picker. */
export function categoryPath(categories: Category[], category: Category): string {
  const byId = new Map(categories.map((c) => [c.id, c]));
  const names = [category.name];
  let parent = category.parent_id === null ? undefined : byId.get(category.parent_id);
  while (parent && names.length <= MAX_CATEGORY_DEPTH) {
    names.unshift(parent.name);
    parent = parent.parent_id === null ? undefined : byId.get(parent.parent_id);
  }
  return names.join(' › ');
}

/** The slug catalog makes of a name when none is given (domain.slugify), shown as a hint. */
export function slugOf(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/'/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 160);
}

/** Only what changed, so a rename is not also a slug rewrite (catalog audits each field sent). */
export function changedFields<T extends Record<string, unknown>>(before: T, after: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(after) as (keyof T)[]) if (after[key] !== before[key]) out[key] = after[key];
  return out;
}
