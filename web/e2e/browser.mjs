// Browser tests: Debian's Chromium driven by playwright-core, against a running shop (the gateway).
//
//   node e2e/browser.mjs --base-url http://127.0.0.1:9000 --screenshots ../.data/screenshots
//   (env ADMIN_EMAIL / ADMIN_PASSWORD: an admin account for the admin console flow; optional)
//
// Prints one JSON line per flow and a summary line {"summary": ...} with the measurements;
// exits 1 when any flow failed. tests/e2e/test_web_browser.py runs it against a fresh suite.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import AxeBuilder from '@axe-core/playwright';
import { chromium } from 'playwright-core';

const { values: args } = parseArgs({
  options: {
    'base-url': { type: 'string', default: 'http://127.0.0.1:8000' },
    screenshots: { type: 'string', default: '../.data/screenshots' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    only: { type: 'string' },
  },
});
const BASE = args['base-url'].replace(/\/$/, '');
const SHOTS = resolve(args.screenshots);
mkdirSync(SHOTS, { recursive: true });

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1366, height: 900 };
const PASSWORD = 'correct horse battery staple 42';

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}

/** Page state settles after a render or a request: re-read it until it holds or the time is up,
 * as Playwright's own `expect` does (a single read can land between two renders). */
async function eventually(read, message, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await read())) {
    if (Date.now() > deadline) throw new Failure(message);
    await new Promise((settle) => setTimeout(settle, 50));
  }
}

// Escape closes the bag; the flow goes on once it is gone (an open bag covers the header).
async function closeBag(page) {
  await page.keyboard.press('Escape');
  const bag = page.getByRole('dialog', { name: 'Your bag' });
  await eventually(async () => !(await bag.isVisible()), 'Escape did not close the bag');
}

const results = [];
const measurements = {};
const screenshots = [];

async function flow(name, body) {
  if (args.only && !args.only.split(',').includes(name)) return;
  const started = Date.now();
  try {
    await body();
    results.push({ flow: name, ok: true, ms: Date.now() - started });
  } catch (error) {
    results.push({ flow: name, ok: false, ms: Date.now() - started, error: String(error?.stack ?? error) });
  }
  console.log(JSON.stringify(results.at(-1)));
}

// Playwright gives every launch a fresh, empty temporary --user-data-dir of its own.
const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
});

/** A fresh context (no cookies, no storage) that fails the test on any request leaving the shop. */
async function newPage(viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, baseURL: BASE, locale: 'en-IE', reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.offsite = [];
  page.consoleErrors = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(BASE) && !url.startsWith('data:') && !url.startsWith('blob:')) page.offsite.push(url);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') page.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => page.consoleErrors.push(String(error)));
  page.on('response', (response) => noteAuthBudget(response.url(), response.headers()));
  return page;
}

// The gateway allows identity's auth routes 10 calls a minute per client address, and every flow
// here comes from 127.0.0.1. Every auth answer says what is left of the window (Kong's
// X-RateLimit-Remaining-Minute, RateLimit-Reset): a flow about to make more calls than are left
// waits for the window the gateway names, instead of failing on a 429 or hoping.
const authBudget = { remaining: null, resetAt: 0 };
function noteAuthBudget(url, headers) {
  if (!url.includes('/api/v1/auth/')) return;
  const remaining = Number(headers['x-ratelimit-remaining-minute']);
  const reset = Number(headers['ratelimit-reset']);
  if (!Number.isFinite(remaining) || !Number.isFinite(reset)) return;
  authBudget.remaining = remaining;
  authBudget.resetAt = Date.now() + reset * 1000;
}
async function needAuthCalls(n) {
  if (authBudget.remaining === null || authBudget.remaining >= n || Date.now() >= authBudget.resetAt) return;
  await new Promise((resolve) => setTimeout(resolve, authBudget.resetAt - Date.now() + 500));
  authBudget.remaining = null;
}

/** In-app navigation (History API), as a link would: no reload, so no page-load cookie refresh. */
async function spa(page, path) {
  await page.evaluate((to) => {
    window.history.pushState(null, '', to);
    window.dispatchEvent(new Event('vanity:navigate'));
  }, path);
}

async function closePage(page) {
  check(page.offsite.length === 0, `requests left the shop: ${page.offsite.join(', ')}`);
  const unexpected = page.consoleErrors.filter((e) => !/status of (400|401|403|404|409|422|429|503)/.test(e));
  check(unexpected.length === 0, `console errors: ${unexpected.join(' | ')}`);
  await page.context().close();
}

