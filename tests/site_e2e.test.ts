/**
 * The built site in a real browser: `astro build` (or the existing dist/ with SITE_E2E_REUSE_BUILD=1),
 * dist/ served from http://localhost by a small node:http static server, Debian's chromium driven by
 * playwright-core with WebGPU on SwiftShader (DESIGN.md §5). Chapters 1 and 2 load with no console
 * error and no request outside localhost and none that fails; the model runs on WebGPU and, chosen
 * through the URL, on wasm with the same detections; sliders change their figures and re-run only
 * the stages downstream of the parameter (read from the status bar); rapid slider moves leave no
 * tensor behind; the checkpoint picker refuses a corrupt file and a wrong architecture with a message.
 * Screenshots go to test-results/screenshots/.
 *
 * Without chromium the suite is skipped with a message, except under CI (`CI=true`), where that fails.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toConfig } from '../src/config.ts';
import { writeSafetensors } from '../src/weights/index.ts';
import { randomStateDict } from './support/random_weights.ts';
import { type RunState, SHOTS, expectClean, hasChromium, runAfter, setRange as setSlotRange, shot, siteBrowser } from './support/site_browser.ts';
import { TINY } from './support/tiny.ts';

describe.runIf(hasChromium())('the built site in chromium (WebGPU on SwiftShader, and wasm)', () => {
  const site = siteBrowser();
  beforeAll(site.start);
  afterAll(site.stop);
  const open = (path: string) => site.open(path);

  let webgpuRun: RunState | undefined;

  it('chapter 1 (/pipeline/) runs the model on WebGPU, draws detections and the stage diagram; the score slider re-runs from detections on only', async () => {
    const { page, context, log } = await open('/pipeline/');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      expect(first.backend).toBe('webgpu');
      expect(await page.locator('[data-status="backend"]').textContent()).toBe('WebGPU');
      expect(await page.locator('[data-status="backend-reason"]').textContent()).toMatch(/navigator\.gpu gave an adapter/);
      expect(await page.locator('[data-status="model"]').textContent()).toMatch(/untrained placeholder/);
      expect(first.computed[0]).toBe('transform');
      expect(first.computed).toHaveLength(12);
      webgpuRun = first;
      await page.locator('[data-cell="detections"] figure svg').waitFor();
      await page.locator('[data-cell="stages"] figure svg').waitFor();
      const drawn = await page.locator('[data-cell="detections"] svg [data-detection]').count();
      expect(drawn).toBe(Math.min(first.labels.length, 30));
      // Every stage box shows a time, and chapter 2's stage is a link.
      expect(await page.locator('[data-cell="stages"] svg .stage--computed').count()).toBe(12);
      expect(await page.locator('[data-cell="stages"] svg a[href*="/input/"]').count()).toBe(1);
      await shot(page, 'chapter-1-pipeline-webgpu');

      // Each figure saves as PNG and SVG.
      const save = async (label: string) => {
        const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-cell="detections"] button', { hasText: label }).click()]);
        const path = await download.path();
        return { name: download.suggestedFilename(), bytes: await readFile(path) };
      };
      const png = await save('Save PNG');
      expect(png.name).toBe('pipeline-detections.png');
      expect(png.bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      const svg = await save('Save SVG');
      expect(svg.name).toBe('pipeline-detections.svg');
      expect(svg.bytes.toString('utf8')).toMatch(/^<\?xml[^>]*>\n<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);

      // The score threshold by keyboard: focus the range and press → (0.05 → 0.06).
      const range = page.locator('[data-cell="scoreThresh"] input[type=range]');
      await range.focus();
      await page.keyboard.press('ArrowRight');
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed).toEqual(['detections', 'maskRoiPool', 'maskHead', 'paste']);
      expect(await page.locator('[data-status="run"]').getAttribute('data-computed')).toBe('detections,maskRoiPool,maskHead,paste');
      expect(second.scores.every((s) => s > 0.06)).toBe(true);
      expect(new URL(page.url()).searchParams.get('score')).toBe('0.06');
      expect(await page.locator('[data-cell="detections"] figcaption').textContent()).toMatch(/score > 0\.06/);

      // The mask threshold re-runs the paste-back alone.
      await page.locator('[data-cell="maskThresh"] input[type=range]').focus();
      await page.keyboard.press('ArrowRight');
      const third = await runAfter(page, second.seq);
      expect(third.computed).toEqual(['paste']);
      expect(third.numTensors).toBe(first.numTensors);
      await shot(page, 'chapter-1-pipeline-after-sliders');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('chapter 1 with ?backend=wasm runs on wasm and finds the same detections as WebGPU', async () => {
    const { page, context, log } = await open('/pipeline/?backend=wasm');
    try {
      const run = await runAfter(page, 0);
      expect(run.phase).toBe('idle');
      expect(run.backend).toBe('wasm');
      expect(await page.locator('[data-status="backend-reason"]').textContent()).toBe('you chose it');
      expect(await page.locator('#backend-select').inputValue()).toBe('wasm');
      expect(webgpuRun, 'the WebGPU test ran first').toBeDefined();
      expect(run.labels).toEqual(webgpuRun!.labels);
      // Within 0.01 px of the resized image the network saw (boxes are in original pixels: × 1/scale).
      for (let i = 0; i < run.boxes.length; i++) expect(Math.abs(run.boxes[i]! - webgpuRun!.boxes[i]!) * run.scale, `box value ${i}`).toBeLessThan(0.01);
      for (let i = 0; i < run.scores.length; i++) expect(Math.abs(run.scores[i]! - webgpuRun!.scores[i]!), `score ${i}`).toBeLessThan(1e-4);
      await shot(page, 'chapter-1-pipeline-wasm');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('chapter 2 (/input/): the min_size slider changes the resize figure and re-runs every stage (transform is first); 8 fast moves leak no tensor; the backend switch reruns on wasm', async () => {
    const { page, context, log } = await open('/input/?image=astronaut');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      await page.locator('[data-cell="resize"] figure svg').waitFor();
      await page.locator('[data-cell="normalization"] figure svg').waitFor();
      await page.locator('[data-cell="tensor"] figure svg').waitFor();
      // astronaut.jpg is 512×512; the placeholder model's min_size 96 / max_size 128 → 96×96, padded to 96×96.
      expect(await page.locator('[data-cell="resize"] figcaption').textContent()).toMatch(/512×512 → resized 96×96 → padded 96×96/);

      const setRange = (slot: string, value: number) => setSlotRange(page, slot, value);
      await setRange('minSize', 100);
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed[0]).toBe('transform');
      expect(second.computed).toHaveLength(12);
      // 512×512 at min_size 100 → 100×100 → padded to 128×128.
      expect(await page.locator('[data-cell="resize"] figcaption').textContent()).toMatch(/resized 100×100 → padded 128×128/);
      expect(new URL(page.url()).searchParams.get('minSize')).toBe('100');
      await page.locator('[data-cell="tensor"] figcaption', { hasText: '128 × 128' }).waitFor();
      await shot(page, 'chapter-2-input');

      // Many moves while a run is in flight: superseded, not piled up; nothing leaks.
      for (const v of [64, 72, 80, 88, 104, 120, 96, 112]) await setRange('minSize', v);
      const settled = await runAfter(page, second.seq);
      expect(settled.phase).toBe('idle');
      const runs = await page.evaluate(() => window.__maskRcnnLab!.site.session.state.runs);
      expect(runs, 'runs started (2 before the burst of 8 moves)').toBeLessThan(2 + 8);
      expect(await page.locator('[data-cell="resize"] figcaption').textContent()).toMatch(/512×512 → resized 112×112 → padded 128×128/);
      expect(settled.numTensors).toBe(first.numTensors);

      // A channel of the tensor instead of colours.
      await page.locator('[data-cell="channel"] select').selectOption({ label: 'channel R values' });
      await page.locator('[data-cell="tensor"] svg title', { hasText: 'channel R' }).waitFor({ state: 'attached' });
      await shot(page, 'chapter-2-input-channel-r');

      // The backend switch in the status bar: wasm, a full run, the URL remembers it.
      const before = await runAfter(page, 0);
      await page.locator('#backend-select').selectOption('wasm');
      const onWasm = await runAfter(page, before.seq);
      expect(onWasm.backend).toBe('wasm');
      expect(onWasm.computed).toHaveLength(12);
      expect(new URL(page.url()).searchParams.get('backend')).toBe('wasm');
      expect(onWasm.numTensors).toBe(first.numTensors);
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('the checkpoint picker refuses a corrupt file and a checkpoint of another architecture, the image picker a non-image, each with a message; the model stays', async () => {
    const { page, context, log } = await open('/pipeline/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      await page.locator('#checkpoint-file').setInputFiles({ name: 'broken.pth', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a checkpoint at all') });
      const error = page.locator('[data-status="error"]');
      await expect.poll(() => error.textContent(), { timeout: 20_000 }).toMatch(/broken\.pth: expected a PyTorch \.pth \(zip or legacy\) or \.safetensors file/);
      const tiny = writeSafetensors(randomStateDict(toConfig(TINY), 1));
      await page.locator('#checkpoint-file').setInputFiles({ name: 'tiny.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(tiny) });
      await expect.poll(() => error.textContent(), { timeout: 20_000 }).toMatch(/tiny\.safetensors does not fit "torchvision COCO/);
      expect(await error.isVisible()).toBe(true);
      expect(await page.locator('#model-select').inputValue(), 'the picker shows the model still in use').toBe('tiny-random');
      await page.screenshot({ path: join(SHOTS, 'chapter-1-checkpoint-error.png'), fullPage: false });
      // A file that is not an image: a message under the picker, the old image stays.
      await page.locator('[data-cell="image"] input[type=file]').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
      await expect.poll(() => page.locator('[data-cell="image"] .picker-message.error').textContent(), { timeout: 20_000 }).toMatch(/notes\.png is not an image this browser can decode/);
      // The model in use did not change.
      expect(await page.evaluate(() => window.__maskRcnnLab!.site.session.current?.model.id)).toBe('tiny-random');
      expect(first.numTensors).toBe(await page.evaluate(() => window.__maskRcnnLab!.numTensors()));
      // Expected failures are reported on the page, not as console errors.
      expectClean(log);
    } finally {
      await context.close();
    }
  });
});
