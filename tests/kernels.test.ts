/**
 * RoI pooling kernels on hand-computed cases: a 5×5 `arange` map (value 5·row + col), where bilinear
 * interpolation inside the map is exact (value(y, x) = 5y + x), so every expectation below is worked
 * out by hand in its comment. One table runs on every backend available in Node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type Backend } from '../src/node/backend.ts';
import { multiScaleRoiPool, roiAlign, roiPool, roiWarp, RoiOpError } from '../kernels/index.ts';
import { roiAlignFrame, roiPoolBin, roiPoolFrame, roundHalfAway, sampleCoord } from '../kernels/roi_geometry.ts';
import { COMMON_WGSL } from '../kernels/roi_webgpu.ts';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { mulberry32, nodeBackends } from './support/backends.ts';

/** cpu and wasm always; webgpu where a Vulkan driver is there (SwiftShader from `chromium`). CI installs it. */

/** 5×5 arange, one channel per entry of `offsets` (channel c = arange + offsets[c]), batch of `images` (+100 per image). */
function arangeMap(offsets: number[] = [0], images = 1): tf.Tensor4D {
  const c = offsets.length;
  const v = new Float32Array(images * 25 * c);
  for (let n = 0; n < images; n++)
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++)
        for (let k = 0; k < c; k++) v[((n * 5 + i) * 5 + j) * c + k] = 5 * i + j + offsets[k]! + 100 * n;
  return tf.tensor4d(v, [images, 5, 5, c]);
}

interface Case {
  name: string;
  run: (x: tf.Tensor4D) => tf.Tensor4D;
  map?: { offsets?: number[]; images?: number };
  shape: number[];
  expected: number[];
}

const rois = (...r: number[][]) => tf.tensor2d(r.flat(), [r.length, 5]);