async function axe(page, label) {
  const report = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = report.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  measurements.axe ??= {};
  measurements.axe[label] = {
    serious_or_critical: bad.length,
    all: report.violations.map((v) => `${v.id}(${v.impact})`),
  };
  check(
    bad.length === 0,
    `axe on ${label}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`).join(' | ')}`,
  );
}

async function shoot(page, name) {
  for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(50); // one frame for the layout to settle after the resize
    const path = join(SHOTS, `${name}-${label}.png`);
    await page.screenshot({ path, fullPage: false });
    screenshots.push(path);
  }
  await page.setViewportSize(DESKTOP);
}

const grid = (page) => page.getByTestId('product-grid');

/** Runs `action` and waits until the catalog answered the listing it caused and the page shows it. */
async function listingAfter(page, action) {
  const answered = page.waitForResponse((r) => r.url().includes('/api/v1/products?'));
  await action();
  await answered;
  await page.waitForFunction(() => !document.querySelector('main .status-loading') && document.querySelector('[data-testid=product-grid], main .status-empty'));
}
const cards = (page) => page.getByTestId('product-card');

function euros(text) {
  const m = /€\s?([\d,]+\.\d{2})/.exec(text);
  return m ? Number(m[1].replace(/,/g, '')) : NaN;
}

async function signInThroughForm(page, email, password) {
  await page.goto('/signin');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// ---- flows ------------------------------------------------------------------------------------

await flow('home', async () => {
  const page = await newPage();
  await page.goto('/');
  await grid(page).waitFor();
  await eventually(async () => (await cards(page).count()) > 0, 'home shows no featured products');
  await eventually(async () => await page.getByRole('heading', { level: 1 }).isVisible(), 'home has no h1');
  await axe(page, 'home');
  await shoot(page, 'home');
  await closePage(page);
});

await flow('listing-time-to-interactive', async () => {
  // cold loads (a new context each: empty cache) of /products; interactive = the product grid
  // rendered from the catalog's answer (the app's `listing:grid` mark). Median of five.
  const samples = [];
  for (let i = 0; i < 5; i++) {
    const page = await newPage();
    await page.goto('/products');
    await grid(page).waitFor();
    samples.push(
      await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const grid = performance.getEntriesByName('listing:grid')[0];
        return {
          dom_interactive_ms: Math.round(nav.domInteractive),
          dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
          grid_rendered_ms: grid ? Math.round(grid.startTime) : null,
        };
      }),
    );
    await closePage(page);
  }
  check(samples.every((s) => s.grid_rendered_ms !== null), 'the listing never marked its grid as rendered');
  const median = (key) => samples.map((s) => s[key]).sort((a, b) => a - b)[2];
  measurements.listing = {
    median_grid_rendered_ms: median('grid_rendered_ms'),
    median_dom_interactive_ms: median('dom_interactive_ms'),
    median_dom_content_loaded_ms: median('dom_content_loaded_ms'),
    samples_grid_rendered_ms: samples.map((s) => s.grid_rendered_ms),
  };
});

await flow('browse-filter-product-shade', async () => {
  const page = await newPage();
  await page.goto('/');
  await page.getByRole('link', { name: 'Shop everything' }).click();
  await page.waitForURL(/\/products$/);
  await grid(page).waitFor();
  const filters = page.locator('details.filters');
  // brand filter by keyboard: focus the checkbox, press Space -> the URL carries the brand
  const brand = filters.getByRole('checkbox', { name: /Atelier Rouge/ });
  await brand.waitFor();
  await brand.focus();
  await listingAfter(page, () => page.keyboard.press('Space'));
  check(/[?&]brand=atelier-rouge/.test(page.url()), `brand not in the URL: ${page.url()}`);
  await eventually(async () => (await cards(page).count()) > 0, 'no products for the brand');
  for (const card of await cards(page).locator('.product-brand').allTextContents())
    check(card === 'Atelier Rouge', `brand filter let through ${card}`);
  // sort: price low to high, reflected in the URL and in the order
  await listingAfter(page, () => page.getByLabel('Sort by').selectOption('price_asc'));
  check(/sort=price_asc/.test(page.url()), `sort not in the URL: ${page.url()}`);
  const prices = (await cards(page).locator('.product-price').allTextContents()).map(euros);
  check(prices.length > 1 && prices.every((p, i) => i === 0 || prices[i - 1] <= p), `not sorted by price: ${prices}`);
  // price range, typed in euros, sent as minor units
  await page.getByLabel('From', { exact: true }).fill('20');
  await page.getByLabel('To', { exact: true }).fill('40');
  await listingAfter(page, () => page.getByRole('button', { name: 'Apply' }).click());
  check(/min_price=2000&max_price=4000/.test(page.url()), `price range not in the URL: ${page.url()}`);
  const ranged = (await cards(page).locator('.product-price').allTextContents()).map(euros);
  check(ranged.every((p) => p >= 20 && p <= 40), `price range not applied: ${ranged}`);
  // Back restores the previous state from the URL alone
  await page.goBack();
  await page.waitForURL((url) => !url.search.includes('min_price'));
  // cursor pagination: Next adds a cursor, Previous returns to the first page
  await page.goto('/products');
  await grid(page).waitFor();
  const firstPage = await cards(page).locator('.product-name').allTextContents();
  await listingAfter(page, () => page.getByRole('button', { name: 'Next →' }).click());
  check(/cursor=/.test(page.url()), `no cursor in the URL: ${page.url()}`);
  const secondPage = await cards(page).locator('.product-name').allTextContents();
  check(secondPage.length > 0 && secondPage[0] !== firstPage[0], 'Next showed the same page');
  await listingAfter(page, () => page.getByRole('button', { name: '← Previous' }).click());
  check(!page.url().includes('cursor='), `still a cursor in the URL: ${page.url()}`);
  await eventually(async () => (await cards(page).locator('.product-name').first().textContent()) === firstPage[0], 'Previous did not return');
  // search
  await page.getByRole('searchbox', { name: 'Search products' }).fill('foundation');
  await listingAfter(page, () => page.keyboard.press('Enter'));
  check(/q=foundation/.test(page.url()), `search not in the URL: ${page.url()}`);
  await axe(page, 'listing');
  await shoot(page, 'listing');
  // a product with shades
  await page.goto('/products?category=foundation');
  await grid(page).waitFor();
  await cards(page).first().locator('a.product-link').click();
  await page.waitForURL(/\/products\/[a-z0-9-]+/);
  const picker = page.getByRole('group', { name: /^Shade/ });
  await picker.waitFor();
  const price = await page.getByTestId('price').textContent();
  check(/^€\d+\.\d{2}$/.test(price ?? ''), `price not formatted from minor units: ${price}`);
  const shades = picker.getByRole('radio');
  await eventually(async () => (await shades.count()) > 2, 'fewer than three shades');
  const before = await page.getByTestId('selected-shade').textContent();
  const second = shades.nth(1);
  await second.focus(); // keyboard: arrow keys move within the radio group
  await page.keyboard.press('ArrowRight');
  const after = await page.getByTestId('selected-shade').textContent();
  check(after !== before, `picking a shade did not change the selection (${before})`);
  await page.waitForURL((url) => url.searchParams.has('sku'));
  const availability = page.getByTestId('availability');
  await page.waitForFunction(() => !/Checking/.test(document.querySelector('[data-testid=availability]')?.textContent ?? 'Checking'));
  check(/In stock|Only a few left|Out of stock/.test((await availability.textContent()) ?? ''), 'no availability shown');
  await axe(page, 'product');
  await shoot(page, 'product');
  await closePage(page);
});

let customer = null;

await flow('register-sign-in-address-book', async () => {
  await needAuthCalls(4);
  const page = await newPage();
  const email = `web-${Date.now().toString(36)}@example.com`;
  await page.goto('/register');
  await page.getByLabel('Name').fill('Web Shopper');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click(); // registers, then signs in
  await page.getByTestId('account-link').waitFor();
  customer = { email, password: PASSWORD };
  // nothing of the session is stored where a script could read it: the refresh token is an
  // httpOnly cookie scoped to /api/v1/auth; the page's own cookie is a bare "signed in" hint
  const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  check(stored[0] === 0 && stored[1] === 0 && ['', 'vanity_signed_in=1'].includes(stored[2]), `the page stored something: ${JSON.stringify(stored)}`);
  const refreshCookie = (await page.context().cookies()).find((c) => c.name === 'vanity_refresh');
  check(refreshCookie, 'identity set no refresh cookie');
  check(refreshCookie.httpOnly && refreshCookie.sameSite === 'Strict' && refreshCookie.path === '/api/v1/auth', `refresh cookie attributes: ${JSON.stringify({ ...refreshCookie, value: '…' })}`);
  await page.getByTestId('account-link').click();
  await page.waitForURL(/\/account\/addresses$/);
  await page.getByText('You have no saved addresses yet.').waitFor();
  await page.getByRole('button', { name: 'Add an address' }).click();
  await page.getByLabel('Label (e.g. Home)').fill('Home');
  await page.getByLabel('Full name').fill('Web Shopper');
  await page.getByLabel('Address line 1').fill('12 Rue des Fleurs');
  await page.getByLabel('City').fill('Lyon');
  await page.getByLabel('Postal code').fill('69001');
  await page.getByLabel('Country (2-letter code, e.g. FR)').fill('FR');
  await page.getByLabel('Use as my default shipping address').check();
  await page.getByRole('button', { name: 'Save address' }).click();
  const list = page.getByTestId('address-list');
  await list.waitFor();
  check(/12 Rue des Fleurs/.test((await list.textContent()) ?? ''), 'the new address is not listed');
  await axe(page, 'address-book');
  await shoot(page, 'address-book');
  // a reload keeps the shopper signed in: one refresh with the httpOnly cookie at page load
  const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh'));
  await page.reload();
  check((await refreshed).status() === 200, 'the page-load refresh failed');
  await page.getByTestId('address-list').waitFor();
  // signing out revokes the session and clears the cookie; the address book then asks to sign in
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in', exact: true }).waitFor();
  await page.waitForFunction(() => !document.cookie.includes('vanity_signed_in'));
  check(!(await page.context().cookies()).some((c) => c.name === 'vanity_refresh'), 'the refresh cookie outlived sign-out');
  await spa(page, '/account/addresses');
  await page.waitForURL(/\/signin\?next=%2Faccount%2Faddresses/);
  await page.getByLabel('E-mail').waitFor();
  await axe(page, 'sign-in');
  await shoot(page, 'sign-in');
  await closePage(page);
});

/** Opens /admin as a visitor would (typed URL), and signs in from the prompt it shows. */
/** A new page signed in as the suite's admin (ADMIN_EMAIL / ADMIN_PASSWORD), on /admin. */
async function adminPage() {
  const email = process.env.ADMIN_EMAIL;
  const password = process.env.ADMIN_PASSWORD;
  if (!email || !password) throw new Failure('ADMIN_EMAIL / ADMIN_PASSWORD not given');
  await needAuthCalls(1);
  const page = await newPage();
  await openAdminSignedInAs(page, email, password);
  return page;
}

async function openAdminSignedInAs(page, email, password) {
  await page.goto('/admin');
  await page.getByRole('main').getByRole('link', { name: 'sign in', exact: true }).click();
  await page.waitForURL(/\/signin\?next=%2Fadmin/);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/admin$/);
}

await flow('customer-refused-admin', async () => {
  await needAuthCalls(1);
  check(customer, 'needs the customer from the register flow');
  const page = await newPage();
  await openAdminSignedInAs(page, customer.email, customer.password);
  const refused = page.getByTestId('admin-refused');
  await refused.waitFor();
  check(/not allowed/i.test((await refused.textContent()) ?? ''), 'no "not allowed" message');
  await eventually(async () => (await page.getByRole('link', { name: 'Admin' }).count()) === 0, 'a customer sees the Admin link');
  await eventually(async () => (await page.getByRole('table').count()) === 0, 'a customer sees an admin table');
  await shoot(page, 'admin-refused');
  await closePage(page);
});

await flow('admin-console', async () => {
  const page = await adminPage();
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Products' }).click();
  const products = page.getByRole('region', { name: 'Products' });
  await products.waitFor();
  await eventually(async () => (await products.getByRole('row').count()) > 10, 'the admin products table is empty');
  await shoot(page, 'admin-products');
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Stock' }).click();
  const stock = page.getByRole('region', { name: 'Stock' });
  await stock.waitFor();
  const firstRows = await stock.getByRole('row').count();
  check(firstRows > 10, 'the admin stock table is empty');
  await page.getByRole('button', { name: 'Show more' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('[aria-label=Stock] tr').length > n, firstRows);
  await axe(page, 'admin-stock');
  await shoot(page, 'admin-stock');
  await closePage(page);
});

await flow('guest-bag-merged-at-sign-in', async () => {
  await needAuthCalls(2);
  check(customer, 'needs the customer from the register flow');
  const page = await newPage();
  await page.goto('/products?category=lipstick');
  await grid(page).waitFor();
  await cards(page).first().locator('a.product-link').click();
  const picker = page.getByRole('group', { name: /^Shade/ });
  await picker.waitFor();
  await picker.locator('label.option').nth(1).click(); // a mouse user clicks the swatch
  const shade = await page.getByTestId('selected-shade').textContent();
  await page.getByRole('button', { name: 'Add to bag' }).click();
  const bag = page.getByRole('dialog', { name: 'Your bag' });
  await bag.waitFor();
  await bag.getByTestId('bag-line').first().waitFor();
  await eventually(async () => (await bag.getByTestId('bag-line').count()) === 1, 'the bag does not hold one line');
  check(((await bag.getByTestId('bag-line').textContent()) ?? '').includes(shade ?? '?'), `the bag line is not the ${shade} shade`);
  await shoot(page, 'bag');
  await closeBag(page);
  await bag.waitFor({ state: 'detached' });
  await eventually(async () => await page.getByTestId('bag-button').evaluate((el) => el === document.activeElement), 'focus did not return to the bag button');
  // sign in inside the app: the carts merge (a reload first is the guest-bag-survives-reload flow)
  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('E-mail').fill(customer.email);
  await page.getByLabel('Password').fill(customer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('account-link').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('.bag-count')?.textContent) >= 1);
  await page.getByTestId('bag-button').click();
  const merged = page.getByRole('dialog', { name: 'Your bag' });
  await merged.getByTestId('bag-line').first().waitFor();
  check(((await merged.textContent()) ?? '').includes(shade ?? '?'), 'the guest line is not in the signed-in bag');
  await axe(page, 'bag');
  await closeBag(page);
  // signing out forgets the shopper's bag on this page (it stays theirs on the server)
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in', exact: true }).waitFor();
  await eventually(async () => (await page.locator('.bag-count').textContent()) === '0', 'the bag still shows after signing out');
  await closePage(page);
});

await flow('guest-bag-survives-reload', async () => {
  await needAuthCalls(2);
  check(customer, 'needs the customer from the register flow');
  const page = await newPage();
  await page.goto('/products?category=lipstick');
  await grid(page).waitFor();
  await cards(page).nth(1).locator('a.product-link').click(); // not the product of the other bag flows
  const picker = page.getByRole('group', { name: /^Shade/ });
  await picker.waitFor();
  await picker.locator('label.option').first().click();
  const product = (await page.getByRole('heading', { level: 1 }).textContent())?.trim();
  const shade = (await page.getByTestId('selected-shade').textContent())?.trim();
  await page.getByRole('button', { name: 'Add to bag' }).click();
  const bag = page.getByRole('dialog', { name: 'Your bag' });
  await bag.getByTestId('bag-line').first().waitFor();
  const line = await bag.getByTestId('bag-line').first().textContent();
  await closeBag(page);
  // what the page keeps: the guest cart's token in this tab's sessionStorage, and nothing else
  // (no account token anywhere a script can read; no cookie for a guest)
  const kept = await page.evaluate(() => ({ local: localStorage.length, session: Object.keys(sessionStorage), cookie: document.cookie }));
  check(kept.local === 0 && kept.session.join() === 'vanity_guest_cart' && kept.cookie === '', `the page stored ${JSON.stringify(kept)}`);
  // a reload: the bag is read back with the kept token, its count in the header, the same line in it
  const read = page.waitForResponse((r) => r.url().endsWith('/api/v1/cart') && r.request().method() === 'GET');
  await page.reload();
  const answer = await read;
  check(answer.status() === 200 && answer.request().headers()['x-cart-token'], 'the reloaded page did not read the guest cart with its token');
  await page.waitForFunction(() => document.querySelector('.bag-count')?.textContent === '1');
  await page.getByTestId('bag-button').click();
  const again = page.getByRole('dialog', { name: 'Your bag' });
  await again.getByTestId('bag-line').first().waitFor();
  await eventually(async () => (await again.getByTestId('bag-line').count()) === 1, 'the reloaded bag does not hold one line');
  await eventually(async () => (await again.getByTestId('bag-line').first().textContent()) === line, `the reloaded bag line differs: ${await again.textContent()}`);
  await shoot(page, 'bag-after-reload');
  await closeBag(page);
  // signing in after the reload still merges the guest bag, and the token dies with the merge
  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('E-mail').fill(customer.email);
  await page.getByLabel('Password').fill(customer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('account-link').waitFor();
  await page.waitForFunction(() => sessionStorage.length === 0 && localStorage.length === 0);
  await page.getByTestId('bag-button').click();
  const merged = page.getByRole('dialog', { name: 'Your bag' });
  await merged.getByTestId('bag-line').first().waitFor();
  const mergedLines = await merged.getByTestId('bag-line').allTextContents();
  check(mergedLines.some((l) => l.includes(product ?? '?') && l.includes(shade ?? '?')), `${product} ${shade} is not in the signed-in bag: ${mergedLines.join(' | ')}`);
  await closeBag(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in', exact: true }).waitFor();
  await closePage(page);
});

await flow('password-reset-pages', async () => {
  await needAuthCalls(2);
  check(customer, 'needs the customer from the register flow');
  const page = await newPage();
  await page.goto('/signin');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByLabel('E-mail').fill(customer.email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByText(/a reset link is on its way/).waitFor();
  // the e-mailed link's page: a wrong token is refused with a way to ask again
  await page.goto('/reset-password?token=not-a-real-token-0000000000');
  await page.getByLabel('New password').fill('another long pass phrase 77');
  await page.getByRole('button', { name: 'Change password' }).click();
  const alert = page.getByRole('alert');
  await alert.getByText('This password reset link is invalid or has expired.').waitFor();
  await eventually(async () => (await alert.getByRole('link', { name: 'Ask for a new link' }).count()) === 1, 'no way to ask for a new link');
  await shoot(page, 'reset-invalid');
  await closePage(page);
});

await flow('friendly-errors-with-retry', async () => {
  const page = await newPage();
  let failures = [503, 429];
  await page.route('**/api/v1/products?*', async (route) => {
    const status = failures.shift();
    if (status === undefined) return route.continue();
    return route.fulfill({
      status,
      contentType: 'application/json',
      headers: status === 429 ? { 'Retry-After': '3' } : {},
      body: JSON.stringify({ message: status === 429 ? 'API rate limit exceeded' : 'name resolution failed' }),
    });
  });
  await page.goto('/products');
  const alert = page.getByRole('alert');
  await alert.getByText('The shop is briefly unavailable. Please try again in a moment.').waitFor();
  await shoot(page, 'error-503');
  await alert.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('alert').getByText('Too many requests right now. Please wait 3 seconds and try again.').waitFor();
  await page.getByRole('alert').getByRole('button', { name: 'Try again' }).click();
  await grid(page).waitFor();
  await closePage(page);
});

// ---- checkout, orders, admin operations -----------------------------------------------------

/** One signed-in shopper page for the checkout flows (one sign-in: the auth routes are rate limited). */
let shopper = null;
let lastSku = null;
let placedOrderId = null;
let authenticatedOrderId = null;

/** Listing -> first lipstick -> second shade -> Add to bag, all in-app; returns the SKU. */
async function addShadeToBag(page) {
  await spa(page, '/products?category=lipstick');
  await grid(page).waitFor();
  await cards(page).first().locator('a.product-link').click();
  const picker = page.getByRole('group', { name: /^Shade/ });
  await picker.waitFor();
  await picker.locator('label.option').nth(1).click();
  await page.waitForURL((url) => url.searchParams.has('sku'));
  const sku = new URL(page.url()).searchParams.get('sku');
  await page.getByRole('button', { name: 'Add to bag' }).click();
  const bag = page.getByRole('dialog', { name: 'Your bag' });
  await bag.getByTestId('bag-line').first().waitFor();
  lastSku = sku;
  return bag;
}

async function checkoutFromBag(page, bag, method) {
  await bag.getByTestId('bag-checkout').click();
  await page.waitForURL(/\/checkout$/);
  await page.getByTestId('address-choices').waitFor();
  await eventually(async () => await page.getByRole('radio', { name: /12 Rue des Fleurs/ }).isChecked(), 'the default address is not chosen');
  await page.getByRole('radio', { name: method }).check();
}

/** The shopper's orders, read through the orders API with a token of the shopper's own (body flow). */
let apiToken = null;
async function ordersFromApi() {
  if (!apiToken) {
    await needAuthCalls(1);
    const login = await fetch(`${BASE}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: customer.email, password: customer.password }),
    });
    check(login.ok, `API sign-in: HTTP ${login.status}`);
    apiToken = (await login.json()).access_token;
  }
  const answer = await fetch(`${BASE}/api/v1/orders?limit=100`, { headers: { Authorization: `Bearer ${apiToken}` } });
  check(answer.ok, `GET /api/v1/orders: HTTP ${answer.status}`);
  return (await answer.json()).items;
}

