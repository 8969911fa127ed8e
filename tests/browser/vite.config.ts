/**
 * Bundles the browser test page (index.html → page.ts: the engine, kernels and the tiny model) for
 * tests/backends_browser.test.ts, which passes a temporary `build.outDir`. By hand:
 *   npx vite build -c tests/browser/vite.config.ts && npx vite preview -c tests/browser/vite.config.ts
 * then open http://localhost:4173 and call `await runBrowserTest()` in the console.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  // no public/ folder: everything served comes from the bundle
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../../node_modules/.cache/browser-test', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    reportCompressedSize: false,
    // keep the .wasm binaries as files (never inlined as data: URLs)
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 10_000,
  },
});
