/**
 * `npm run infer` as a user runs it, on a tiny torchvision-layout checkpoint: a result JSON with RLE
 * masks, the stage dumps, and a clear message for each kind of bad input.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toConfig } from '../src/config.ts';
import { main } from '../src/cli/infer.ts';
import { UsageError } from '../src/cli/args.ts';
import { decodeNpy } from '../src/io/npy.ts';
import { decodeRle } from '../src/io/rle.ts';
import { DUMP_NAMES } from '../src/model.ts';
import { roundToHalf, writeSafetensors, writeShards } from '../src/weights/index.ts';
import { randomStateDict } from './support/random_weights.ts';
import { TINY, randomImage } from './support/tiny.ts';

const IMAGES = join(import.meta.dirname, 'fixtures', 'images');
const run = promisify(execFile);

/** The tiny model's architecture as CLI flags (everything else: torchvision defaults). */
const TINY_FLAGS = [
  '--num-classes', '5', '--min-size', '96', '--max-size', '128',
  '--backbone.depth', '18', '--backbone.base-width', '8', '--fpn.out-channels', '16',
  '--rpn-pre-nms-top-n-test', '200', '--rpn-post-nms-top-n-test', '100',
  '--roi-heads.box-head.representation-size', '32', '--roi-heads.mask-head.layers', '[16,16]',
  '--roi-heads.mask-predictor.dim-reduced', '16', '--box-detections-per-img', '20', '--quiet',
];

function pngFile(dir: string, name: string, width: number, height: number, fill: (x: number, y: number) => number): string {
  const png = new PNG({ width, height, colorType: 2 });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const v = fill(x, y);
      png.data[i] = v;
      png.data[i + 1] = 255 - v;
      png.data[i + 2] = (v * 3) & 255;
      png.data[i + 3] = 255;
    }
  }
  const path = join(dir, name);
  writeFileSync(path, PNG.sync.write(png, { colorType: 2 }));
  return path;
}

