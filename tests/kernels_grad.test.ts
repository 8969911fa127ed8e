/**
 * Gradients of the RoI kernels (kernels/roi_grad.ts) wrt the feature maps:
 * - numerical checks: central differences of L(x) = Σ dy ⊙ op(x), summed in float64 on the host, on
 *   small random maps, against tf.grad, for every op and pooler on every backend in Node. The data
 *   and steps are dyadic (x ± h exact in float32). RoIAlign/RoIWarp 'avg' are linear in x, so a large
 *   step is exact up to float32 rounding of the outputs. The max poolers are piecewise linear: map
 *   values are distinct (a permutation of k/64), so RoIPool's argmax never moves within the step; for
 *   RoIAlign/RoIWarp 'max' a coordinate whose one-sided differences disagree has a change of winner
 *   within the step (a kink) and is skipped (counted, and bounded).
 * - structure: no gradient to the boxes, batch routing, multi-scale = single-map per level, any
 *   number of levels, no leaks.
 * - parity with torchvision's backward (tests/oracle/roi_grad.py: torch autograd through
 *   torchvision.ops.roi_align, roi_pool and MultiScaleRoIAlign, and roi_pool per level).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients'; // Sum and Tile gradients for the empty-RoI case
import { decodeNpy, encodeNpy } from '../src/io/npy.ts';
import { useBackend, type Backend } from '../src/node/backend.ts';
import { multiScaleRoiPool, roiAlign, roiPool, roiWarp, type RoiPooler, type RoiReduce } from '../kernels/index.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';
import { mulberry32, nodeBackends } from './support/backends.ts';



/** n distinct values k/64 − n/128 (k = 0 … n−1) in random order: dyadic, ≥ 1/64 apart. */
function distinctValues(n: number, rng: () => number): Float32Array {
  const v = Array.from({ length: n }, (_, k) => k / 64 - n / 128);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return Float32Array.from(v);
}

interface Pooling {
  pooler: RoiPooler;
  mode: RoiReduce;
  samplingRatio: number;
  aligned: boolean;
  outputSize: [number, number];
}

function describePooling(p: Pooling): string {
  if (p.pooler === 'roiPool') return `roiPool ${p.outputSize.join('×')}`;
  return `${p.pooler} ${p.outputSize.join('×')}, sampling ${p.samplingRatio}${p.pooler === 'roiAlign' ? `, aligned ${p.aligned}` : ''}, ${p.mode}`;
}

function pool(x: tf.Tensor4D, rois: tf.Tensor2D, p: Pooling, scale: number): tf.Tensor4D {
  if (p.pooler === 'roiAlign') return roiAlign(x, rois, { outputSize: p.outputSize, spatialScale: scale, samplingRatio: p.samplingRatio, aligned: p.aligned, mode: p.mode });
  if (p.pooler === 'roiWarp') return roiWarp(x, rois, { outputSize: p.outputSize, spatialScale: scale, samplingRatio: p.samplingRatio, mode: p.mode });
  return roiPool(x, rois, { outputSize: p.outputSize, spatialScale: scale });
}

const routed = (p: Pooling) => p.pooler === 'roiPool' || p.mode === 'max';

/** Step h: large for the linear (avg) poolers, small for the max poolers (1/4 of the value spacing). */
const stepOf = (p: Pooling) => (routed(p) ? 2 ** -8 : 2 ** -4);

/**
 * Central differences of L = Σ dy·f(x) for every coordinate of x; `evaluate` returns f at many
 * points at once (one row of outputs per point). Coordinates where (L(x+h) − L(x))/h and
 * (L(x) − L(x−h))/h differ by more than `kinkTol` are reported as kinks (NaN).
 */
