/**
 * Keypoints as one-hot masks (src/geometry/keypoints.ts): torchvision's keypoints_to_heatmap,
 * heatmaps_to_keypoints (bicubic upsampling, first argmax, score), resize_keypoints, worked out by
 * hand; torch's bicubic checked against torch itself; the keypoint branch end to end in the engine
 * (random weights, both branches, re-runs, dumps).
 */
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { toConfig } from '../src/config.ts';
import {
  bicubicResize, cubicCoefficients, heatmapsToKeypoints, keypointsToHeatmap, resizeKeypoints,
} from '../src/geometry/keypoints.ts';
import { createMaskRcnn, dumpNamesOf, rerunMaskRcnn, runMaskRcnn, stagesOf } from '../src/model.ts';
import { keypointHead, keypointHeadData, loadKeypointHead } from '../src/stages/keypoint_head.ts';
import { convTranspose2d } from '../src/stages/layers.ts';
import { registerTrainingKernels } from '../src/train/kernels.ts';
import { classNamesOf, keypointNamesOf } from '../src/names.ts';
import { validateStateDict } from '../src/weights/index.ts';
import { useBackend } from '../src/node/backend.ts';
import { mulberry32 } from './support/backends.ts';
import { hasTorchvision, PYTHON } from './support/oracle.ts';
import { randomStateDict } from './support/random_weights.ts';
import { TINY, randomImage } from './support/tiny.ts';

describe('cubicCoefficients (torch get_cubic_upsample_coefficients, A = −0.75)', () => {
  it('t = 0 takes the sample itself: (0, 1, 0, 0)', () => {
    expect(cubicCoefficients(0)).toEqual([0, 1, 0, 0]);
  });
  it('t = ½: (−3/32, 19/32, 19/32, −3/32), summing to 1', () => {
    // c1(½) = ((A+2)·½ − (A+3))·¼ + 1 = (0.625 − 2.25)/4 + 1 = 0.59375; c2(3/2) = ((A·1.5 − 5A)·1.5 + 8A)·1.5 − 4A = −0.09375
    expect(cubicCoefficients(0.5)).toEqual([-0.09375, 0.59375, 0.59375, -0.09375]);
  });
});

describe('bicubicResize', () => {
  it('keeps a constant plane constant and an equal size unchanged (weights (0, 1, 0, 0) at every pixel)', () => {
    const flat = bicubicResize(() => 2.5, 4, 4, 7, 3);
    expect(Math.max(...Array.from(flat, (v) => Math.abs(v - 2.5)))).toBeLessThan(1e-5);
    const plane = Float32Array.from({ length: 25 }, (_, i) => (i * 7) % 11);
    expect(Array.from(bicubicResize((y, x) => plane[y * 5 + x]!, 5, 5, 5, 5))).toEqual(Array.from(plane));
  });

  it.runIf(hasTorchvision())('equals torch interpolate(bicubic, align_corners=False) within 1e-5 of the range on 56×56 → 7×13, 100×37, 203×150, 1×1', () => {
    const sizes = [[7, 13], [100, 37], [203, 150], [1, 1]];
    const rand = mulberry32(3);
    const src = Float32Array.from({ length: 56 * 56 }, () => 10 * rand() - 5);
    const script = `
import sys, numpy as np, torch, torch.nn.functional as F
src = torch.from_numpy(np.frombuffer(sys.stdin.buffer.read(), dtype=np.float32).copy()).reshape(1, 1, 56, 56)
for h, w in ${JSON.stringify(sizes)}:
    sys.stdout.buffer.write(F.interpolate(src, size=(h, w), mode='bicubic', align_corners=False).numpy().astype(np.float32).tobytes())`;
    const out = execFileSync(PYTHON, ['-c', script], { input: Buffer.from(src.buffer) });
    const torch = new Float32Array(out.buffer, out.byteOffset, out.length / 4);
    let at = 0;
    for (const [h, w] of sizes) {
      const ours = bicubicResize((y, x) => src[y * 56 + x]!, 56, 56, h!, w!);
      for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i]! - torch[at + i]!), `${h}×${w} pixel ${i}`).toBeLessThan(1e-4);
      at += ours.length;
    }
  });
});

