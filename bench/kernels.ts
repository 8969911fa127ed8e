/**
 * `npm run bench:kernels -- [--rois 1000] [--channels 256] [--sizes 7,14] [--ratio 2] [--reps 3]
 *                           [--backends webgpu,cpu,wasm] [--seed 1]`
 *
 * The RoI kernel benchmark (issue 3 item 5): multi-level RoIAlign of K RoIs on a 4-level FPN
 * pyramid (P2..P5 of a padded 800×1088 image: 200×272 … 25×34, C channels), sampling ratio fixed,
 * aligned = false, timed side by side in one process:
 *
 *   (a) kernel    `multiScaleRoiPool(features, boxes, levels, {pooler: 'roiAlign', …})`: our WGSL
 *                 program, one dispatch for all RoIs and levels (webgpu backend)
 *   (b) composed  the same result from stock tfjs ops on the same adapter, per level: symmetric
 *                 mirror pad by 1 + `tf.image.cropAndResize` to a (PH·ratio)×(PW·ratio) crop whose
 *                 bilinear samples land on RoIAlign's sampling points + `avgPool(ratio)`, then concat
 *                 and gather back into RoI order
 *   (c) twin      the same op on `cpu` and `wasm`: our CPU twin (roi_cpu.ts)
 *
 * Why (b) equals RoIAlign (torchvision `roi_align`, aligned = false, sampling ratio r fixed): along x,
 * the r·PW sampling points of a RoI are evenly spaced, x_j = x1·s + (j + ½)·binW / r, binW =
 * max(x2·s − x1·s, 1) / PW, so a crop of r·PW columns from the first to the last point samples them
 * exactly (cropAndResize: in_x = x1n·(W'−1) + j·(x2n − x1n)·(W'−1)/(N−1) on a map of width W').
 * torchvision reads 0 for a point beyond [−1, W] and clamps a point in [−1, 0] to 0 and one in
 * [W−1, W] to W−1; a map padded by one mirrored (= repeated) cell on each side does the same: there
 * the point sits at x + 1 in [0, W + 1], its neighbours outside are copies of the edge, and beyond
 * that cropAndResize returns its extrapolation value 0. avgPool(r, stride r) then averages each
 * bin's r×r points (count = r², as torchvision's). Only float rounding differs (the crop positions are
 * recomputed from normalized corners), which the bench prints as max |(b) − (a)|. The per-level
 * split (indices, normalized boxes, inverse permutation) is prepared on the host before timing: (b)
 * is timed on its GPU work only, its most favourable case.
 *
 * Timing: one warm-up round (it compiles the shaders), then `--reps` rounds that call the cases in
 * turn (a, b, a, b, …, so that a load change on the shared machine hits both); a call ends when a
 * 1-element slice of its output has been read back (`await data()`), which waits for the whole
 * queue. Printed: median wall ms and, in parentheses, median CPU ms of the process (all threads,
 * SwiftShader's included: less sensitive to other processes than wall time). The last round's
 * outputs are read in full, after their timing, for the differences. On a machine without a GPU, WebGPU runs on SwiftShader (Vulkan emulated on the CPU
 * cores): ratios measured there say little about a real GPU.
 *
 * Run time on the 2-core SwiftShader machine: ≈ 17 min with `--reps 2` (the 14×14 composition
 * alone is ≈ 1 min of CPU per call); `--rois 200 --sizes 7` is a ≈ 1-minute check.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { type Backend, useBackend } from '../src/node/backend.ts';
import { mapLevels } from '../src/geometry/index.ts';
import { multiScaleRoiPool } from '../kernels/index.ts';

/** Padded image of the benchmark (800 px short side, 1088 = 1066 padded to a multiple of 32). */
export const IMAGE: [number, number] = [800, 1088];
/** P2..P5 strides. */
export const STRIDES = [4, 8, 16, 32];

// ---- problem ------------------------------------------------------------------------------------

