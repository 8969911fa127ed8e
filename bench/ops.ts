/**
 * `npx tsx bench/ops.ts [--backend wasm] [--size 800] [--detections 33] [--reps 5] [--wasm-threads N]`
 *
 * Micro-benchmarks behind the profile's biggest avoidable costs: each case times what
 * src/stages does today against a candidate rewrite on the same inputs, checks that the candidate
 * computes the same thing (max |difference| relative to max |value|), and prints best-of-reps ms.
 * Shapes are the ones of a 480×640 image at `--size` (800 → padded 800×1088).
 *
 *   deconv    mask head conv5_mask: ConvTranspose2d 2×2 stride 2 (tf.conv2dTranspose, wasm's
 *             Conv2DBackpropInput is a plain loop) vs matMul [D·14·14, 256]·[256, 4·256] and a
 *             pixel shuffle (depthToSpace, or a transpose, or one matMul per output-row parity +
 *             concat); exact because kernel = stride: the output taps never overlap
 *   upsample  FPN top-down nearest 2× (two tf.gather) vs resizeNearestNeighbor, and vs
 *             reshape + concat (index-exact for out = 2·in, torch's `dst >> 1`)
 *   conv3x3   the dominant 3×3 conv 256→256 on P2 (FPN output, RPN head): GFLOP/s, for comparing
 *             --wasm-threads 1 and 2
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { type Backend, useBackend } from '../src/node/backend.ts';
import { type ConvTranspose2d, convTranspose2d } from '../src/stages/layers.ts';
import { upsampleNearest } from '../src/stages/fpn.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    size: { type: 'string', default: '800' },
    detections: { type: 'string', default: '33' },
    reps: { type: 'string', default: '5' },
    'wasm-threads': { type: 'string', default: '1' },
  },
});
const reps = Number(values.reps);
const D = Number(values.detections);
const size = Number(values.size);
// 480×640 → scale min(size/480, 1333/640); padded to multiples of 32.
const scale = Math.min(size / 480, 1333 / 640);
const [H, W] = [Math.floor(480 * scale), Math.floor(640 * scale)].map((v) => Math.ceil(v / 32) * 32) as [number, number];

async function time(fn: () => tf.Tensor): Promise<{ ms: number; out: Float32Array }> {
  let best = Infinity;
  let out: Float32Array = new Float32Array(0);
  for (let r = 0; r < reps + 1; r++) {
    const t0 = performance.now();
    const y = fn();
    const data = (await y.data()) as Float32Array;
    const ms = performance.now() - t0;
    y.dispose();
    if (r > 0) best = Math.min(best, ms); // rep 0 warms up (XNNPACK operator creation, weight packing)
    out = data;
  }
  return { ms: best, out };
}

function relDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return m === 0 ? d : d / m;
}

async function compare(name: string, current: () => tf.Tensor, candidates: [string, () => tf.Tensor][]): Promise<void> {
  const ref = await time(current);
  console.log(`${name.padEnd(48)} ${ref.ms.toFixed(1).padStart(9)} ms  (current)`);
  for (const [label, fn] of candidates) {
    const c = await time(fn);
    console.log(`  ${label.padEnd(46)} ${c.ms.toFixed(1).padStart(9)} ms  ×${(ref.ms / c.ms).toFixed(1)} faster, rel diff ${relDiff(c.out, ref.out).toExponential(1)}`);
  }
}

async function main(): Promise<void> {
  const threads = Number(values['wasm-threads']);
  const restore = values.backend === 'wasm' && threads > 1 ? await (await import('./wasm_threads.ts')).enableWasmThreads(threads) : undefined;
  try {
    await useBackend(values.backend as Backend);
  } finally {
    restore?.();
  }
  tf.randomNormal([1], 0, 1, 'float32', 1).dispose(); // seed once
  console.log(`backend ${tf.getBackend()}, padded ${H}×${W}, ${D} detections, best of ${reps}`);

  // Mask head deconv: x [D, 14, 14, 256] → [D, 28, 28, 256], then ReLU (as mask_head.ts).
  {
    const x = tf.randomNormal([D, 14, 14, 256], 0, 1, 'float32', 2) as tf.Tensor4D;
    const layer: ConvTranspose2d = {
      filter: tf.randomNormal([2, 2, 256, 256], 0, 0.05, 'float32', 3) as tf.Tensor4D, // [kh, kw, out, in]
      bias: tf.randomNormal([256], 0, 0.1, 'float32', 4) as tf.Tensor1D,
      kernel: 2,
      stride: 2,
      outChannels: 256,
    };
    // At load time: [kh, kw, out, in] → [in, kh, kw, out] → [in, kh·kw·out]; bias tiled per tap.
    const w = tf.reshape(tf.transpose(layer.filter, [3, 0, 1, 2]), [256, 4 * 256]) as tf.Tensor2D;
    const b = tf.tile(layer.bias, [4]) as tf.Tensor1D;
    // Per output-row parity r: columns (r, 0, ·) and (r, 1, ·) of w → [256, 2·256].
    const wRows = [0, 1].map((r) => tf.slice(w, [0, r * 512], [256, 512]) as tf.Tensor2D);
    const bRows = [0, 1].map(() => tf.tile(layer.bias, [2]) as tf.Tensor1D);
    await compare(`mask deconv 2×2 s2 [${D},14,14,256] + ReLU`, () => tf.tidy(() => tf.relu(convTranspose2d(layer, x))), [
      [
        'matMul [D·196, 256]·[256, 1024] + depthToSpace',
        () =>
          tf.tidy(() => {
            const y = tf.fused.matMul({ a: tf.reshape(x, [D * 196, 256]), b: w, bias: b, activation: 'relu' }); // [D·14·14, 2·2·256]
            return tf.depthToSpace(tf.reshape(y, [D, 14, 14, 1024]) as tf.Tensor4D, 2); // [D, 28, 28, 256]
          }),
      ],
      [
        'matMul + reshape/transpose (rank 5)',
        () =>
          tf.tidy(() => {
            const y = tf.fused.matMul({ a: tf.reshape(x, [D * 196, 256]), b: w, bias: b, activation: 'relu' }); // [D·14·14, 2·2·256]
            // [D·14, 14, 2, 2·256] → [D·14, 2, 14, 2·256] → [D, 28, 28, 256]
            return tf.reshape(tf.transpose(tf.reshape(y, [D * 14, 14, 2, 512]), [0, 2, 1, 3]), [D, 28, 28, 256]);
          }),
      ],
      [
        'two matMuls (one per output row parity) + concat',
        () =>
          tf.tidy(() => {
            const a = tf.reshape(x, [D * 196, 256]);
            // row parity r: [D·14·14, 256]·[256, 2·256] = taps (r, 0), (r, 1) → [D·14, 1, 28·256]
            const rows = wRows.map((wr, r) => tf.reshape(tf.fused.matMul({ a, b: wr, bias: bRows[r], activation: 'relu' }), [D * 14, 1, 28 * 256]));
            return tf.reshape(tf.concat(rows, 1), [D, 28, 28, 256]); // [D·14, 2, 28·256] → [D, 28, 28, 256]
          }),
      ],
      ['(the matMul alone, not a full rewrite)', () => tf.fused.matMul({ a: tf.reshape(x, [D * 196, 256]), b: w, bias: b, activation: 'relu' })],
    ]);
    tf.dispose([x, layer.filter, layer.bias, w, b, ...wRows, ...bRows]);
  }

  // FPN top-down upsampling, every level.
  for (const stride of [8, 16, 32]) {
    const [h, w] = [H / stride, W / stride];
    const x = tf.randomNormal([1, h, w, 256], 0, 1, 'float32', 5) as tf.Tensor4D;
    await compare(`fpn upsample nearest 2× [1,${h},${w},256]`, () => upsampleNearest(x, [2 * h, 2 * w]), [
      ['tf.image.resizeNearestNeighbor', () => tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w])],
      [
        'reshape + concat (out = 2·in only)',
        () =>
          tf.tidy(() => {
            const cols = tf.reshape(tf.concat([x, x], 3), [1, h, 1, 2 * w * 256]); // each pixel twice along x
            return tf.reshape(tf.concat([cols, cols], 2), [1, 2 * h, 2 * w, 256]); // each row twice along y
          }),
      ],
    ]);
    x.dispose();
  }

  // The dominant 3×3 conv (FPN layer block / RPN conv on P2), for the threads comparison.
  {
    const [h, w] = [H / 4, W / 4];
    const x = tf.randomNormal([1, h, w, 256], 0, 1, 'float32', 12) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 256, 256], 0, 0.02, 'float32', 13) as tf.Tensor4D;
    const bias = tf.randomNormal([256], 0, 0.1, 'float32', 14) as tf.Tensor1D;
    const r = await time(() => tf.fused.conv2d({ x, filter: f, strides: 1, pad: [[0, 0], [1, 1], [1, 1], [0, 0]], bias, activation: 'relu' }));
    const gflop = (2 * h * w * 256 * 256 * 9) / 1e9;
    console.log(`3×3 conv 256→256 on P2 [1,${h},${w},256]`.padEnd(48), `${r.ms.toFixed(1).padStart(9)} ms  ${(gflop / (r.ms / 1000)).toFixed(1)} GFLOP/s`);
    tf.dispose([x, f, bias]);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
