/**
 * The browser harness of the site's end-to-end tests: `astro build` (or the existing dist/ with
 * SITE_E2E_REUSE_BUILD=1), dist/ served from http://localhost by a small node:http static server,
 * Debian's chromium driven by playwright-core with WebGPU on SwiftShader (DESIGN.md §5 flags), pages
 * that record console errors, requests leaving localhost (refused) and failed requests, waiting for
 * the session's next run, and full-page screenshots in test-results/screenshots/.
 *
 * Use:
 *   const site = siteBrowser();            // inside describe.runIf(hasChromium())
 *   beforeAll(site.start); afterAll(site.stop);
 *   const { page, context, log } = await site.open('/rpn/');
 *   const run = await runAfter(page, 0); … expectClean(log); await context.close();
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { expect } from 'vitest';
import { type MaskRcnnConfig, toConfig } from '../../src/config.ts';
import { type ModelIndexEntry, listModels } from '../../src/site/model_index.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** DESIGN.md §5: headless chromium with WebGPU on SwiftShader and no traffic of its own. */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DIST = join(ROOT, 'dist');
export const SHOTS = join(ROOT, 'test-results', 'screenshots');

/** Whether chromium is installed; without it, warn and skip, except under CI where that throws. */
export function hasChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env['CI']) throw new Error(`chromium missing under CI: ${CHROMIUM} not found; apt-get install chromium (see .ci/run)`);
  console.warn(`[site e2e] ${CHROMIUM} not found: site end-to-end tests skipped (apt-get install chromium)`);
  return false;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.bin': 'application/octet-stream',
};

