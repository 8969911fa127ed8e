/**
 * Public RoI pooling ops (tfjs, NHWC) and their argument checks. Each op runs one registered kernel:
 * a WGSL program on `webgpu` (roi_webgpu.ts), a GLSL program on `webgl` (roi_webgl.ts) and a CPU
 * twin on `cpu` and `wasm` (roi_cpu.ts). The semantics (torchvision's) are written out in
 * roi_geometry.ts.
 *
 * Glossary
 *   x         feature map, float32 NHWC [N, H, W, C]
 *   rois      [K, 5] float32: (batch index, x1, y1, x2, y2) in image pixels (torchvision's RoI format)
 *   boxes     [K, 4] float32: (x1, y1, x2, y2) in image pixels, all from image 0 (multi-scale op)
 *   levels    [K] int32: pyramid level index of each box (0 = the first map in `features`)
 *   K         number of RoIs; output [K, PH, PW, C]
 *   PH, PW    `outputSize`
 *
 * Checks on values (finite coordinates, batch index and level in range) need the RoIs on the host:
 * the CPU twins always have them; the WebGPU and WebGL kernels check them when the RoI tensor's values
 * are still host-side (a tensor made from a typed array and not yet used on the GPU, the engine's case).
 * RoIs that already live on the GPU are not checked there: the shader then reads 0 for a sample
 * with a NaN coordinate (torchvision does too) and writes 0 for a RoI whose batch index or level is
 * out of range. Use `checkRoiValues` on plain arrays to check them yourself.
 */
import * as tf from '@tensorflow/tfjs-core';

export const RoiAlignKernel = 'RoiAlign';
export const RoiPoolKernel = 'RoiPool';
export const RoiWarpKernel = 'RoiWarp';
export const MultiScaleRoiPoolKernel = 'MultiScaleRoiPool';

export type RoiPooler = 'roiAlign' | 'roiPool' | 'roiWarp';
export type RoiReduce = 'avg' | 'max';

export interface RoiAlignOptions {
  /** [PH, PW] bins per RoI */
  outputSize: [number, number];
  /** feature-map size / image size (torchvision `spatial_scale`) */
  spatialScale: number;
  /** sampling points per bin along each axis; ≤ 0 = adaptive ⌈roi size / output size⌉ (torchvision `sampling_ratio`) */
  samplingRatio: number;
  /** subtract half a pixel from the scaled coordinates (torchvision `aligned`; false in Mask R-CNN v1) */
  aligned: boolean;
  /** average the sampling points (torchvision, default) or take their maximum */
  mode?: RoiReduce;
}

export interface RoiPoolOptions {
  outputSize: [number, number];
  spatialScale: number;
}

export interface RoiWarpOptions {
  outputSize: [number, number];
  spatialScale: number;
  samplingRatio: number;
  mode?: RoiReduce;
}

export interface MultiScaleRoiPoolOptions {
  pooler: RoiPooler;
  outputSize: [number, number];
  /** spatial scale of each map in `features` (1/4, 1/8, … for P2, P3, …) */
  scales: number[];
  /** for roiAlign and roiWarp */
  samplingRatio: number;
  /** for roiAlign */
  aligned: boolean;
  mode?: RoiReduce;
}

/** Kernel attributes: what every backend's kernel function receives. */
export interface RoiKernelAttrs {
  pooler: RoiPooler;
  mode: RoiReduce;
  outputSize: [number, number];
  /** one per feature map */
  scales: number[];
  samplingRatio: number;
  aligned: boolean;
}

export class RoiOpError extends Error {
  override name = 'RoiOpError';
}

const POOLERS: readonly RoiPooler[] = ['roiAlign', 'roiPool', 'roiWarp'];
const KERNEL_OF: Record<RoiPooler, string> = { roiAlign: RoiAlignKernel, roiPool: RoiPoolKernel, roiWarp: RoiWarpKernel };