const CASES: Case[] = [
  {
    // roi 4×4, bins 2×2, samples at 0.5 and 1.5 (bin 0) / 2.5 and 3.5 (bin 1): means 1 and 3.
    // bin (ph, pw) = 5·mean(y) + mean(x): 5+1, 5+3, 15+1, 15+3.
    name: 'roiAlign(arange, [0,0,0,4,4], 2×2, scale 1, sampling 2, aligned false) = [6, 8, 16, 18]',
    run: (x) => roiAlign(x, rois([0, 0, 0, 4, 4]), { outputSize: [2, 2], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [1, 2, 2, 1],
    expected: [6, 8, 16, 18],
  },
  {
    // aligned: start −0.5, samples at 0, 1 / 2, 3: means 0.5 and 2.5 → 3, 5, 13, 15.
    name: 'roiAlign(arange, [0,0,0,4,4], 2×2, scale 1, sampling 2, aligned true) = [3, 5, 13, 15]',
    run: (x) => roiAlign(x, rois([0, 0, 0, 4, 4]), { outputSize: [2, 2], spatialScale: 1, samplingRatio: 2, aligned: true }),
    shape: [1, 2, 2, 1],
    expected: [3, 5, 13, 15],
  },
  {
    // scale 0.5: box (0,0,8,8) → (0,0,4,4) on the map, one bin, samples at 1 and 3: 5·2 + 2 = 12.
    name: 'roiAlign(arange, [0,0,0,8,8], 1×1, scale 0.5, sampling 2, aligned false) = [12]',
    run: (x) => roiAlign(x, rois([0, 0, 0, 8, 8]), { outputSize: [1, 1], spatialScale: 0.5, samplingRatio: 2, aligned: false }),
    shape: [1, 1, 1, 1],
    expected: [12],
  },
  {
    // adaptive: roi 6×1 → grid 1×6; y = 0.5; x = 2.5, 3.5 (inside), 4.5 (clamped to 4: x_low ≥ W−1),
    // 5.5, 6.5, 7.5 (> W = 5: read 0). (2.5+2.5) + (2.5+3.5) + (2.5+4) + 0 + 0 + 0 = 17.5, / 6.
    name: 'roiAlign(arange, [0,2,0,8,1], 1×1, sampling 0 (adaptive → 1×6 points), aligned false) = [17.5/6]',
    run: (x) => roiAlign(x, rois([0, 2, 0, 8, 1]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 0, aligned: false }),
    shape: [1, 1, 1, 1],
    expected: [17.5 / 6],
  },
  {
    // same box, fixed 2×2: y = 0.25, 0.75; x = 3.5, 6.5 (outside): (1.25+3.5) + (3.75+3.5) = 12, / 4 = 3.
    name: 'roiAlign(arange, [0,2,0,8,1], 1×1, sampling 2, aligned false) = [3]',
    run: (x) => roiAlign(x, rois([0, 2, 0, 8, 1]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [1, 1, 1, 1],
    expected: [3],
  },
  {
    // partly outside (top-left): x samples at −2 (< −1: reads 0) and 0; y at 1 and 3: 5 + 15 = 20, / 4.
    name: 'roiAlign(arange, [0,-3,0,1,4], 1×1, sampling 2, aligned false) = [5] (samples left of −1 read 0)',
    run: (x) => roiAlign(x, rois([0, -3, 0, 1, 4]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [1, 1, 1, 1],
    expected: [5],
  },
  {
    // partly outside (bottom-right): samples at 4 (clamped row/col 4) and 6 (> 5: 0): only (4,4) = 24; / 4.
    name: 'roiAlign(arange, [0,3,3,7,7], 1×1, sampling 2, aligned false) = [6] (samples past H read 0)',
    run: (x) => roiAlign(x, rois([0, 3, 3, 7, 7]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [1, 1, 1, 1],
    expected: [6],
  },
  {
    // sample at y = x = −1 is inside the [−1, H] band and clamps to 0: (−1,−1)→0, (−1,1)→1, (1,−1)→5, (1,1)→6.
    name: 'roiAlign(arange, [0,-2,-2,2,2], 1×1, sampling 2, aligned false) = [3] (a sample at −1 clamps to 0)',
    run: (x) => roiAlign(x, rois([0, -2, -2, 2, 2]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [1, 1, 1, 1],
    expected: [3],
  },
  {
    // tiny box, not aligned: roi size 0.2 clamped to 1; samples 1.25, 1.75: 5·1.5 + 1.5 = 9.
    name: 'roiAlign(arange, [0,1,1,1.2,1.2], 1×1, sampling 2, aligned false) = [9] (roi size clamped to 1)',
    run: (x) => roiAlign(x, rois([0, 1, 1, 1.2, 1.2]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [1, 1, 1, 1],
    expected: [9],
  },
  {
    // tiny box, aligned: start 0.5, size 0.2 (no clamp), samples 0.55, 0.65: mean 0.6 → 3 + 0.6.
    name: 'roiAlign(arange, [0,1,1,1.2,1.2], 1×1, sampling 2, aligned true) = [3.6] (no clamp when aligned)',
    run: (x) => roiAlign(x, rois([0, 1, 1, 1.2, 1.2]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: true }),
    shape: [1, 1, 1, 1],
    expected: [3.6],
  },
  {
    // degenerate aligned box, adaptive: grid ⌈0⌉ = 0 points → 0 (count = max(0, 1)).
    name: 'roiAlign(arange, [0,2,2,2,2], 1×1, sampling 0, aligned true) = [0] (empty grid)',
    run: (x) => roiAlign(x, rois([0, 2, 2, 2, 2]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 0, aligned: true }),
    shape: [1, 1, 1, 1],
    expected: [0],
  },
  {
    // max over the 4 samples (1,1)=6, (1,3)=8, (3,1)=16, (3,3)=18.
    name: "roiAlign(arange, [0,0,0,4,4], 1×1, sampling 2, mode 'max') = [18]",
    run: (x) => roiAlign(x, rois([0, 0, 0, 4, 4]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false, mode: 'max' }),
    shape: [1, 1, 1, 1],
    expected: [18],
  },
  {
    // NHWC with 2 channels (arange, arange + 50) and 2 images (+100): RoI 0 on image 1, RoI 1 on image 0.
    name: 'roiAlign(2 images × 2 channels, rois on images 1 and 0) reads each RoI from its image, channels innermost',
    map: { offsets: [0, 50], images: 2 },
    run: (x) => roiAlign(x, rois([1, 0, 0, 4, 4], [0, 0, 0, 4, 4]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [2, 1, 1, 2],
    expected: [112, 162, 12, 62],
  },
  {
    // round(0.4)=0, round(0.6)=1, round(2.5)=3 (half away from zero), round(3.49)=3: cells rows 1..3,
    // cols 0..3 → roi 4 wide, 3 high; bins: rows [1,3)/[2,4), cols [0,2)/[2,4) → max 11, 13, 16, 18.
    name: 'roiPool(arange, [0,0.4,0.6,2.5,3.49], 2×2, scale 1) = [11, 13, 16, 18]',
    run: (x) => roiPool(x, rois([0, 0.4, 0.6, 2.5, 3.49]), { outputSize: [2, 2], spatialScale: 1 }),
    shape: [1, 2, 2, 1],
    expected: [11, 13, 16, 18],
  },
  {
    // C round(−2.5) = −3 (JS Math.round gives −2): cols [−3, 2) ∩ [0, 5) = 0, 1; rows 0..1 → max X[1][1] = 6.
    name: 'roiPool(arange, [0,-2.5,0,1,1], 1×1) = [6] (−2.5 rounds away from zero)',
    run: (x) => roiPool(x, rois([0, -2.5, 0, 1, 1]), { outputSize: [1, 1], spatialScale: 1 }),
    shape: [1, 1, 1, 1],
    expected: [6],
  },
  {
    // partly outside: (3,3,9,9) → cells 3..9 clamped to 3..4; 2×2 bins of 3.5 cells: [3,7)→3..4, [6,10)→ empty
    // (6 > H): bins (0,0) = 24, others empty → 0.
    name: 'roiPool(arange, [0,3,3,9,9], 2×2) = [24, 0, 0, 0] (bins outside the map are 0)',
    run: (x) => roiPool(x, rois([0, 3, 3, 9, 9]), { outputSize: [2, 2], spatialScale: 1 }),
    shape: [1, 2, 2, 1],
    expected: [24, 0, 0, 0],
  },
  {
    // quantized to (0,1)-(3,3): roi 3×2, samples x 0.75, 2.25 (mean 1.5), y 1.5, 2.5 (mean 2): 10 + 1.5.
    // (roiAlign on the unquantized box gives 11.675.)
    name: 'roiWarp(arange, [0,0.4,0.6,2.5,3.49], 1×1, sampling 2) = [11.5] (RoI quantized, then bilinear)',
    run: (x) => roiWarp(x, rois([0, 0.4, 0.6, 2.5, 3.49]), { outputSize: [1, 1], spatialScale: 1, samplingRatio: 2 }),
    shape: [1, 1, 1, 1],
    expected: [11.5],
  },
  {
    // level 1 = arange·10 at scale 0.5: box (0,0,8,8) → 12·10; box (0,0,4,4) on level 0 → 12. Input order kept.
    name: 'multiScaleRoiPool([arange, 10·arange], boxes, levels [1, 0], scales [1, 0.5]) = [120, 12]',
    run: (x) => {
      const x10 = tf.mul(x, 10) as tf.Tensor4D;
      const out = multiScaleRoiPool([x, x10], tf.tensor2d([0, 0, 8, 8, 0, 0, 4, 4], [2, 4]), tf.tensor1d([1, 0], 'int32'), {
        pooler: 'roiAlign', outputSize: [1, 1], scales: [1, 0.5], samplingRatio: 2, aligned: false,
      });
      return out;
    },
    shape: [2, 1, 1, 1],
    expected: [120, 12],
  },
  {
    // the same boxes with RoIPool: box (0,0,8,8)·0.5 → cells 0..4 → max 24·10; box (0,0,4,4) → 24.
    name: "multiScaleRoiPool(pooler 'roiPool', levels [1, 0]) = [240, 24]",
    run: (x) => {
      const x10 = tf.mul(x, 10) as tf.Tensor4D;
      return multiScaleRoiPool([x, x10], tf.tensor2d([0, 0, 8, 8, 0, 0, 4, 4], [2, 4]), tf.tensor1d([1, 0], 'int32'), {
        pooler: 'roiPool', outputSize: [1, 1], scales: [1, 0.5], samplingRatio: 2, aligned: false,
      });
    },
    shape: [2, 1, 1, 1],
    expected: [240, 24],
  },
  {
    name: 'roiAlign(arange, rois [0, 5]) = a [0, 3, 2, 1] tensor',
    run: (x) => roiAlign(x, tf.tensor2d([], [0, 5]), { outputSize: [3, 2], spatialScale: 1, samplingRatio: 2, aligned: false }),
    shape: [0, 3, 2, 1],
    expected: [],
  },
];

describe('roi geometry (pure functions)', () => {
  it('roundHalfAway(±2.5) = ±3, roundHalfAway(0.49999997) = 0 (C round, not Math.round)', () => {
    expect([roundHalfAway(2.5), roundHalfAway(-2.5), roundHalfAway(0.49999997), roundHalfAway(-0.5)]).toEqual([3, -3, 0, -1]);
  });

  it('roiAlignFrame(0,0,4,2, scale 1, 1×1, sampling 0) has an adaptive 2×4 grid and count 8', () => {
    const f = roiAlignFrame(0, 0, 4, 2, 1, 1, 1, 0, false);
    expect([f.gridH, f.gridW, f.count, f.binH, f.binW]).toEqual([2, 4, 8, 2, 4]);
  });

  it('sampleCoord(start 0, bin 2, grid 2, bin 1, point 1) = 3.5', () => {
    expect(sampleCoord(0, 2, 2, 1, 1)).toBe(3.5);
  });

  it('roiPoolBin of roiPoolFrame(0.4, 0.6, 2.5, 3.49) bin (1, 0) covers rows [2, 4), cols [0, 2)', () => {
    const frame = roiPoolFrame(0.4, 0.6, 2.5, 3.49, 1, 2, 2);
    expect(roiPoolBin(frame, 1, 0, 5, 5)).toEqual({ hStart: 2, hEnd: 4, wStart: 0, wEnd: 2 });
  });
});

for (const backend of nodeBackends()) {
  describe(`RoI kernels on ${backend}`, () => {
    let before = 0;
    beforeAll(async () => {
      await useBackend(backend);
      before = tf.memory().numTensors;
    });
    afterAll(() => {
      // Leave nothing on this backend before the next one takes over.
      expect(tf.memory().numTensors).toBe(before);
    });

    for (const c of CASES) {
      it(c.name, async () => {
        const x = arangeMap(c.map?.offsets, c.map?.images);
        const y = tf.tidy(() => c.run(x));
        expect(y.shape).toEqual(c.shape);
        const got = Array.from(await y.data());
        tf.dispose([x, y]);
        expect(got.length).toBe(c.expected.length);
        got.forEach((v, i) => expect(v, `element ${i}`).toBeCloseTo(c.expected[i]!, 5));
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it('roiWarp(x, rois, scale 0.5) equals roiAlign(x, round(rois·0.5), scale 1, aligned false) on random data', async () => {
      const rng = mulberry32(7);
      const xv = Float32Array.from({ length: 2 * 9 * 11 * 3 }, () => rng() * 4 - 2);
      const rv: number[] = [];
      for (let k = 0; k < 12; k++) {
        const x1 = rng() * 24 - 3, y1 = rng() * 20 - 3;
        rv.push(k % 2, x1, y1, x1 + rng() * 14, y1 + rng() * 12);
      }
      const quantized = rv.map((v, i) => (i % 5 === 0 ? v : roundHalfAway(Math.fround(Math.fround(v) * 0.5))));
      const [warp, align] = tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 9, 11, 3]);
        return [
          roiWarp(x, tf.tensor2d(rv, [12, 5]), { outputSize: [3, 2], spatialScale: 0.5, samplingRatio: 0 }),
          roiAlign(x, tf.tensor2d(quantized, [12, 5]), { outputSize: [3, 2], spatialScale: 1, samplingRatio: 0, aligned: false }),
        ];
      });
      const [a, b] = [await warp.data(), await align.data()];
      tf.dispose([warp, align]);
      expect(Array.from(a)).toEqual(Array.from(b));
    });

    it.runIf(backend === 'webgpu')('WGSL divRn(a, b) = Math.fround(a / b) (correctly rounded) on 4096 pairs', async () => {
      const rng = mulberry32(11);
      const a: number[] = [], b: number[] = [];
      for (let i = 0; i < 1024; i++) { a.push(Math.floor(rng() * 300) + 1); b.push(Math.floor(rng() * 28) + 1); } // roi size / PH
      for (let i = 0; i < 1024; i++) { a.push((Math.floor(rng() * 8) + 0.5) * Math.fround(rng() * 40)); b.push(Math.floor(rng() * 8) + 1); } // (i+½)·bin / grid
      for (let i = 0; i < 1024; i++) { a.push((rng() - 0.5) * 2 ** (rng() * 60 - 30)); b.push((rng() - 0.5) * 2 ** (rng() * 60 - 30)); }
      for (let i = 0; i < 1024; i++) { a.push(Math.floor(rng() * 2 ** 24)); b.push(Math.floor(rng() * 2 ** 12) + 1); }
      const fa = Float32Array.from(a), fb = Float32Array.from(b);
      const program: WebGPUProgram = {
        variableNames: ['A', 'B'], outputShape: [fa.length], shaderKey: 'roiTestDivRn', size: true,
        dispatchLayout: { x: [0] }, dispatch: [Math.ceil(fa.length / 64), 1, 1], workgroupSize: [64, 1, 1],
        getUserCode: () => `${COMMON_WGSL}
          fn main(index : i32) { if (index < uniforms.size) { setOutputAtIndex(index, divRn(A[index], B[index])); } }`,
      };
      const ta = tf.tensor1d(fa), tb = tf.tensor1d(fb);
      const info = (tf.backend() as WebGPUBackend).runWebGPUProgram(program, [ta, tb], 'float32');
      const out = tf.engine().makeTensorFromTensorInfo(info);
      const got = await out.data();
      tf.dispose([ta, tb, out]);
      const wrong = Array.from(got).flatMap((v, i) => (Object.is(v, Math.fround(fa[i]! / fb[i]!)) ? [] : [`${fa[i]}/${fb[i]}: ${v}`]));
      expect(wrong.slice(0, 5)).toEqual([]);
    });

    describe('bad inputs throw RoiOpError naming what was expected', () => {
      const opts = { outputSize: [2, 2] as [number, number], spatialScale: 1, samplingRatio: 2, aligned: false };
      const bad: [string, RegExp, () => unknown][] = [
        ['roiAlign(int32 x) → float32 expected', /must be float32; found int32/, () => roiAlign(tf.zeros([1, 5, 5, 1], 'int32') as tf.Tensor4D, rois([0, 0, 0, 1, 1]), opts)],
        ['roiAlign(x [5, 5, 1]) → NHWC expected', /NHWC/, () => roiAlign(tf.zeros([5, 5, 1]) as unknown as tf.Tensor4D, rois([0, 0, 0, 1, 1]), opts)],
        ['roiAlign(rois [1, 4]) → [K, 5] expected', /\[K, 5\].*found \[1, 4\].*batch-index column/, () => roiAlign(arangeMap(), tf.tensor2d([0, 0, 1, 1], [1, 4]), opts)],
        ['roiAlign(outputSize [0, 2]) → integers ≥ 1', /outputSize/, () => roiAlign(arangeMap(), rois([0, 0, 0, 1, 1]), { ...opts, outputSize: [0, 2] })],
        ['roiPool(spatialScale 0) → > 0', /spatialScale/, () => roiPool(arangeMap(), rois([0, 0, 0, 1, 1]), { outputSize: [2, 2], spatialScale: 0 })],
        ['roiAlign(samplingRatio 1.5) → integer', /samplingRatio/, () => roiAlign(arangeMap(), rois([0, 0, 0, 1, 1]), { ...opts, samplingRatio: 1.5 })],
        ['roiAlign(x2 = NaN) → finite', /rois\[1\] has x2 = NaN.*finite/, () => roiAlign(arangeMap(), rois([0, 0, 0, 1, 1], [0, 0, 0, NaN, 1]), opts)],
        ['roiPool(y1 = Infinity) → finite', /y1 = Infinity/, () => roiPool(arangeMap(), rois([0, 0, Infinity, 1, 1]), { outputSize: [2, 2], spatialScale: 1 })],
        ['roiAlign(batch index 1, one image) → in range', /batch index 1.*1 image/, () => roiAlign(arangeMap(), rois([1, 0, 0, 1, 1]), opts)],
        ['multiScaleRoiPool(levels [2], 2 maps) → in range', /levels\[0\] = 2.*2 feature maps/, () =>
          multiScaleRoiPool([arangeMap(), arangeMap()], tf.tensor2d([0, 0, 1, 1], [1, 4]), tf.tensor1d([2], 'int32'), { ...opts, pooler: 'roiAlign', scales: [1, 0.5] })],
        ['multiScaleRoiPool(float levels) → int32', /levels must be int32/, () =>
          multiScaleRoiPool([arangeMap()], tf.tensor2d([0, 0, 1, 1], [1, 4]), tf.tensor1d([0]), { ...opts, pooler: 'roiAlign', scales: [1] })],
        ['multiScaleRoiPool(scales for 1 of 2 maps) → one per map', /one spatial scale per feature map \(2\)/, () =>
          multiScaleRoiPool([arangeMap(), arangeMap()], tf.tensor2d([0, 0, 1, 1], [1, 4]), tf.tensor1d([0], 'int32'), { ...opts, pooler: 'roiAlign', scales: [1] })],
      ];
      for (const [name, message, call] of bad) {
        it(name, () => {
          const start = tf.memory().numTensors;
          let caught: unknown;
          tf.engine().startScope();
          try {
            call();
          } catch (e) {
            caught = e;
          } finally {
            tf.engine().endScope();
          }
          expect(caught).toBeInstanceOf(RoiOpError);
          expect((caught as Error).message).toMatch(message);
          expect(tf.memory().numTensors).toBe(start);
        });
      }
    });
  });
}

