import { defineConfig } from 'vitest/config';

// Preact with the automatic JSX runtime; no framework plugin needed (Vite's own transform).
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    assetsDir: 'assets', // hashed names: the static server caches /assets/* for a year
    target: 'es2022',
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev`: the API through a running `make run` gateway
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