async function numericalGradient(
  x: Float32Array, h: number, dy: Float32Array, kinkTol: number,
  evaluate: (points: Float32Array[]) => Promise<Float32Array[]>,
): Promise<Float64Array> {
  const points: Float32Array[] = [x];
  for (let i = 0; i < x.length; i++) {
    const plus = x.slice(), minus = x.slice();
    plus[i] = x[i]! + h;
    minus[i] = x[i]! - h;
    if (plus[i]! - x[i]! !== h || x[i]! - minus[i]! !== h) throw new Error(`step ${h} is not exact at x[${i}] = ${x[i]}`);
    points.push(plus, minus);
  }
  const outputs = await evaluate(points);
  const loss = outputs.map((y) => {
    let s = 0;
    for (let j = 0; j < y.length; j++) s += dy[j]! * y[j]!;
    return s;
  });
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const l0 = loss[0]!, lp = loss[1 + 2 * i]!, lm = loss[2 + 2 * i]!;
    g[i] = Math.abs((lp - l0) / h - (l0 - lm) / h) > kinkTol ? NaN : (lp - lm) / (2 * h);
  }
  return g;
}

function compare(numeric: Float64Array, analytic: ArrayLike<number>) {
  let err = 0, at = -1, kinks = 0, nonzero = 0;
  for (let i = 0; i < numeric.length; i++) {
    if (Number.isNaN(numeric[i])) { kinks++; continue; }
    if (analytic[i] !== 0) nonzero++;
    const d = Math.abs(numeric[i]! - analytic[i]!);
    if (!(d <= err)) { err = d; at = i; }
  }
  return { err, at, kinks, nonzero };
}

// ---- single-map ops: x [1, 6, 7, 2] at scale 0.5 (image 12×14) -----------------------------------
const H = 6, W = 7, C = 2;
const SCALE = 0.5;
const rng = mulberry32(31);
const X_DISTINCT = distinctValues(H * W * C, rng);
/** RoIs (batch 0): inside, straddling each edge, tiny, inverted, larger than the map. */
const ROIS = [
  [0, 1.3, 2.1, 9.7, 8.6],
  [0, 4.2, 0.4, 13.1, 5.3],
  [0, -3.4, 5.1, 5.2, 14.6],
  [0, 9.1, 7.3, 17.4, 13.8],
  [0, 6.3, 6.6, 6.9, 7.1],
  [0, 8.2, 9.1, 5.4, 4.7],
  [0, -2.2, -1.6, 15.3, 13.4],
  [0, 2, 2, 10, 6],
].flat();
const K = ROIS.length / 5;

const POOLINGS: Pooling[] = [];
for (const aligned of [false, true]) {
  for (const samplingRatio of [2, 0]) POOLINGS.push({ pooler: 'roiAlign', mode: 'avg', samplingRatio, aligned, outputSize: [2, 3] });
}
POOLINGS.push({ pooler: 'roiAlign', mode: 'max', samplingRatio: 2, aligned: false, outputSize: [2, 3] });
POOLINGS.push({ pooler: 'roiAlign', mode: 'max', samplingRatio: 0, aligned: true, outputSize: [2, 3] });
POOLINGS.push({ pooler: 'roiWarp', mode: 'avg', samplingRatio: 2, aligned: false, outputSize: [2, 3] });
POOLINGS.push({ pooler: 'roiWarp', mode: 'avg', samplingRatio: 0, aligned: false, outputSize: [2, 3] });
POOLINGS.push({ pooler: 'roiWarp', mode: 'max', samplingRatio: 2, aligned: false, outputSize: [2, 3] });
POOLINGS.push({ pooler: 'roiPool', mode: 'max', samplingRatio: 0, aligned: false, outputSize: [2, 3] });

// ---- multi-scale: 2 levels, 6×6 at 1/4 and 3×3 at 1/8 (image 24×24), C = 2 ---------------------
const LEVEL_SIZES = [6, 3];
const LEVEL_SCALES = [0.25, 0.125];
const LEVEL_X = LEVEL_SIZES.map((s) => distinctValues(s * s * C, rng));
const BOXES = [[2.5, 3.1, 17.6, 12.2], [6.4, 4.3, 25.5, 22.2], [-4.1, 14.3, 9.2, 27.8], [3.2, 3.7, 20.4, 17.3], [15.1, 1.2, 21.7, 7.9]].flat();
const BOX_LEVELS = [0, 1, 0, 1, 0];
const MULTI: Pooling[] = [
  { pooler: 'roiAlign', mode: 'avg', samplingRatio: 2, aligned: false, outputSize: [2, 2] },
  { pooler: 'roiAlign', mode: 'avg', samplingRatio: 0, aligned: true, outputSize: [2, 2] },
  { pooler: 'roiPool', mode: 'max', samplingRatio: 0, aligned: false, outputSize: [2, 2] },
  { pooler: 'roiWarp', mode: 'max', samplingRatio: 2, aligned: false, outputSize: [2, 2] },
];