/**
 * RoIAlign (Mask R-CNN) with torchvision `roi_align` semantics, NHWC:
 * x [N, H, W, C] float32, rois [K, 5] (batch index, x1, y1, x2, y2) → [K, PH, PW, C].
 */
export function roiAlign(x: tf.Tensor4D, rois: tf.Tensor2D, options: RoiAlignOptions): tf.Tensor4D {
  const op = 'roiAlign';
  checkMap(op, 'x', x);
  checkRois(op, rois);
  const attrs: RoiKernelAttrs = {
    pooler: 'roiAlign',
    mode: checkMode(op, options.mode),
    outputSize: checkOutputSize(op, options.outputSize),
    scales: [checkScale(op, 'spatialScale', options.spatialScale)],
    samplingRatio: checkSamplingRatio(op, options.samplingRatio),
    aligned: checkBool(op, 'aligned', options.aligned),
  };
  return runSingle(x, rois, attrs);
}

/**
 * RoIPool (Fast R-CNN) with torchvision `roi_pool` semantics, NHWC:
 * x [N, H, W, C] float32, rois [K, 5] → [K, PH, PW, C] (max over the quantized bin's cells).
 */
export function roiPool(x: tf.Tensor4D, rois: tf.Tensor2D, options: RoiPoolOptions): tf.Tensor4D {
  const op = 'roiPool';
  checkMap(op, 'x', x);
  checkRois(op, rois);
  const attrs: RoiKernelAttrs = {
    pooler: 'roiPool',
    mode: 'max',
    outputSize: checkOutputSize(op, options.outputSize),
    scales: [checkScale(op, 'spatialScale', options.spatialScale)],
    samplingRatio: 0,
    aligned: false,
  };
  return runSingle(x, rois, attrs);
}

/**
 * RoIWarp (MNC): the RoI quantized like RoIPool, then sampled bilinearly like RoIAlign
 * (definition in roi_geometry.ts). x [N, H, W, C] float32, rois [K, 5] → [K, PH, PW, C].
 */
export function roiWarp(x: tf.Tensor4D, rois: tf.Tensor2D, options: RoiWarpOptions): tf.Tensor4D {
  const op = 'roiWarp';
  checkMap(op, 'x', x);
  checkRois(op, rois);
  const attrs: RoiKernelAttrs = {
    pooler: 'roiWarp',
    mode: checkMode(op, options.mode),
    outputSize: checkOutputSize(op, options.outputSize),
    scales: [checkScale(op, 'spatialScale', options.spatialScale)],
    samplingRatio: checkSamplingRatio(op, options.samplingRatio),
    aligned: false,
  };
  return runSingle(x, rois, attrs);
}

/**
 * Multi-scale RoI pooling (torchvision `MultiScaleRoIAlign`, batch 1) in one kernel call: box k is
 * pooled from `features[levels[k]]` with `scales[levels[k]]`. features: pyramid maps [1, Hl, Wl, C];
 * boxes [K, 4] (x1, y1, x2, y2) in image pixels; levels [K] int32 → [K, PH, PW, C] in box order.
 */
