/**
 * The built site in a real browser: `astro build` (or the existing dist/ with SITE_E2E_REUSE_BUILD=1),
 * dist/ served from http://localhost by a small node:http static server, Debian's chromium driven by
 * playwright-core with WebGPU on SwiftShader (DESIGN.md §5), on the site's default model (the first
 * of public/models/, as the pages list it). Chapters 1 and 2 load with no console error and no
 * request outside localhost and none that fails; the model runs on WebGPU and, chosen through the
 * URL, on wasm with the same detections; sliders change their figures and re-run only the stages
 * downstream of the parameter (read from the status bar); rapid slider moves leave no tensor behind.
 * The checkpoint picker runs the whole page on a torchvision `.pth` written by torch (the default
 * model's weights in torchvision's modules: the same detections) and on a `.safetensors` whose
 * architecture no site model has (inferred from its shapes). Bad input, each with a message on the
 * page: a corrupt, a truncated and a Faster R-CNN checkpoint, a file that is not an image, a
 * 48-megapixel image; WebGPU missing (WebGL, and why); the WebGPU device destroyed in the middle of
 * a run (a real `device.lost`: wasm, and why). Screenshots go to test-results/screenshots/.
 *
 * Without chromium the suite is skipped with a message, except under CI (`CI=true`), where that
 * fails; so are the parts that need torch to write the `.pth`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MaskRcnnSpec, toConfig } from '../src/config.ts';
import type { StateDict } from '../src/types.ts';
import { parseManifest, readShards, writeSafetensors } from '../src/weights/index.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';
import { randomStateDict } from './support/random_weights.ts';
import { ROOT, type RunState, SHOTS, defaultModel, expectClean, hasChromium, runAfter, setRange as setSlotRange, shot, siteBrowser } from './support/site_browser.ts';

/** A small architecture no site model has: ResNet-18 width 8, FPN 16, 3 classes, box head 32, one mask conv. */
const ODD: MaskRcnnSpec = {
  numClasses: 3,
  backbone: { depth: 18, baseWidth: 8 },
  fpn: { outChannels: 16 },
  roiHeads: { boxHead: { representationSize: 32 }, maskHead: { layers: [16] }, maskPredictor: { dimReduced: 16 } },
};

/** A valid 8000×6000 grey PNG (48 megapixels; ~150 kB, it is all one colour). */
function hugePng(width = 8000, height = 6000): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter method, no interlace
  const raw = Buffer.alloc((1 + 3 * width) * height, 128);
  for (let y = 0; y < height; y++) raw[y * (1 + 3 * width)] = 0; // filter type 0 per row
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const state = (page: Page) => page.evaluate(() => window.__maskRcnnLab!.site.session.state);