function multiPool(levels: tf.Tensor4D[], p: Pooling): tf.Tensor4D {
  return multiScaleRoiPool(levels, tf.tensor2d(BOXES, [BOXES.length / 4, 4]), tf.tensor1d(BOX_LEVELS, 'int32'), {
    pooler: p.pooler, outputSize: p.outputSize, scales: LEVEL_SCALES, samplingRatio: p.samplingRatio, aligned: p.aligned, mode: p.mode,
  });
}

/**
 * Avg: linear, a step of 1/16: float32 rounding of the outputs only (measured ≤ 1e-6). Max: a step
 * of 1/256, so the same rounding weighs 16× more (measured ≤ 1.1e-5); kinks are skipped.
 */
const gradTol = (p: Pooling) => (routed(p) ? 1e-4 : 1e-5);
const KINK_TOL = 1e-3;

for (const backend of nodeBackends()) {
  describe(`RoI gradients on ${backend}`, () => {
    let before = 0;
    const report: string[] = [];
    beforeAll(async () => {
      await useBackend(backend);
      before = tf.memory().numTensors;
    });
    afterAll(() => {
      console.log(`[kernels_grad] ${backend}: largest |numerical − tf.grad| per case\n  ${report.join('\n  ')}`);
      expect(tf.memory().numTensors).toBe(before);
    });

    for (const p of POOLINGS) {
      // Linear poolers get random dyadic values, the max poolers distinct ones (see the header).
      const x = routed(p) ? X_DISTINCT : Float32Array.from(X_DISTINCT, (v, i) => v * (1 + (i % 3)));
      const dyRng = mulberry32(7);
      const dy = Float32Array.from({ length: K * p.outputSize[0] * p.outputSize[1] * C }, () => Math.round(dyRng() * 512 - 256) / 256);

      it(`tf.grad of ${describePooling(p)} (scale ${SCALE}, ${K} RoIs) matches central differences within ${gradTol(p)}`, async () => {
        const analytic = tf.tidy(() => tf.grad((t: tf.Tensor) => pool(t as tf.Tensor4D, tf.tensor2d(ROIS, [K, 5]), p, SCALE))(
          tf.tensor4d(x, [1, H, W, C]), tf.tensor4d(dy, [K, ...p.outputSize, C])));
        const got = await analytic.data();
        analytic.dispose();
        // All perturbed maps in one call: image b of the batch is point b, each with its own copy of the RoIs.
        const numeric = await numericalGradient(x, stepOf(p), dy, KINK_TOL, async (points) => {
          const batch = new Float32Array(points.length * x.length);
          points.forEach((pt, b) => batch.set(pt, b * x.length));
          const rois = points.flatMap((_, b) => Array.from({ length: K }, (_, k) => [b, ...ROIS.slice(5 * k + 1, 5 * k + 5)]).flat());
          const y = tf.tidy(() => pool(tf.tensor4d(batch, [points.length, H, W, C]), tf.tensor2d(rois, [rois.length / 5, 5]), p, SCALE));
          const all = await y.data();
          y.dispose();
          const per = dy.length;
          return points.map((_, b) => all.slice(b * per, (b + 1) * per) as Float32Array);
        });
        const { err, at, kinks, nonzero } = compare(numeric, got);
        report.push(`${describePooling(p)}: ${err.toExponential(2)} (${kinks} kinks skipped of ${x.length})`);
        expect(nonzero, 'gradient entries checked that are not 0').toBeGreaterThan(x.length / 4);
        if (p.pooler === 'roiPool') expect(kinks).toBe(0); // distinct values: the argmax cannot move
        expect(kinks).toBeLessThanOrEqual(x.length / 8);
        expect(err, `at x[${at}]: numerical ${numeric[at]}, tf.grad ${got[at]}`).toBeLessThanOrEqual(gradTol(p));
      });
    }

    for (const p of MULTI) {
      it(`tf.grads of multiScaleRoiPool(${describePooling(p)}, 2 levels) wrt each level map matches central differences within ${gradTol(p)}`, async () => {
        const dyRng = mulberry32(8);
        const k = BOXES.length / 4;
        const dy = Float32Array.from({ length: k * p.outputSize[0] * p.outputSize[1] * C }, () => Math.round(dyRng() * 512 - 256) / 256);
        const grads = tf.tidy(() => tf.grads((...levels: tf.Tensor[]) => multiPool(levels as tf.Tensor4D[], p))(
          LEVEL_X.map((v, l) => tf.tensor4d(v, [1, LEVEL_SIZES[l]!, LEVEL_SIZES[l]!, C])), tf.tensor4d(dy, [k, ...p.outputSize, C])));
        const got = await Promise.all(grads.map((g) => g.data()));
        tf.dispose(grads);
        for (let l = 0; l < LEVEL_X.length; l++) {
          // One call per perturbed point (the multi-scale op pools from one image).
          const numeric = await numericalGradient(LEVEL_X[l]!, stepOf(p), dy, KINK_TOL, async (points) => {
            const outs: Float32Array[] = [];
            for (const pt of points) {
              const y = tf.tidy(() => multiPool(LEVEL_X.map((v, j) => tf.tensor4d(j === l ? pt : v, [1, LEVEL_SIZES[j]!, LEVEL_SIZES[j]!, C])), p));
              outs.push((await y.data()) as Float32Array);
              y.dispose();
            }
            return outs;
          });
          const { err, at, kinks, nonzero } = compare(numeric, got[l]!);
          report.push(`multiScaleRoiPool ${describePooling(p)} level ${l}: ${err.toExponential(2)} (${kinks} kinks)`);
          expect(nonzero, `level ${l}: gradient entries that are not 0`).toBeGreaterThan(0);
          expect(kinks).toBeLessThanOrEqual(LEVEL_X[l]!.length / 8);
          expect(err, `level ${l} at ${at}: numerical ${numeric[at]}, tf.grad ${got[l]![at]}`).toBeLessThanOrEqual(gradTol(p));
        }
      });
    }

    it('tf.grads of roiAlign wrt [x, rois] gives a zero gradient for the rois (none flows to the boxes)', async () => {
      const [dx, drois] = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => roiAlign(a as tf.Tensor4D, b as tf.Tensor2D, {
        outputSize: [2, 2], spatialScale: SCALE, samplingRatio: 2, aligned: false,
      }))([tf.tensor4d(X_DISTINCT, [1, H, W, C]), tf.tensor2d(ROIS, [K, 5])]));
      expect(drois!.shape).toEqual([K, 5]);
      expect(Array.from(await drois!.data()).every((v) => v === 0)).toBe(true);
      expect(Array.from(await dx!.data()).some((v) => v !== 0)).toBe(true);
      tf.dispose([dx!, drois!]);
    });

    it('roiPool gradient on a 2-image batch: each image gets only the gradient of the RoIs with its batch index', async () => {
      const x2 = Float32Array.from({ length: 2 * H * W * C }, (_, i) => X_DISTINCT[i % X_DISTINCT.length]! + (i >= H * W * C ? 0.5 : 0));
      const rois = ROIS.map((v, i) => (i % 5 === 0 ? (i / 5) % 2 : v)); // batch 0, 1, 0, 1, …
      const opts = { outputSize: [2, 3] as [number, number], spatialScale: SCALE };
      const dy = tf.tidy(() => tf.randomUniform([K, 2, 3, C], -1, 1, 'float32', 3));
      const both = tf.tidy(() => tf.grad((t: tf.Tensor) => roiPool(t as tf.Tensor4D, tf.tensor2d(rois, [K, 5]), opts))(tf.tensor4d(x2, [2, H, W, C]), dy));
      const gotBoth = await both.data();
      for (const b of [0, 1]) {
        const mine = Array.from({ length: K }, (_, k) => k).filter((k) => k % 2 === b);
        const alone = tf.tidy(() => {
          const xb = tf.tensor4d(x2.slice(b * H * W * C, (b + 1) * H * W * C), [1, H, W, C]);
          const rb = tf.tensor2d(mine.flatMap((k) => [0, ...rois.slice(5 * k + 1, 5 * k + 5)]), [mine.length, 5]);
          const dyb = tf.gather(dy, mine);
          return tf.grad((t: tf.Tensor) => roiPool(t as tf.Tensor4D, rb, opts))(xb, dyb);
        });
        const gotAlone = await alone.data();
        alone.dispose();
        expect(Array.from(gotBoth.slice(b * H * W * C, (b + 1) * H * W * C))).toEqual(Array.from(gotAlone));
      }
      tf.dispose([dy, both]);
    });

    for (const p of [MULTI[0]!, MULTI[2]!]) {
      it(`multiScaleRoiPool(${describePooling(p)}) gradient of level l equals the single-map gradient from level l's boxes, for 1, 2 and 4 levels`, async () => {
        const tol = backend === 'webgpu' ? 1e-6 : 0;
        for (const numLevels of [1, 2, 4]) {
          const sizes = [16, 8, 4, 2].slice(0, numLevels);
          const scales = [1 / 4, 1 / 8, 1 / 16, 1 / 32].slice(0, numLevels);
          const maps = sizes.map((s) => distinctValues(s * s * C, rng));
          const boxes = [[3, 4, 40, 30], [10, 2, 60, 60], [0, 0, 20, 9], [30, 33, 63, 61], [-5, 12, 25, 70], [7, 8, 9, 10]].flat();
          const levels = Int32Array.from({ length: boxes.length / 4 }, (_, k) => k % numLevels);
          const k = boxes.length / 4;
          const dy = tf.tidy(() => tf.randomUniform([k, ...p.outputSize, C], -1, 1, 'float32', numLevels));
          const grads = tf.tidy(() => tf.grads((...ls: tf.Tensor[]) => multiScaleRoiPool(ls as tf.Tensor4D[], tf.tensor2d(boxes, [k, 4]), tf.tensor1d(levels, 'int32'), {
            pooler: p.pooler, outputSize: p.outputSize, scales, samplingRatio: p.samplingRatio, aligned: p.aligned, mode: p.mode,
          }))(maps.map((v, l) => tf.tensor4d(v, [1, sizes[l]!, sizes[l]!, C])), dy));
          for (let l = 0; l < numLevels; l++) {
            const mine = Array.from({ length: k }, (_, r) => r).filter((r) => levels[r] === l);
            const single = tf.tidy(() => tf.grad((t: tf.Tensor) => pool(t as tf.Tensor4D, tf.tensor2d(mine.flatMap((r) => [0, ...boxes.slice(4 * r, 4 * r + 4)]), [mine.length, 5]), p, scales[l]!))(
              tf.tensor4d(maps[l]!, [1, sizes[l]!, sizes[l]!, C]), tf.gather(dy, mine)));
            const [a, b] = [await grads[l]!.data(), await single.data()];
            single.dispose();
            expect(grads[l]!.shape).toEqual([1, sizes[l]!, sizes[l]!, C]);
            const err = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
            expect(err, `${numLevels} levels, level ${l}`).toBeLessThanOrEqual(tol);
            expect(Array.from(a).some((v) => v !== 0)).toBe(true);
          }
          tf.dispose([dy, ...grads]);
        }
      });
    }

    it('tf.grad of multiScaleRoiPool wrt level 1 only (level 0 a constant) runs one backward and matches tf.grads', async () => {
      const p = MULTI[0]!;
      const maps = LEVEL_X.map((v, l) => tf.tensor4d(v, [1, LEVEL_SIZES[l]!, LEVEL_SIZES[l]!, C]));
      const [onlyOne, both] = tf.tidy(() => {
        const g1 = tf.grad((t: tf.Tensor) => multiPool([maps[0]!, t as tf.Tensor4D], p))(maps[1]!);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => multiPool([a as tf.Tensor4D, b as tf.Tensor4D], p))(maps);
        return [g1, g[1]!];
      });
      expect(Array.from(await onlyOne!.data())).toEqual(Array.from(await both!.data()));
      tf.dispose([onlyOne!, both!, ...maps]);
    });
  });
}