/** A static server for `dir` (directory → index.html), like any static host, on 127.0.0.1 at a free port. */
export async function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    let file = normalize(join(dir, path));
    if (file !== dir && !file.startsWith(dir + sep)) {
      res.writeHead(403).end();
      return;
    }
    void (async () => {
      try {
        if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
        const body = await readFile(file);
        res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end('not found');
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const BUILD_LOCK = join(ROOT, 'test-results', '.site-build.lock');

/**
 * `astro build` into dist/, unless SITE_E2E_REUSE_BUILD is set and dist/index.html exists. Returns
 * the build time in ms (0 when reused). Two test processes building at once would overwrite each
 * other's dist/: a lock directory serialises them (a lock older than 10 minutes is taken as stale).
 */
export async function buildSite(): Promise<number> {
  if (process.env['SITE_E2E_REUSE_BUILD'] && existsSync(join(DIST, 'index.html'))) return 0;
  mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch {
      try {
        if (Date.now() - statSync(BUILD_LOCK).mtimeMs > 600_000) rmSync(BUILD_LOCK, { recursive: true, force: true });
      } catch {
        // The other build just finished.
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  try {
    const t0 = performance.now();
    const out = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'astro', 'astro.js'), 'build'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' } });
    if (out.status !== 0) throw new Error(`astro build failed (exit ${out.status}):\n${out.stdout}\n${out.stderr}`);
    return performance.now() - t0;
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

export interface PageLog {
  errors: string[];
  external: string[];
  failed: string[];
}

/** What a test reads of the session after a run. */
export interface RunState {
  seq: number;
  computed: string[];
  backend: string;
  phase: string;
  numTensors: number;
  labels: number[];
  boxes: number[];
  scores: number[];
  /** Resized / original image size. */
  scale: number;
  /** The model of the shown run: its id (`default`, `file:NAME`) and classes incl. background. */
  modelId: string;
  numClasses: number;
  /** [h, w] of the padded input the network saw. */
  padded: [number, number];
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  log: PageLog;
}

export interface SiteBrowser {
  /** Build (or reuse) dist/, serve it, launch chromium; for beforeAll. */
  start(): Promise<void>;
  /** Close chromium and the server, log the times; for afterAll. */
  stop(): Promise<void>;
  /**
   * A fresh context + page at `path` that records console errors, requests leaving localhost
   * (refused) and failed requests; `init` runs in the page before any of its scripts (e.g. to take
   * WebGPU away).
   */
  open(path: string, init?: () => void): Promise<OpenedPage>;
  /** http://localhost:<port> once started. */
  readonly origin: string;
  readonly browser: Browser;
}

/** One built site, one server and one chromium, shared by the tests of a file. */
export function siteBrowser(): SiteBrowser {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let origin = '';
  const started = performance.now();
  let buildMs = 0;

  return {
    get origin() {
      return origin;
    },
    get browser() {
      if (!browser) throw new Error('siteBrowser: chromium is not launched; call start() (in beforeAll) first');
      return browser;
    },
    async start() {
      buildMs = await buildSite();
      server = await serve(DIST);
      origin = `http://localhost:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
      mkdirSync(SHOTS, { recursive: true });
    },
    async stop() {
      await browser?.close();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      console.info(`[site e2e] build ${(buildMs / 1000).toFixed(1)} s; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
    },
    async open(path, init) {
      if (!browser) throw new Error('siteBrowser: chromium is not launched; call start() (in beforeAll) first');
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      if (init) await context.addInitScript(init);
      const log: PageLog = { errors: [], external: [], failed: [] };
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (new URL(url).origin === origin || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
        log.external.push(url);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') log.errors.push(m.text());
      });
      page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
      page.on('response', (r) => {
        if (r.status() >= 400) log.failed.push(`${r.status()} ${r.url()}`);
      });
      page.on('requestfailed', (r) => {
        if (!log.external.includes(r.url())) log.failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`);
      });
      // A generous limit: chromium may still be finishing a closed page's WebGPU work on SwiftShader.
      await page.goto(`${origin}${path}`, { timeout: 120_000 });
      return { page, context, log };
    },
  };
}

/**
 * The model the site loads with no action: the first of the build-time index (trained models by
 * `order`, placeholders last), as the built pages list it. The site tests run on it.
 */
export function defaultModel(): Omit<ModelIndexEntry, 'config'> & { config: MaskRcnnConfig } {
  const first = listModels(join(ROOT, 'public', 'models'))[0];
  if (first === undefined) throw new Error('no model under public/models/: the site tests run on its default model; ship one (scripts/ship-model.ts) or make a placeholder (scripts/make-placeholder-model.ts)');
  return { ...first, config: toConfig(first.config ?? {}) };
}

/** Wait until the session has shown a run newer than `afterSeq` and is idle (or failed); return its state. */
export async function runAfter(page: Page, afterSeq: number, timeout = 400_000): Promise<RunState> {
  await page.waitForFunction(
    (after) => {
      const lab = window.__maskRcnnLab;
      const s = lab?.site.session.state;
      if (s?.phase === 'error') return true;
      return s !== undefined && !s.busy && s.phase === 'idle' && (s.last?.seq ?? 0) > after;
    },
    afterSeq,
    { timeout, polling: 100 },
  );
  return page.evaluate(() => {
    const lab = window.__maskRcnnLab!;
    const s = lab.site.session.state;
    const r = s.last?.trace.result;
    return {
      seq: s.last?.seq ?? 0,
      computed: s.last?.computed ?? [],
      backend: s.backend?.backend ?? '',
      phase: s.phase === 'error' ? `error: ${s.error}` : s.phase,
      numTensors: lab.numTensors(),
      labels: r ? Array.from(r.labels) : [],
      boxes: r ? Array.from(r.boxes) : [],
      scores: r ? Array.from(r.scores) : [],
      scale: s.last?.trace.sizes.scale ?? 1,
      modelId: s.last?.model.id ?? '',
      numClasses: s.last?.trace.config.numClasses ?? 0,
      padded: [s.last?.trace.sizes.padded[0] ?? 0, s.last?.trace.sizes.padded[1] ?? 0] as [number, number],
    };
  });
}

/** A full-page screenshot from the top (the status bar is sticky) to test-results/screenshots/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** No console error, no request outside localhost, no failed request. */
export function expectClean(log: PageLog): void {
  expect(log.errors, 'console errors').toEqual([]);
  expect(log.external, 'requests outside localhost').toEqual([]);
  expect(log.failed, 'failed requests').toEqual([]);
}

/** Set a slot's range input to `value` as a drag would (an input event). */
export async function setRange(page: Page, slot: string, value: number): Promise<void> {
  await page.evaluate(
    ([s, v]) => {
      const input = document.querySelector<HTMLInputElement>(`[data-cell="${s}"] input[type=range]`);
      if (!input) throw new Error(`setRange: no range input in [data-cell="${s}"]`);
      input.value = String(v);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    },
    [slot, value] as const,
  );
}
