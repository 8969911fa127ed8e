/**
 * `npm run eval` on a tiny random 7-class model (the scene classes): it runs on a few seeds, prints
 * the COCO tables and writes the JSON report; detections become COCO results correctly; bad input
 * (unknown model, wrong class count, corrupt checkpoint, usage) gives a clear message.
 * AP near 0 is expected: the weights are random.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/cli/args.ts';
import { cocoResultsOf, main, resolveModel } from '../src/cli/eval.ts';
import { toConfig } from '../src/config.ts';
import { SCENE_CLASSES, generateScene } from '../src/data/scenes.ts';
import { FIGURE_CLASSES, KEYPOINT_NAMES, generateFigures } from '../src/data/figures.ts';
import { decodeRle } from '../src/io/rle.ts';
import { createMaskRcnn, runMaskRcnn } from '../src/model.ts';
import { useBackend } from '../src/node/backend.ts';
import { writeSafetensors, writeShards } from '../src/weights/index.ts';
import { randomStateDict } from './support/random_weights.ts';
import { TINY } from './support/tiny.ts';

const SPEC = { ...TINY, numClasses: SCENE_CLASSES.length };
/** The tiny architecture as CLI flags, 7 classes. */
const TINY_FLAGS = [
  '--num-classes', String(SCENE_CLASSES.length), '--min-size', '96', '--max-size', '128',
  '--backbone.depth', '18', '--backbone.base-width', '8', '--fpn.out-channels', '16',
  '--rpn-pre-nms-top-n-test', '200', '--rpn-post-nms-top-n-test', '100',
  '--roi-heads.box-head.representation-size', '32', '--roi-heads.mask-head.layers', '[16,16]',
  '--roi-heads.mask-predictor.dim-reduced', '16', '--box-detections-per-img', '20',
];
const AP_KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'];