/** Seeded uniform [0, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HostLevel {
  /** [1, H, W, C] NHWC */
  data: Float32Array;
  height: number;
  width: number;
}

/** Pyramid maps P2..P5 of an image `[H, W]` (H/stride × W/stride), values uniform in [−1, 1). */
export function makePyramid(image: [number, number], channels: number, seed: number): HostLevel[] {
  const next = rng(seed);
  return STRIDES.map((s) => {
    const height = Math.ceil(image[0] / s);
    const width = Math.ceil(image[1] / s);
    const data = new Float32Array(height * width * channels);
    for (let i = 0; i < data.length; i++) data[i] = 2 * next() - 1;
    return { data, height, width };
  });
}

/**
 * `count` RoIs (x1, y1, x2, y2) like RPN proposals: √area log-uniform in [16, 800] px, aspect ratio
 * log-uniform in [½, 2], centre uniform in the image, clipped to it (torchvision clips proposals).
 */
export function makeRois(count: number, image: [number, number], seed: number): Float32Array {
  const next = rng(seed);
  const [H, W] = image;
  const boxes = new Float32Array(4 * count);
  for (let i = 0; i < count; i++) {
    const side = 16 * Math.pow(800 / 16, next());
    const aspect = Math.pow(2, 2 * next() - 1); // h / w
    const w = side / Math.sqrt(aspect);
    const h = side * Math.sqrt(aspect);
    const cx = next() * W;
    const cy = next() * H;
    boxes[4 * i] = Math.max(0, cx - w / 2);
    boxes[4 * i + 1] = Math.max(0, cy - h / 2);
    boxes[4 * i + 2] = Math.min(W, cx + w / 2);
    boxes[4 * i + 3] = Math.min(H, cy + h / 2);
  }
  return boxes;
}

/** torchvision's level mapper (k0 = 4, s0 = 224) over P2..P5: 0-based level per box. */
export function levelsOf(boxes: Float32Array): Int32Array {
  return mapLevels(boxes, { canonicalScale: 224, canonicalLevel: 4, kMin: 2, kMax: 5 });
}

// ---- (b): RoIAlign composed from tfjs ops -------------------------------------------------------

export interface ComposedLevel {
  level: number;
  /** RoIs of this level, in input order */
  indices: Int32Array;
  /** [n, 4] normalized (y1, x1, y2, x2) of the first and last sampling point on the padded map */
  crops: Float32Array;
}

export interface ComposedPlan {
  levels: ComposedLevel[];
  /** position of RoI k in the level-ordered concatenation: gather(concat, inverse) restores RoI order */
  inverse: Int32Array;
}

/**
 * The host half of (b): split the RoIs by level and place each RoI's crop on the level's map padded
 * by one cell per side. The sampling-point geometry is RoIAlign's in float32 (aligned = false):
 * start = x1·s, size = max(x2·s − start, 1), bin = size / P, point j = start + (j + ½)·bin / r.
 */