// ---- parity with torchvision's backward ----------------------------------------------------------

const PN = 2, PH = 13, PW = 17, PC = 5;
const prng = mulberry32(2025);
const PX = Float32Array.from({ length: PN * PH * PW * PC }, () => prng() * 4 - 2);
function parityRois(): Float32Array {
  const r: number[] = [];
  const push = (x1: number, y1: number, x2: number, y2: number) => r.push(Math.floor(prng() * PN), x1, y1, x2, y2);
  const box = (x: number, y: number, w: number, h: number) => push(x, y, x + w, y + h);
  for (let i = 0; i < 10; i++) box(prng() * 60, prng() * 45, 4 + prng() * 36, 4 + prng() * 26); // inside
  for (let i = 0; i < 3; i++) box(-20 + prng() * 18, prng() * 40, 8 + prng() * 30, 6 + prng() * 20); // left edge
  for (let i = 0; i < 3; i++) box(50 + prng() * 15, 35 + prng() * 15, 10 + prng() * 30, 10 + prng() * 20); // bottom-right
  for (let i = 0; i < 4; i++) box(prng() * 66, prng() * 50, prng() * 2, prng() * 2); // tiny
  for (let i = 0; i < 2; i++) { const x = 10 + prng() * 50, y = 10 + prng() * 35; push(x, y, x - 6, y - 5); } // inverted
  for (let i = 0; i < 4; i++) { // on the grid: RoIPool's rounding ties
    const g = () => 2 * Math.floor(prng() * 34) - 2;
    const x1 = g(), y1 = g() * 0.75;
    push(x1, y1, x1 + 2 + 2 * Math.floor(prng() * 10), y1 + 2 + 2 * Math.floor(prng() * 8));
  }
  box(-10, -10, 90, 70);
  return Float32Array.from(r);
}
const PROIS = parityRois();
const PK = PROIS.length / 5;

