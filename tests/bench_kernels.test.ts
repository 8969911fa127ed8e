/**
 * The RoI kernel benchmark's pieces (bench/kernels.ts): the composed RoIAlign (mirror pad +
 * cropAndResize + avgPool per level, gathered back into RoI order) that the kernel is timed against
 * must compute what `multiScaleRoiPool` computes, or the comparison means nothing. Geometry of the
 * composition by hand, then the composition against the kernel on cpu (and webgpu where a Vulkan
 * driver is there); on webgpu also the kernel's channel-group layouts (scalar, vec4, several
 * invocations per bin) against the CPU twin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type Backend } from '../src/node/backend.ts';
import { nodeBackends } from './support/backends.ts';
import { multiScaleRoiPool, poolRoisHost, roiAlign, roiPool, roiWarp, type HostMap, type RoiKernelAttrs } from '../kernels/index.ts';
import {
  composedPlan, composedRoiAlign, composedTensors, levelsOf, makePyramid, makeRois, rng, STRIDES,
} from '../bench/kernels.ts';

const backends: Backend[] = nodeBackends().filter((b) => b !== 'wasm');

describe('bench/kernels.ts composition geometry (host)', () => {
  it('composedPlan(box 0,0,8,8, scale 1/4, 2×2, ratio 2) crops the padded 6×10 map from point 0.25 to 1.75 (+1 for the pad)', () => {
    // start 0, size max(2, 1) = 2, bin 1: points 0.25, 0.75 | 1.25, 1.75 → padded 1.25 … 2.75;
    // cropAndResize normalizes by (H + 2) − 1 = 7 and (W + 2) − 1 = 11.
    const plan = composedPlan(Float32Array.of(0, 0, 8, 8), Int32Array.of(0), [{ height: 6, width: 10 }], [0.25], [2, 2], 2);
    expect(plan.levels).toHaveLength(1);
    expect(Array.from(plan.levels[0]!.crops)).toEqual([1.25 / 7, 1.25 / 11, 2.75 / 7, 2.75 / 11].map(Math.fround));
  });

  it('composedPlan(box 10,10,11,11, scale 1/4, 2×2, ratio 2) takes the RoI size as 1 cell (aligned false): points 2.625 … 3.375', () => {
    // start 2.5, size 0.25 → 1, bin 0.5: first 2.5 + 0.125, last 2.5 + 0.5 + 0.375.
    const plan = composedPlan(Float32Array.of(10, 10, 11, 11), Int32Array.of(0), [{ height: 6, width: 10 }], [0.25], [2, 2], 2);
    expect(Array.from(plan.levels[0]!.crops)).toEqual([3.625 / 7, 3.625 / 11, 4.375 / 7, 4.375 / 11].map(Math.fround));
  });

  it('composedPlan(levels [1, 0, 1]) concatenates level 0 then level 1, and inverse = [1, 0, 2] restores RoI order', () => {
    const boxes = Float32Array.of(0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4);
    const maps = [{ height: 4, width: 4 }, { height: 2, width: 2 }];
    const plan = composedPlan(boxes, Int32Array.of(1, 0, 1), maps, [0.25, 0.125], [1, 1], 2);
    expect(plan.levels.map((l) => [l.level, Array.from(l.indices)])).toEqual([[0, [1]], [1, [0, 2]]]);
    expect(Array.from(plan.inverse)).toEqual([1, 0, 2]);
  });

  it('levelsOf(boxes of side 10, 56, 112, 224, 448, 2000) = [0, 0, 1, 2, 3, 3] (k = ⌊4 + log2(side/224)⌋ in [2, 5])', () => {
    const sides = [10, 56, 112, 224, 448, 2000];
    const boxes = Float32Array.from(sides.flatMap((s) => [0, 0, s, s]));
    expect(Array.from(levelsOf(boxes))).toEqual([0, 0, 1, 2, 3, 3]);
  });

  it('makeRois(200, 800×1088) is deterministic, inside the image, x1 ≤ x2 and y1 ≤ y2', () => {
    const a = makeRois(200, [800, 1088], 3);
    expect(Array.from(makeRois(200, [800, 1088], 3))).toEqual(Array.from(a));
    for (let i = 0; i < 200; i++) {
      const [x1, y1, x2, y2] = [a[4 * i]!, a[4 * i + 1]!, a[4 * i + 2]!, a[4 * i + 3]!];
      expect(x1 >= 0 && y1 >= 0 && x2 <= 1088 && y2 <= 800 && x1 <= x2 && y1 <= y2, `box ${i}: ${[x1, y1, x2, y2]}`).toBe(true);
    }
  });
});

/** A 4-level pyramid of a 64×96 image (16×24 … 2×3) and 24 RoIs: random, partly and fully outside, tiny. */
function smallProblem(channels: number) {
  const image: [number, number] = [64, 96];
  const pyramid = makePyramid(image, channels, 5);
  const random = makeRois(18, image, 6);
  const extra = [
    -20, -10, 30, 20, // partly outside, top left
    80, 50, 130, 90, // partly outside, bottom right
    200, 200, 260, 260, // entirely outside: every point reads 0
    40, 30, 40.5, 30.2, // tiny: size clamped to 1 cell
    -3, 5, 101, 70, // wider and taller than the image
    10, 12, 60, 13, // a thin strip
  ];
  const boxes = Float32Array.from([...random, ...extra]);
  const levels = levelsOf(boxes);
  // make every level appear at least once
  levels.set([0, 1, 2, 3], 0);
  return { pyramid, boxes, levels, scales: STRIDES.map((s) => 1 / s) };
}

