/**
 * Training targets and losses on hand-made cases (expectations computed by hand from torchvision's
 * definitions), and the wasm training kernels against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/data/random.ts';
import { BoxCoder } from '../src/geometry/index.ts';
import { useBackend } from '../src/node/backend.ts';
import { registerTrainingGradients, registerTrainingKernels } from '../src/train/kernels.ts';
import { bceWithLogits, crossEntropy, fastRcnnLoss, maskLoss, rpnLoss, smoothL1, softmaxMaskLoss } from '../src/train/losses.ts';
import {
  BELOW_LOW_THRESHOLD as BG, BETWEEN_THRESHOLDS as IGNORE, iouMatrix, maskTargets, matchPredictions, roiTargets, rpnTargets, sampleBalanced,
} from '../src/train/targets.ts';

const boxes = (...b: number[][]) => Float32Array.from(b.flat());

describe('matchPredictions (torchvision Matcher)', () => {
  // gt0 and gt1 against 5 predictions
  const quality = Float32Array.from([
    0.9, 0.62, 0.2, 0.1, 0.0,
    0.1, 0.6, 0.25, 0.5, 0.0,
  ]);
  const cfg = { highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: false };

  it('matchPredictions(high 0.7, low 0.3) gives the best gt, −1 below 0.3 and −2 in between', () => {
    expect(Array.from(matchPredictions(quality, 2, 5, cfg))).toEqual([0, IGNORE, BG, IGNORE, BG]);
  });

  it("matchPredictions with low-quality matches gives gt1's best prediction its own best gt (gt0), not gt1", () => {
    expect(Array.from(matchPredictions(quality, 2, 5, { ...cfg, allowLowQualityMatches: true }))).toEqual([0, 0, BG, IGNORE, BG]);
  });

  it('matchPredictions with low-quality matches keeps every tied best prediction of a gt', () => {
    const tied = Float32Array.from([0.9, 0.5, 0.2, 0.1, 0.0, 0.1, 0.65, 0.25, 0.65, 0.0]);
    expect(Array.from(matchPredictions(tied, 2, 5, { ...cfg, allowLowQualityMatches: true }))).toEqual([0, 1, BG, 1, BG]);
  });

  it('matchPredictions with no gt marks everything background', () => {
    expect(Array.from(matchPredictions(new Float32Array(0), 0, 3, cfg))).toEqual([BG, BG, BG]);
  });
});

describe('rpnTargets: anchor labels for a known gt', () => {
  const gt = boxes([0, 0, 10, 10], [40, 40, 50, 50]);
  const anchors = boxes(
    [0, 0, 10, 10], // IoU 1 with gt0 → 1
    [0, 0, 10, 12.5], // IoU 100/125 = 0.8 → 1
    [0, 0, 20, 10], // IoU 0.5 → ignored
    [20, 20, 30, 30], // IoU 0 → background
    [40, 40, 50, 60], // IoU 0.5 with gt1, but gt1's best anchor → 1 (low-quality match)
    [100, 100, 110, 110], // background
  );
  const cfg = { fgIouThresh: 0.7, bgIouThresh: 0.3, batchSizePerImage: 256, positiveFraction: 0.5 };
  const t = rpnTargets(anchors, gt, cfg, new BoxCoder([1, 1, 1, 1]), new Rng(0));

  it('rpnTargets labels ≥ 0.7 objects, < 0.3 background, in between ignored, and each gt’s best anchor object', () => {
    expect(Array.from(t.labels)).toEqual([1, 1, -1, 0, 1, 0]);
  });

  it('rpnTargets encodes the matched gt: 0 for the identical anchor, (0, −0.1, 0, ln 0.8) and (0, −0.25, 0, ln 0.5)', () => {
    expect(Array.from(t.regression.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    const r1 = Array.from(t.regression.subarray(4, 8));
    [0, -0.1, 0, Math.log(0.8)].forEach((v, i) => expect(r1[i]).toBeCloseTo(v, 6));
    const r4 = Array.from(t.regression.subarray(16, 20));
    [0, -0.25, 0, Math.log(0.5)].forEach((v, i) => expect(r4[i]).toBeCloseTo(v, 6));
  });

  it('rpnTargets samples every positive and negative when there are fewer than 256', () => {
    expect(Array.from(t.sampled.positive)).toEqual([0, 1, 4]);
    expect(Array.from(t.sampled.negative)).toEqual([3, 5]);
  });

  it('rpnTargets of an image without objects: all background, zero regression', () => {
    const e = rpnTargets(anchors, new Float32Array(0), cfg, new BoxCoder([1, 1, 1, 1]), new Rng(0));
    expect(Array.from(e.labels)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(e.regression.every((v) => v === 0)).toBe(true);
  });
});

describe('sampleBalanced (torchvision BalancedPositiveNegativeSampler)', () => {
  const labels = (pos: number, neg: number, ignored: number) => [...Array(pos).fill(1), ...Array(neg).fill(0), ...Array(ignored).fill(-1)];

  it('sampleBalanced(30 pos, 900 neg, 256, ½) takes all 30 positives and 226 negatives', () => {
    const s = sampleBalanced(labels(30, 900, 70), 256, 0.5, new Rng(1));
    expect(s.positive.length).toBe(30);
    expect(s.negative.length).toBe(226);
    expect(new Set(s.negative).size).toBe(226);
    expect([...s.negative].every((i) => i >= 30 && i < 930)).toBe(true);
  });

  it('sampleBalanced(200 pos, 900 neg, 256, ½) takes 128 of each; (200 pos, 50 neg, 512, ¼) takes 128 and 50', () => {
    const a = sampleBalanced(labels(200, 900, 0), 256, 0.5, new Rng(2));
    expect([a.positive.length, a.negative.length]).toEqual([128, 128]);
    const b = sampleBalanced(labels(200, 50, 0), 512, 0.25, new Rng(3));
    expect([b.positive.length, b.negative.length]).toEqual([128, 50]);
  });

  it('sampleBalanced is a function of its Rng: same seed, same sample; another seed, another sample', () => {
    const l = labels(200, 900, 0);
    expect(sampleBalanced(l, 256, 0.5, new Rng(7))).toEqual(sampleBalanced(l, 256, 0.5, new Rng(7)));
    expect(sampleBalanced(l, 256, 0.5, new Rng(8)).negative).not.toEqual(sampleBalanced(l, 256, 0.5, new Rng(7)).negative);
  });
});

describe('roiTargets (torchvision select_training_samples)', () => {
  const gt = boxes([0, 0, 10, 10], [40, 40, 50, 50]);
  const gtLabels = Int32Array.from([3, 5]);
  const cfg = { fgIouThresh: 0.5, bgIouThresh: 0.5, batchSizePerImage: 512, positiveFraction: 0.25 };
  const coder = new BoxCoder([10, 10, 5, 5]);

  it('roiTargets appends the gt boxes, labels IoU ≥ 0.5 with the gt class and the rest background', () => {
    const proposals = boxes([0, 0, 10, 10], [0, 0, 10, 19], [0, 0, 10, 21], [60, 60, 70, 70]);
    const t = roiTargets(proposals, gt, gtLabels, cfg, coder, new Rng(0));
    expect(Array.from(t.rois)).toEqual([...proposals, ...gt]);
    expect(Array.from(t.labels)).toEqual([3, 3, 0, 0, 3, 5]);
    expect(Array.from(t.matchedGt)).toEqual([0, 0, 0, 0, 0, 1]);
    // the gt box itself: zero deltas; [0, 0, 10, 19]: dy = 10·(5 − 9.5)/19, dh = 5·ln(10/19)
    expect(Array.from(t.regression.subarray(16, 24))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const r1 = Array.from(t.regression.subarray(4, 8));
    [0, (10 * (5 - 9.5)) / 19, 0, 5 * Math.log(10 / 19)].forEach((v, i) => expect(r1[i]).toBeCloseTo(v, 5));
  });

  it('roiTargets(512 RoIs, ¼ positive) keeps 128 of 300 positives and 384 of 1000 negatives', () => {
    const list: number[][] = [];
    for (let i = 0; i < 300; i++) list.push([0, 0, 10, 10 + (i % 5) * 0.1]);
    for (let i = 0; i < 1000; i++) list.push([100 + i, 100, 110 + i, 110]);
    const t = roiTargets(boxes(...list), gt, gtLabels, cfg, coder, new Rng(4));
    expect(t.labels.length).toBe(512);
    expect(t.labels.filter((l) => l > 0).length).toBe(128);
    expect(t.labels.filter((l) => l === 0).length).toBe(384);
  });
});

describe('maskTargets (torchvision project_masks_on_boxes: RoIAlign, scale 1, adaptive, aligned=false)', () => {
  const plane = (h: number, w: number, inside: (y: number, x: number) => boolean) => {
    const d = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d[y * w + x] = inside(y, x) ? 1 : 0;
    return d;
  };

  it('maskTargets of a box-shaped mask covering every sample point of the RoI is all ones', () => {
    // pixels 8..24 inclusive; RoI [8, 8, 24, 24]: samples at 8 + (j + ½)·16/28 ∈ (8, 24) interpolate ones
    const masks = { count: 1, height: 32, width: 32, data: plane(32, 32, (y, x) => y >= 8 && y <= 24 && x >= 8 && x <= 24) };
    const t = maskTargets(masks, boxes([8, 8, 24, 24]), Int32Array.from([0]), 28);
    for (const v of t) expect(v).toBeCloseTo(1, 6);
  });

  it('maskTargets of the tight box of pixels 8..23 fades on the last two rows/columns (no half-pixel shift)', () => {
    // x = 8 + (j + ½)·4/7: j = 26 → 23.143 → 1 − 0.143 = 0.857; j = 27 → 23.714 → 0.286; per axis, product in 2-D
    const masks = { count: 1, height: 32, width: 32, data: plane(32, 32, (y, x) => y >= 8 && y < 24 && x >= 8 && x < 24) };
    const t = maskTargets(masks, boxes([8, 8, 24, 24]), Int32Array.from([0]), 28);
    const profile = (j: number) => (j <= 25 ? 1 : 24 - (8 + (j + 0.5) * (16 / 28)));
    for (const [y, x] of [[0, 0], [13, 25], [13, 26], [27, 13], [27, 27], [26, 27]] as const) {
      expect(t[y * 28 + x]).toBeCloseTo(profile(y) * profile(x), 5);
    }
  });

  it('maskTargets of a ring has a hole: ~0 at the centre, ~1 on the band', () => {
    const masks = {
      count: 2,
      height: 64,
      width: 64,
      data: new Uint8Array([
        ...plane(64, 64, () => false),
        ...plane(64, 64, (y, x) => {
          const r = Math.hypot(x + 0.5 - 32, y + 0.5 - 32);
          return r >= 8 && r <= 20;
        }),
      ]),
    };
    const t = maskTargets(masks, boxes([12, 12, 52, 52]), Int32Array.from([1]), 28);
    expect(t[14 * 28 + 14]).toBeLessThan(0.05); // (32, 32): the hole
    expect(t[14 * 28 + 3]).toBeGreaterThan(0.95); // (17, 32): on the band, radius 15
    expect(t[0]).toBeLessThan(0.05); // the corner, outside the ring
  });

  it('iouMatrix is G × N row-major', () => {
    expect(Array.from(iouMatrix(boxes([0, 0, 10, 10]), boxes([0, 0, 10, 10], [0, 0, 20, 10], [20, 20, 30, 30])))).toEqual([1, 0.5, 0]);
  });
});

describe('losses on hand-made logits (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    registerTrainingKernels();
  });
  const value = async (t: tf.Tensor) => {
    const v = Array.from(await t.data());
    t.dispose();
    return v;
  };

  it('bceWithLogits of 0 logits is ln 2 whatever the target; of (2, target 0) is ln(1 + e²)', async () => {
    const v = await value(bceWithLogits(tf.tensor1d([0, 0, 0, 2]), tf.tensor1d([0, 1, 0.3, 0])));
    [Math.LN2, Math.LN2, Math.LN2, Math.log(1 + Math.exp(2))].forEach((e, i) => expect(v[i]).toBeCloseTo(e, 6));
  });

  it('smoothL1(β = 1/9): 0.5·d²/β below β, d − β/2 above', async () => {
    const v = await value(smoothL1(tf.tensor1d([0.05, 1, -2]), tf.tensor1d([0, 0, 0]), 1 / 9));
    [0.5 * 0.05 * 0.05 * 9, 1 - 0.5 / 9, 2 - 0.5 / 9].forEach((e, i) => expect(v[i]).toBeCloseTo(e, 6));
  });

  it('crossEntropy of uniform logits over K classes is ln K (wasm OneHot float32 bug avoided)', async () => {
    const [v] = await value(crossEntropy(tf.zeros([4, 7]) as tf.Tensor2D, tf.tensor1d([0, 1, 2, 6], 'int32')));
    expect(v).toBeCloseTo(Math.log(7), 6);
  });

  it('rpnLoss: mean BCE over sampled anchors; box = Σ smooth-L1 over positives / #sampled', async () => {
    const r = rpnLoss({
      objectness: tf.tensor1d([0, 2, -1, 0]),
      deltas: tf.tensor2d([[0.05, 0, 0, 1], [3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3]]),
      labels: tf.tensor1d([1, 0, 1, 0]),
      regression: tf.zeros([4, 4]) as tf.Tensor2D,
      sampled: tf.tensor1d([1, 1, 0, 1]),
      positive: tf.tensor1d([1, 0, 0, 0]),
    });
    const [obj] = await value(r.objectness);
    const [box] = await value(r.box);
    expect(obj).toBeCloseTo((2 * Math.LN2 + Math.log(1 + Math.exp(2))) / 3, 6);
    expect(box).toBeCloseTo((0.5 * 0.0025 * 9 + (1 - 0.5 / 9)) / 3, 6);
  });

  it('fastRcnnLoss: CE over all RoIs, box loss on the gt class’s deltas of positives only, / R', async () => {
    const reg = tf.tensor2d([
      [9, 9, 9, 9, 5, 5, 5, 5, 1, 0, 0, 0], // RoI 0, class 2: deltas (1, 0, 0, 0)
      [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7], // RoI 1: background, ignored
    ]);
    const r = fastRcnnLoss(tf.zeros([2, 3]) as tf.Tensor2D, reg, tf.tensor1d([2, 0], 'int32'), tf.zeros([2, 4]) as tf.Tensor2D);
    const [cls] = await value(r.classifier);
    const [box] = await value(r.box);
    expect(cls).toBeCloseTo(Math.log(3), 6);
    expect(box).toBeCloseTo((1 - 0.5 / 9) / 2, 6);
  });

  it('maskLoss reads the gt class channel only: 0 logits there, 100 elsewhere → ln 2', async () => {
    const logits = tf.tidy(() => tf.concat([tf.fill([1, 2, 2, 2], 100), tf.zeros([1, 2, 2, 1])], 3)) as tf.Tensor4D;
    const [v] = await value(maskLoss(logits, tf.tensor1d([2], 'int32'), tf.tensor3d([[[1, 0], [0.5, 1]]])));
    expect(v).toBeCloseTo(Math.LN2, 6);
  });

  it("maskLoss 'softmax' on one pixel, logits (0, ln 2, 0), class 1, target 0.25: −(0.25·ln ½ + 0.75·ln ¼) = 1.75·ln 2", async () => {
    // e^x = (1, 2, 1): p_background = 1/4, p_1 = 1/2.
    const logits = tf.tensor4d([0, Math.LN2, 0], [1, 1, 1, 3]);
    const [v] = await value(maskLoss(logits, tf.tensor1d([1], 'int32'), tf.tensor3d([[[0.25]]]), 'softmax'));
    expect(v).toBeCloseTo(1.75 * Math.LN2, 6);
  });

  it("softmaxMaskLoss averages over P·M·M pixels: two RoIs of 1×2 pixels, targets 1 and 0, uniform logits over 4 classes → ln 4", async () => {
    const [v] = await value(softmaxMaskLoss(tf.zeros([2, 1, 2, 4]) as tf.Tensor4D, tf.tensor1d([3, 1], 'int32'), tf.tensor3d([[[1, 0]], [[0, 1]]])));
    expect(v).toBeCloseTo(Math.log(4), 6);
  });

  it("the softmax mask loss moves every class's logit (classes compete), the sigmoid loss only the gt class's", async () => {
    const logits = tf.tensor4d([0.3, -0.2, 0.5, 0.1], [1, 1, 1, 4]);
    const labels = tf.tensor1d([2], 'int32');
    const target = tf.tensor3d([[[1]]]);
    const grad = async (loss: 'sigmoid' | 'softmax') => value(tf.grad((x: tf.Tensor) => maskLoss(x as tf.Tensor4D, labels, target, loss))(logits));
    const sig = await grad('sigmoid');
    const soft = await grad('softmax');
    expect(sig.map((g, c) => (c === 2 ? g !== 0 : g === 0))).toEqual([true, true, true, true]);
    expect(soft.every((g) => g !== 0)).toBe(true);
    // d(−log p_2)/dx_c = p_c − [c = 2]: the gradients sum to 0.
    expect(soft.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
  });

  it('maskLoss and fastRcnnLoss without RoIs are 0', async () => {
    const [m] = await value(maskLoss(tf.zeros([0, 28, 28, 3]) as tf.Tensor4D, tf.tensor1d([], 'int32'), tf.zeros([0, 28, 28]) as tf.Tensor3D));
    expect(m).toBe(0);
    const [s] = await value(maskLoss(tf.zeros([0, 28, 28, 3]) as tf.Tensor4D, tf.tensor1d([], 'int32'), tf.zeros([0, 28, 28]) as tf.Tensor3D, 'softmax'));
    expect(s).toBe(0);
  });
});

describe('wasm training kernels equal the cpu backend', () => {
  type Case = { name: string; run: () => tf.Tensor[] };
  const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const convGrads = (xs: number[], ws: number[], stride: number, pad: number) => () => {
    const x = rand(xs, 1) as tf.Tensor4D;
    const w = rand(ws, 2) as tf.Tensor4D;
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
      return tf.sum(tf.mul(y, rand(y.shape, 3)));
    };
    return tf.grads(f)([x, w]);
  };
  const cases: Case[] = [
    { name: 'conv 3×3 s1 p1: dx (XNNPACK path), dW', run: convGrads([2, 9, 7, 5], [3, 3, 5, 6], 1, 1) },
    { name: 'conv 3×3 s2 p1: dx (original kernel), dW', run: convGrads([2, 9, 7, 5], [3, 3, 5, 6], 2, 1) },
    { name: 'conv 7×7 s2 p3 (stem)', run: convGrads([1, 16, 12, 3], [7, 7, 3, 4], 2, 3) },
    { name: 'conv 1×1 s2 (downsample)', run: convGrads([1, 9, 9, 4], [1, 1, 4, 8], 2, 0) },
    {
      name: 'deconv 2×2 s2 forward (matmul path) and its gradients',
      run: () => {
        const x = rand([3, 4, 5, 6], 4) as tf.Tensor4D;
        const w = rand([2, 2, 3, 6], 5) as tf.Tensor4D;
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [3, 8, 10, 3], 2, 'valid'), rand([3, 8, 10, 3], 6)));
        return [tf.conv2dTranspose(x, w, [3, 8, 10, 3], 2, 'valid'), ...tf.grads(f)([x, w])];
      },
    },
    {
      name: 'matMul with transposeA / transposeB',
      run: () => [tf.matMul(rand([5, 3], 7), rand([5, 4], 8), true, false), tf.matMul(rand([3, 5], 9), rand([4, 5], 10), false, true), tf.matMul(rand([2, 5, 3], 11), rand([2, 4, 5], 12), true, true)],
    },
    {
      name: 'gather gradient (UnsortedSegmentSum) as in nearest upsampling',
      run: () => tf.grads((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, tf.tensor1d([0, 0, 1, 1, 2, 2, 2], 'int32'), 1), rand([1, 7, 2, 3], 13))))([rand([1, 3, 2, 3], 14)]),
    },
    {
      name: 'stridedSlice gradient (FPN pool: every other row and column)',
      run: () => tf.grads((x: tf.Tensor) => tf.sum(tf.mul(tf.stridedSlice(x, [0, 0, 0, 0], [1, 5, 7, 2], [1, 2, 2, 1]), rand([1, 3, 4, 2], 15))))([rand([1, 5, 7, 2], 16)]),
    },
  ];
  const expected = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    // The reference: the cpu backend's own kernels (only the gradient functions registered).
    await useBackend('cpu');
    registerTrainingGradients();
    for (const c of cases) {
      const out = c.run();
      expected.set(c.name, await Promise.all(out.map(async (t) => (await t.data()) as Float32Array)));
      tf.dispose(out);
    }
    await useBackend('wasm');
    registerTrainingKernels();
  });
  afterAll(async () => {
    await useBackend('wasm');
  });

  for (const c of cases) {
    it(`${c.name} on wasm = cpu (≤ 1e-5 relative)`, async () => {
      const out = c.run();
      const got = await Promise.all(out.map(async (t) => (await t.data()) as Float32Array));
      tf.dispose(out);
      const want = expected.get(c.name)!;
      expect(got.length).toBe(want.length);
      got.forEach((g, i) => {
        const w = want[i]!;
        expect(g.length).toBe(w.length);
        const scale = Math.max(1, ...Array.from(w, Math.abs));
        let diff = 0;
        for (let k = 0; k < g.length; k++) diff = Math.max(diff, Math.abs(g[k]! - w[k]!));
        expect(diff / scale).toBeLessThan(1e-5);
      });
    });
  }

  it('the cpu Conv2DBackpropFilter replacement equals the cpu backend’s own kernel', async () => {
    await useBackend('cpu');
    registerTrainingKernels();
    for (const name of ['conv 3×3 s2 p1: dx (original kernel), dW', 'conv 7×7 s2 p3 (stem)']) {
      const out = cases.find((c) => c.name === name)!.run();
      const got = (await out[1]!.data()) as Float32Array;
      tf.dispose(out);
      const want = expected.get(name)![1]!;
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      expect(Math.max(...Array.from(got, (g, k) => Math.abs(g - want[k]!))) / scale, name).toBeLessThan(1e-5);
    }
    await useBackend('wasm');
  });

  it('the stridedSlice gradient puts dy at every other position and zeros between', async () => {
    const g = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(tf.stridedSlice(x, [0, 0], [3, 5], [2, 2]), tf.tensor2d([[1, 2, 3], [4, 5, 6]]))))([tf.zeros([3, 5])]);
    expect(Array.from(await g[0]!.data())).toEqual([1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 4, 0, 5, 0, 6]);
    tf.dispose(g);
  });
});