interface ParityCase { name: string; op: 'roi_align' | 'roi_pool'; outputSize: [number, number]; spatialScale: number; samplingRatio?: number; aligned?: boolean }
const PARITY: ParityCase[] = [
  { name: 'align_f_s2', op: 'roi_align', outputSize: [3, 4], spatialScale: 0.25, samplingRatio: 2, aligned: false },
  { name: 'align_t_s2', op: 'roi_align', outputSize: [3, 4], spatialScale: 0.25, samplingRatio: 2, aligned: true },
  { name: 'align_f_s0', op: 'roi_align', outputSize: [3, 4], spatialScale: 0.25, samplingRatio: 0, aligned: false },
  { name: 'align_t_s0', op: 'roi_align', outputSize: [2, 2], spatialScale: 0.5, samplingRatio: -1, aligned: true },
  { name: 'pool_quarter', op: 'roi_pool', outputSize: [3, 4], spatialScale: 0.25 },
  { name: 'pool_half', op: 'roi_pool', outputSize: [2, 3], spatialScale: 0.5 },
];
const PDY = new Map(PARITY.map((c) => [c.name, Float32Array.from({ length: PK * c.outputSize[0] * c.outputSize[1] * PC }, () => prng() * 2 - 1)]));

// pyramid: image 128×128, maps 32, 16, 8, 4 (1/4 … 1/32), C = 3; 7×7 like the box head
const MSIZES = [32, 16, 8, 4], MC = 3;
const MLEVELS = MSIZES.map((s) => Float32Array.from({ length: s * s * MC }, () => prng() * 4 - 2));
const MBOXES = Float32Array.from(Array.from({ length: 24 }, () => {
  const side = 4 * Math.pow(2, prng() * 7.3); // 4 … ~630 px: every level (P5 from 448)
  const w = side * (0.5 + prng()), h = (side * side) / w;
  const cx = prng() * 128, cy = prng() * 128;
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}).flat());
const MK = MBOXES.length / 4;
const MDY = Float32Array.from({ length: MK * 7 * 7 * MC }, () => prng() * 2 - 1);

