/**
 * RoI instrumentation (kernels/roi_instrument.ts): hand-computed geometry on a 5×5 `arange` map
 * (value 5·row + col, so a cell's value is its index and bilinear interpolation inside the map is
 * exact: value(y, x) = 5y + x), then proof that the instrumentation is what the kernels compute:
 * re-summing each sampling point's weighted neighbours reproduces every backend's RoIAlign/RoIWarp
 * output (avg and max), and the value of each RoIPool argmax cell is RoIPool's output — across
 * aligned true/false, fixed and adaptive sampling, boxes partly outside, tiny and inverted boxes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type Backend } from '../src/node/backend.ts';
import {
  instrumentMultiScale, instrumentRois, multiScaleRoiPool, roiAlign, roiPool, roiWarp, RoiOpError,
  type InstrumentOptions, type PooledRoiGeometry, type SampledRoiGeometry,
} from '../kernels/index.ts';
import { mulberry32, nodeBackends } from './support/backends.ts';



const ARANGE = Float32Array.from({ length: 25 }, (_, i) => i);
const MAP5 = { height: 5, width: 5, values: ARANGE };
const f = Math.fround;
const BOX = [0.6, 1.2, 3.3, 4.1];

const sampled = (g: unknown) => g as SampledRoiGeometry;
const pooled = (g: unknown) => g as PooledRoiGeometry;

describe('instrumentRois on the 5×5 arange map, RoI [0.6, 1.2, 3.3, 4.1], 2×2 bins', () => {
  it("roiPool at scale 1: rounded RoI (1,1)-(3,4), edges drift +0.4, −0.2, −0.3, −0.1 cells", () => {
    const [g] = instrumentRois(BOX, MAP5, { pooler: 'roiPool', outputSize: [2, 2], spatialScale: 1, samplingRatio: 0, aligned: false }).map(pooled);
    // round(0.6) = 1, round(1.2) = 1, round(3.3) = 3, round(4.1) = 4: cells x 1..3, y 1..4.
    expect(g!.pooledRoi).toEqual({ x1: 1, y1: 1, x2: 3, y2: 4 });
    expect(g!.trueRoi).toEqual({ x1: f(0.6), y1: f(1.2), x2: f(3.3), y2: f(4.1) });
    const q = g!.quantization;
    expect(q.drift.x1).toBeCloseTo(0.4, 6);
    expect(q.drift.y1).toBeCloseTo(-0.2, 6);
    expect(q.drift.x2).toBeCloseTo(-0.3, 6);
    expect(q.drift.y2).toBeCloseTo(-0.1, 6);
    // true 2.7 × 2.9 = 7.83; pooled 2 × 3 = 6; overlap x [1, 3] (2) × y [1.2, 4] (2.8) = 5.6.
    expect(q.trueArea).toBeCloseTo(7.83, 5);
    expect(q.pooledArea).toBe(6);
    expect(q.areaAdded).toBeCloseTo(0.4, 5);
    expect(q.areaLost).toBeCloseTo(2.23, 5);
    // 3 cells wide, 4 high → bins 1.5 × 2 cells; bin (ph, pw) rows [⌊2ph⌋+1, ⌈2(ph+1)⌉+1), cols [⌊1.5pw⌋+1, ⌈1.5(pw+1)⌉+1).
    expect(g!.binSize).toEqual([2, 1.5]);
    expect(g!.bins.map((b) => [b.rowStart, b.rowEnd, b.colStart, b.colEnd, b.empty])).toEqual([
      [1, 3, 1, 3, false], [1, 3, 2, 4, false], [3, 5, 1, 3, false], [3, 5, 2, 4, false],
    ]);
    // max at the bottom-right cell of each bin: (2,2) = 12, (2,3) = 13, (4,2) = 22, (4,3) = 23.
    expect(g!.bins.map((b) => Array.from(b.output!))).toEqual([[12], [13], [22], [23]]);
    expect(g!.bins.map((b) => Array.from(b.argmaxCell!))).toEqual([[12], [13], [22], [23]]);
  });

  it('roiPool at scale 0.25 on the box ×4: the same cells, drift ×4 in image pixels, areas ×16', () => {
    const [g] = instrumentRois(BOX.map((v) => v * 4), MAP5, { pooler: 'roiPool', outputSize: [2, 2], spatialScale: 0.25, samplingRatio: 0, aligned: false }).map(pooled);
    expect(g!.pooledRoi).toEqual({ x1: 1, y1: 1, x2: 3, y2: 4 });
    const q = g!.quantization;
    expect(q.driftPixels.x1).toBeCloseTo(1.6, 5);
    expect(q.driftPixels.y1).toBeCloseTo(-0.8, 5);
    expect(q.driftPixels.x2).toBeCloseTo(-1.2, 5);
    expect(q.driftPixels.y2).toBeCloseTo(-0.4, 5);
    expect(q.areaAddedPixels).toBeCloseTo(0.4 * 16, 4);
    expect(q.areaLostPixels).toBeCloseTo(2.23 * 16, 4);
  });

  it('roiWarp (sampling 2): the RoIPool-rounded corners (1,1)-(3,4), bin (0,0) = [1,2]×[1,2.5], points and taps, output 10.25', () => {
    const [g] = instrumentRois(BOX, MAP5, { pooler: 'roiWarp', outputSize: [2, 2], spatialScale: 1, samplingRatio: 2, aligned: false }).map(sampled);
    expect(g!.pooledRoi).toEqual({ x1: 1, y1: 1, x2: 3, y2: 4 });
    expect(g!.quantization.drift.x1).toBeCloseTo(0.4, 6);
    expect(g!.binSize).toEqual([1.5, 1]);
    expect(g!.grid).toEqual([2, 2]);
    const b = g!.bins[0]!;
    expect(b.rect).toEqual({ x1: 1, y1: 1, x2: 2, y2: 2.5 });
    // y = 1 + (0.5, 1.5)·1.5/2 = 1.375, 2.125; x = 1 + (0.5, 1.5)/2 = 1.25, 1.75.
    expect(b.points.map((p) => [p.y, p.x])).toEqual([[1.375, 1.25], [1.375, 1.75], [2.125, 1.25], [2.125, 1.75]]);
    // (1.375, 1.25): ly 0.375, lx 0.25 → (1,1) 0.625·0.75, (1,2) 0.625·0.25, (2,1) 0.375·0.75, (2,2) 0.375·0.25.
    expect(b.points[0]!.taps).toEqual([
      { row: 1, col: 1, weight: 0.46875 }, { row: 1, col: 2, weight: 0.15625 },
      { row: 2, col: 1, weight: 0.28125 }, { row: 2, col: 2, weight: 0.09375 },
    ]);
    // 5·mean(y) + mean(x) = 5·1.75 + 1.5.
    expect(Array.from(b.output!)).toEqual([10.25]);
  });

  it('roiAlign (aligned false, sampling 2): no drift, bins 1.45 × 1.35, first point (1.5625, 0.9375), output 10.9', () => {
    const [g] = instrumentRois(BOX, MAP5, { pooler: 'roiAlign', outputSize: [2, 2], spatialScale: 1, samplingRatio: 2, aligned: false }).map(sampled);
    expect(g!.pooledRoi).toEqual(g!.trueRoi);
    expect(g!.quantization.drift).toEqual({ x1: 0, y1: 0, x2: 0, y2: 0 });
    expect([g!.quantization.areaAdded, g!.quantization.areaLost]).toEqual([0, 0]);
    expect(g!.binSize[0]).toBeCloseTo(1.45, 6);
    expect(g!.binSize[1]).toBeCloseTo(1.35, 6);
    const b = g!.bins[0]!;
    // y = 1.2 + 1.45/4 = 1.5625, x = 0.6 + 1.35/4 = 0.9375 → ly 0.5625, lx 0.9375.
    expect(b.points[0]!.y).toBeCloseTo(1.5625, 6);
    expect(b.points[0]!.x).toBeCloseTo(0.9375, 6);
    expect(b.points[0]!.taps.map((t) => [t.row, t.col])).toEqual([[1, 0], [1, 1], [2, 0], [2, 1]]);
    const w = b.points[0]!.taps.map((t) => t.weight);
    [0.4375 * 0.0625, 0.4375 * 0.9375, 0.5625 * 0.0625, 0.5625 * 0.9375].forEach((e, i) => expect(w[i]).toBeCloseTo(e, 6));
    // y samples 1.5625, 2.2875 (mean 1.925); x samples 0.9375, 1.6125 (mean 1.275): 5·1.925 + 1.275.
    expect(b.output![0]).toBeCloseTo(10.9, 5);
  });

  it('roiAlign aligned true: the true RoI is shifted by −½ ((0.1, 0.7)-(2.8, 3.6)) and still does not drift', () => {
    const [g] = instrumentRois(BOX, MAP5, { pooler: 'roiAlign', outputSize: [2, 2], spatialScale: 1, samplingRatio: 2, aligned: true }).map(sampled);
    expect(g!.trueRoi.x1).toBeCloseTo(0.1, 6);
    expect(g!.trueRoi.y2).toBeCloseTo(3.6, 6);
    expect(g!.quantization.drift).toEqual({ x1: 0, y1: 0, x2: 0, y2: 0 });
  });
});

describe('instrumentRois edge cases on the 5×5 arange map', () => {
  it('roiAlign of a tiny box [1,1,1.2,1.2] (not aligned): the RoI is clamped to 1×1, so x2 and y2 drift +0.8', () => {
    const [g] = instrumentRois([1, 1, 1.2, 1.2], MAP5, { pooler: 'roiAlign', outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }).map(sampled);
    expect(g!.pooledRoi).toEqual({ x1: 1, y1: 1, x2: 2, y2: 2 });
    expect(g!.quantization.drift.x2).toBeCloseTo(0.8, 6);
    expect(g!.quantization.areaAdded).toBeCloseTo(1 - 0.04, 5);
    expect(Array.from(g!.bins[0]!.output!)).toEqual([9]); // samples 1.25, 1.75: 5·1.5 + 1.5
  });

  it('roiAlign of [3,3,7,7] (1×1, sampling 2): the point (4,4) clamps to cell (4,4) with weight 1, the three points past 5 read 0', () => {
    const [g] = instrumentRois([3, 3, 7, 7], MAP5, { pooler: 'roiAlign', outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }).map(sampled);
    const pts = g!.bins[0]!.points;
    expect(pts.map((p) => [p.y, p.x, p.inside])).toEqual([[4, 4, true], [4, 6, false], [6, 4, false], [6, 6, false]]);
    expect(pts[0]!.taps.map((t) => [t.row, t.col, t.weight])).toEqual([[4, 4, 1], [4, 4, 0], [4, 4, 0], [4, 4, 0]]);
    expect(pts[1]!.taps).toEqual([]);
    expect(Array.from(g!.bins[0]!.output!)).toEqual([6]); // 24 / 4
  });

  it("roiAlign mode 'max' of [0,0,4,4] (1×1): the winning point is the last, (3,3) → 18", () => {
    const [g] = instrumentRois([0, 0, 4, 4], MAP5, { pooler: 'roiAlign', outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false, mode: 'max' }).map(sampled);
    expect(Array.from(g!.bins[0]!.argmaxPoint!)).toEqual([3]);
    expect(g!.bins[0]!.points[3]).toMatchObject({ y: 3, x: 3 });
    expect(Array.from(g!.bins[0]!.output!)).toEqual([18]);
  });

  it('roiAlign of a degenerate box [2,2,2,2] (aligned, adaptive): grid 0×0, no points, output 0', () => {
    const [g] = instrumentRois([2, 2, 2, 2], MAP5, { pooler: 'roiAlign', outputSize: [1, 1], spatialScale: 1, samplingRatio: 0, aligned: true }).map(sampled);
    expect([g!.grid, g!.count, g!.bins[0]!.points.length]).toEqual([[0, 0], 1, 0]);
    expect(Array.from(g!.bins[0]!.output!)).toEqual([0]);
  });

  it('roiPool of [3,3,9,9] (2×2): bins past the map are empty, with argmax −1 and output 0', () => {
    const [g] = instrumentRois([3, 3, 9, 9], MAP5, { pooler: 'roiPool', outputSize: [2, 2], spatialScale: 1, samplingRatio: 0, aligned: false }).map(pooled);
    expect(g!.bins.map((b) => b.empty)).toEqual([false, true, true, true]);
    expect(g!.bins.map((b) => b.argmaxCell![0])).toEqual([24, -1, -1, -1]);
    expect(g!.bins.map((b) => b.output![0])).toEqual([24, 0, 0, 0]);
  });

  it('instrumentRois without values gives geometry only (no outputs, no argmax)', () => {
    const [g] = instrumentRois(BOX, { height: 5, width: 5 }, { pooler: 'roiPool', outputSize: [2, 2], spatialScale: 1, samplingRatio: 0, aligned: false }).map(pooled);
    expect(g!.bins[0]!.output).toBeUndefined();
    expect(g!.bins[0]!.argmaxCell).toBeUndefined();
  });

  it('instrumentRois(bins: false) keeps the RoI-level numbers only', () => {
    const [g] = instrumentRois(BOX, MAP5, { pooler: 'roiWarp', outputSize: [7, 7], spatialScale: 1, samplingRatio: 2, aligned: false, bins: false });
    expect(g!.bins).toEqual([]);
    expect(g!.pooledRoi).toEqual({ x1: 1, y1: 1, x2: 3, y2: 4 });
  });

  const bad: [string, RegExp, () => unknown][] = [
    ['boxes of 5 numbers → K×4 expected', /K×4 numbers/, () => instrumentRois([0, 0, 1, 1, 2], MAP5, { pooler: 'roiPool', outputSize: [1, 1], spatialScale: 1, samplingRatio: 0, aligned: false })],
    ['a NaN coordinate → finite expected', /boxes\[0\] has x2 = NaN/, () => instrumentRois([0, 0, NaN, 1], MAP5, { pooler: 'roiAlign', outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false })],
    ['outputSize [0, 1] → integers ≥ 1', /outputSize/, () => instrumentRois([0, 0, 1, 1], MAP5, { pooler: 'roiAlign', outputSize: [0, 1], spatialScale: 1, samplingRatio: 2, aligned: false })],
    ['24 values on a 5×5 map → H·W·C expected', /H·W·C/, () => instrumentRois([0, 0, 1, 1], { height: 5, width: 5, values: new Float32Array(24) }, { pooler: 'roiPool', outputSize: [1, 1], spatialScale: 1, samplingRatio: 0, aligned: false })],
    ['pooler "roiFoo" → the three poolers', /'roiAlign', 'roiPool' or 'roiWarp'/, () => instrumentRois([0, 0, 1, 1], MAP5, { pooler: 'roiFoo' as 'roiPool', outputSize: [1, 1], spatialScale: 1, samplingRatio: 0, aligned: false })],
    ['multi-scale with 2 maps and 1 scale → one per map', /one spatial scale per map \(2\)/, () => instrumentMultiScale([0, 0, 1, 1], [MAP5, MAP5], { pooler: 'roiAlign', outputSize: [1, 1], scales: [1], samplingRatio: 2, aligned: false })],
  ];
  for (const [name, message, call] of bad) {
    it(`throws RoiOpError: ${name}`, () => {
      expect(call).toThrow(RoiOpError);
      expect(call).toThrow(message);
    });
  }
});

describe('instrumentMultiScale (P2–P5 scales, torchvision level mapper)', () => {
  // Level k = ⌊4 + log2(√(wh)/224) + 1e-6⌋ clamped to [2, 5]: 224 → 4, 112 → 3, 56 → 2, 448 → 5,
  // 1000 → 5 (clamped), 10 → 2 (clamped), 223 → 3 (just below 224).
  const sides = [224, 112, 56, 448, 1000, 10, 223];
  const boxes = sides.flatMap((s) => [20, 30, 20 + s, 30 + s]);
  const scales = [1 / 4, 1 / 8, 1 / 16, 1 / 32];
  const sizes = [64, 32, 16, 8];

  it('assigns levels [2, 1, 0, 3, 3, 0, 1] (k − 2) with kMin 2, kMax 5, and pools each RoI at its level\'s scale', () => {
    const maps = sizes.map((s) => ({ height: s, width: s }));
    const g = instrumentMultiScale(boxes, maps, { pooler: 'roiAlign', outputSize: [7, 7], scales, samplingRatio: 2, aligned: false, bins: false });
    expect(Array.from(g.levels)).toEqual([2, 1, 0, 3, 3, 0, 1]);
    expect([g.kMin, g.kMax]).toEqual([2, 5]);
    expect(g.rois.map((r) => r.level)).toEqual([2, 1, 0, 3, 3, 0, 1]);
    expect(g.rois.map((r) => r.scale)).toEqual([2, 1, 0, 3, 3, 0, 1].map((l) => scales[l]));
    expect(g.rois.map((r) => r.featureSize[0])).toEqual([2, 1, 0, 3, 3, 0, 1].map((l) => sizes[l]));
  });

  for (const pooler of ['roiAlign', 'roiPool'] as const) {
    it(`${pooler}: per-bin outputs equal multiScaleRoiPool (cpu) with the same levels`, async () => {
      await useBackend('cpu');
      const rng = mulberry32(5);
      const values = sizes.map((s) => Float32Array.from({ length: s * s * 2 }, () => rng() * 2 - 1));
      const g = instrumentMultiScale(boxes, sizes.map((s, i) => ({ height: s, width: s, values: values[i] })), {
        pooler, outputSize: [3, 3], scales, samplingRatio: 2, aligned: false,
      });
      const y = tf.tidy(() => multiScaleRoiPool(
        sizes.map((s, i) => tf.tensor4d(values[i]!, [1, s, s, 2])), tf.tensor2d(boxes, [sides.length, 4]), tf.tensor1d(g.levels, 'int32'),
        { pooler, outputSize: [3, 3], scales, samplingRatio: 2, aligned: false },
      ));
      const want = await y.data();
      y.dispose();
      const got = g.rois.flatMap((r) => r.bins.flatMap((b) => Array.from(b.output!)));
      expect(got).toEqual(Array.from(want));
    });
  }
});

// ---- the instrumentation equals the kernels, on every backend -----------------------------------

const H = 9, W = 11, C = 3;
const rng = mulberry32(99);
const X = Float32Array.from({ length: H * W * C }, () => rng() * 4 - 2);
/** Boxes in image pixels for scale 0.5 (image 18×22): inside, partly outside, tiny, inverted, large. */
function makeBoxes(): number[] {
  const b: number[] = [];
  const box = (x: number, y: number, w: number, h: number) => b.push(x, y, x + w, y + h);
  for (let i = 0; i < 6; i++) box(rng() * 16, rng() * 12, 2 + rng() * 14, 2 + rng() * 12); // inside or straddling right/bottom
  for (let i = 0; i < 3; i++) box(-8 + rng() * 6, -6 + rng() * 8, 6 + rng() * 10, 6 + rng() * 10); // past the top/left edge
  for (let i = 0; i < 2; i++) box(rng() * 20, rng() * 16, rng() * 1.5, rng() * 1.5); // tiny
  for (let i = 0; i < 2; i++) { const x = 4 + rng() * 14, y = 4 + rng() * 10; b.push(x, y, x - 3, y - 2); } // inverted
  box(-6, -6, 34, 30); // covers the map and beyond
  b.push(1, 1, 9, 9); // on the grid: x·0.5 on integers
  b.push(3, 5, 13, 11); // on RoIPool's rounding ties (1.5, 2.5, 6.5, 5.5)
  return b;
}
const BOXES = makeBoxes();
const K = BOXES.length / 4;
const ROIS = Array.from({ length: K }, (_, k) => [0, ...BOXES.slice(4 * k, 4 * k + 4)]).flat();