describe('npm run eval on a tiny random model', () => {
  let dir: string;
  let modelsDir: string;
  let weights: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eval-'));
    const stateDict = randomStateDict(toConfig(SPEC));
    weights = join(dir, 'tiny7.safetensors');
    writeFileSync(weights, writeSafetensors(stateDict));
    // a converted model with its config, as shipped under public/models/NAME
    modelsDir = join(dir, 'models');
    mkdirSync(join(modelsDir, 'scenes-tiny'), { recursive: true });
    const { manifest, shards } = writeShards(stateDict, { config: SPEC, shardBytes: 1 << 18 });
    writeFileSync(join(modelsDir, 'scenes-tiny', 'model.json'), JSON.stringify(manifest));
    manifest.shards.forEach((s, i) => writeFileSync(join(modelsDir, 'scenes-tiny', s.file), shards[i]!));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('eval --model scenes-tiny --seeds 0-2 --json FILE prints both COCO tables and writes {bbox, segm, images: 3}', async () => {
    const json = join(dir, 'report.json');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['--model', 'scenes-tiny', '--seeds', '0-2', '--json', json, '--quiet'], { modelsDir })).toBe(0);
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(printed).toContain('IoU metric: bbox');
      expect(printed).toContain('IoU metric: segm');
      expect(printed.match(/Average Precision {2}\(AP\) @\[ IoU=0\.50:0\.95 \| area= {3}all \| maxDets=100 \] = /g)).toHaveLength(2);
    } finally {
      log.mockRestore();
    }
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.images).toBe(3);
    expect(report.seeds).toBe('0-2');
    for (const type of ['bbox', 'segm']) {
      expect(Object.keys(report[type])).toEqual(AP_KEYS);
      for (const k of AP_KEYS) {
        expect(report[type][k]).toBeGreaterThanOrEqual(-1);
        expect(report[type][k]).toBeLessThanOrEqual(1);
      }
      // seeds 0–2 have gts: AP is defined (not −1)
      expect(report[type].AP).toBeGreaterThanOrEqual(0);
    }
  });

  it('eval --weights FILE with a score threshold no detection passes: AP 0 everywhere a gt exists, not a crash', async () => {
    const json = join(dir, 'empty.json');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['--weights', weights, '--seeds', '5-6', '--json', json, '--quiet', '--box-score-thresh', '1', ...TINY_FLAGS])).toBe(0);
    } finally {
      log.mockRestore();
    }
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.bbox.AP).toBe(0);
    expect(report.segm.AP).toBe(0);
    expect(report.full.bbox.AR100).toBe(0);
  });

  it('cocoResultsOf(trace, id): bbox = [x1, y1, x2 − x1, y2 − y1], segm = RLE of the pasted mask > maskThreshold, same label and score', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const model = createMaskRcnn(randomStateDict(toConfig(SPEC)), SPEC);
    const scene = generateScene(3);
    const trace = await runMaskRcnn(model, scene.image);
    try {
      const { bbox, segm } = cocoResultsOf(trace, 3);
      const { boxes, labels, scores, masks } = trace.result;
      expect(bbox.length).toBe(labels.length);
      expect(bbox.length).toBeGreaterThan(0);
      bbox.forEach((r, d) => {
        const [x1, y1, x2, y2] = boxes.subarray(4 * d, 4 * d + 4);
        expect(r).toEqual({ image_id: 3, category_id: labels[d], score: scores[d], bbox: [x1, y1, x2! - x1!, y2! - y1!] });
        expect(segm[d]!.category_id).toBe(labels[d]);
        expect(segm[d]!.score).toBe(scores[d]);
        const mask = decodeRle(segm[d]!.segmentation as { size: [number, number]; counts: string });
        const region = masks[d]!;
        const expected = new Uint8Array(256 * 256);
        for (let y = 0; y < region.height; y++) {
          for (let x = 0; x < region.width; x++) expected[(region.y0 + y) * 256 + region.x0 + x] = region.data[y * region.width + x]! > 0.5 ? 1 : 0;
        }
        expect(Buffer.from(mask).equals(Buffer.from(expected))).toBe(true);
        const ones = mask.reduce((a, b) => a + b, 0);
        if (d === 0) expect(ones).toBeGreaterThan(0);
      });
    } finally {
      trace.dispose();
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('--model NAME that does not exist: a usage error naming the path and the models available', () => {
    expect(() => resolveModel('nope', modelsDir)).toThrow(UsageError);
    expect(() => resolveModel('nope', modelsDir)).toThrow(/no model 'nope': .*models\/nope\/model\.json does not exist; models available: scenes-tiny; or pass --weights FILE/);
    expect(() => resolveModel('../etc', modelsDir)).toThrow(/expected a model folder name/);
  });

  it('a model whose class count is not the scenes\' 7 (the 5-class TINY model): says so and what to do', async () => {
    const five = randomStateDict(toConfig(TINY));
    const { manifest, shards } = writeShards(five, { config: TINY });
    mkdirSync(join(modelsDir, 'five-classes'), { recursive: true });
    writeFileSync(join(modelsDir, 'five-classes', 'model.json'), JSON.stringify(manifest));
    manifest.shards.forEach((s, i) => writeFileSync(join(modelsDir, 'five-classes', s.file), shards[i]!));
    await expect(main(['--model', 'five-classes', '--seeds', '0', '--quiet'], { modelsDir })).rejects.toThrow(/is a 5-class model .*the scenes have 7 \(background, circle, square, triangle, star, hexagon, ring\)/);
  });

  it('a corrupt checkpoint: the error names the file and what was expected', async () => {
    const bad = join(dir, 'corrupt.safetensors');
    writeFileSync(bad, 'this is not a checkpoint');
    await expect(main(['--weights', bad, '--seeds', '0', '--quiet'])).rejects.toThrow(/corrupt\.safetensors: expected a PyTorch \.pth \(zip or legacy\) or \.safetensors file/);
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, readFileSync(weights).subarray(0, 5000));
    await expect(main(['--weights', truncated, '--seeds', '0', '--quiet'])).rejects.toThrow(/truncated\.safetensors|safetensors/);
  });

  it('usage errors: --model and --weights together, no --seeds, a reversed seed range, an unknown backend', async () => {
    await expect(main(['--model', 'x', '--weights', weights, '--seeds', '0'])).rejects.toThrow(/exactly one of --model NAME or --weights FILE/);
    await expect(main(['--weights', weights])).rejects.toThrow(UsageError);
    await expect(main(['--weights', weights, '--seeds', '4-1'])).rejects.toThrow(/first ≤ last/);
    await expect(main(['--weights', weights, '--seeds', '0', '--backend', 'gpu'])).rejects.toThrow(/expected wasm, cpu or webgpu/);
  });
});