describe.runIf(hasTorchvision())('RoI gradients vs torchvision 0.14 autograd', () => {
  let dir = '';
  const expected = new Map<string, Float32Array>();
  let msLevels = new Int32Array(0);
  let msScales: number[] = [];
  const report: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'roi-grad-'));
    const save = (file: string, shape: number[], data: ArrayLike<number>) => writeFileSync(join(dir, file), encodeNpy(shape, data));
    save('x.npy', [PN, PH, PW, PC], PX);
    save('rois.npy', [PK, 5], PROIS);
    for (const c of PARITY) save(`dy_${c.name}.npy`, [PK, ...c.outputSize, PC], PDY.get(c.name)!);
    MLEVELS.forEach((v, i) => save(`p${i}.npy`, [1, MSIZES[i]!, MSIZES[i]!, MC], v));
    save('boxes.npy', [MK, 4], MBOXES);
    save('dy_ms.npy', [MK, 7, 7, MC], MDY);
    const single = PARITY.map((c) => ({
      name: c.name, op: c.op, x: 'x.npy', rois: 'rois.npy', dy: `dy_${c.name}.npy`, output_size: c.outputSize,
      spatial_scale: c.spatialScale, sampling_ratio: c.samplingRatio, aligned: c.aligned,
    }));
    const levels = MSIZES.map((_, i) => `p${i}.npy`);
    // First MultiScaleRoIAlign (its levels and scales), then roi_pool per level with those levels.
    writeFileSync(join(dir, 'cases.json'), JSON.stringify({ cases: [...single, {
      name: 'msra', op: 'multi_scale_roi_align', levels, boxes: 'boxes.npy', dy: 'dy_ms.npy', image_size: [128, 128], output_size: [7, 7], sampling_ratio: 2,
    }] }));
    oracle('roi_grad.py', [dir]);
    const read = (file: string) => decodeNpy(readFileSync(join(dir, file))).data;
    msLevels = Int32Array.from(read('levels_msra.npy'));
    msScales = Array.from(read('scales_msra.npy'));
    save('box_levels.npy', [MK], msLevels);
    writeFileSync(join(dir, 'cases.json'), JSON.stringify({ cases: [{
      name: 'msrp', op: 'multi_scale_roi_pool', levels, boxes: 'boxes.npy', dy: 'dy_ms.npy', box_levels: 'box_levels.npy', scales: msScales, output_size: [7, 7],
    }] }));
    oracle('roi_grad.py', [dir]);
    for (const c of PARITY) expected.set(c.name, read(`dx_${c.name}.npy`) as Float32Array);
    for (const name of ['msra', 'msrp']) MSIZES.forEach((_, i) => expected.set(`${name}_${i}`, read(`dx_${name}_${i}.npy`) as Float32Array));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (report.length > 0) console.log(`[kernels_grad] max abs difference of dx vs torchvision\n  ${report.join('\n  ')}`);
  });

  it('the pyramid boxes land on all 4 levels', () => {
    expect(new Set(msLevels)).toEqual(new Set([0, 1, 2, 3]));
    expect(msScales).toEqual([0.25, 0.125, 0.0625, 0.03125]);
  });

  for (const backend of nodeBackends()) {
    describe(`on ${backend}`, () => {
      // cpu/wasm accumulate in float32 in torchvision's order; webgpu gathers in another order.
      const tol = backend === 'webgpu' ? 2e-6 : 0;
      let before = 0;
      beforeAll(async () => {
        await useBackend(backend);
        before = tf.memory().numTensors;
      });
      afterAll(() => expect(tf.memory().numTensors).toBe(before));

      const check = (name: string, got: ArrayLike<number>) => {
        const want = expected.get(name)!;
        expect(got.length).toBe(want.length);
        let err = 0, at = -1;
        for (let i = 0; i < want.length; i++) {
          const d = Math.abs(got[i]! - want[i]!);
          if (!(d <= err)) { err = d; at = i; }
        }
        report.push(`${backend} ${name}: ${err.toExponential(2)}`);
        expect(err, `at ${at}: ours ${got[at]}, torchvision ${want[at]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[at] ?? 0)));
      };

      for (const c of PARITY) {
        const call = c.op === 'roi_align'
          ? `roiAlign(x, rois, ${c.outputSize.join('×')}, scale ${c.spatialScale}, sampling ${c.samplingRatio}, aligned ${c.aligned})`
          : `roiPool(x, rois, ${c.outputSize.join('×')}, scale ${c.spatialScale})`;
        it(`tf.grad of ${call} equals torchvision's ${c.op} backward ${tol === 0 ? 'exactly' : `within ${tol}`}`, async () => {
          const p: Pooling = { pooler: c.op === 'roi_align' ? 'roiAlign' : 'roiPool', mode: 'avg', samplingRatio: c.samplingRatio ?? 0, aligned: c.aligned ?? false, outputSize: c.outputSize };
          const dx = tf.tidy(() => tf.grad((t: tf.Tensor) => pool(t as tf.Tensor4D, tf.tensor2d(PROIS, [PK, 5]), { ...p, mode: p.pooler === 'roiPool' ? 'max' : 'avg' }, c.spatialScale))(
            tf.tensor4d(PX, [PN, PH, PW, PC]), tf.tensor4d(PDY.get(c.name)!, [PK, ...c.outputSize, PC])));
          const got = await dx.data();
          dx.dispose();
          check(c.name, got);
        });
      }

      for (const [name, pooler] of [['msra', 'roiAlign'], ['msrp', 'roiPool']] as const) {
        const what = pooler === 'roiAlign' ? 'MultiScaleRoIAlign' : 'roi_pool per level';
        it(`tf.grads of multiScaleRoiPool(4 levels, ${pooler} 7×7) equals torchvision's ${what} backward ${tol === 0 ? 'exactly' : `within ${tol}`}`, async () => {
          const grads = tf.tidy(() => tf.grads((...ls: tf.Tensor[]) => multiScaleRoiPool(ls as tf.Tensor4D[], tf.tensor2d(MBOXES, [MK, 4]), tf.tensor1d(msLevels, 'int32'), {
            pooler, outputSize: [7, 7], scales: msScales, samplingRatio: 2, aligned: false,
          }))(MLEVELS.map((v, i) => tf.tensor4d(v, [1, MSIZES[i]!, MSIZES[i]!, MC])), tf.tensor4d(MDY, [MK, 7, 7, MC])));
          for (let i = 0; i < grads.length; i++) check(`${name}_${i}`, await grads[i]!.data());
          tf.dispose(grads);
        });
      }
    });
  }
});