describe('keypointsToHeatmap (torchvision keypoints_to_heatmap)', () => {
  it('a keypoint falls in cell ⌊(x − x1)·m/w⌋: box (10, 20, 38, 48), m 4 → cells of 7 px', () => {
    // (17, 34): x (17−10)·4/28 = 1, y (34−20)·4/28 = 2 → 2·4 + 1 = 9. (10, 20): cell 0.
    const kp = Float32Array.of(17, 34, 2, 10, 20, 1, 0, 0, 0);
    const t = keypointsToHeatmap(kp, Float32Array.of(10, 20, 38, 48), 4);
    expect(Array.from(t.index)).toEqual([9, 0, 0]);
    expect(Array.from(t.valid)).toEqual([1, 1, 0]); // v = 0 is not labelled
  });
  it('a keypoint on the right or bottom edge goes to the last cell; one outside the box is not valid', () => {
    const kp = Float32Array.of(38, 48, 2, 38.5, 30, 2, 9.9, 30, 2);
    const t = keypointsToHeatmap(kp, Float32Array.of(10, 20, 38, 48), 4);
    expect(t.index[0]).toBe(15);
    expect(Array.from(t.valid)).toEqual([1, 0, 0]);
  });
});

describe('heatmapsToKeypoints (torchvision heatmaps_to_keypoints)', () => {
  it('a single peak in a 4×4 map of a 4×4-px box gives that cell\'s centre, offset by the box, with the peak as score', () => {
    // Box (100, 50, 104, 54): the map is resized 4×4 → 4×4 (identity), argmax at (y 2, x 1) → (101.5, 52.5).
    const m = 4;
    const logits = new Float32Array(m * m * 2); // 2 keypoints, channel innermost
    logits[(2 * m + 1) * 2] = 5;
    logits[(0 * m + 3) * 2 + 1] = 7;
    const { keypoints, scores } = heatmapsToKeypoints(logits, Float32Array.of(100, 50, 104, 54), m, 2);
    expect(Array.from(keypoints)).toEqual([101.5, 52.5, 1, 103.5, 50.5, 1]);
    expect(Array.from(scores)).toEqual([5, 7]);
  });
  it('ties go to the first maximum; a box narrower than 1 px is taken as 1 px wide', () => {
    const m = 2;
    const logits = Float32Array.of(1, 1, 1, 1); // one keypoint, flat: argmax 0
    const { keypoints } = heatmapsToKeypoints(logits, Float32Array.of(10, 10, 10.25, 12), m, 1);
    // w = max(0.25, 1) = 1 → 1 column, centre 0.5; h = 2 → rows of 1 px, first row centre 0.5.
    expect(Array.from(keypoints)).toEqual([10.5, 10.5, 1]);
  });
  it('refuses logits that do not match R × m × m × K', () => {
    expect(() => heatmapsToKeypoints(new Float32Array(10), Float32Array.of(0, 0, 4, 4), 2, 2)).toThrow(/expected 1×2×2×2 logits for 1 boxes, found 10/);
  });
});

describe('resizeKeypoints (torchvision resize_keypoints)', () => {
  it('scales x by W_to/W_from and y by H_to/H_from, keeping the third column', () => {
    expect(Array.from(resizeKeypoints(Float32Array.of(10, 20, 1, 3, 4, 0.5), [100, 200], [50, 400]))).toEqual([20, 10, 1, 6, 2, 0.5]);
  });
});

