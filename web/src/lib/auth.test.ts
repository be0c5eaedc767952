import { describe, expect, it } from 'vitest';
import { safeNext } from './auth';

describe('safeNext', () => {
  it('keeps paths inside the shop and refuses other origins', () => {
    expect(safeNext('/account/addresses')).toBe('/account/addresses');
    expect(safeNext('/products?brand=hanami')).toBe('/products?brand=hanami');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});
