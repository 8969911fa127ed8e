/**
 * The engine in a real browser: tests/browser/page.ts (the engine, kernels/ and the tiny random
 * model) is bundled with Vite, served from http://localhost by a small node:http server, and run in
 * Debian's chromium (playwright-core, SwiftShader for both WebGPU and WebGL, DESIGN.md §5) on
 * webgpu, webgl, wasm and cpu. The page hands back detections, the fpn_0 dump and RoI kernel
 * outputs; here they are compared with wasm (model) and the CPU twin (kernels).
 *
 * Where chromium is missing the suite is skipped with a message, except under CI (`CI=true`), where
 * that is a failure: `.ci/run` installs it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackendRun, PAGE_BACKENDS, type PageReport } from './browser/report.ts';

const CHROMIUM = '/usr/bin/chromium';
/** DESIGN.md §5, plus no first-run or component-update traffic. */
const CHROMIUM_FLAGS = [
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
const BROWSER_DIR = fileURLToPath(new URL('./browser/', import.meta.url));

function hasChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env['CI']) throw new Error(`chromium missing under CI: ${CHROMIUM} not found; apt-get install chromium (see .ci/run)`);
  console.warn(`[browser] ${CHROMIUM} not found: browser tests skipped (apt-get install chromium)`);
  return false;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
};

/** A static server for `dir` on 127.0.0.1 (random port); records every path it is asked for. */
async function serve(dir: string, served: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    served.push(path);
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir + sep)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Largest |a − b| and largest |b| over two equal-length arrays. */
function maxDiff(a: readonly number[], b: readonly number[]): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