describe('gradients through an empty RoI list', () => {
  for (const backend of ['cpu', 'wasm'] as Backend[]) {
    it(`tf.grad of roiAlign and multiScaleRoiPool with K = 0 is an all-zero gradient on ${backend}, not an error`, async () => {
      await useBackend(backend);
      const x = tf.randomNormal([1, 5, 5, 3]) as tf.Tensor4D;
      const single = tf.grad((m: tf.Tensor) =>
        tf.sum(roiAlign(m as tf.Tensor4D, tf.zeros([0, 5]) as tf.Tensor2D, { outputSize: [2, 2], spatialScale: 1, samplingRatio: 2, aligned: false })),
      )(x);
      const multi = tf.grad((m: tf.Tensor) =>
        tf.sum(multiScaleRoiPool([m as tf.Tensor4D], tf.zeros([0, 4]) as tf.Tensor2D, tf.zeros([0], 'int32') as tf.Tensor1D, { pooler: 'roiPool', outputSize: [2, 2], scales: [1], samplingRatio: 0, aligned: false })),
      )(x);
      for (const g of [single, multi]) {
        expect(g.shape).toEqual([1, 5, 5, 3]);
        expect(Array.from(await g.data()).every((v) => v === 0)).toBe(true);
      }
      tf.dispose([x, single, multi]);
    });
  }
});