export function multiScaleRoiPool(
  features: readonly tf.Tensor4D[],
  boxes: tf.Tensor2D,
  levels: tf.Tensor1D,
  options: MultiScaleRoiPoolOptions,
): tf.Tensor4D {
  const op = 'multiScaleRoiPool';
  if (features.length === 0) throw new RoiOpError(`${op}: features is empty; pass the pyramid maps [1, H, W, C], finest first`);
  features.forEach((m, i) => checkMap(op, `features[${i}]`, m));
  const channels = features[0]!.shape[3];
  features.forEach((m, i) => {
    if (m.shape[0] !== 1) {
      throw new RoiOpError(`${op}: features[${i}] has batch ${m.shape[0]}; this op pools from one image (batch 1); use roiAlign with batch indices for more`);
    }
    if (m.shape[3] !== channels) {
      throw new RoiOpError(`${op}: features[${i}] has ${m.shape[3]} channels but features[0] has ${channels}; all levels must have the same channel count`);
    }
  });
  if (boxes.rank !== 2 || boxes.shape[1] !== 4) {
    throw new RoiOpError(`${op}: boxes must be [K, 4] (x1, y1, x2, y2); found [${boxes.shape.join(', ')}]`);
  }
  if (boxes.dtype !== 'float32') throw new RoiOpError(`${op}: boxes must be float32; found ${boxes.dtype}; cast with tf.cast(boxes, 'float32')`);
  if (levels.rank !== 1 || levels.shape[0] !== boxes.shape[0]) {
    throw new RoiOpError(`${op}: levels must be [K] with K = ${boxes.shape[0]} (one per box); found [${levels.shape.join(', ')}]`);
  }
  if (levels.dtype !== 'int32') throw new RoiOpError(`${op}: levels must be int32; found ${levels.dtype}; make it with tf.tensor1d(levels, 'int32')`);
  if (!POOLERS.includes(options.pooler)) {
    throw new RoiOpError(`${op}: pooler '${String(options.pooler)}' is unknown; expected 'roiAlign', 'roiPool' or 'roiWarp'`);
  }
  if (!Array.isArray(options.scales) || options.scales.length !== features.length) {
    throw new RoiOpError(`${op}: scales must hold one spatial scale per feature map (${features.length}); found ${JSON.stringify(options.scales)}`);
  }
  const attrs: RoiKernelAttrs = {
    pooler: options.pooler,
    mode: options.pooler === 'roiPool' ? 'max' : checkMode(op, options.mode),
    outputSize: checkOutputSize(op, options.outputSize),
    scales: options.scales.map((s, i) => checkScale(op, `scales[${i}]`, s)),
    samplingRatio: options.pooler === 'roiPool' ? 0 : checkSamplingRatio(op, options.samplingRatio),
    aligned: options.pooler === 'roiAlign' ? checkBool(op, 'aligned', options.aligned) : false,
  };
  const [ph, pw] = attrs.outputSize;
  const k = boxes.shape[0];
  if (k === 0) return emptyPooled(features[0]!, ph, pw);
  const inputs: tf.NamedTensorMap = { boxes, levels };
  features.forEach((m, i) => (inputs[`level${i}`] = m));
  return tf.engine().runKernel(MultiScaleRoiPoolKernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * The [0, ph, pw, C] result of pooling no RoI, computed from `x` (an empty slice, tiled) so that it
 * stays connected to `x` and tf.grad gives a zero gradient instead of "y is not a function of x".
 */
function emptyPooled(x: tf.Tensor4D, ph: number, pw: number): tf.Tensor4D {
  // [N, H, W, C] → [0, 1, 1, C] → [0, ph, pw, C]
  return tf.tidy(() => tf.tile(tf.slice(x, [0, 0, 0, 0], [0, 1, 1, x.shape[3]]), [1, ph, pw, 1]));
}

function runSingle(x: tf.Tensor4D, rois: tf.Tensor2D, attrs: RoiKernelAttrs): tf.Tensor4D {
  const [ph, pw] = attrs.outputSize;
  if (rois.shape[0] === 0) return emptyPooled(x, ph, pw);
  return tf.engine().runKernel(KERNEL_OF[attrs.pooler], { x, rois }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

function checkMap(op: string, name: string, x: tf.Tensor): void {
  if (!(x instanceof tf.Tensor)) throw new RoiOpError(`${op}: ${name} must be a tf.Tensor4D [N, H, W, C]; found ${typeof x}`);
  if (x.rank !== 4) throw new RoiOpError(`${op}: ${name} must be NHWC [N, H, W, C]; found shape [${x.shape.join(', ')}]`);
  if (x.dtype !== 'float32') throw new RoiOpError(`${op}: ${name} must be float32; found ${x.dtype}; cast with tf.cast(${name}, 'float32')`);
  if (x.shape[1] === 0 || x.shape[2] === 0) throw new RoiOpError(`${op}: ${name} has an empty map [${x.shape.join(', ')}]; H and W must be ≥ 1`);
}

function checkRois(op: string, rois: tf.Tensor): void {
  if (rois.rank !== 2 || rois.shape[1] !== 5) {
    throw new RoiOpError(
      `${op}: rois must be [K, 5] (batch index, x1, y1, x2, y2); found [${rois.shape.join(', ')}]` +
        (rois.rank === 2 && rois.shape[1] === 4 ? '; prepend a batch-index column (0 for a single image)' : ''),
    );
  }
  if (rois.dtype !== 'float32') throw new RoiOpError(`${op}: rois must be float32; found ${rois.dtype}; cast with tf.cast(rois, 'float32')`);
}

function checkOutputSize(op: string, size: readonly number[]): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RoiOpError(`${op}: outputSize must be [height, width] with integers ≥ 1; found ${JSON.stringify(size)}`);
  }
  return [size[0]!, size[1]!];
}

function checkScale(op: string, name: string, s: number): number {
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) {
    throw new RoiOpError(`${op}: ${name} must be a finite number > 0 (feature size / image size, e.g. 0.25); found ${s}`);
  }
  return s;
}

function checkSamplingRatio(op: string, r: number): number {
  if (!Number.isInteger(r)) {
    throw new RoiOpError(`${op}: samplingRatio must be an integer (> 0: points per bin axis, ≤ 0: adaptive); found ${r}`);
  }
  return r;
}

function checkBool(op: string, name: string, v: boolean): boolean {
  if (typeof v !== 'boolean') throw new RoiOpError(`${op}: ${name} must be true or false; found ${JSON.stringify(v)}`);
  return v;
}

function checkMode(op: string, mode: RoiReduce | undefined): RoiReduce {
  if (mode === undefined) return 'avg';
  if (mode !== 'avg' && mode !== 'max') throw new RoiOpError(`${op}: mode must be 'avg' or 'max'; found ${JSON.stringify(mode)}`);
  return mode;
}

/**
 * Check RoI values on the host: every coordinate finite, batch indices (stride 5) integers in
 * [0, batch), levels integers in [0, numLevels). Throws RoiOpError naming the first bad RoI.
 * `rois` is [K, 5] (batch index, x1, y1, x2, y2) when `stride` is 5, [K, 4] boxes when it is 4.
 */
export function checkRoiValues(
  op: string,
  rois: ArrayLike<number>,
  stride: 4 | 5,
  batch: number,
  levels?: { values: ArrayLike<number>; count: number },
): void {
  const k = rois.length / stride;
  const names = stride === 5 ? ['batch index', 'x1', 'y1', 'x2', 'y2'] : ['x1', 'y1', 'x2', 'y2'];
  const what = stride === 5 ? 'rois' : 'boxes';
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < stride; j++) {
      const v = rois[i * stride + j]!;
      if (!Number.isFinite(v)) {
        throw new RoiOpError(`${op}: ${what}[${i}] has ${names[j]} = ${v}; every coordinate must be finite; drop or fix that box before pooling`);
      }
    }
    if (stride === 5) {
      const b = rois[i * 5]!;
      if (!Number.isInteger(b) || b < 0 || b >= batch) {
        throw new RoiOpError(`${op}: rois[${i}] has batch index ${b}, but x holds ${batch} image(s) (indices 0..${batch - 1}); fix the first column of rois`);
      }
    }
    if (levels !== undefined) {
      const l = levels.values[i]!;
      if (!Number.isInteger(l) || l < 0 || l >= levels.count) {
        throw new RoiOpError(`${op}: levels[${i}] = ${l}, but there are ${levels.count} feature maps (levels 0..${levels.count - 1})`);
      }
    }
  }
}