describe.runIf(hasChromium())('the engine in chromium (SwiftShader) on webgpu, webgl, wasm and cpu', () => {
  let outDir = '';
  let server: Server | undefined;
  let browser: Browser | undefined;
  let report: PageReport;
  const served: string[] = [];
  const requests: string[] = [];
  const blocked: string[] = [];
  const consoleErrors: string[] = [];
  let origin = '';
  let started = 0;

  beforeAll(async () => {
    started = performance.now();
    outDir = await mkdtemp(join(tmpdir(), 'mrcnn-browser-'));
    const { build } = await import('vite');
    await build({ configFile: join(BROWSER_DIR, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
    const built = performance.now();

    server = await serve(outDir, served);
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    const context = await browser.newContext();
    // Every request the page makes passes here: localhost goes on, anything else is refused and recorded.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      requests.push(url);
      if (new URL(url).origin === origin) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => typeof window.runBrowserTest === 'function');
    report = await page.evaluate(() => window.runBrowserTest!());
    await context.close();

    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const runs = report.runs.map((r) => `${r.backend} ${s(r.ms)}`).join(', ');
    console.info(`[browser] vite build ${s(built - started)}; page ${s(report.ms)} (${runs}); total ${s(performance.now() - started)}`);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  const run = (backend: string): BackendRun => {
    const r = report.runs.find((x) => x.backend === backend);
    if (r === undefined) throw new Error(`no run for ${backend}`);
    return r;
  };

  it('page.evaluate(runBrowserTest) logs no console error and requests nothing outside localhost', () => {
    expect(consoleErrors).toEqual([]);
    expect(blocked).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    for (const url of requests) expect(new URL(url).hostname, url).toBe('localhost');
  });

  it('the wasm backend fetched its .wasm binary from the bundle (setWasmPaths to a bundled asset)', () => {
    const wasm = served.filter((p) => p.endsWith('.wasm'));
    expect(wasm.length).toBeGreaterThan(0);
    for (const p of wasm) expect(p).toMatch(/^\/assets\/tfjs-backend-wasm[-\w]*\.wasm$/);
  });

  it('tf.setBackend(b) succeeds and tf.getBackend() === b before and after the run, for each of webgpu, webgl, wasm and cpu', () => {
    expect(report.runs.map((r) => r.backend)).toEqual([...PAGE_BACKENDS]);
    for (const r of report.runs) {
      expect(r.setBackendOk, r.backend).toBe(true);
      expect(r.activeBefore, r.backend).toBe(r.backend);
      expect(r.activeAfter, r.backend).toBe(r.backend);
      expect(r.labels.length, r.backend).toBeGreaterThan(0);
      expect(r.tensorsAfter, `${r.backend}: tensors left after dispose`).toBe(r.tensorsBefore);
    }
  });

  it('webgpu is really WebGPU (a GPU device on a SwiftShader adapter), webgl is WebGL 2 with float32 textures; every backend adds in float32', () => {
    const gpu = run('webgpu').facts;
    expect(gpu['hasGpuDevice']).toBe(true);
    expect(gpu['adapterArchitecture']).toBe('swiftshader');
    const gl = run('webgl').facts;
    expect(gl['WEBGL_VERSION']).toBe(2);
    expect(gl['WEBGL_RENDER_FLOAT32_ENABLED']).toBe(true);
    for (const r of report.runs) expect(r.facts['float32Arithmetic'], `${r.backend}: 1 + 2^-20 computed in float32`).toBe(true);
  });

  it('webgpu, webgl and cpu agree with wasm: same labels, boxes within 0.01 px, scores within 1e-4, fpn_0 within 1e-4 relative', () => {
    const ref = run('wasm');
    const lines: string[] = [];
    for (const backend of ['webgpu', 'webgl', 'cpu']) {
      const r = run(backend);
      expect(r.fpn0Shape, backend).toEqual(ref.fpn0Shape);
      expect(r.labels, backend).toEqual(ref.labels);
      expect(r.boxes.length, backend).toBe(ref.boxes.length);
      const fpn = maxDiff(r.fpn0, ref.fpn0);
      const boxes = maxDiff(r.boxes, ref.boxes);
      const scores = maxDiff(r.scores, ref.scores);
      lines.push(
        `${backend}: ${r.labels.length} detections, boxes ${boxes.diff.toExponential(2)} px, scores ${scores.diff.toExponential(2)}, ` +
          `fpn_0 ${(fpn.diff / fpn.scale).toExponential(2)} relative`,
      );
      expect(fpn.diff / fpn.scale, `${backend} fpn_0`).toBeLessThan(1e-4);
      expect(boxes.diff, `${backend} boxes`).toBeLessThan(0.01);
      expect(scores.diff, `${backend} scores`).toBeLessThan(1e-4);
    }
    console.info(`[browser] vs wasm: ${lines.join('; ')}`);
  });

  it('the RoI kernels on webgl and webgpu equal the CPU twin: RoIPool bit for bit, RoIAlign/RoIWarp within 1e-6', () => {
    const differing = report.kernels.filter((k) => k.mismatches > 0);
    const lines = differing.map((k) => `${k.backend} ${k.op}: ${k.mismatches}/${k.size} differ, max ${k.maxAbsDiff.toExponential(2)}`);
    console.info(`[browser] kernels vs cpu twin: ${lines.length === 0 ? 'all bit-identical' : lines.join('; ')}`);
    expect(report.kernels.length).toBe(20);
    for (const k of report.kernels) {
      const what = `${k.backend} ${k.op}`;
      expect(k.size, what).toBeGreaterThan(0);
      if (k.op.includes('roiPool ')) expect(k.mismatches, what).toBe(0);
      else expect(k.maxAbsDiff, what).toBeLessThanOrEqual(1e-6);
    }
  });

  it('on webgl and webgpu, roiAlign with batch index 2 of 1 and multiScaleRoiPool with level 2 of 2 throw RoiOpError naming the value', () => {
    expect(report.refusals.map((r) => `${r.backend} ${r.op}`)).toEqual([
      'webgl roiAlign batch index 2 of 1',
      'webgl multiScaleRoiPool level 2 of 2',
      'webgpu roiAlign batch index 2 of 1',
      'webgpu multiScaleRoiPool level 2 of 2',
    ]);
    for (const r of report.refusals) {
      expect(r.error, `${r.backend} ${r.op}`).toMatch(/^RoiOpError: /);
      expect(r.error, `${r.backend} ${r.op}`).toMatch(r.op.startsWith('roiAlign') ? /batch index 2/ : /levels\[0\] = 2/);
    }
  });
});