describe('the keypoint branch in the engine (random weights, tiny model, wasm)', () => {
  const spec = { ...TINY, roiHeads: { ...TINY.roiHeads, keypointBranch: true, keypointHead: { layers: [8, 8] }, keypointPredictor: { numKeypoints: 5 } } };
  const image = randomImage(120, 90, 4);

  it('a model with both branches runs all 15 stages; the keypoint dumps have the documented shapes; a re-run of the mask paste leaves the keypoint branch alone', async () => {
    await useBackend('wasm');
    const config = toConfig(spec);
    const model = createMaskRcnn(randomStateDict(config, 2), spec);
    const trace = await runMaskRcnn(model, image);
    try {
      expect(trace.computed).toEqual(stagesOf(config));
      expect(trace.computed).toContain('keypoints');
      expect(trace.computed).toContain('paste');
      const d = trace.result.labels.length;
      expect(d).toBeGreaterThan(0);
      expect((await trace.dump('keypoint_logits')).shape).toEqual([d, 5, 56, 56]);
      expect((await trace.dump('keypoints')).shape).toEqual([d, 5, 3]);
      expect((await trace.dump('keypoints_scores')).shape).toEqual([d, 5]);
      expect(dumpNamesOf(config).slice(-6)).toEqual(['boxes', 'labels', 'scores', 'masks', 'keypoints', 'keypoints_scores']);
      // Keypoints lie in their detection's box (original image) and are the decoded argmax of the logits.
      for (let i = 0; i < d; i++) {
        const [x1, y1, x2, y2] = trace.result.boxes.subarray(4 * i, 4 * i + 4);
        for (let k = 0; k < 5; k++) {
          const o = (i * 5 + k) * 3;
          expect(trace.result.keypoints[o]!).toBeGreaterThanOrEqual(x1! - 1e-3);
          expect(trace.result.keypoints[o]!).toBeLessThanOrEqual(Math.max(x2!, x1! + 1) + 1e-3);
          expect(trace.result.keypoints[o + 1]!).toBeGreaterThanOrEqual(y1! - 1e-3);
          expect(trace.result.keypoints[o + 2]).toBe(1);
        }
      }
      const again = await rerunMaskRcnn(model, trace, { roiHeads: { maskPaste: 'exact' } });
      expect(again.computed).toEqual(['paste']);
      expect(Array.from(again.result.keypoints)).toEqual(Array.from(trace.result.keypoints));
      again.dispose();
      const kp = await rerunMaskRcnn(model, trace, { roiHeads: { keypointRoiPool: { samplingRatio: 0 } } });
      expect(kp.computed).toEqual(['keypointRoiPool', 'keypointHead', 'keypoints']);
      kp.dispose();
      const det = await rerunMaskRcnn(model, trace, { roiHeads: { postprocess: { scoreThresh: 0.2 } } });
      expect(det.computed).toEqual(['detections', 'maskRoiPool', 'maskHead', 'paste', 'keypointRoiPool', 'keypointHead', 'keypoints']);
      det.dispose();
    } finally {
      trace.dispose();
      model.dispose();
    }
  });

  it('a keypoint-only model has no mask stages or dumps, and asking for masks says so', async () => {
    const kpOnly = { ...spec, roiHeads: { ...spec.roiHeads, maskBranch: false } };
    const config = toConfig(kpOnly);
    const model = createMaskRcnn(randomStateDict(config, 5), kpOnly);
    const trace = await runMaskRcnn(model, image);
    try {
      expect(trace.computed.some((s) => s.startsWith('mask') || s === 'paste')).toBe(false);
      expect(trace.result.masks).toEqual([]);
      expect(dumpNamesOf(config)).not.toContain('masks');
      await expect(trace.dump('masks')).rejects.toThrow(/no such branch/);
    } finally {
      trace.dispose();
      model.dispose();
    }
  });

  it('keypointHeadData (one layer at a time, yielding between layers) equals keypointHead (one tidy, what training differentiates), bit for bit', async () => {
    const config = toConfig(spec);
    const net = loadKeypointHead(randomStateDict(config, 9), config);
    const pooled = tf.randomNormal([3, 14, 14, config.fpn.outChannels], 0, 1, 'float32', 4) as tf.Tensor4D;
    try {
      const direct = keypointHead(net, pooled);
      const data = await keypointHeadData(net, pooled);
      expect([data.size, data.numKeypoints]).toEqual([56, 5]);
      expect(Array.from(data.logits)).toEqual(Array.from(await direct.data()));
      direct.dispose();
    } finally {
      pooled.dispose();
      net.dispose();
    }
  });

  it('convTranspose2d(4×4, stride 2, padding 1) as one 3×3 conv + depth-to-space equals tf.conv2dTranspose cropped by 1: values and the gradients training uses (x, filter)', async () => {
    await useBackend('wasm');
    registerTrainingKernels();
    const x = tf.randomNormal([2, 5, 6, 7], 0, 1, 'float32', 11) as tf.Tensor4D;
    const filter = tf.randomNormal([4, 4, 3, 7], 0, 0.3, 'float32', 12) as tf.Tensor4D; // [k, k, O, C]
    const bias = tf.zeros([3]) as tf.Tensor1D;
    const reference = (xx: tf.Tensor4D, f: tf.Tensor4D) => tf.slice(tf.conv2dTranspose(xx, f, [2, 12, 14, 3], 2, 'valid'), [0, 1, 1, 0], [2, 10, 12, 3]);
    const ours = (xx: tf.Tensor4D, f: tf.Tensor4D) => convTranspose2d({ filter: f, bias, kernel: 4, stride: 2, pad: 1, outChannels: 3 }, xx);
    const weights = tf.randomNormal([2, 10, 12, 3], 0, 1, 'float32', 13);
    const close = async (a: tf.Tensor, b: tf.Tensor, what: string) => {
      expect(a.shape, what).toEqual(b.shape);
      const d = (await tf.max(tf.abs(tf.sub(a, b))).data())[0]!;
      expect(d, what).toBeLessThan(1e-5);
    };
    await close(ours(x, filter), reference(x, filter), 'values');
    const grads = (f: typeof ours) => tf.grads((xx: tf.Tensor, ff: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor4D, ff as tf.Tensor4D), weights)))([x, filter]);
    const [gx, gf] = grads(ours);
    const [rx, rf] = grads(reference);
    await close(gx!, rx!, 'd/dx');
    await close(gf!, rf!, 'd/dfilter');
    tf.dispose([x, filter, bias, weights, gx!, gf!, rx!, rf!]);
  });

  it('a config with neither branch is refused, naming the two fields', () => {
    expect(() => toConfig({ roiHeads: { maskBranch: false } })).toThrow(/roiHeads\.maskBranch.*keypoint branch \(roiHeads\.keypointBranch: true\)/);
  });
});

