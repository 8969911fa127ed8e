/**
 * The stage trace: one call returns every stage; a re-run recomputes only what a changed field
 * affects, gives what a fresh run with that config gives, and leaks no tensor. On a tiny random
 * ResNet-18-FPN so it runs in seconds; the same engine code as the R50 parity test.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type MaskRcnnSpec, changedPaths, deepMerge, mergeSpecs, toConfig } from '../src/config.ts';
import { DUMP_NAMES, type MaskRcnn, STAGES, type Trace, createMaskRcnn, rerunMaskRcnn, runMaskRcnn, stagesOf } from '../src/model.ts';
import { useBackend } from '../src/node/backend.ts';
import { maskIou } from './support/compare.ts';
import { nodeBackends } from './support/backends.ts';
import { randomStateDict } from './support/random_weights.ts';
import { TINY, randomImage } from './support/tiny.ts';

describe('stage trace on a tiny ResNet-18-FPN', () => {
  let model: MaskRcnn;
  let trace: Trace;
  const image = randomImage(120, 90);

  beforeAll(async () => {
    await useBackend('wasm');
    model = createMaskRcnn(randomStateDict(toConfig(TINY)), TINY);
    trace = await runMaskRcnn(model, image);
  });
  afterAll(() => {
    trace?.dispose();
    model?.dispose();
  });

  it('runMaskRcnn computes every stage and times each', () => {
    // A Mask R-CNN runs every stage but the keypoint branch's.
    expect(trace.computed).toEqual(STAGES.filter((s) => !s.startsWith('keypoint')));
    expect(stagesOf(trace.config)).toEqual(trace.computed);
    for (const s of trace.computed) expect(trace.timings[s]).toBeGreaterThanOrEqual(0);
    expect(trace.sizes.original).toEqual([90, 120]);
    expect(trace.sizes.resized).toEqual([96, 128]);
    expect(trace.sizes.padded).toEqual([96, 128]);
    expect(trace.proposals.boxes.length / 4).toBeGreaterThan(0);
    expect(trace.result.labels.length).toBeGreaterThan(0);
  });

  it('trace.dump returns every DESIGN.md §4 stage with CHW shapes', async () => {
    const d = trace.result.labels.length;
    const shapes: Record<string, number[]> = {};
    for (const name of DUMP_NAMES) {
      const nd = await trace.dump(name);
      expect(nd.data.length, name).toBe(nd.shape.reduce((a, b) => a * b, 1));
      shapes[name] = nd.shape;
    }
    expect(shapes['input']).toEqual([3, 96, 128]);
    expect(shapes['fpn_0']).toEqual([16, 24, 32]);
    expect(shapes['fpn_pool']).toEqual([16, 2, 2]);
    expect(shapes['rpn_objectness_0']).toEqual([3, 24, 32]);
    expect(shapes['rpn_deltas_4']).toEqual([12, 2, 2]);
    expect(shapes['class_logits']).toEqual([trace.proposals.boxes.length / 4, 5]);
    expect(shapes['mask_logits']).toEqual([d, 5, 28, 28]);
    expect(shapes['masks']).toEqual([d, 1, 90, 120]);
  });

  it('dump rpn_objectness_0 is the NHWC objectness transposed to A×h×w', async () => {
    const nd = await trace.dump('rpn_objectness_0');
    const level = trace.rpn[0]!;
    const [h, w] = level.size;
    const a = level.numAnchors;
    // element (a=2, y=3, x=5)
    expect(nd.data[2 * h * w + 3 * w + 5]).toBe(level.objectness[(3 * w + 5) * a + 2]);
  });

  it('rerunMaskRcnn with a new RPN NMS threshold recomputes from proposals on and equals a fresh run', async () => {
    const again = await rerunMaskRcnn(model, trace, { rpn: { nmsThresh: 0.5 } });
    const fresh = await runMaskRcnn(createdWith({ rpn: { nmsThresh: 0.5 } }), image);
    try {
      const stages = stagesOf(trace.config);
      expect(again.computed).toEqual(stages.slice(stages.indexOf('proposals')));
      expect(again.timings.backbone).toBeUndefined();
      expect(Array.from(again.proposals.boxes)).toEqual(Array.from(fresh.proposals.boxes));
      expect(Array.from(again.result.scores)).toEqual(Array.from(fresh.result.scores));
      expect(again.result.masks).toEqual(fresh.result.masks);
      expect(again.proposals.boxes.length).not.toBe(trace.proposals.boxes.length);
    } finally {
      again.dispose();
      fresh.dispose();
    }
  });

  it('rerunMaskRcnn maps each kind of field to its first stage', async () => {
    const cases: [MaskRcnnSpec, string][] = [
      [{ roiHeads: { maskThreshold: 0.3 } }, 'paste'],
      [{ roiHeads: { maskPaste: 'exact' } }, 'paste'],
      [{ roiHeads: { maskLoss: 'softmax' } }, 'paste'],
      [{ roiHeads: { postprocess: { scoreThresh: 0.2 } } }, 'detections'],
      [{ roiHeads: { maskRoiPool: { samplingRatio: 0 } } }, 'maskRoiPool'],
      [{ roiHeads: { boxRoiPool: { pooler: 'roiPool' } } }, 'boxRoiPool'],
      [{ anchors: { sizes: [[16], [32], [64], [128], [256]] } }, 'anchors'],
      [{ transform: { minSize: 64 } }, 'transform'],
    ];
    for (const [spec, first] of cases) {
      const again = await rerunMaskRcnn(model, trace, spec);
      expect(again.computed[0], JSON.stringify(spec)).toBe(first);
      again.dispose();
    }
    const same = await rerunMaskRcnn(model, trace, {});
    expect(same.computed).toEqual([]);
    expect(Array.from(same.result.scores)).toEqual(Array.from(trace.result.scores));
    same.dispose();
  });

  it('deepMerge lays objects field by field, replaces arrays and values, keeps base where over is undefined, mutates neither', () => {
    const base = { a: { b: 1, c: [1, 2] }, d: 'x' };
    const over = { a: { c: [3], e: undefined }, f: 2 };
    expect(deepMerge(base, over)).toEqual({ a: { b: 1, c: [3] }, d: 'x', f: 2 });
    expect(base).toEqual({ a: { b: 1, c: [1, 2] }, d: 'x' });
    expect(deepMerge(base, undefined)).toBe(base);
    expect(deepMerge({ a: 1 }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
    expect(mergeSpecs({ rpn: { nmsThresh: 0.7 } }, { rpn: { preNmsTopN: 5 } })).toEqual({ rpn: { nmsThresh: 0.7, preNmsTopN: 5 } });
  });

  it('changedPaths lists the dotted leaves that differ (arrays are leaves, missing fields differ)', () => {
    const a = { rpn: { nmsThresh: 0.7, sizes: [1, 2] }, numClasses: 7 };
    expect(changedPaths(a, { rpn: { nmsThresh: 0.7, sizes: [1, 2] }, numClasses: 7 })).toEqual([]);
    expect(changedPaths(a, { rpn: { nmsThresh: 0.6, sizes: [1, 3] }, numClasses: 7 })).toEqual(['rpn.nmsThresh', 'rpn.sizes']);
    expect(changedPaths(a, { rpn: { nmsThresh: 0.7, sizes: [1, 2] } })).toEqual(['numClasses']);
    expect(changedPaths(a, { rpn: 3, numClasses: 7 })).toEqual(['rpn']);
    expect(changedPaths(1, 2)).toEqual(['(root)']);
  });

  it("an unknown roiHeads.maskLoss is refused, naming the field and 'sigmoid' / 'softmax'", () => {
    expect(() => toConfig({ roiHeads: { maskLoss: 'agnostic' as 'sigmoid' } })).toThrow(/roiHeads\.maskLoss = "agnostic".*'sigmoid'.*'softmax'/);
  });

  it("re-run with roiHeads.maskLoss 'softmax' changes only the pasted probabilities: each pixel is the label's softmax over the classes", async () => {
    const again = await rerunMaskRcnn(model, trace, { roiHeads: { maskLoss: 'softmax' } });
    try {
      expect(again.computed).toEqual(['paste']);
      const k = trace.config.numClasses;
      const m = trace.maskHead.size;
      const d = trace.result.labels.length;
      expect(d).toBeGreaterThan(0);
      for (let i = 0; i < d; i += Math.max(1, Math.floor(d / 3))) {
        const label = trace.result.labels[i]!;
        const px = (i * m + 5) * m + 7; // pixel (5, 7) of detection i
        const row = Array.from(trace.maskHead.maskLogits.subarray(px * k, (px + 1) * k));
        const softmax = Math.exp(row[label]!) / row.reduce((s, x) => s + Math.exp(x), 0);
        const sigmoid = 1 / (1 + Math.exp(-row[label]!));
        expect(again.result.roiMasks[i * m * m + 5 * m + 7]).toBeCloseTo(softmax, 5);
        expect(trace.result.roiMasks[i * m * m + 5 * m + 7]).toBeCloseTo(sigmoid, 5);
      }
    } finally {
      again.dispose();
    }
  });

  it('an unknown roiHeads.maskPaste is refused, naming the field and the two modes', () => {
    expect(() => toConfig({ roiHeads: { maskPaste: 'nearest' as 'exact' } })).toThrow(ConfigError);
    expect(() => toConfig({ roiHeads: { maskPaste: 'nearest' as 'exact' } })).toThrow(/roiHeads\.maskPaste.*'torchvision' or 'exact'/);
  });

  it('rerunMaskRcnn refuses a field that changes the network, saying to create a new model', async () => {
    await expect(rerunMaskRcnn(model, trace, { roiHeads: { boxRoiPool: { outputSize: 5 } } })).rejects.toThrow(ConfigError);
    await expect(rerunMaskRcnn(model, trace, { numClasses: 3 })).rejects.toThrow(/createMaskRcnn/);
  });

  it('50 re-runs, each disposing the previous trace, leave tf.memory().numTensors where the first left it', async () => {
    let current = await rerunMaskRcnn(model, trace, { rpn: { nmsThresh: 0.6 } });
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      const next = await rerunMaskRcnn(model, current, i % 2 ? { rpn: { nmsThresh: 0.6 } } : { roiHeads: { postprocess: { nmsThresh: 0.4 } } });
      current.dispose();
      current = next;
    }
    expect(tf.memory().numTensors).toBe(after1);
    current.dispose();
  });

  it('the original trace stays readable after traces re-run from it are disposed', async () => {
    const again = await rerunMaskRcnn(model, trace, { rpn: { nmsThresh: 0.3 } });
    again.dispose();
    const fpn0 = await trace.dump('fpn_0');
    expect(fpn0.shape).toEqual([16, 24, 32]);
  });

  function createdWith(spec: MaskRcnnSpec): MaskRcnn {
    const m = createMaskRcnn(randomStateDict(toConfig(TINY)), { ...TINY, ...spec, rpn: { ...TINY.rpn, ...spec.rpn } });
    cleanup.push(m);
    return m;
  }
  const cleanup: MaskRcnn[] = [];
  afterAll(() => cleanup.forEach((m) => m.dispose()));
});

describe('the same tiny model gives the same detections on every backend', () => {
  const image = randomImage(120, 90, 7);
  const results: Record<string, { boxes: Float32Array; scores: Float32Array; labels: Int32Array; fpn0: Float32Array; masks: Float32Array }> = {};

  const backends = nodeBackends();
  for (const backend of backends) {
    it(`runs on ${backend}`, async () => {
      await useBackend(backend);
      const model = createMaskRcnn(randomStateDict(toConfig(TINY), 3), TINY);
      const trace = await runMaskRcnn(model, image);
      results[backend] = { ...trace.result, fpn0: (await trace.dump('fpn_0')).data, masks: (await trace.dump('masks')).data };
      trace.dispose();
      model.dispose();
      expect(trace.result.labels.length).toBeGreaterThan(0);
    });
  }

  it('cpu and webgpu (where it runs) agree with wasm (FPN within 1e-4 relative, same labels, boxes within 0.01 px, mask IoU ≥ 0.99)', () => {
    const ref = results['wasm']!;
    for (const backend of backends.filter((b) => b !== 'wasm')) {
      const r = results[backend]!;
      let maxDiff = 0;
      let maxRef = 0;
      r.fpn0.forEach((v, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - ref.fpn0[i]!));
        maxRef = Math.max(maxRef, Math.abs(ref.fpn0[i]!));
      });
      expect(maxDiff / maxRef, backend).toBeLessThan(1e-4);
      expect(Array.from(r.labels), backend).toEqual(Array.from(ref.labels));
      r.boxes.forEach((v, i) => expect(Math.abs(v - ref.boxes[i]!), backend).toBeLessThan(0.01));
      r.scores.forEach((v, i) => expect(Math.abs(v - ref.scores[i]!), backend).toBeLessThan(1e-4));
      const hw = 90 * 120;
      for (let d = 0; d < r.labels.length; d++) {
        expect(maskIou(r.masks.subarray(d * hw, (d + 1) * hw), ref.masks.subarray(d * hw, (d + 1) * hw), 0.5), backend).toBeGreaterThanOrEqual(0.99);
      }
    }
  });
});