for (const backend of backends) {
  describe(`composed RoIAlign vs multiScaleRoiPool on ${backend}`, () => {
    let before = 0;
    beforeAll(async () => {
      await useBackend(backend);
      before = tf.memory().numTensors;
    });
    afterAll(() => expect(tf.memory().numTensors).toBe(before));

    const cases: { channels: number; outputSize: [number, number]; ratio: number }[] = [
      { channels: 3, outputSize: [2, 3], ratio: 2 },
      { channels: 8, outputSize: [3, 3], ratio: 2 },
      { channels: 8, outputSize: [2, 2], ratio: 3 },
    ];
    for (const { channels, outputSize, ratio } of cases) {
      it(`composedRoiAlign(pad + cropAndResize + avgPool, ${outputSize.join('×')}, ratio ${ratio}, C ${channels}) equals multiScaleRoiPool(roiAlign, aligned false) within 1e-5 on 24 RoIs`, async () => {
        const { pyramid, boxes, levels, scales } = smallProblem(channels);
        const K = levels.length;
        const plan = composedTensors(composedPlan(boxes, levels, pyramid, scales, outputSize, ratio));
        const features = pyramid.map((m) => tf.tensor4d(m.data, [1, m.height, m.width, channels]));
        const [a, b] = tf.tidy(() => [
          multiScaleRoiPool(features, tf.tensor2d(boxes, [K, 4]), tf.tensor1d(levels, 'int32'), {
            pooler: 'roiAlign', outputSize, scales, samplingRatio: ratio, aligned: false,
          }),
          composedRoiAlign(features, plan, outputSize, ratio),
        ]);
        expect(b.shape).toEqual([K, ...outputSize, channels]);
        const [va, vb] = [await a.data(), await b.data()];
        tf.dispose([a, b, ...features, plan.inverse, ...plan.levels.flatMap((l) => [l.crops, l.boxIndex])]);
        let err = 0;
        va.forEach((v, i) => (err = Math.max(err, Math.abs(v - vb[i]!))));
        console.log(`[bench_kernels] ${backend} C ${channels} ${outputSize.join('×')} ratio ${ratio}: max |composed − kernel| = ${err.toExponential(2)}`);
        expect(err).toBeLessThanOrEqual(1e-5);
        // the fully outside box pools zeros in both
        const per = outputSize[0] * outputSize[1] * channels;
        const outside = 18 + 2;
        expect(Array.from(vb.slice(outside * per, (outside + 1) * per)).every((v) => v === 0)).toBe(true);
      });
    }

    it.runIf(backend === 'webgpu')(
      'roiAlign/roiWarp (avg, max) and roiPool on webgpu with C = 5, 8, 68 (one channel per group; vec4 groups; 3 invocations per bin) equal the CPU twin',
      async () => {
        const next = rng(21);
        for (const C of [5, 8, 68]) {
          const [N, H, W, K] = [2, 9, 13, 10];
          const x = Float32Array.from({ length: N * H * W * C }, () => 2 * next() - 1);
          const rois = new Float32Array(5 * K);
          for (let k = 0; k < K; k++) {
            const x1 = next() * 60 - 6, y1 = next() * 44 - 6;
            rois.set([k % N, x1, y1, x1 + next() * 30, y1 + next() * 24], 5 * k);
          }
          const map: HostMap = { data: x, batch: N, height: H, width: W, channels: C };
          const ops: { attrs: RoiKernelAttrs; run: (xt: tf.Tensor4D, rt: tf.Tensor2D) => tf.Tensor4D }[] = [];
          for (const mode of ['avg', 'max'] as const) {
            for (const samplingRatio of [2, 0]) {
              const attrs: RoiKernelAttrs = { pooler: 'roiAlign', mode, outputSize: [3, 2], scales: [0.25], samplingRatio, aligned: true };
              ops.push({ attrs, run: (xt, rt) => roiAlign(xt, rt, { outputSize: [3, 2], spatialScale: 0.25, samplingRatio, aligned: true, mode }) });
              const warp: RoiKernelAttrs = { ...attrs, pooler: 'roiWarp', aligned: false };
              ops.push({ attrs: warp, run: (xt, rt) => roiWarp(xt, rt, { outputSize: [3, 2], spatialScale: 0.25, samplingRatio, mode }) });
            }
          }
          const pool: RoiKernelAttrs = { pooler: 'roiPool', mode: 'max', outputSize: [3, 2], scales: [0.25], samplingRatio: 0, aligned: false };
          ops.push({ attrs: pool, run: (xt, rt) => roiPool(xt, rt, { outputSize: [3, 2], spatialScale: 0.25 }) });
          for (const { attrs, run } of ops) {
            const want = new Float32Array(K * 3 * 2 * C);
            poolRoisHost([map], rois, 5, null, attrs, want);
            const y = tf.tidy(() => run(tf.tensor4d(x, [N, H, W, C]), tf.tensor2d(rois, [K, 5])));
            const got = await y.data();
            y.dispose();
            let err = 0;
            got.forEach((v, i) => (err = Math.max(err, Math.abs(v - want[i]!))));
            const what = `${attrs.pooler} ${attrs.mode} sampling ${attrs.samplingRatio} C ${C}`;
            // RoIPool picks a stored value: exact; the twin computes bilinear values in float64
            expect(err, what).toBeLessThanOrEqual(attrs.pooler === 'roiPool' ? 0 : 1e-6);
          }
        }
      },
    );
  });
}