describe('npm run infer on a tiny checkpoint', () => {
  let dir: string;
  let weights: string;
  let photo: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infer-'));
    weights = join(dir, 'tiny.safetensors');
    writeFileSync(weights, writeSafetensors(randomStateDict(toConfig(TINY))));
    const img = randomImage(120, 90);
    photo = pngFile(dir, 'photo.png', 120, 90, (x, y) => img.data[(y * 120 + x) * 3]!);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('infer --out writes detections with boxes in original pixels, scores, labels, RLE masks and stage timings', async () => {
    const out = join(dir, 'result.json');
    expect(await main(['--weights', weights, '--image', photo, '--out', out, ...TINY_FLAGS])).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.image).toMatchObject({ width: 120, height: 90 });
    expect(result.detections.length).toBeGreaterThan(0);
    for (const d of result.detections) {
      expect(d.box[0]).toBeGreaterThanOrEqual(0);
      expect(d.box[2]).toBeLessThanOrEqual(120);
      expect(d.box[3]).toBeLessThanOrEqual(90);
      expect(d.label).toBeGreaterThan(0);
      expect(d.name).toBeUndefined(); // 5 classes: no COCO names
      expect(d.mask.size).toEqual([90, 120]);
      expect(decodeRle(d.mask).length).toBe(90 * 120);
    }
    for (const stage of ['transform', 'backbone', 'fpn', 'rpnHead', 'proposals', 'boxHead', 'maskHead', 'paste', 'total']) {
      expect(result.timings[stage], stage).toBeGreaterThanOrEqual(0);
    }
  });

  it('infer --dump-stages writes every DESIGN.md §4 stage as .npy with the trace shapes', async () => {
    const dumps = join(dir, 'dumps');
    await main(['--weights', weights, '--image', photo, '--dump-stages', dumps, ...TINY_FLAGS]);
    expect(readdirSync(dumps).sort()).toEqual(DUMP_NAMES.map((n) => `${n}.npy`).sort());
    const labels = decodeNpy(readFileSync(join(dumps, 'labels.npy')));
    expect(labels.dtype).toBe('int64');
    const masks = decodeNpy(readFileSync(join(dumps, 'masks.npy')));
    expect(masks.shape).toEqual([labels.shape[0], 1, 90, 120]);
    expect(decodeNpy(readFileSync(join(dumps, 'input.npy'))).shape).toEqual([3, 96, 128]);
  });

  it('infer with --box-score-thresh 1 gives a valid empty result and empty dumps', async () => {
    const out = join(dir, 'empty.json');
    const dumps = join(dir, 'empty-dumps');
    await main(['--weights', weights, '--image', photo, '--out', out, '--dump-stages', dumps, ...TINY_FLAGS, '--box-score-thresh', '1']);
    expect(JSON.parse(readFileSync(out, 'utf8')).detections).toEqual([]);
    expect(decodeNpy(readFileSync(join(dumps, 'masks.npy'))).shape).toEqual([0, 1, 90, 120]);
    expect(decodeNpy(readFileSync(join(dumps, 'mask_logits.npy'))).shape).toEqual([0, 5, 28, 28]);
  });

  it.each(['1x1.png', 'gray.png', 'rgba.png', 'gray16.png', 'palette.png', 'progressive.jpg', 'gray.jpg'])('infer runs on %s', async (name) => {
    const out = join(dir, `${name}.json`);
    expect(await main(['--weights', weights, '--image', join(IMAGES, name), '--out', out, ...TINY_FLAGS])).toBe(0);
    expect(Array.isArray(JSON.parse(readFileSync(out, 'utf8')).detections)).toBe(true);
  });

  it('infer on a 10000×10000 PNG resizes it to the config and keeps memory bounded', async () => {
    const big = pngFile(dir, 'big.png', 10000, 10000, (x, y) => ((x >> 6) ^ (y >> 6)) & 1 ? 200 : 40);
    const out = join(dir, 'big.json');
    const rss0 = process.memoryUsage().rss;
    await main(['--weights', weights, '--image', big, '--out', out, ...TINY_FLAGS]);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    // torchvision's scale is fl(1/10000)·96 in float32, just under 0.0096, and the size is floored: 95, not 96.
    expect(result.sizes.resized).toEqual([95, 95]);
    for (const d of result.detections) expect(d.mask.size).toEqual([10000, 10000]);
    // Decoded RGB is 300 MB; masks are kept as box regions, never D×10000×10000.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(3 * 2 ** 30);
  });

  it.each([
    ['empty.png', new Uint8Array(0), /empty/i],
    ['truncated.png', readFileSync(join(IMAGES, 'truncated.png')), /truncated|corrupt/i],
    ['corrupt.png', readFileSync(join(IMAGES, 'corrupt.png')), /corrupt|invalid|truncated/i],
    ['not_image.gif', readFileSync(join(IMAGES, 'not_image.gif')), /GIF/],
    ['truncated.jpg', readFileSync(join(IMAGES, 'truncated.jpg')), /truncated|corrupt/i],
  ])('infer on %s fails with a clear image message', async (name, bytes, message) => {
    const path = join(dir, `bad-${name}`);
    writeFileSync(path, bytes);
    await expect(main(['--weights', weights, '--image', path, ...TINY_FLAGS])).rejects.toThrow(message);
  });

  it('infer reads a checkpoint\'s architecture from its shapes, as the site does: the tiny 5-class R18 runs with no architecture flag', async () => {
    const out = join(dir, 'inferred.json');
    expect(await main(['--weights', weights, '--image', photo, '--min-size', '96', '--max-size', '128', '--out', out, '--quiet'])).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { config: { numClasses: number; backbone: { depth: number; baseWidth: number }; fpn: { outChannels: number } } };
    expect([result.config.numClasses, result.config.backbone.depth, result.config.backbone.baseWidth, result.config.fpn.outChannels]).toEqual([5, 18, 8, 16]);
  });

  it('infer with an architecture flag the checkpoint contradicts names the first mismatching tensor and what to do', async () => {
    await expect(main(['--weights', weights, '--image', photo, '--backbone.depth', '50', '--quiet'])).rejects.toThrow(/backbone\.body\.[\w.]+.*\[.*\].*\[.*\]/s);
    await expect(main(['--weights', weights, '--image', photo, '--num-classes', '91', '--quiet'])).rejects.toThrow(/numClasses: 5/);
  });

  it('infer with a truncated checkpoint says it is truncated', async () => {
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, readFileSync(weights).subarray(0, 5000));
    await expect(main(['--weights', cut, '--image', photo, ...TINY_FLAGS])).rejects.toThrow(/truncated/i);
  });

  it('infer with NaN weights names the tensor', async () => {
    const sd = randomStateDict(toConfig(TINY));
    sd.get('roi_heads.box_predictor.cls_score.weight')!.data[3] = Number.NaN;
    const nan = join(dir, 'nan.safetensors');
    writeFileSync(nan, writeSafetensors(sd));
    await expect(main(['--weights', nan, '--image', photo, ...TINY_FLAGS])).rejects.toThrow(/cls_score\.weight.*NaN/);
  });

  it('infer rejects unknown flags, missing arguments and bad config values as usage errors', async () => {
    await expect(main(['--image', photo])).rejects.toThrow(UsageError);
    await expect(main(['--weights', weights, '--image', photo, '--bogus', '1'])).rejects.toThrow(/unknown option --bogus/);
    await expect(main(['--weights', weights, '--image', photo, '--backend', 'tpu'])).rejects.toThrow(/expected wasm, cpu or webgpu/);
    await expect(main(['--weights', weights, '--image', photo, ...TINY_FLAGS, '--box-nms-thresh', '2'])).rejects.toThrow(/nmsThresh = 2: expected a number in \[0, 1\]/);
    await expect(main(['--weights', join(dir, 'missing.pth'), '--image', photo])).rejects.toThrow(/does not exist/);
  });

  it('the infer process prints one error line and exits 1 on a bad image, 2 on bad usage', async () => {
    const tsx = join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsx');
    const cli = join(import.meta.dirname, '..', 'src', 'cli', 'infer.ts');
    const bad = join(dir, 'bad-not_image.gif');
    writeFileSync(bad, readFileSync(join(IMAGES, 'not_image.gif')));
    const failed = await run(tsx, [cli, '--weights', weights, '--image', bad]).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/^error: .*GIF/m);
    expect((failed as { stderr: string }).stderr).not.toMatch(/\n\s+at /); // no stack trace
    const usage = await run(tsx, [cli, '--image', bad]).catch((e: { code: number; stderr: string }) => e);
    expect((usage as { code: number }).code).toBe(2);
  });
});

