// @ts-check
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'astro/config';
import { notebooks } from './src/site/vite-notebooks.ts';

export default defineConfig({
  // Everything the site needs is in its own build: no CDN, no external request.
  server: { host: 'localhost', port: 4321 },
  // Pages link to each other as /NAME/; any static server serves dist/NAME/index.html for it.
  trailingSlash: 'always',
  vite: {
    plugins: [notebooks()],
    resolve: {
      alias: {
        // @observablehq/inspector 5 does not export its stylesheet.
        'observablehq-inspector.css': fileURLToPath(new URL('./node_modules/@observablehq/inspector/dist/inspector.css', import.meta.url)),
      },
    },
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
    build: { chunkSizeWarningLimit: 4000 },
  },
});