export function composedPlan(
  boxes: Float32Array,
  levels: Int32Array,
  maps: readonly { height: number; width: number }[],
  scales: readonly number[],
  outputSize: [number, number],
  ratio: number,
): ComposedPlan {
  const f = Math.fround;
  const [PH, PW] = outputSize;
  const count = levels.length;
  /** first and last sampling point along one axis, float32 like the kernel */
  const ends = (a1: number, a2: number, s: number, bins: number): [number, number] => {
    const start = f(a1 * s);
    const size = Math.max(f(f(a2 * s) - start), 1);
    const bin = f(size / bins);
    const first = f(start + f(f(0.5 * bin) / ratio));
    const last = f(f(start + f((bins - 1) * bin)) + f(f((ratio - 0.5) * bin) / ratio));
    return [first, last];
  };
  const out: ComposedLevel[] = [];
  const inverse = new Int32Array(count);
  let at = 0;
  maps.forEach((map, level) => {
    const idx: number[] = [];
    for (let k = 0; k < count; k++) if (levels[k] === level) idx.push(k);
    if (idx.length === 0) return;
    const crops = new Float32Array(4 * idx.length);
    idx.forEach((k, i) => {
      const [y1, y2] = ends(boxes[4 * k + 1]!, boxes[4 * k + 3]!, scales[level]!, PH);
      const [x1, x2] = ends(boxes[4 * k]!, boxes[4 * k + 2]!, scales[level]!, PW);
      // padded map: H + 2 rows, point y sits at y + 1; cropAndResize normalizes by (H + 2) − 1
      crops[4 * i] = (y1 + 1) / (map.height + 1);
      crops[4 * i + 1] = (x1 + 1) / (map.width + 1);
      crops[4 * i + 2] = (y2 + 1) / (map.height + 1);
      crops[4 * i + 3] = (x2 + 1) / (map.width + 1);
      inverse[k] = at + i;
    });
    at += idx.length;
    out.push({ level, indices: Int32Array.from(idx), crops });
  });
  return { levels: out, inverse };
}

/** The plan's arrays as tensors (uploaded once, outside the timing). */
export interface ComposedTensors {
  levels: { level: number; crops: tf.Tensor2D; boxIndex: tf.Tensor1D }[];
  inverse: tf.Tensor1D;
}

export function composedTensors(plan: ComposedPlan): ComposedTensors {
  return {
    levels: plan.levels.map((l) => ({
      level: l.level,
      crops: tf.tensor2d(l.crops, [l.indices.length, 4]),
      boxIndex: tf.zeros([l.indices.length], 'int32') as tf.Tensor1D,
    })),
    inverse: tf.tensor1d(plan.inverse, 'int32'),
  };
}

/** (b): [K, PH, PW, C] RoIAlign from mirrorPad + cropAndResize + avgPool per level, in RoI order. */
export function composedRoiAlign(
  features: readonly tf.Tensor4D[],
  plan: ComposedTensors,
  outputSize: [number, number],
  ratio: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const parts = plan.levels.map(({ level, crops, boxIndex }) => {
      // [1, H, W, C] → [1, H + 2, W + 2, C], edges repeated
      const padded = tf.mirrorPad(features[level]!, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric');
      // → [n, PH·r, PW·r, C]: the sampling points
      const points = tf.image.cropAndResize(padded, crops, boxIndex, [outputSize[0] * ratio, outputSize[1] * ratio], 'bilinear', 0);
      return tf.avgPool(points, ratio, ratio, 'valid'); // [n, PH, PW, C]
    });
    const byLevel = parts.length === 1 ? parts[0]! : tf.concat(parts, 0); // [K, PH, PW, C], level order
    return tf.gather(byLevel, plan.inverse, 0); // [K, PH, PW, C], RoI order
  });
}

// ---- timing -------------------------------------------------------------------------------------

interface Timing {
  /** median wall-clock ms */
  wall: number;
  /** median CPU ms of this process (all its threads: SwiftShader's workers included) */
  cpu: number;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Time `cases` interleaved (a b c, a b c, …: a load change on the shared machine hits all of them):
 * one warm-up round, then `reps` rounds; a call ends when a 1-element slice of its output has been
 * read back, which waits for everything queued before it. The outputs of the last round are read
 * in full after their timing and returned.
 */
async function timeInterleaved(reps: number, cases: (() => tf.Tensor)[]): Promise<{ times: Timing[]; outputs: Float32Array[] }> {
  const wall: number[][] = cases.map(() => []);
  const cpu: number[][] = cases.map(() => []);
  const outputs: Float32Array[] = [];
  for (let r = 0; r <= reps; r++) {
    for (const [i, fn] of cases.entries()) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const y = fn();
      const one = tf.tidy(() => tf.slice(tf.reshape(y, [-1]), [0], [1])); // [1]
      await one.data();
      const ms = performance.now() - t0;
      const used = process.cpuUsage(c0);
      if (r === reps) outputs[i] = (await y.data()) as Float32Array;
      tf.dispose([y, one]);
      if (r > 0) {
        wall[i]!.push(ms);
        cpu[i]!.push((used.user + used.system) / 1000);
      }
    }
  }
  return { times: cases.map((_, i) => ({ wall: median(wall[i]!), cpu: median(cpu[i]!) })), outputs };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    if (!(e <= d)) d = e; // NaN propagates
  }
  return d;
}