describe('npm run infer --model NAME (a shipped model folder)', () => {
  let dir: string;
  let modelsDir: string;
  let weights: string;
  let photo: string;
  const NAMES = ['__background__', 'disc', 'box', 'tri', 'star'];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infer-model-'));
    const stateDict = randomStateDict(toConfig(TINY), 3);
    weights = join(dir, 'tiny.safetensors');
    // the float16 rounding of the weights, as a float32 checkpoint: what --model must load exactly
    writeFileSync(weights, writeSafetensors(new Map([...stateDict].map(([k, t]) => [k, { ...t, data: roundToHalf(t.data) }]))));
    // as npm run ship writes it: float16 shards with the config, about.json with class names
    modelsDir = join(dir, 'models');
    mkdirSync(join(modelsDir, 'tiny-f16'), { recursive: true });
    const { manifest, shards } = writeShards(stateDict, { config: TINY, dtype: 'float16' });
    writeFileSync(join(modelsDir, 'tiny-f16', 'model.json'), JSON.stringify(manifest));
    manifest.shards.forEach((s, i) => writeFileSync(join(modelsDir, 'tiny-f16', s.file), shards[i]!));
    writeFileSync(join(modelsDir, 'tiny-f16', 'about.json'), JSON.stringify({ label: 'tiny', classNames: NAMES }));
    const img = randomImage(120, 90, 4);
    photo = pngFile(dir, 'photo.png', 120, 90, (x, y) => img.data[(y * 120 + x) * 3]!);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('infer --model tiny-f16 needs no config flags, names labels by about.json, and equals --weights on the float16-rounded checkpoint', async () => {
    const out16 = join(dir, 'f16.json');
    const out32 = join(dir, 'f32.json');
    expect(await main(['--model', 'tiny-f16', '--image', photo, '--out', out16, '--quiet'], { modelsDir })).toBe(0);
    expect(await main(['--weights', weights, '--image', photo, '--out', out32, ...TINY_FLAGS])).toBe(0);
    type Result = { weights: string; detections: { box: number[]; label: number; name?: string; score: number }[] };
    const r16 = JSON.parse(readFileSync(out16, 'utf8')) as Result;
    const r32 = JSON.parse(readFileSync(out32, 'utf8')) as Result;
    expect(r16.weights).toBe(join(modelsDir, 'tiny-f16', 'model.json'));
    expect(r16.detections.length).toBeGreaterThan(0);
    for (const d of r16.detections) expect(d.name).toBe(NAMES[d.label]);
    expect(r32.detections.every((d) => d.name === undefined)).toBe(true);
    expect(r16.detections.map(({ name: _, ...d }) => d)).toEqual(r32.detections);
  });

  it('infer --model: an unknown name lists the models there; --model with --weights, or neither, is a usage error', async () => {
    await expect(main(['--model', 'nope', '--image', photo], { modelsDir })).rejects.toThrow(/no model 'nope': .* does not exist; models available: tiny-f16/);
    await expect(main(['--model', 'tiny-f16', '--weights', weights, '--image', photo], { modelsDir })).rejects.toThrow(/exactly one of --weights FILE or --model NAME/);
    await expect(main(['--image', photo], { modelsDir })).rejects.toThrow(UsageError);
    await expect(main(['--model', '../x', '--image', photo], { modelsDir })).rejects.toThrow(/expected a model folder name/);
  });
});
