// @ts-check
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'astro/config';
import { notebooks } from './src/site/vite-notebooks.ts';
import { browserDependencies, siteEntries } from './src/site/vite-deps.ts';

const aliases = {
  // @observablehq/inspector 5 does not export its stylesheet.
  'observablehq-inspector.css': fileURLToPath(new URL('./node_modules/@observablehq/inspector/dist/inspector.css', import.meta.url)),
  // tfjs-core's Node-only fetch (mapped to false for browsers, which Vite's dev pre-bundler ignores).
  'node-fetch': fileURLToPath(new URL('./src/site/node-fetch-stub.ts', import.meta.url)),
};

export default defineConfig({
  // Everything the site needs is in its own build: no CDN, no external request.
  server: { host: 'localhost', port: 4321 },
  // Pages link to each other as /NAME/; any static server serves dist/NAME/index.html for it.
  trailingSlash: 'always',
  vite: {
    plugins: [notebooks()],
    resolve: { alias: aliases },
    // Every package the pages and notebooks import, pre-bundled before the first page is served:
    // Vite's scanner does not see through the compiled notebooks, and each dependency it found late
    // re-bundled and reloaded the page (src/site/vite-deps.ts).
    optimizeDeps: { include: browserDependencies(siteEntries(fileURLToPath(new URL('.', import.meta.url))), Object.keys(aliases)) },
    // tests/site_dev.test.ts starts a dev server on an empty cache of its own (a cold start, as on a
    // fresh clone) without touching node_modules/.vite.
    ...(process.env['LAB_VITE_CACHE_DIR'] ? { cacheDir: process.env['LAB_VITE_CACHE_DIR'] } : {}),
    // tfjs-backend-wasm is pre-bundled like the other backends: its .wasm files are imported as
    // assets (`?url`) and handed to setWasmPaths (src/site/backend.ts), so nothing needs its raw files.
    build: { chunkSizeWarningLimit: 4000 },
  },
});
