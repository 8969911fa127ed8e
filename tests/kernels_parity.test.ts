/**
 * RoI kernels vs torchvision (tests/oracle/roi_ops.py): random seeded maps and RoIs — inside,
 * partly outside, tiny, degenerate, inverted, on RoIPool's rounding ties — through
 * torchvision.ops.roi_align (aligned true/false, sampling 2 and adaptive), roi_pool and
 * MultiScaleRoIAlign on a 4-level pyramid (with torchvision's own level assignment), on every
 * backend in Node. Data goes through .npy files in a temp dir. Prints the max abs error per case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeNpy, encodeNpy } from '../src/io/npy.ts';
import { useBackend, type Backend } from '../src/node/backend.ts';
import { multiScaleRoiPool, roiAlign, roiPool } from '../kernels/index.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';
import { mulberry32, nodeBackends } from './support/backends.ts';



// ---- single-map data: x [2, 13, 17, 5] NHWC, image 52×68 px at scale 1/4 ---------------------------
const N = 2, H = 13, W = 17, C = 5;
const rng = mulberry32(2024);
const X = Float32Array.from({ length: N * H * W * C }, () => rng() * 4 - 2);

function makeRois(): Float32Array {
  const r: number[] = [];
  const push = (x1: number, y1: number, x2: number, y2: number) => r.push(Math.floor(rng() * N), x1, y1, x2, y2);
  const box = (x: number, y: number, w: number, h: number) => push(x, y, x + w, y + h);
  for (let i = 0; i < 16; i++) box(rng() * 60, rng() * 45, 4 + rng() * 36, 4 + rng() * 26); // inside
  for (let i = 0; i < 4; i++) box(-20 + rng() * 18, rng() * 40, 8 + rng() * 30, 6 + rng() * 20); // left edge
  for (let i = 0; i < 4; i++) box(50 + rng() * 15, 35 + rng() * 15, 10 + rng() * 30, 10 + rng() * 20); // bottom-right
  for (let i = 0; i < 6; i++) box(rng() * 66, rng() * 50, rng() * 2, rng() * 2); // tiny (< 2 px)
  for (let i = 0; i < 2; i++) { const x = rng() * 60, y = rng() * 45; push(x, y, x, y + 10); } // zero width
  for (let i = 0; i < 2; i++) { const x = rng() * 60, y = rng() * 45; push(x, y, x + 12, y); } // zero height
  for (let i = 0; i < 2; i++) { const x = 10 + rng() * 50, y = 10 + rng() * 35; push(x, y, x - 6, y - 5); } // inverted
  for (let i = 0; i < 8; i++) { // on the grid: x·scale lands on k + 0.5 (RoIPool's rounding ties) or integers
    const g = () => 2 * Math.floor(rng() * 34) - 2;
    const x1 = g(), y1 = g() * 0.75;
    push(x1, y1, x1 + 2 + 2 * Math.floor(rng() * 10), y1 + 2 + 2 * Math.floor(rng() * 8));
  }
  box(-10, -10, 90, 70); // covers the map and beyond
  box(0, 0, 68, 52);
  return Float32Array.from(r);
}
const ROIS = makeRois();
const K = ROIS.length / 5;

interface SingleCase {
  name: string;
  op: 'roi_align' | 'roi_pool';
  outputSize: [number, number];
  spatialScale: number;
  samplingRatio?: number;
  aligned?: boolean;
  tol: number;
}
const SINGLE: SingleCase[] = [
  { name: 'align_f_s2', op: 'roi_align', outputSize: [3, 4], spatialScale: 0.25, samplingRatio: 2, aligned: false, tol: 1e-6 },
  { name: 'align_t_s2', op: 'roi_align', outputSize: [3, 4], spatialScale: 0.25, samplingRatio: 2, aligned: true, tol: 1e-6 },
  { name: 'align_f_s0', op: 'roi_align', outputSize: [3, 4], spatialScale: 0.25, samplingRatio: 0, aligned: false, tol: 1e-6 },
  { name: 'align_t_s0', op: 'roi_align', outputSize: [3, 4], spatialScale: 0.25, samplingRatio: -1, aligned: true, tol: 1e-6 },
  { name: 'align_f_s3_half', op: 'roi_align', outputSize: [2, 2], spatialScale: 0.5, samplingRatio: 3, aligned: false, tol: 1e-6 },
  { name: 'pool_quarter', op: 'roi_pool', outputSize: [3, 4], spatialScale: 0.25, tol: 0 },
  { name: 'pool_half', op: 'roi_pool', outputSize: [2, 3], spatialScale: 0.5, tol: 0 },
];

// ---- pyramid data: image 256×256, maps 64, 32, 16, 8 (scales 1/4 … 1/32), C = 4 ---------------------
const PC = 4;
const SIZES = [64, 32, 16, 8];
const LEVELS = SIZES.map((s) => Float32Array.from({ length: s * s * PC }, () => rng() * 4 - 2));
function makeBoxes(): Float32Array {
  const r: number[] = [];
  for (let i = 0; i < 40; i++) {
    const side = 4 * Math.pow(2, rng() * 7.3); // 4 … ~630 px: every level from P2 to P5
    const w = side * (0.5 + rng()), h = (side * side) / w;
    const cx = rng() * 256, cy = rng() * 256;
    r.push(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
  }
  return Float32Array.from(r);
}
const BOXES = makeBoxes();
const MULTI = [
  { name: 'msra_s2', outputSize: [7, 7] as [number, number], samplingRatio: 2, tol: 1e-6 },
  { name: 'msra_s0', outputSize: [7, 7] as [number, number], samplingRatio: 0, tol: 1e-6 },
];

describe.runIf(hasTorchvision())('RoI kernels vs torchvision 0.14', () => {
  let dir = '';
  const expected = new Map<string, Float32Array>();
  const multiInputs = new Map<string, { levels: Int32Array; scales: number[] }>();
  const report: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'roi-ops-'));
    writeFileSync(join(dir, 'x.npy'), encodeNpy([N, H, W, C], X));
    writeFileSync(join(dir, 'rois.npy'), encodeNpy([K, 5], ROIS));
    LEVELS.forEach((v, i) => writeFileSync(join(dir, `p${i}.npy`), encodeNpy([1, SIZES[i]!, SIZES[i]!, PC], v)));
    writeFileSync(join(dir, 'boxes.npy'), encodeNpy([BOXES.length / 4, 4], BOXES));
    const cases = [
      ...SINGLE.map((c) => ({
        name: c.name, op: c.op, x: 'x.npy', rois: 'rois.npy', output_size: c.outputSize, spatial_scale: c.spatialScale,
        sampling_ratio: c.samplingRatio, aligned: c.aligned,
      })),
      ...MULTI.map((c) => ({
        name: c.name, op: 'multi_scale_roi_align', levels: SIZES.map((_, i) => `p${i}.npy`), boxes: 'boxes.npy',
        image_size: [256, 256], output_size: c.outputSize, sampling_ratio: c.samplingRatio,
      })),
    ];
    writeFileSync(join(dir, 'cases.json'), JSON.stringify({ cases }));
    oracle('roi_ops.py', [dir]);
    const read = (file: string) => decodeNpy(readFileSync(join(dir, file)));
    for (const c of [...SINGLE, ...MULTI]) expected.set(c.name, read(`out_${c.name}.npy`).data as Float32Array);
    for (const c of MULTI) {
      multiInputs.set(c.name, {
        levels: Int32Array.from(read(`levels_${c.name}.npy`).data),
        scales: Array.from(read(`scales_${c.name}.npy`).data),
      });
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (report.length > 0) console.log(`[kernels_parity] max abs error vs torchvision\n  ${report.join('\n  ')}`);
  });

  it('the pyramid boxes land on all 4 levels (so the multi-scale cases test level selection)', () => {
    const levels = multiInputs.get('msra_s2')!.levels;
    expect(new Set(levels)).toEqual(new Set([0, 1, 2, 3]));
    expect(multiInputs.get('msra_s2')!.scales).toEqual([0.25, 0.125, 0.0625, 0.03125]);
  });

  for (const backend of nodeBackends()) {
    describe(`on ${backend}`, () => {
      let before = 0;
      beforeAll(async () => {
        await useBackend(backend);
        before = tf.memory().numTensors;
      });
      afterAll(() => expect(tf.memory().numTensors).toBe(before));

      const check = async (name: string, tol: number, y: tf.Tensor4D, shape: number[]) => {
        expect(y.shape).toEqual(shape);
        const got = await y.data();
        y.dispose();
        const want = expected.get(name)!;
        expect(got.length).toBe(want.length);
        let err = 0, at = -1;
        got.forEach((v, i) => {
          const d = Math.abs(v - want[i]!);
          if (!(d <= err)) { err = d; at = i; }
        });
        report.push(`${backend} ${name}: ${err.toExponential(2)}`);
        expect(err, `largest error at flat index ${at} (NHWC): got ${got[at]}, torchvision ${want[at]}`).toBeLessThanOrEqual(tol);
      };

      for (const c of SINGLE) {
        const call = c.op === 'roi_align'
          ? `roiAlign(x, rois, ${c.outputSize.join('×')}, scale ${c.spatialScale}, sampling ${c.samplingRatio}, aligned ${c.aligned})`
          : `roiPool(x, rois, ${c.outputSize.join('×')}, scale ${c.spatialScale})`;
        it(`${call} matches torchvision.ops.${c.op} within ${c.tol}`, async () => {
          const y = tf.tidy(() => {
            const x = tf.tensor4d(X, [N, H, W, C]);
            const rois = tf.tensor2d(ROIS, [K, 5]);
            return c.op === 'roi_align'
              ? roiAlign(x, rois, { outputSize: c.outputSize, spatialScale: c.spatialScale, samplingRatio: c.samplingRatio!, aligned: c.aligned! })
              : roiPool(x, rois, { outputSize: c.outputSize, spatialScale: c.spatialScale });
          });
          await check(c.name, c.tol, y, [K, ...c.outputSize, C]);
        });
      }

      for (const c of MULTI) {
        it(`multiScaleRoiPool(4 levels, roiAlign ${c.outputSize.join('×')}, sampling ${c.samplingRatio}) matches torchvision.ops.MultiScaleRoIAlign within ${c.tol}`, async () => {
          const { levels, scales } = multiInputs.get(c.name)!;
          const y = tf.tidy(() => multiScaleRoiPool(
            LEVELS.map((v, i) => tf.tensor4d(v, [1, SIZES[i]!, SIZES[i]!, PC])),
            tf.tensor2d(BOXES, [BOXES.length / 4, 4]),
            tf.tensor1d(levels, 'int32'),
            { pooler: 'roiAlign', outputSize: c.outputSize, scales, samplingRatio: c.samplingRatio, aligned: false },
          ));
          await check(c.name, c.tol, y, [BOXES.length / 4, ...c.outputSize, PC]);
        });
      }
    });
  }
});
