import { describe, expect, it } from 'vitest';
import { luminance, productColour, shadeOf } from './colour';

describe('placeholder colours', () => {
  it('uses the shade when the product has one', () => {
    expect(productColour('Velvet Lip', '#A0312F')).toBe('#a0312f');
  });

  it('derives a stable, name-specific colour otherwise', () => {
    expect(productColour('Hydrating Serum')).toBe(productColour('Hydrating Serum'));
    expect(productColour('Hydrating Serum')).not.toBe(productColour('Clay Mask'));
    expect(productColour('x', 'not-a-colour')).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('tints towards white and black', () => {
    expect(shadeOf('#000000', 1)).toBe('#ffffff');
    expect(shadeOf('#ffffff', -0.5)).toBe('#808080');
    expect(luminance('#ffffff')).toBeCloseTo(1);
    expect(luminance('#000000')).toBe(0);
  });
});