await flow('checkout-success-confirmation-history', async () => {
  check(customer, 'needs the customer (with a default address) from the register flow');
  await needAuthCalls(1);
  const page = await newPage();
  shopper = page;
  await page.goto('/signin');
  await page.getByLabel('E-mail').fill(customer.email);
  await page.getByLabel('Password').fill(customer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('account-link').waitFor();
  const bag = await addShadeToBag(page);
  await checkoutFromBag(page, bag, /Visa ending 4242/);
  await axe(page, 'checkout');
  await shoot(page, 'checkout');
  await page.getByTestId('pay').click();
  await page.waitForURL(/\/orders\/[^/?]+\?placed=1$/);
  await page.getByRole('heading', { name: 'Thank you for your order' }).waitFor({ timeout: 20_000 });
  await eventually(async () => (await page.getByTestId('order-status').textContent()) === 'Confirmed', 'the order is not confirmed');
  placedOrderId = (await page.getByTestId('order-id').textContent())?.trim();
  await eventually(async () => (await page.getByTestId('order-lines').textContent())?.length, 'the confirmation lists no lines');
  await page.waitForFunction(() => document.querySelector('.bag-count')?.textContent === '0');
  await axe(page, 'order-confirmation');
  await shoot(page, 'order-confirmation');
  await page.getByTestId('orders-link').click();
  const list = page.getByTestId('order-list');
  await list.waitFor();
  await eventually(async () => (await list.locator(`[data-order-id="${placedOrderId}"]`).count()) === 1, 'the order is not in the history');
  await axe(page, 'orders');
  await shoot(page, 'orders');
});

await flow('checkout-declined-keeps-the-bag', async () => {
  check(shopper, 'needs the signed-in shopper');
  const page = shopper;
  const bag = await addShadeToBag(page);
  await checkoutFromBag(page, bag, /Visa ending 0002/);
  await page.getByTestId('pay').click();
  const declined = page.getByTestId('checkout-declined');
  await declined.waitFor({ timeout: 20_000 });
  check(/declined/i.test((await declined.textContent()) ?? ''), 'the reason is not shown');
  check(/\/checkout$/.test(page.url()), 'a declined payment left the checkout page');
  await page.waitForFunction(() => Number(document.querySelector('.bag-count')?.textContent) >= 1);
  await eventually(async () => (await page.getByTestId('checkout-total').count()) === 1, 'the bag was emptied');
  await axe(page, 'checkout-declined');
  await shoot(page, 'checkout-declined');
});

/** The checkout summary's lines ("name shade × n  €x"), to compare a bag before and after. */
const checkoutLines = (page) => page.getByTestId('checkout-lines').locator('li').allTextContents();

await flow('checkout-3ds-challenge-failed-keeps-the-bag', async () => {
  check(shopper, 'needs the signed-in shopper');
  const page = shopper; // on the checkout page with the bag the decline kept
  const lines = await checkoutLines(page);
  const total = await page.getByTestId('checkout-total').textContent();
  check(lines.length > 0, 'no bag to pay');
  await page.getByRole('radio', { name: /Visa ending 3184/ }).check();
  await page.getByTestId('pay').click();
  await page.waitForURL(/\/checkout\/authenticate\?order=/, { timeout: 20_000 });
  await page.getByTestId('challenge').waitFor();
  // while the bank asks, the checkout holds the bag: the drawer says so and offers no changes
  await page.getByTestId('bag-button').click();
  const held = page.getByRole('dialog', { name: 'Your bag' });
  await held.getByTestId('bag-locked').waitFor();
  await eventually(async () => await held.getByRole('button', { name: 'One more' }).first().isDisabled(), 'a held bag offers changes');
  await closeBag(page);
  await page.getByTestId('challenge-fail').click();
  await page.waitForURL(/\/orders\/[^/?]+\?placed=1$/);
  // the failure arrives as a webhook; the saga voids, releases the stock, unlocks the bag, then fails the order
  await page.waitForFunction(() => document.querySelector('[data-testid=order-page]')?.dataset.status === 'failed', null, { timeout: 30_000 });
  await eventually(async () => (await page.getByTestId('order-status').textContent()) === 'Failed', 'the order does not read Failed');
  const reason = (await page.getByTestId('order-failure').textContent()) ?? '';
  check(/card authentication failed/.test(reason) && /Your bag has been kept/.test(reason), `the reason is not shown: ${reason}`);
  await axe(page, 'order-failed');
  await shoot(page, 'order-3ds-failed');
  // the bag: unlocked and intact
  await page.getByTestId('bag-button').click();
  const bag = page.getByRole('dialog', { name: 'Your bag' });
  await bag.getByTestId('bag-line').first().waitFor();
  await eventually(async () => (await bag.getByTestId('bag-locked').count()) === 0, 'the bag is still held after the failed payment');
  await eventually(async () => (await bag.getByTestId('bag-line').count()) === lines.length, 'the bag lost lines');
  // a change goes through (the cart service refuses any write to a held bag): one more, then back
  const first = bag.getByTestId('bag-line').first();
  const quantity = () => first.locator('.qty span[aria-live]').textContent().then(Number);
  const before = await quantity();
  await first.getByRole('button', { name: 'One more' }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=bag-line] .qty span[aria-live]')?.textContent) === n, before + 1);
  await first.getByRole('button', { name: 'One fewer' }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=bag-line] .qty span[aria-live]')?.textContent) === n, before);
  // back to checkout: the same lines and total as before the failed payment
  await bag.getByTestId('bag-checkout').click();
  await page.waitForURL(/\/checkout$/);
  await page.getByTestId('address-choices').waitFor();
  check(JSON.stringify(await checkoutLines(page)) === JSON.stringify(lines), `the bag changed: ${await checkoutLines(page)} vs ${lines}`);
  await eventually(async () => (await page.getByTestId('checkout-total').textContent()) === total, 'the total changed');
});

await flow('checkout-3ds-challenge-completed', async () => {
  check(shopper, 'needs the signed-in shopper');
  const page = shopper; // the declined and failed-challenge flows kept the bag: pay it, with 3-D Secure
  await page.getByRole('radio', { name: /Visa ending 3184/ }).check();
  await page.getByTestId('pay').click();
  await page.waitForURL(/\/checkout\/authenticate\?order=/, { timeout: 20_000 });
  await page.getByTestId('challenge').waitFor();
  await axe(page, 'challenge');
  await shoot(page, 'challenge');
  await page.getByTestId('challenge-complete').click();
  await page.waitForURL(/\/orders\/[^/?]+\?placed=1$/);
  // the outcome arrives as a webhook: the confirmation polls until the order settles
  await page.waitForFunction(() => document.querySelector('[data-testid=order-page]')?.dataset.status === 'confirmed', null, { timeout: 30_000 });
  await page.getByRole('heading', { name: 'Thank you for your order' }).waitFor();
  authenticatedOrderId = (await page.getByTestId('order-id').textContent())?.trim();
});

await flow('double-click-pay-creates-one-order', async () => {
  check(shopper, 'needs the signed-in shopper');
  const page = shopper;
  const before = (await ordersFromApi()).length;
  const bag = await addShadeToBag(page);
  await checkoutFromBag(page, bag, /Visa ending 4242/);
  const keys = [];
  const onRequest = (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/api/v1/checkout')) keys.push(request.headers()['idempotency-key']);
  };
  page.on('request', onRequest);
  await page.getByTestId('pay').dblclick();
  await page.waitForURL(/\/orders\/[^/?]+\?placed=1$/, { timeout: 20_000 });
  await page.getByRole('heading', { name: 'Thank you for your order' }).waitFor({ timeout: 20_000 });
  page.off('request', onRequest);
  check(keys.length >= 1 && keys.every((k) => k && k === keys[0]), `checkout requests with keys ${JSON.stringify(keys)}`);
  const after = await ordersFromApi();
  check(after.length === before + 1, `the double click made ${after.length - before} orders`);
  // the shopper changes their mind: cancel from the order page (asks once more first)
  await page.getByTestId('cancel-order').click();
  await page.getByTestId('confirm-cancel').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=order-page]')?.dataset.status === 'cancelled');
  await eventually(async () => (await page.getByTestId('cancel-order').count()) === 0, 'a cancelled order still offers Cancel');
  await closePage(page);
});