describe('npm run eval --model on a damaged or float16 model folder', () => {
  let modelsDir: string;
  const stateDict = randomStateDict(toConfig(SPEC), 2);

  /** A model folder as npm run ship writes it; `damage` edits the shard bytes before they are written. */
  const folder = (name: string, dtype: 'float32' | 'float16', damage?: (shard: Uint8Array) => Uint8Array) => {
    const { manifest, shards } = writeShards(stateDict, { config: SPEC, dtype, shardBytes: 1 << 16 });
    mkdirSync(join(modelsDir, name), { recursive: true });
    writeFileSync(join(modelsDir, name, 'model.json'), JSON.stringify(manifest));
    manifest.shards.forEach((s, i) => writeFileSync(join(modelsDir, name, s.file), i === 1 && damage ? damage(shards[i]!.slice()) : shards[i]!));
    return manifest;
  };

  beforeAll(() => {
    modelsDir = mkdtempSync(join(tmpdir(), 'eval-models-'));
  });
  afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

  it('a shard with a flipped byte: the error names the shard, both CRC-32s and what to do', async () => {
    const manifest = folder('flipped', 'float32', (b) => {
      b[100]! ^= 1;
      return b;
    });
    await expect(main(['--model', 'flipped', '--seeds', '0', '--quiet'], { modelsDir })).rejects.toThrow(
      new RegExp(`weights shard ${manifest.shards[1]!.file} is corrupt: CRC-32 [0-9a-f]{8}, model\\.json says ${manifest.shards[1]!.crc32}; download or convert it again`),
    );
  });

  it('a truncated shard of a float16 model: says the download is truncated', async () => {
    folder('short16', 'float16', (b) => b.subarray(0, 10));
    await expect(main(['--model', 'short16', '--seeds', '0', '--quiet'], { modelsDir })).rejects.toThrow(/has 10 bytes; model\.json says \d+; the download is truncated/);
  });

  it('a model.json that is not JSON: says so and to re-run the converter', async () => {
    mkdirSync(join(modelsDir, 'garbled'));
    writeFileSync(join(modelsDir, 'garbled', 'model.json'), '{"format": "mask-rcnn-lab/weights", ');
    await expect(main(['--model', 'garbled', '--seeds', '0', '--quiet'], { modelsDir })).rejects.toThrow(/garbled\/model\.json is not valid JSON .*npm run convert/);
  });
});

describe('npm run eval on a tiny random keypoint model (figures: 2 classes, 14 keypoints)', () => {
  const KP_SPEC = {
    ...TINY,
    numClasses: FIGURE_CLASSES.length,
    roiHeads: { ...TINY.roiHeads, keypointBranch: true, keypointHead: { layers: [8, 8] }, keypointPredictor: { numKeypoints: KEYPOINT_NAMES.length } },
  };
  let dir: string;
  let modelsDir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eval-kp-'));
    modelsDir = join(dir, 'models');
    const stateDict = randomStateDict(toConfig(KP_SPEC), 3);
    mkdirSync(join(modelsDir, 'kp-tiny'), { recursive: true });
    const { manifest, shards } = writeShards(stateDict, { config: KP_SPEC, shardBytes: 1 << 18 });
    writeFileSync(join(modelsDir, 'kp-tiny', 'model.json'), JSON.stringify(manifest));
    manifest.shards.forEach((s, i) => writeFileSync(join(modelsDir, 'kp-tiny', s.file), shards[i]!));
    writeFileSync(join(modelsDir, 'kp-tiny', 'about.json'), JSON.stringify({ training: { data: 'figures' } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('eval --model kp-tiny evaluates on the figures with no other flag and reports bbox, segm and keypoints (OKS, 10 numbers)', async () => {
    const json = join(dir, 'report.json');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['--model', 'kp-tiny', '--seeds', '1000000-1000001', '--json', json, '--quiet'], { modelsDir })).toBe(0);
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(printed).toContain('IoU metric: keypoints');
      expect(printed).toMatch(/area=medium \| maxDets= 20/);
    } finally {
      log.mockRestore();
    }
    const report = JSON.parse(readFileSync(json, 'utf8')) as { data: string; keypoints: Record<string, number>; segm: object; full: { keypoints: number[] } };
    expect(report.data).toBe('figures');
    expect(Object.keys(report.keypoints)).toEqual(['AP', 'AP50', 'AP75', 'APm', 'APl']);
    expect(report.segm).toBeDefined();
    expect(Object.keys(report.full.keypoints)).toHaveLength(10);
  });

  it('cocoResultsOf gives one keypoint result per detection: [x, y, score] × 14 with the detection\'s score', async () => {
    await useBackend('wasm');
    const model = createMaskRcnn(randomStateDict(toConfig(KP_SPEC), 3), KP_SPEC);
    const scene = generateFigures(1000000);
    const trace = await runMaskRcnn(model, scene.image);
    try {
      const r = cocoResultsOf(trace, 1000000);
      expect(r.keypoints).toHaveLength(trace.result.labels.length);
      expect(r.keypoints.every((k, d) => k.keypoints!.length === 42 && k.score === trace.result.scores[d])).toBe(true);
      const d0 = r.keypoints[0]!.keypoints!;
      expect([d0[0], d0[1], d0[2]]).toEqual([trace.result.keypoints[0], trace.result.keypoints[1], trace.result.keypointScores[0]]);
    } finally {
      trace.dispose();
      model.dispose();
    }
  });

  it('--data scenes on a keypoint model is a usage error that says to evaluate it on the figures', async () => {
    await expect(main(['--model', 'kp-tiny', '--seeds', '0-0', '--data', 'scenes', '--quiet'], { modelsDir })).rejects.toThrow(/2-class model.*scenes have 7|pass --data figures/);
    await expect(main(['--model', 'kp-tiny', '--seeds', '0-0', '--data', 'people', '--quiet'], { modelsDir })).rejects.toThrow(/--data people: expected scenes or figures/);
  });
});
