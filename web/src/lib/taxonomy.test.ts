import { describe, expect, it } from 'vitest';
import { categoryPath, changedFields, descendantIds, parentChoices, slugOf, treeOrder, type Category } from './taxonomy';

let nextId = 1;
function cat(name: string, parent: Category | null, position = 0): Category {
  return { id: nextId++, slug: slugOf(name), name, parent_id: parent?.id ?? null, depth: parent ? parent.depth + 1 : 1, position };
}

// Makeup > Lips > Lipstick > Matte > Long-wear (five levels), Makeup > Face; Skincare
const makeup = cat('Makeup', null, 1);
const skincare = cat('Skincare', null, 0);
const lips = cat('Lips', makeup, 0);
const face = cat('Face', makeup, 0);
const lipstick = cat('Lipstick', lips);
const matte = cat('Matte', lipstick);
const longWear = cat('Long-wear', matte);
// catalog answers by depth, then position, then name
const all = [skincare, makeup, face, lips, lipstick, matte, longWear];

describe('treeOrder', () => {
  it('puts each category before its sub-categories, siblings by position then name', () => {
    expect(treeOrder(all).map((c) => c.name)).toEqual(['Skincare', 'Makeup', 'Face', 'Lips', 'Lipstick', 'Matte', 'Long-wear']);
  });

  it('shows a category whose parent is missing at the top level instead of hiding it', () => {
    const orphan = { ...cat('Orphan', null), parent_id: 9999, depth: 2 };
    expect(treeOrder([...all, orphan]).map((c) => c.name)).toContain('Orphan');
  });
});

describe('parentChoices', () => {
  it('offers a new category every place with room for one more level', () => {
    const names = parentChoices(all, null).map((c) => c.name);
    expect(names).toContain('Matte'); // depth 4: a child would be level 5
    expect(names).not.toContain('Long-wear'); // depth 5: full
  });

  it('never offers a category itself or anything under it', () => {
    expect(descendantIds(all, lips.id)).toEqual(new Set([lipstick.id, matte.id, longWear.id]));
    const names = parentChoices(all, lips).map((c) => c.name);
    expect(names).not.toContain('Lips');
    expect(names).not.toContain('Lipstick');
    expect(names).not.toContain('Long-wear');
  });

  it('offers only places where the whole sub-tree still fits in five levels', () => {
    // Lips carries three levels below it (Lipstick > Matte > Long-wear): its parent must be at the top level
    expect(parentChoices(all, lips).map((c) => c.name)).toEqual(['Skincare', 'Makeup']);
    // a leaf may go under anything not yet five deep
    expect(parentChoices(all, face).map((c) => c.name)).toEqual(['Skincare', 'Makeup', 'Lips', 'Lipstick', 'Matte']);
  });
});

describe('categoryPath', () => {
  it('names every ancestor', () => {
    expect(categoryPath(all, longWear)).toBe('Makeup › Lips › Lipstick › Matte › Long-wear');
    expect(categoryPath(all, skincare)).toBe('Skincare');
  });
});

describe('slugOf', () => {
  it('makes the slug catalog would (accents folded, apostrophes dropped, hyphens between words)', () => {
    expect(slugOf("  Crème  Brûlée d'Été ")).toBe('creme-brulee-dete');
    expect(slugOf('Atelier Rouge')).toBe('atelier-rouge');
    expect(slugOf('***')).toBe('');
  });
});

describe('changedFields', () => {
  it('keeps only what differs, so a rename sends the name alone', () => {
    expect(changedFields({ name: 'A', slug: 'a', description: '' }, { name: 'B', slug: 'a', description: '' })).toEqual({ name: 'B' });
    expect(changedFields({ name: 'A' }, { name: 'A' })).toEqual({});
  });
});