await flow('admin-refund-and-stock-adjustment', async () => {
  check(placedOrderId && lastSku, 'needs the order and SKU of the checkout flows');
  const page = await adminPage();
  const orders = page.getByRole('region', { name: 'Orders' });
  await orders.waitFor();
  await eventually(async () => (await orders.locator(`[data-order-id="${placedOrderId}"]`).count()) === 1, 'the order is not in the admin list');
  await page.getByLabel('Status').selectOption('confirmed');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/\/admin\/orders\?status=confirmed$/);
  await orders.waitFor();
  await axe(page, 'admin-orders');
  await shoot(page, 'admin-orders');
  await orders.locator(`[data-order-id="${placedOrderId}"] a`).click();
  const detail = page.getByTestId('admin-order');
  await detail.waitFor();
  await eventually(async () => (await page.getByTestId('timeline').locator('li').count()) > 0, 'no saga timeline');
  // more than was paid: refused with a clear message, nothing refunded
  await page.getByTestId('refund-amount').fill('100000');
  await page.getByTestId('refund-submit').click();
  const refused = page.getByTestId('refund-error');
  await refused.waitFor();
  check(/Refund refused: at most/.test((await refused.textContent()) ?? ''), `unclear refusal: ${await refused.textContent()}`);
  // a partial refund of 1.00
  await page.getByTestId('refund-amount').fill('1.00');
  await page.getByTestId('refund-submit').click();
  await page.getByTestId('refund-done').waitFor();
  check(/1\.00/.test((await page.getByTestId('admin-order-refunded').textContent()) ?? ''), 'the refund is not shown');
  await eventually(async () => (await detail.getAttribute('data-status')) === 'partially_refunded', `status after a partial refund: ${await detail.getAttribute('data-status')}`);
  await axe(page, 'admin-order');
  await shoot(page, 'admin-order');
  // the 3-D Secure order ships with a tracking number
  check(authenticatedOrderId, 'needs the order of the 3-D Secure flow');
  await spa(page, `/admin/orders/${encodeURIComponent(authenticatedOrderId)}`);
  await page.locator(`[data-testid=admin-order][data-status=confirmed]`).waitFor();
  await page.getByLabel('Tracking number').fill('TRACK-123456');
  await page.getByLabel('Carrier').fill('Colissimo');
  await page.getByRole('button', { name: 'Mark shipped' }).click();
  await page.locator('[data-testid=admin-order][data-status=shipped]').waitFor();
  check(/TRACK-123456/.test((await page.getByTestId('admin-order').textContent()) ?? ''), 'no tracking number on the shipped order');
  // stock: +5 with a reason, visible in the levels and the ledger
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Stock' }).click();
  await page.getByRole('region', { name: 'Stock' }).waitFor();
  await spa(page, `/admin/stock/${encodeURIComponent(lastSku)}`);
  const onHand = page.getByTestId('on-hand');
  await onHand.waitFor();
  const before = Number(await onHand.textContent());
  await page.getByLabel('Change (e.g. 5 or -2)').fill('5');
  await page.getByLabel('Reason').fill('Cycle count found a box');
  await page.getByTestId('adjust-submit').click();
  await page.getByTestId('adjust-done').waitFor();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=on-hand]')?.textContent) === n, before + 5);
  await page.getByTestId('ledger').getByText('Cycle count found a box').waitFor();
  await axe(page, 'admin-stock-adjust');
  await shoot(page, 'admin-stock-adjust');
  for (const [tab, region] of [['Users', 'Users'], ['Payments', 'Payments']]) {
    await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: tab }).click();
    await page.getByRole('region', { name: region }).waitFor();
    await axe(page, `admin-${tab.toLowerCase()}`);
    await shoot(page, `admin-${tab.toLowerCase()}`);
  }
  await closePage(page);
});

