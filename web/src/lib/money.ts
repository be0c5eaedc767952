/** Prices arrive as integer minor units plus an ISO 4217 currency; never floats on the wire. */
export interface Money {
  amount_minor: number;
  currency: string;
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(currency: string, locale: string): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formatters.set(key, f);
  }
  return f;
}

/** How many minor units make one major unit: EUR 2 (cents), JPY 0, BHD 3 — from Intl's own table. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
    .maximumFractionDigits ?? 2;
}

/** Integer minor units -> a major-unit number without float drift (1999 EUR -> 19.99). */
export function toMajor(amountMinor: number, currency: string): number {
  if (!Number.isSafeInteger(amountMinor)) throw new RangeError(`not an integer amount: ${amountMinor}`);
  const digits = minorDigits(currency);
  const sign = amountMinor < 0 ? '-' : '';
  const text = String(Math.abs(amountMinor)).padStart(digits + 1, '0');
  const major = digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
  return Number(sign + major);
}

export function formatMoney(money: Money, locale = defaultLocale()): string {
  return formatter(money.currency, locale).format(toMajor(money.amount_minor, money.currency));
}

/** A major-unit value typed by a shopper ("12.5", "12,50") -> minor units; null when not a price. */
export function parseMajor(text: string, currency: string): number | null {
  const cleaned = text.trim().replace(',', '.');
  if (!/^\d{1,9}(\.\d*)?$/.test(cleaned)) return null;
  const digits = minorDigits(currency);
  const [whole, fraction = ''] = cleaned.split('.');
  if (fraction.length > digits) return null;
  return Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
}

export function defaultLocale(): string {
  return typeof navigator !== 'undefined' && navigator.language ? navigator.language : 'en-GB';
}
