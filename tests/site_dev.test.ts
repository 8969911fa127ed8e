/**
 * `npm start` on a fresh clone: the dev server, with an empty dependency cache, serves every chapter
 * and each page loads once. Before src/site/vite-deps.ts, Vite discovered the notebooks' imports
 * (@observablehq/runtime, chapter 11's tfjs gradient modules) on the first visit, re-bundled and
 * reloaded the page mid-run ("optimized dependencies changed. reloading").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAPTERS } from '../src/site/chapters.ts';
import { browserDependencies, importSpecifiers, siteEntries } from '../src/site/vite-deps.ts';
import { CHROMIUM, CHROMIUM_FLAGS, ROOT, hasChromium, runAfter } from './support/site_browser.ts';

describe('importSpecifiers and browserDependencies (src/site/vite-deps.ts)', () => {
  it('importSpecifiers reads static, side-effect, re-export and literal dynamic imports, not strings or comments that only look alike', () => {
    const text = [
      "import { a } from './a.ts';",
      "import * as tf from '@tensorflow/tfjs-core';",
      "import '@observablehq/inputs/dist/index.css';",
      "export { b } from '../b.ts';",
      "const m = await import('@observablehq/runtime');",
      "import {\n  c,\n  d,\n} from 'd3-scale';",
      "const s = 'import x from \"nope\"';",
    ].join('\n');
    expect(importSpecifiers(text)).toEqual(['./a.ts', '@tensorflow/tfjs-core', '@observablehq/inputs/dist/index.css', '../b.ts', '@observablehq/runtime', 'd3-scale']);
  });

  it('the site\'s dependencies include what only the notebooks reach (runtime, inspector, inputs, the gradient modules) and no Node-only package', () => {
    const deps = browserDependencies(siteEntries(ROOT), ['observablehq-inspector.css', 'node-fetch']);
    expect(deps).toEqual(expect.arrayContaining(['@observablehq/runtime', '@observablehq/inspector', '@observablehq/inputs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/gradients/Conv2D_grad.js']));
    for (const nodeOnly of ['webgpu', 'node-fetch', 'pngjs', 'tsx']) expect(deps).not.toContain(nodeOnly);
    expect(deps.filter((d) => d.endsWith('.css') || d.includes('?'))).toEqual([]);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.runIf(hasChromium())('a cold dev server (npm start on a fresh clone) loads every chapter once', () => {
  let dev: ChildProcess | undefined;
  let browser: Browser | undefined;
  let origin = '';
  let serverLog = '';
  const cacheDir = mkdtempSync(join(tmpdir(), 'lab-vite-cache-'));

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    dev = spawn(process.execPath, [join(ROOT, 'node_modules', 'astro', 'astro.js'), 'dev', '--port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1', LAB_VITE_CACHE_DIR: cacheDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (d: Buffer) => (serverLog += d.toString());
    dev.stdout!.on('data', collect);
    dev.stderr!.on('data', collect);
    const t0 = Date.now();
    while (!/ready in/.test(serverLog)) {
      if (dev.exitCode !== null || Date.now() - t0 > 120_000) throw new Error(`astro dev did not start:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    dev?.kill('SIGKILL');
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('each chapter page (wasm) finishes its first run with one navigation, and the server never re-optimizes or reloads', async () => {
    const navigations: Record<string, number> = {};
    for (const chapter of CHAPTERS.filter((c) => c.ready)) {
      const page = await browser!.newPage();
      let count = 0;
      page.on('framenavigated', (f) => {
        if (f === page.mainFrame()) count++;
      });
      await page.goto(`${origin}/${chapter.slug}/?backend=wasm`, { timeout: 300_000 });
      const run = await runAfter(page, 0);
      expect(run.phase, chapter.slug).toBe('idle');
      await page.waitForTimeout(500);
      navigations[chapter.slug] = count;
      await page.close();
    }
    expect(serverLog).not.toMatch(/optimized dependencies changed|new dependencies optimized/);
    expect(Object.values(navigations).every((n) => n === 1), JSON.stringify(navigations)).toBe(true);
  });
});