await flow('admin-product-create-edit-archive', async () => {
  const page = await adminPage();
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Products' }).click();
  await page.getByTestId('new-product').click();
  const name = `Browser Test Balm ${Date.now().toString(36)}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Tags (comma separated)').fill('new, test');
  await page.getByTestId('product-submit').click();
  await page.waitForURL(/\/admin\/products\/\d+$/);
  await page.getByRole('heading', { name: `Edit ${name}` }).waitFor();
  // a variant, then a new price for it
  const sku = `BT-${Date.now().toString(36).toUpperCase()}`;
  await page.getByLabel('SKU (e.g. BRD-LIP-01)').fill(sku);
  await page.getByLabel('Name (shade or size)').fill('Rosewood');
  await page.getByLabel('Shade colour (#rrggbb, optional)').fill('#a0525f');
  await page.getByLabel('Price (EUR)').fill('24.90');
  await page.getByTestId('variant-submit').click();
  const row = page.locator(`tr[data-sku="${sku}"]`);
  await row.waitFor();
  await page.getByLabel(`Price of ${sku} (EUR)`).fill('19.50');
  await row.getByRole('button', { name: /Save price/ }).click();
  await page.getByTestId('variant-done').waitFor();
  await eventually(async () => (await page.getByLabel(`Price of ${sku} (EUR)`).inputValue()) === '19.50', 'the new price is not shown');
  await axe(page, 'admin-product-edit');
  await shoot(page, 'admin-product-edit');
  await page.getByTestId('product-archive').click();
  await page.getByTestId('product-archive-done').waitFor();
  await eventually(async () => (await page.getByLabel('Status').inputValue()) === 'archived', 'the form does not show the archived status');
  await eventually(async () => (await page.getByTestId('product-archive').count()) === 0, 'an archived product still offers Archive');
  await closePage(page);
});

await flow('admin-brands-categories', async () => {
  const page = await adminPage();
  const sections = page.getByRole('navigation', { name: 'Admin sections' });
  const notice = page.getByTestId('taxonomy-notice');
  const stamp = Date.now().toString(36);

  // brands: the shared paged list, then create -> rename -> a taken slug refused -> delete
  await sections.getByRole('link', { name: 'Brands' }).click();
  const brands = page.getByRole('region', { name: 'Brands' });
  await brands.waitFor();
  await eventually(async () => (await brands.getByRole('row').count()) > 10, 'the brands table is empty');
  check(/^Showing \d+ brands\.$/.test((await page.getByTestId('brands-count').textContent()) ?? ''), 'no count under the brands');
  await axe(page, 'admin-brands');
  await shoot(page, 'admin-brands');
  await page.getByTestId('new-brand').click();
  const name = `Browser Brand ${stamp}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await eventually(async () => (await page.getByLabel(/^Slug/).getAttribute('placeholder')) === `browser-brand-${stamp}`, 'the slug hint is not the slug catalog makes');
  await page.getByTestId('brand-submit').click();
  await page.waitForURL(/\/admin\/brands$/);
  check(/created/.test((await notice.textContent()) ?? ''), 'no "created" notice');
  const row = brands.locator(`tr[data-brand-slug="browser-brand-${stamp}"]`);
  await row.waitFor();
  await row.getByRole('link').click();
  await page.getByRole('heading', { name: `Edit ${name}` }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill(`${name} Renamed`);
  await page.getByLabel('Description').fill('A brand the browser test made.');
  await page.getByTestId('brand-submit').click();
  await page.getByTestId('brand-save-done').waitFor();
  await page.getByRole('heading', { name: `Edit ${name} Renamed` }).waitFor();
  await page.getByLabel('Slug', { exact: true }).fill('atelier-rouge'); // a demo brand's
  await page.getByTestId('brand-submit').click();
  await page.getByTestId('brand-save-error').waitFor();
  await eventually(async () => (await page.locator('#field-slug-error').textContent()) === 'already used', 'the taken slug is not reported at the field');
  await eventually(async () => (await page.getByLabel('Slug', { exact: true }).getAttribute('aria-invalid')) === 'true', 'the slug field is not marked invalid');
  await axe(page, 'admin-brand-edit');
  await shoot(page, 'admin-brand-edit');
  await page.getByTestId('brand-delete').click();
  await page.getByTestId('brand-delete-confirm').click();
  await page.waitForURL(/\/admin\/brands$/);
  check(/deleted/.test((await notice.textContent()) ?? ''), 'no "deleted" notice');
  await brands.waitFor();
  await eventually(async () => (await row.count()) === 0, 'the deleted brand is still listed');
  // a brand with products cannot go: catalog's reason is shown
  await brands.locator('tr[data-brand-slug="atelier-rouge"]').getByRole('link').click();
  await page.getByTestId('brand-delete').click();
  await page.getByTestId('brand-delete-confirm').click();
  const refused = page.getByTestId('brand-delete-error');
  await refused.waitFor();
  check(/still has products/.test((await refused.textContent()) ?? ''), `unclear refusal: ${await refused.textContent()}`);
  await eventually(async () => await page.getByTestId('brand-delete').evaluate((el) => el === document.activeElement), 'focus did not return to Delete');

  // categories: the tree in reading order; add a sub-category, move it to the top level, delete it
  await sections.getByRole('link', { name: 'Categories' }).click();
  const categories = page.getByRole('region', { name: 'Categories' });
  await categories.waitFor();
  const rows = categories.locator('tbody tr');
  await eventually(async () => (await rows.count()) > 20, 'the category tree is short');
  const under = await rows.locator('td:nth-child(2)').allTextContents();
  check(under[0] === 'top level' && under[1] !== 'top level', `not in tree order: ${under.slice(0, 3)}`);
  await axe(page, 'admin-categories');
  await shoot(page, 'admin-categories');
  const top = rows.first();
  const topName = (await top.locator('th a').textContent())?.replace(': edit', '').trim();
  await top.getByRole('link', { name: /Add sub-category/ }).click();
  await page.waitForURL(/\/admin\/categories\/new\?parent=\d+$/);
  await eventually(async () => (await page.getByLabel('Sits under').locator('option:checked').textContent()) === topName, 'the parent is not chosen');
  const child = `Browser Category ${stamp}`;
  await page.getByLabel('Name', { exact: true }).fill(child);
  await page.getByTestId('category-submit').click();
  await page.waitForURL(/\/admin\/categories$/);
  const childRow = categories.locator(`tr[data-category-slug="browser-category-${stamp}"]`);
  await childRow.waitFor();
  await eventually(async () => (await childRow.locator('td').first().textContent()) === topName, 'the new category does not sit under its parent');
  await childRow.getByRole('link').first().click();
  await page.getByRole('heading', { name: `Edit ${child}` }).waitFor();
  await page.getByLabel('Sits under').selectOption('');
  await page.getByLabel('Position among its siblings (0 first)').fill('99');
  await page.getByTestId('category-submit').click();
  await page.getByTestId('category-save-done').waitFor();
  await eventually(async () => (await page.getByTestId('category-path').textContent()) === child, 'the category did not move to the top level');
  await axe(page, 'admin-category-edit');
  await shoot(page, 'admin-category-edit');
  await page.getByTestId('category-delete').click();
  await page.getByTestId('category-delete-confirm').click();
  await page.waitForURL(/\/admin\/categories$/);
  await categories.waitFor();
  await eventually(async () => (await childRow.count()) === 0, 'the deleted category is still listed');
  // a category with sub-categories cannot go
  await rows.first().locator('th a').click();
  await page.getByTestId('category-delete').click();
  await page.getByTestId('category-delete-confirm').click();
  await page.getByTestId('category-delete-error').getByText(/sub-categories/).waitFor();
  await closePage(page);
});

await browser.close();
const failed = results.filter((r) => !r.ok);
console.log(JSON.stringify({ summary: { passed: results.length - failed.length, failed: failed.map((f) => f.flow), measurements, screenshots } }));
process.exit(failed.length ? 1 : 0);