describe('bad keypoint checkpoints and names get a message naming the tensor or the counts', () => {
  const spec = { ...TINY, roiHeads: { ...TINY.roiHeads, keypointBranch: true, maskBranch: false, keypointHead: { layers: [8, 8] }, keypointPredictor: { numKeypoints: 5 } } };
  const config = toConfig(spec);

  it('NaN in a keypoint-head weight names the tensor and the index', () => {
    const sd = randomStateDict(config, 1);
    sd.get('roi_heads.keypoint_head.2.weight')!.data[7] = Number.NaN;
    expect(() => validateStateDict(sd, config)).toThrow(/roi_heads\.keypoint_head\.2\.weight holds NaN at index 7/);
  });

  it('a missing keypoint tensor is named with its shape', () => {
    const sd = randomStateDict(config, 1);
    sd.delete('roi_heads.keypoint_predictor.kps_score_lowres.bias');
    expect(() => validateStateDict(sd, config)).toThrow(/no roi_heads\.keypoint_predictor\.kps_score_lowres\.bias \(shape \[5\]\)/);
  });

  it('a checkpoint with 5 keypoints against a 17-keypoint config says to set numKeypoints to 5', () => {
    const sd = randomStateDict(config, 1);
    expect(() => validateStateDict(sd, toConfig({ ...spec, roiHeads: { ...spec.roiHeads, keypointPredictor: { numKeypoints: 17 } } }))).toThrow(
      /kps_score_lowres\.weight of shape \[8, 5, 4, 4\].*expects \[8, 17, 4, 4\].*numKeypoints \(num_keypoints\) to 5/,
    );
  });

  it('a Keypoint R-CNN checkpoint run as a Mask R-CNN says it is one; a Mask R-CNN run with a keypoint branch says it has none', () => {
    const kpOnly = randomStateDict(config, 1);
    expect(() => validateStateDict(kpOnly, toConfig(TINY))).toThrow(/looks like a Keypoint R-CNN checkpoint.*maskBranch: false.*keypointBranch: true/);
    const maskOnly = randomStateDict(toConfig(TINY), 1);
    expect(() => validateStateDict(maskOnly, toConfig({ ...spec, roiHeads: { ...spec.roiHeads, maskBranch: true } }))).toThrow(/no keypoint branch.*keypointBranch: false/);
  });

  it('keypoint names that do not fit the model are an error naming both counts; the figures\' and COCO\'s names are the defaults', () => {
    expect(() => keypointNamesOf(config, { keypointNames: ['a', 'b', 'c'] }, 'models/x/about.json')).toThrow(/models\/x\/about\.json names 3 keypoints.*model predicts 5/);
    expect(keypointNamesOf(config)).toEqual(['keypoint 0', 'keypoint 1', 'keypoint 2', 'keypoint 3', 'keypoint 4']);
    const coco = toConfig({ numClasses: 2, roiHeads: { keypointBranch: true, maskBranch: false } });
    expect(keypointNamesOf(coco)[0]).toBe('nose');
    expect(classNamesOf(coco)).toEqual(['__background__', 'person']);
    expect(classNamesOf(toConfig({ numClasses: 4 }))).toBeUndefined();
  });
});