interface Row {
  size: number;
  kernel?: Timing;
  composed?: Timing;
  pad?: Timing;
  twins: Record<string, Timing>;
  diffComposed?: number;
  diffTwin: Record<string, number>;
}

const ms = (t: Timing | undefined) => (t === undefined ? '—' : `${t.wall.toFixed(0)} (${t.cpu.toFixed(0)})`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rois: { type: 'string', default: '1000' },
      channels: { type: 'string', default: '256' },
      sizes: { type: 'string', default: '7,14' },
      ratio: { type: 'string', default: '2' },
      reps: { type: 'string', default: '3' },
      backends: { type: 'string', default: 'webgpu,cpu,wasm' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('npm run bench:kernels -- [--rois 1000] [--channels 256] [--sizes 7,14] [--ratio 2] [--reps 3] [--backends webgpu,cpu,wasm] [--seed 1]');
    return;
  }
  const K = Number(values.rois);
  const C = Number(values.channels);
  const sizes = values.sizes.split(',').map(Number);
  const ratio = Number(values.ratio);
  const reps = Number(values.reps);
  const seed = Number(values.seed);
  const backends = values.backends.split(',');
  if (![K, C, ratio, reps, ...sizes].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new Error('--rois, --channels, --sizes, --ratio and --reps must be integers ≥ 1');
  }
  const unknown = backends.filter((b) => !['webgpu', 'cpu', 'wasm'].includes(b));
  if (unknown.length > 0) throw new Error(`--backends: unknown ${unknown.join(', ')}; expected webgpu, cpu, wasm (comma-separated)`);
  const gpu = backends.includes('webgpu');
  const host = backends.filter((b) => b !== 'webgpu') as Backend[];

  const pyramid = makePyramid(IMAGE, C, seed);
  const boxes = makeRois(K, IMAGE, seed + 1);
  const levels = levelsOf(boxes);
  const scales = STRIDES.map((s) => 1 / s);
  const perLevel = STRIDES.map((_, l) => levels.filter((v) => v === l).length);
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`RoIAlign bench: ${K} RoIs (P2..P5: ${perLevel.join('/')}) × ${C} channels, image ${IMAGE.join('×')}, ` +
    `maps ${pyramid.map((m) => `${m.height}×${m.width}`).join(', ')}, sampling ratio ${ratio}, aligned false`);
  console.log(`median of ${reps} interleaved rounds after 1 warm-up round; ms = wall (CPU time of the process, all threads)`);
  console.log(`load average ${load()} on ${cpus().length} cores${loadavg()[0]! > 0.5 * cpus().length ? ' (busy: wall times are inflated)' : ''}`);

  const rows: Row[] = sizes.map((size) => ({ size, twins: {}, diffTwin: {} }));
  const reference: Float32Array[] = [];

  const upload = () => ({
    features: pyramid.map((m) => tf.tensor4d(m.data, [1, m.height, m.width, C])),
    boxTensor: tf.tensor2d(boxes, [K, 4]),
    levelTensor: tf.tensor1d(levels, 'int32'),
  });
  const kernelCall = (t: ReturnType<typeof upload>, size: number) => () =>
    multiScaleRoiPool(t.features, t.boxTensor, t.levelTensor, { pooler: 'roiAlign', outputSize: [size, size], scales, samplingRatio: ratio, aligned: false });

  if (gpu) {
    await useBackend('webgpu');
    const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string; description?: string } }).adapterInfo;
    console.log(`webgpu adapter: ${[info?.vendor, info?.architecture, info?.description].filter((s) => s).join(' / ') || 'unknown'}`);
    const t = upload();
    // The pad alone (all four levels), to show what part of (b) it is.
    const padOnly = () => tf.tidy(() => tf.stack(t.features.map((f) => tf.slice(tf.reshape(tf.mirrorPad(f, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric'), [-1]), [0], [1]))));
    for (const row of rows) {
      const size = row.size;
      const plan = composedTensors(composedPlan(boxes, levels, pyramid, scales, [size, size], ratio));
      const a = kernelCall(t, size);
      const b = () => composedRoiAlign(t.features, plan, [size, size], ratio);
      const { times, outputs } = await timeInterleaved(reps, [a, b, padOnly]);
      [row.kernel, row.composed, row.pad] = times;
      row.diffComposed = maxAbsDiff(outputs[0]!, outputs[1]!);
      reference.push(outputs[0]!);
      tf.dispose([plan.inverse, ...plan.levels.flatMap((l) => [l.crops, l.boxIndex])]);
      console.log(`  ${size}×${size} webgpu: (a) kernel ${ms(row.kernel)}, (b) composed ${ms(row.composed)} of which mirrorPad ${ms(row.pad)}; ` +
        `max |(b) − (a)| ${row.diffComposed.toExponential(1)}; load ${load()}`);
    }
    tf.dispose([...t.features, t.boxTensor, t.levelTensor]);
  }

  for (const name of host) {
    await useBackend(name);
    const t = upload();
    for (const [i, row] of rows.entries()) {
      const c = kernelCall(t, row.size);
      const { times, outputs } = await timeInterleaved(reps, [c]);
      row.twins[name] = times[0]!;
      const ref = reference[i];
      if (ref !== undefined) row.diffTwin[name] = maxAbsDiff(ref, outputs[0]!);
      console.log(`  ${row.size}×${row.size} ${name}: (c) twin ${ms(row.twins[name])}` +
        (row.diffTwin[name] === undefined ? '' : `; max |(c) − (a)| ${row.diffTwin[name]!.toExponential(1)}`) + `; load ${load()}`);
    }
    tf.dispose([...t.features, t.boxTensor, t.levelTensor]);
  }

  // Table: one line per output size; ratios of wall medians (CPU-time ratios in parentheses).
  const ratioOf = (v: Timing | undefined, a: Timing | undefined) =>
    v === undefined || a === undefined ? '—' : `${(v.wall / a.wall).toFixed(2)} (${(v.cpu / a.cpu).toFixed(2)})`;
  const head = [
    'output', '(a) kernel ms', '(b) composed ms', '(b) pad part ms', ...host.map((h) => `(c) ${h} ms`),
    '(b)/(a)', ...host.map((h) => `(c ${h})/(a)`), 'max|b−a|', ...host.map((h) => `max|c ${h}−a|`),
  ];
  console.log('');
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const cells = [
      `${r.size}×${r.size}`, ms(r.kernel), ms(r.composed), ms(r.pad), ...host.map((h) => ms(r.twins[h])),
      ratioOf(r.composed, r.kernel), ...host.map((h) => ratioOf(r.twins[h], r.kernel)),
      r.diffComposed === undefined ? '—' : r.diffComposed.toExponential(1),
      ...host.map((h) => (r.diffTwin[h] === undefined ? '—' : r.diffTwin[h]!.toExponential(1))),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log('\nms: median wall (median CPU time); ratios: wall (CPU). Target (issue 3): (b)/(a) ≥ 3; > 1 means the kernel is faster.');
  if (gpu) console.log('On SwiftShader (no GPU) WebGPU is emulated on the CPU cores: the ratios need not carry over to a real GPU.');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
