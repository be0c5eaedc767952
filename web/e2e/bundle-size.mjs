// The initial JavaScript: every script index.html loads before the app runs, gzipped (level 9),
// as the static server sends it. `npm run size` after `make web`; budget 150 KB.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 150 * 1024;
const html = readFileSync(new URL('../dist/index.html', import.meta.url), 'utf8');
const scripts = new Set([
  ...[...html.matchAll(/<script[^>]+src="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]),
  ...[...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]),
]);
let raw = 0;
let gzipped = 0;
for (const src of scripts) {
  const bytes = readFileSync(new URL(`../dist${src}`, import.meta.url));
  raw += bytes.length;
  gzipped += gzipSync(bytes, { level: 9 }).length;
}
console.log(JSON.stringify({ scripts: [...scripts], raw_bytes: raw, gzip_bytes: gzipped, budget_bytes: BUDGET }));
process.exit(gzipped <= BUDGET ? 0 : 1);
