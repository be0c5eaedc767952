import { describe, expect, it } from 'vitest';
import { formatMoney, minorDigits, parseMajor, toMajor } from './money';

describe('money', () => {
  it('formats minor units with the currency of the price', () => {
    expect(formatMoney({ amount_minor: 3299, currency: 'EUR' }, 'en-IE')).toBe('€32.99');
    expect(formatMoney({ amount_minor: 3299, currency: 'EUR' }, 'de-DE')).toBe('32,99\u00a0€');
    expect(formatMoney({ amount_minor: 1999, currency: 'USD' }, 'en-US')).toBe('$19.99');
  });

  it('knows currencies without cents and with three decimals', () => {
    expect(minorDigits('JPY')).toBe(0);
    expect(minorDigits('BHD')).toBe(3);
    expect(formatMoney({ amount_minor: 1500, currency: 'JPY' }, 'en-US')).toBe('¥1,500');
    expect(formatMoney({ amount_minor: 1500, currency: 'BHD' }, 'en-US')).toBe('BHD\u00a01.500');
  });

  it('converts without floating point drift', () => {
    // 0.1 + 0.2 style errors would show up as 1.1500000000000001 etc.
    expect(toMajor(115, 'EUR')).toBe(1.15);
    expect(toMajor(5, 'EUR')).toBe(0.05);
    expect(toMajor(-250, 'EUR')).toBe(-2.5);
    expect(toMajor(900719925474099, 'EUR')).toBe(9007199254740.99);
    expect(() => toMajor(1.5, 'EUR')).toThrow(RangeError);
  });

  it('parses typed prices into minor units, refusing junk', () => {
    expect(parseMajor('12', 'EUR')).toBe(1200);
    expect(parseMajor('12.5', 'EUR')).toBe(1250);
    expect(parseMajor('12,05', 'EUR')).toBe(1205);
    expect(parseMajor('0.001', 'EUR')).toBeNull();
    expect(parseMajor('-3', 'EUR')).toBeNull();
    expect(parseMajor('abc', 'EUR')).toBeNull();
    expect(parseMajor('', 'EUR')).toBeNull();
    expect(parseMajor('1500', 'JPY')).toBe(1500);
  });
});