describe.runIf(hasChromium())('the built site in chromium (WebGPU on SwiftShader, and wasm)', () => {
  const site = siteBrowser();
  const model = defaultModel();
  let dir = '';
  let defaultWeights: StateDict;
  beforeAll(async () => {
    await site.start();
    dir = mkdtempSync(join(tmpdir(), 'site-e2e-'));
    const modelDir = join(ROOT, 'public', 'models', model.id);
    const manifest = parseManifest(JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')));
    defaultWeights = await readShards(manifest, async (file) => new Uint8Array(readFileSync(join(modelDir, file))));
  });
  afterAll(async () => {
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = (path: string, init?: () => void) => site.open(path, init);

  let webgpuRun: RunState | undefined;
  let wasmRun: RunState | undefined;

  it('chapter 1 (/pipeline/) runs the model on WebGPU, draws detections and the stage diagram; the score slider re-runs from detections on only', async () => {
    const { page, context, log } = await open('/pipeline/');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      expect(first.backend).toBe('webgpu');
      expect(await page.locator('[data-status="backend"]').textContent()).toBe('WebGPU');
      expect(await page.locator('[data-status="backend-reason"]').textContent()).toMatch(/navigator\.gpu gave an adapter/);
      // The default model, loaded with no action; it finds things in the default image (a validation scene).
      expect(first.modelId).toBe(model.id);
      expect(first.numClasses).toBe(model.config.numClasses);
      expect(await page.locator('#model-select').inputValue()).toBe(model.id);
      expect(await page.locator('[data-status="model"]').textContent()).toBe(model.about.description || model.about.label || model.id);
      // The sticky status bar keeps the long description to one row (whole on hover), so it hides little of the page.
      expect(await page.locator('[data-status="model"]').getAttribute('title')).toBe(model.about.description || model.about.label || model.id);
      const barHeight = (await page.locator('#status-bar').boundingBox())!.height;
      expect(barHeight).toBeLessThan(0.25 * page.viewportSize()!.height);
      expect(first.labels.length, 'detections of the default model on the default image').toBeGreaterThan(0);
      const names = model.about.classNames ?? [];
      expect(await page.locator('[data-cell="detections"] details table').textContent()).toContain(names[first.labels[0]!] ?? `class ${first.labels[0]}`);
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

      // The score threshold starts at the model's own (about.json shippedWith, or torchvision's
      // 0.05); by keyboard: focus the range and press → (+0.01).
      const range = page.locator('[data-cell="scoreThresh"] input[type=range]');
      const start = model.config.roiHeads.postprocess.scoreThresh;
      expect(Number(await range.inputValue())).toBe(start);
      const next = (start + 0.01).toFixed(2);
      await range.focus();
      await page.keyboard.press('ArrowRight');
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed).toEqual(['detections', 'maskRoiPool', 'maskHead', 'paste']);
      expect(await page.locator('[data-status="run"]').getAttribute('data-computed')).toBe('detections,maskRoiPool,maskHead,paste');
      expect(second.scores.every((s) => s > Number(next))).toBe(true);
      expect(new URL(page.url()).searchParams.get('score')).toBe(next);
      expect(await page.locator('[data-cell="detections"] figcaption').textContent()).toContain(`score > ${next}`);

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
      wasmRun = run;
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

  it('chapter 2 (/input/, wasm): the min_size slider changes the resize figure and re-runs every stage (transform is first); 8 fast moves leak no tensor; the backend switch reruns on plain JavaScript (cpu)', async () => {
    // wasm: every min_size is a new input size, which on SwiftShader's WebGPU means compiling new shaders for minutes.
    const { page, context, log } = await open('/input/?image=astronaut&backend=wasm');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      await page.locator('[data-cell="resize"] figure svg').waitFor();
      await page.locator('[data-cell="normalization"] figure svg').waitFor();
      await page.locator('[data-cell="tensor"] figure svg').waitFor();
      // astronaut.jpg is 512×512: scale min(min_size / 512, max_size / 512), so the side is min(min_size, max_size), padded up to a multiple of 32.
      const { minSize, maxSize } = model.config.transform;
      const side = (m: number) => Math.min(m, maxSize);
      const pad = (n: number) => Math.ceil(n / 32) * 32;
      expect(await page.locator('[data-cell="resize"] figcaption').textContent()).toContain(`512×512 → resized ${side(minSize)}×${side(minSize)} → padded ${pad(side(minSize))}×${pad(side(minSize))}`);

      const setRange = (slot: string, value: number) => setSlotRange(page, slot, value);
      await setRange('minSize', 100);
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed[0]).toBe('transform');
      expect(second.computed).toHaveLength(12);
      // 512×512 at min_size 100 → 100×100 → padded to 128×128 (for any max_size ≥ 120, the largest value below).
      expect(maxSize).toBeGreaterThanOrEqual(120);
      expect(await page.locator('[data-cell="resize"] figcaption').textContent()).toMatch(/resized 100×100 → padded 128×128/);
      expect(new URL(page.url()).searchParams.get('minSize')).toBe('100');
      await page.locator('[data-cell="tensor"] figcaption', { hasText: '128 × 128' }).waitFor();
      await shot(page, 'chapter-2-input');

      // 8 moves sent at once, faster than a run (on wasm a run holds the page's thread, so they queue up as a
      // drag's events do): merged into the latest value, not one run each; nothing leaks.
      const runsBefore = (await state(page)).runs;
      await Promise.all([64, 72, 80, 88, 104, 120, 96, 112].map((v) => setRange('minSize', v)));
      const settled = await runAfter(page, second.seq);
      expect(settled.phase).toBe('idle');
      const after = await state(page);
      expect(after.runs - runsBefore, 'runs started for a burst of 8 moves').toBeLessThan(8);
      // How many of the merged runs get shown depends on how fast a run is; fewer than the moves is the point.
      expect(settled.seq - second.seq, 'runs shown').toBeLessThan(8);
      expect(await page.locator('[data-cell="resize"] figcaption').textContent()).toMatch(/512×512 → resized 112×112 → padded 128×128/);
      expect(settled.numTensors).toBe(first.numTensors);

      // A channel of the tensor instead of colours.
      await page.locator('[data-cell="channel"] select').selectOption({ label: 'channel R values' });
      await page.locator('[data-cell="tensor"] svg title', { hasText: 'channel R' }).waitFor({ state: 'attached' });
      await shot(page, 'chapter-2-input-channel-r');

      // The backend switch in the status bar: cpu, a full run with the same detections, the URL remembers it.
      const before = await runAfter(page, 0);
      await page.locator('#backend-select').selectOption('cpu');
      const onCpu = await runAfter(page, before.seq);
      expect(onCpu.backend).toBe('cpu');
      expect(onCpu.computed).toHaveLength(12);
      expect(onCpu.labels).toEqual(before.labels);
      for (let i = 0; i < onCpu.scores.length; i++) expect(Math.abs(onCpu.scores[i]! - before.scores[i]!), `score ${i}`).toBeLessThan(1e-4);
      expect(new URL(page.url()).searchParams.get('backend')).toBe('cpu');
      expect(onCpu.numTensors).toBe(first.numTensors);
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it.runIf(hasTorchvision())('the checkpoint picker: a torchvision .pth written by torch (the default model in torchvision\'s modules) runs the whole page with the default\'s detections; a .safetensors of an architecture no site model has runs with the architecture read from its shapes; the model picker goes back', async () => {
    const c = model.config;
    writeFileSync(join(dir, 'default.safetensors'), writeSafetensors(defaultWeights));
    const pth = join(dir, `${model.id}.pth`);
    const args = ['--weights', join(dir, 'default.safetensors'), '--out', pth, '--depth', String(c.backbone.depth), '--width', String(c.backbone.baseWidth), '--fpn', String(c.fpn.outChannels)];
    args.push('--num-classes', String(c.numClasses), '--representation', String(c.roiHeads.boxHead.representationSize), '--mask-layers', c.roiHeads.maskHead.layers.join(','), '--dim-reduced', String(c.roiHeads.maskPredictor.dimReduced));
    const written = JSON.parse(oracle('torchvision_checkpoint.py', args, 300_000)) as { bytes: number };
    expect(written.bytes, 'a small test checkpoint').toBeLessThan(20 * 2 ** 20);

    const { page, context, log } = await open('/pipeline/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      expect(first.modelId).toBe(model.id);
      // The .pth: read and converted in the page; its shapes are the default model's, so it runs with its config.
      await page.locator('#checkpoint-file').setInputFiles(pth);
      const fromPth = await runAfter(page, first.seq);
      expect(fromPth.phase).toBe('idle');
      expect(fromPth.modelId).toBe(`file:${model.id}.pth`);
      expect(fromPth.computed).toHaveLength(12);
      expect(fromPth.labels, 'the same detections as the default model').toEqual(first.labels);
      expect(fromPth.boxes).toEqual(first.boxes);
      expect(fromPth.scores).toEqual(first.scores);
      const note = await page.locator('[data-status="model"]').textContent();
      expect(note).toContain(`Converted in this browser from ${model.id}.pth; nothing was uploaded. ResNet-${c.backbone.depth} (${c.backbone.depth >= 50 ? 'bottleneck' : 'basic'} blocks, width ${c.backbone.baseWidth}), FPN ${c.fpn.outChannels}, ${c.numClasses} classes`);
      expect(note).toContain(`input size, anchors and class names of ${model.about.label ?? model.id}`);
      expect(await page.locator('#model-select').inputValue()).toBe('file');
      expect(await page.locator('#model-select option[value="file"]').textContent()).toBe(`${model.id}.pth`);
      expect(await page.locator('[data-status="error"]').isHidden()).toBe(true);
      await shot(page, 'chapter-1-checkpoint-pth');

      // A .safetensors no site model has the shapes of: the architecture from its shapes, torchvision's defaults for the rest.
      await page.locator('#checkpoint-file').setInputFiles({ name: 'odd.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(writeSafetensors(randomStateDict(toConfig(ODD), 7))) });
      const odd = await runAfter(page, fromPth.seq);
      expect(odd.phase).toBe('idle');
      expect(odd.modelId).toBe('file:odd.safetensors');
      expect(odd.numClasses).toBe(3);
      expect(odd.padded, 'torchvision\'s min_size 800 on the 256×256 scene').toEqual([800, 800]);
      expect(await page.locator('[data-status="model"]').textContent()).toContain('ResNet-18 (basic blocks, width 8), FPN 16, 3 classes, box head 32, mask head 1 × 16, FrozenBN eps 1e-5');

      // Back to the default model from the picker: its detections again, and no tensor left from the others.
      await page.locator('#model-select').selectOption(model.id);
      const back = await runAfter(page, odd.seq);
      expect(back.modelId).toBe(model.id);
      expect(back.labels).toEqual(first.labels);
      expect(back.numTensors).toBe(first.numTensors);
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('bad input, each with a message on the page: a corrupt, a truncated and a Faster R-CNN checkpoint; a file that is not an image; a 48-megapixel image. The model and image in use stay; nothing leaks', async () => {
    const { page, context, log } = await open('/pipeline/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      const error = page.locator('[data-status="error"]');
      const pick = async (name: string, buffer: Buffer | Uint8Array) => {
        await page.locator('#checkpoint-file').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(buffer) });
        await expect.poll(() => error.textContent(), { timeout: 60_000 }).toContain(`${name}:`);
        expect(await error.isVisible()).toBe(true);
        return (await error.textContent())!;
      };
      expect(await pick('broken.pth', Buffer.from('this is not a checkpoint at all'))).toMatch(/^broken\.pth: expected a PyTorch \.pth \(zip or legacy\) or \.safetensors file/);
      const whole = writeSafetensors(defaultWeights);
      expect(await pick('cut.safetensors', whole.subarray(0, whole.length >> 1))).toMatch(/^cut\.safetensors: .*(truncated|corrupt)/);
      const faster = new Map([...defaultWeights].filter(([n]) => !n.startsWith('roi_heads.mask_')));
      expect(await pick('faster.safetensors', writeSafetensors(faster))).toMatch(/^faster\.safetensors: checkpoint has no roi_heads\.mask_head\.0\.0\.weight: this looks like a Faster R-CNN checkpoint \(no mask or keypoint branch\)/);
      expect(await page.locator('#model-select').inputValue(), 'the picker shows the model still in use').toBe(model.id);
      await page.screenshot({ path: join(SHOTS, 'chapter-1-checkpoint-error.png'), fullPage: false });

      const imageMessage = page.locator('[data-cell="image"] .picker-message.error');
      const imageFile = page.locator('[data-cell="image"] input[type=file]');
      await imageFile.setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
      await expect.poll(() => imageMessage.textContent(), { timeout: 20_000 }).toMatch(/notes\.png is not an image this browser can decode/);
      await imageFile.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: hugePng() });
      await expect.poll(() => imageMessage.textContent(), { timeout: 20_000 }).toMatch(/^huge\.png is 8000×6000 \(48 megapixels\); this page takes up to 40 megapixels\. Scale it down first/);
      await page.screenshot({ path: join(SHOTS, 'chapter-1-image-error.png'), fullPage: false });

      // Nothing ran: the model and image in use did not change, and no tensor was made.
      const s = await state(page);
      expect(s.last?.seq).toBe(first.seq);
      expect(s.last?.model.id).toBe(model.id);
      expect(s.last?.image.id).toBe('sample:scene-1000007');
      expect(await page.evaluate(() => window.__maskRcnnLab!.numTensors())).toBe(first.numTensors);
      // Expected failures are reported on the page, not as console errors.
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('WebGPU unavailable (no navigator.gpu): the page runs on WebGL, says why in the status bar, and finds the same detections as wasm', async () => {
    const { page, context, log } = await open('/pipeline/', () => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
    try {
      const run = await runAfter(page, 0);
      expect(run.phase).toBe('idle');
      expect(run.backend).toBe('webgl');
      expect(await page.locator('[data-status="backend"]').textContent()).toBe('WebGL');
      expect(await page.locator('[data-status="backend-reason"]').textContent()).toBe('WebGPU: this browser has no navigator.gpu (WebGPU is off or unsupported)');
      expect(wasmRun, 'the wasm test ran first').toBeDefined();
      expect(run.labels).toEqual(wasmRun!.labels);
      for (let i = 0; i < run.scores.length; i++) expect(Math.abs(run.scores[i]! - wasmRun!.scores[i]!), `score ${i}`).toBeLessThan(1e-3);
      await shot(page, 'chapter-1-pipeline-no-webgpu');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('the WebGPU device lost for real in the middle of a run (GPUDevice.destroy() on the backend\'s device): the page falls back to wasm, the status bar says the device was lost and why, and the run completes with the wasm detections', async () => {
    const { page, context, log } = await open('/pipeline/');
    try {
      await page.waitForFunction(() => window.__maskRcnnLab?.site.session.state.phase === 'running', undefined, { timeout: 120_000, polling: 20 });
      expect((await state(page)).backend?.backend).toBe('webgpu');
      await page.waitForTimeout(1500);
      const lostBefore = await page.evaluate(() => {
        const device = window.__maskRcnnLab!.gpuDevice()!;
        device.destroy();
        return window.__maskRcnnLab!.site.session.state.phase;
      });
      expect(lostBefore, 'destroyed while the run was in flight').toBe('running');
      const run = await runAfter(page, 0);
      expect(run.phase).toBe('idle');
      expect(run.backend).toBe('wasm');
      expect(run.seq, 'the run under the lost device was not shown').toBe(1);
      expect(run.computed).toHaveLength(12);
      expect(await page.locator('[data-status="backend"]').textContent()).toBe('WebAssembly (wasm)');
      // The reason: device.lost may resolve after the failed read that started the fallback (the GPU process is busy).
      await expect.poll(() => page.locator('[data-status="backend-reason"]').textContent(), { timeout: 60_000 }).toMatch(/^the WebGPU device was lost during a run \(destroyed: [^)]+\); fell back to wasm$/);
      expect(run.labels.length).toBeGreaterThan(0);
      expect(wasmRun, 'the wasm test ran first').toBeDefined();
      expect(run.labels).toEqual(wasmRun!.labels);
      expect(run.scores).toEqual(wasmRun!.scores);
      await shot(page, 'chapter-1-pipeline-device-lost');
      expectClean(log);
    } finally {
      await context.close();
    }
  });
});
