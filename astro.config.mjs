// @ts-check
import { defineConfig } from 'astro/config';

export default defineConfig({
  // Everything the site needs is in its own build: no CDN, no external request.
  server: { host: 'localhost', port: 4321 },
  vite: {
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
  },
});