interface Config { name: string; options: InstrumentOptions }
const SCALE = 0.5;
const CONFIGS: Config[] = [];
for (const aligned of [false, true]) {
  for (const samplingRatio of [2, 0]) {
    for (const mode of ['avg', 'max'] as const) {
      CONFIGS.push({
        name: `roiAlign(aligned ${aligned}, sampling ${samplingRatio}, ${mode})`,
        options: { pooler: 'roiAlign', outputSize: [3, 2], spatialScale: SCALE, samplingRatio, aligned, mode },
      });
    }
  }
}
for (const samplingRatio of [2, 0]) {
  for (const mode of ['avg', 'max'] as const) {
    CONFIGS.push({ name: `roiWarp(sampling ${samplingRatio}, ${mode})`, options: { pooler: 'roiWarp', outputSize: [3, 2], spatialScale: SCALE, samplingRatio, aligned: false, mode } });
  }
}

/** Re-sum the instrumented sampling points: avg = Σ points Σ taps w·X / count, max = max over points (0 outside). */
function resum(g: SampledRoiGeometry): number[] {
  const out: number[] = [];
  for (const bin of g.bins) {
    for (let c = 0; c < C; c++) {
      const values = bin.points.map((p) => (p.inside ? p.taps.reduce((s, t) => s + t.weight * X[(t.row * W + t.col) * C + c]!, 0) : 0));
      if (g.mode === 'avg') out.push(f(values.reduce((s, v) => s + v, 0) / g.count));
      else out.push(values.length === 0 ? 0 : f(Math.max(...values)));
    }
  }
  return out;
}

