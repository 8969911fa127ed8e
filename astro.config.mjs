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
        // tfjs-core's Node-only fetch (mapped to false for browsers, which Vite's dev pre-bundler ignores).
        'node-fetch': fileURLToPath(new URL('./src/site/node-fetch-stub.ts', import.meta.url)),
      },
    },
    // tfjs-backend-wasm is pre-bundled like the other backends: its .wasm files are imported as
    // assets (`?url`) and handed to setWasmPaths (src/site/backend.ts), so nothing needs its raw files.
    build: { chunkSizeWarningLimit: 4000 },
  },
});