function kernel(x: tf.Tensor4D, rois: tf.Tensor2D, o: InstrumentOptions): tf.Tensor4D {
  if (o.pooler === 'roiAlign') return roiAlign(x, rois, { outputSize: o.outputSize, spatialScale: o.spatialScale, samplingRatio: o.samplingRatio, aligned: o.aligned, mode: o.mode });
  if (o.pooler === 'roiWarp') return roiWarp(x, rois, { outputSize: o.outputSize, spatialScale: o.spatialScale, samplingRatio: o.samplingRatio, mode: o.mode });
  return roiPool(x, rois, { outputSize: o.outputSize, spatialScale: o.spatialScale });
}

for (const backend of nodeBackends()) {
  describe(`the instrumentation equals the ${backend} kernels (${K} RoIs on a ${H}×${W}×${C} map, scale ${SCALE})`, () => {
    // cpu and wasm run the CPU twin: exact. webgpu accumulates in float32 in another order.
    const tol = backend === 'webgpu' ? 1e-6 : 0;
    let before = 0;
    beforeAll(async () => {
      await useBackend(backend);
      before = tf.memory().numTensors;
    });
    let largest = 0;
    afterAll(() => {
      console.log(`[kernels_instrument] ${backend}: largest |re-summed − kernel| = ${largest.toExponential(2)}`);
      expect(tf.memory().numTensors).toBe(before);
    });

    const run = async (o: InstrumentOptions): Promise<Float32Array> => {
      const y = tf.tidy(() => kernel(tf.tensor4d(X, [1, H, W, C]), tf.tensor2d(ROIS, [K, 5]), o));
      const v = await y.data();
      y.dispose();
      return v as Float32Array;
    };
    const expectClose = (got: ArrayLike<number>, want: ArrayLike<number>) => {
      expect(got.length).toBe(want.length);
      let err = 0, at = -1;
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(got[i]! - want[i]!);
        if (!(d <= err)) { err = d; at = i; }
      }
      largest = Math.max(largest, err);
      expect(err, `largest difference at ${at}: instrumented ${got[at]}, kernel ${want[at]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[at] ?? 0)));
    };

    for (const { name, options } of CONFIGS) {
      it(`re-summing the weighted neighbours of each sampling point reproduces ${name} ${tol === 0 ? 'exactly' : `within ${tol}`}`, async () => {
        const geometry = instrumentRois(BOXES, { height: H, width: W, values: X }, options).map(sampled);
        const want = await run(options);
        expectClose(geometry.flatMap(resum), want);
        // ...and the instrumentation's own outputs are the kernel's.
        expectClose(geometry.flatMap((g) => g.bins.flatMap((b) => Array.from(b.output!))), want);
        if (options.mode === 'max') {
          // the winning point's re-summed value is the output (−1: no points, output 0)
          const winners = geometry.flatMap((g) => g.bins.flatMap((b) => Array.from(b.argmaxPoint!, (s, c) => {
            const p = b.points[s];
            if (p === undefined) return 0;
            return p.inside ? f(p.taps.reduce((acc, t) => acc + t.weight * X[(t.row * W + t.col) * C + c]!, 0)) : 0;
          })));
          expectClose(winners, want);
        }
      });
    }

    it('the value of each RoIPool argmax cell is roiPool\'s output, the cell lies in its bin, and nothing in the bin is larger', async () => {
      const options: InstrumentOptions = { pooler: 'roiPool', outputSize: [3, 2], spatialScale: SCALE, samplingRatio: 0, aligned: false };
      const geometry = instrumentRois(BOXES, { height: H, width: W, values: X }, options).map(pooled);
      const want = await run(options);
      const got: number[] = [];
      let empties = 0;
      for (const g of geometry) {
        for (const b of g.bins) {
          for (let c = 0; c < C; c++) {
            const cell = b.argmaxCell![c]!;
            if (b.empty) {
              empties++;
              expect(cell).toBe(-1);
              got.push(0);
              continue;
            }
            const row = Math.floor(cell / W), col = cell % W;
            expect(row >= b.rowStart && row < b.rowEnd && col >= b.colStart && col < b.colEnd).toBe(true);
            for (let r = b.rowStart; r < b.rowEnd; r++) for (let q = b.colStart; q < b.colEnd; q++) expect(X[(r * W + q) * C + c]!).toBeLessThanOrEqual(X[cell * C + c]!);
            got.push(X[cell * C + c]!);
          }
        }
      }
      expect(empties).toBeGreaterThan(0); // the boxes past the map make empty bins
      expect(got).toEqual(Array.from(want)); // exact on every backend: a max picks a value
    });
  });
}
