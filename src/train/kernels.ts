/**
 * What tfjs needs before it can train Mask R-CNN: gradient functions, and the backward kernels the
 * `wasm` backend lacks (or runs slowly). `registerTrainingKernels()` is idempotent; the trainer calls
 * it once.
 *
 * 1. Gradients. tfjs-core's bundles (`tf-core.node.js`, `tf-core.fesm.js`) register no gradient
 *    functions; the union package `@tensorflow/tfjs` would, but we depend on tfjs-core only. The
 *    gradient configs are separate ES modules under `@tensorflow/tfjs-core/dist/gradients/`; we import
 *    the ones the training graph uses (each is plain code over tfjs ops; the kernel and gradient
 *    registries are process-global, so it does not matter which copy of tfjs-core runs them). Not
 *    `register_all_gradients.js`: it pulls `Prod_grad` → `base.js` → a directory import Node's ESM
 *    loader refuses. `StridedSlice` has no gradient in tfjs at all: ours (positive strides, no masks)
 *    scatters dy back between zeros. The RoI pooling gradients come from kernels/roi_grad.ts.
 *
 * 2. wasm kernels (tfjs-backend-wasm 4.22):
 *    - `Conv2DBackpropFilter` is missing. Ours is a forward convolution on XNNPACK: with x [N,H,W,Ci]
 *      and dy [N,Ho,Wo,Co], dW[ky,kx,ci,co] = Σ_{n,i,j} x[n, s·i + ky − pt, s·j + kx − pl, ci]·dy[n,i,j,co]
 *      is conv2d(xᵀ = [Ci,H,W,N], filter dyᵀ = [Ho,Wo,N,Co], stride 1, dilation s, pad (pt, pl)),
 *      cropped to K×K and transposed to [K,K,Ci,Co]. Measured 6.9 GFLOP/s vs 0.33 for im2col + matmul.
 *    - `UnsortedSegmentSum` is missing (the gradient of `gather`, used by FPN's nearest upsampling):
 *      a CPU twin on the wasm heap.
 *    - `Conv2DBackpropInput` exists but is a plain loop (1.3 GFLOP/s against 8.6 for the forward
 *      conv, 3×3 16→16 on 64×64). For stride 1 and dilation 1 we replace it by the equivalent forward
 *      convolution: dx = conv2d(dy, W flipped in space with in/out swapped, pad (K−1−pt, K−1−pb));
 *      for stride = kernel without padding (the mask head's 2×2 deconv) by a matmul and a
 *      depth-to-space; other cases (the backbone's stride-2 convs) go to the original kernel.
 *    - `BatchMatMul` with a transposed operand is 13× slower than without: we transpose first.
 *    Replacements are registered only by `registerTrainingKernels()`; their sums run in another
 *    order (float32 rounding only).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  backend_util, getGradient, getKernel, registerGradient, registerKernel, unregisterKernel,
  type GradConfig, type KernelFunc, type NamedAttrMap, type TensorInfo,
} from '@tensorflow/tfjs-core';
import { absGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Abs_grad.js';
import { addGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Add_grad.js';
import { addNGradConfig } from '@tensorflow/tfjs-core/dist/gradients/AddN_grad.js';
import { batchMatMulGradConfig } from '@tensorflow/tfjs-core/dist/gradients/BatchMatMul_grad.js';
import { broadcastToGradConfig } from '@tensorflow/tfjs-core/dist/gradients/BroadcastTo_grad.js';
import { castGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Cast_grad.js';
import { concatGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Concat_grad.js';
import { conv2DGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Conv2D_grad.js';
import { conv2DBackpropInputGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Conv2DBackpropInput_grad.js';
import { expGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Exp_grad.js';
import { expandDimsGradConfig } from '@tensorflow/tfjs-core/dist/gradients/ExpandDims_grad.js';
import { fusedBatchNormGradConfig } from '@tensorflow/tfjs-core/dist/gradients/FusedBatchNorm_grad.js';
import { gatherGradConfig } from '@tensorflow/tfjs-core/dist/gradients/GatherV2_grad.js';
import { identityGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Identity_grad.js';
import { logGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Log_grad.js';
import { logSoftmaxGradConfig } from '@tensorflow/tfjs-core/dist/gradients/LogSoftmax_grad.js';
import { maxGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Max_grad.js';
import { maxPoolGradConfig } from '@tensorflow/tfjs-core/dist/gradients/MaxPool_grad.js';
import { maximumGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Maximum_grad.js';
import { meanGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Mean_grad.js';
import { minimumGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Minimum_grad.js';
import { multiplyGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Multiply_grad.js';
import { negGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Neg_grad.js';
import { packGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Pack_grad.js';
import { padV2GradConfig } from '@tensorflow/tfjs-core/dist/gradients/PadV2_grad.js';
import { divGradConfig } from '@tensorflow/tfjs-core/dist/gradients/RealDiv_grad.js';
import { reluGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Relu_grad.js';
import { reshapeGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Reshape_grad.js';
import { resizeNearestNeighborGradConfig } from '@tensorflow/tfjs-core/dist/gradients/ResizeNearestNeighbor_grad.js';
import { rsqrtGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Rsqrt_grad.js';
import { selectGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Select_grad.js';
import { sigmoidGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Sigmoid_grad.js';
import { sliceGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Slice_grad.js';
import { softmaxGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Softmax_grad.js';
import { softplusGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Softplus_grad.js';
import { splitVGradConfig } from '@tensorflow/tfjs-core/dist/gradients/SplitV_grad.js';
import { sqrtGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Sqrt_grad.js';
import { squareGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Square_grad.js';
import { squaredDifferenceGradConfig } from '@tensorflow/tfjs-core/dist/gradients/SquaredDifference_grad.js';
import { subGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Sub_grad.js';
import { sumGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Sum_grad.js';
import { tileGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Tile_grad.js';
import { transposeGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Transpose_grad.js';
import { unpackGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Unpack_grad.js';
import { zerosLikeGradConfig } from '@tensorflow/tfjs-core/dist/gradients/ZerosLike_grad.js';
import { resizeBilinearGradConfig } from '@tensorflow/tfjs-core/dist/gradients/ResizeBilinear_grad.js';
import { registerRoiGradients } from '../../kernels/roi_grad.ts';

const TFJS_GRADIENTS: GradConfig[] = [
  absGradConfig, addGradConfig, addNGradConfig, batchMatMulGradConfig, broadcastToGradConfig, castGradConfig, concatGradConfig,
  conv2DGradConfig, conv2DBackpropInputGradConfig, expGradConfig, expandDimsGradConfig, fusedBatchNormGradConfig,
  gatherGradConfig, identityGradConfig, logGradConfig, logSoftmaxGradConfig, maxGradConfig, maxPoolGradConfig,
  maximumGradConfig, meanGradConfig, minimumGradConfig, multiplyGradConfig, negGradConfig, packGradConfig,
  padV2GradConfig, divGradConfig, reluGradConfig, reshapeGradConfig, resizeBilinearGradConfig, resizeNearestNeighborGradConfig, rsqrtGradConfig, selectGradConfig,
  sigmoidGradConfig, sliceGradConfig, softmaxGradConfig, softplusGradConfig, splitVGradConfig, sqrtGradConfig,
  squareGradConfig, squaredDifferenceGradConfig, subGradConfig, sumGradConfig, tileGradConfig, transposeGradConfig,
  unpackGradConfig, zerosLikeGradConfig,
];

export class TrainingKernelError extends Error {
  override name = 'TrainingKernelError';
}

/**
 * Gradient of `StridedSlice` for positive strides and no masks (what FPN's `pool` level uses):
 * dy is spread back to every s-th position of [begin, end) along each axis, zeros elsewhere.
 */
export const stridedSliceGradConfig: GradConfig = {
  kernelName: 'StridedSlice',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    const a = attrs as unknown as {
      begin: number[]; end: number[]; strides: number[];
      beginMask: number; endMask: number; ellipsisMask: number; newAxisMask: number; shrinkAxisMask: number;
    };
    const masks = a.beginMask | a.endMask | a.ellipsisMask | a.newAxisMask | a.shrinkAxisMask;
    if (masks !== 0 || a.begin.length !== x.rank || a.strides.some((s) => !(s >= 1))) {
      throw new TrainingKernelError(
        `gradient of stridedSlice: only positive strides, one begin/end per axis and no masks are supported; found ` +
          `begin [${a.begin.join(', ')}], end [${a.end.join(', ')}], strides [${a.strides.join(', ')}], masks ${masks}; use tf.slice where you can`,
      );
    }
    return {
      x: () =>
        tf.tidy(() => {
          let g = dy as tf.Tensor;
          for (let axis = 0; axis < x.rank; axis++) {
            const dim = x.shape[axis]!;
            const norm = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
            const begin = norm(a.begin[axis]!);
            const end = Math.max(norm(a.end[axis]!), begin);
            const s = a.strides[axis]!;
            if (s > 1 && g.shape[axis]! > 0) {
              // Position p of [begin, end) takes dy[p / s] when s divides p, else 0: gather from dy with
              // one zero slice appended (same rank: WebGPU has no rank-5 pad for an expandDims trick).
              const n = g.shape[axis]!;
              const zeroShape = g.shape.slice();
              zeroShape[axis] = 1;
              const withZero = tf.concat([g, tf.zeros(zeroShape)], axis);
              const index = Int32Array.from({ length: end - begin }, (_, q) => (q % s === 0 ? q / s : n));
              g = tf.gather(withZero, tf.tensor1d(index, 'int32'), axis);
            }
            const pads = g.shape.map((_, i) => (i === axis ? [begin, dim - begin - g.shape[axis]!] : [0, 0]) as [number, number]);
            if (pads[axis]![0] !== 0 || pads[axis]![1] !== 0) g = tf.pad(g, pads);
          }
          return g;
        }),
    };
  },
};

// ---- wasm kernels composed of wasm kernels ---------------------------------------------------------

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

/** The backend a kernel function was handed: wasm keeps its tensors on a heap, cpu in JS arrays. */
function backendName(backend: unknown): 'wasm' | 'cpu' {
  return typeof (backend as Partial<WasmBackend>).typedArrayFromHeap === 'function' ? 'wasm' : 'cpu';
}

/** Run another kernel of the same backend directly on TensorInfos (no tape, no engine bookkeeping). */
function run(name: string, backend: unknown, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): TensorInfo {
  const k = getKernel(name, backendName(backend));
  if (k === undefined) throw new TrainingKernelError(`the ${backendName(backend)} backend has no '${name}' kernel; is its tfjs backend imported?`);
  return k.kernelFunc({ inputs, backend: backend as never, attrs: attrs as NamedAttrMap }) as TensorInfo;
}

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

function convInfoOf(xShape: number[], filterShape: number[], attrs: { strides: number | [number, number]; pad: unknown; dimRoundingMode?: string; dilations?: number | [number, number] }) {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad as 'valid',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
}

/** dW of a 2-D convolution as one forward convolution of the same backend (XNNPACK on wasm; see the file comment). */
const conv2DBackpropFilterByConv: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as { strides: number | [number, number]; pad: unknown; dataFormat?: string; dimRoundingMode?: string; filterShape: number[] };
  if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC') {
    throw new TrainingKernelError(`Conv2DBackpropFilter: only NHWC is supported; found dataFormat ${a.dataFormat}`);
  }
  const info = convInfoOf(x.shape, a.filterShape, a);
  const [kh, kw, ci, co] = a.filterShape as [number, number, number, number];
  const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo, inHeight: h, inWidth: w } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const pb = Math.max(0, kh - pt + sh * (ho - 1) - h);
  const pr = Math.max(0, kw - pl + sw * (wo - 1) - w);
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo) => (temps.push(t), t);
  try {
    const xT = keep(run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] })); // [N,H,W,Ci] → [Ci,H,W,N]
    const dyT = keep(run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] })); // [N,Ho,Wo,Co] → [Ho,Wo,N,Co]
    const pad: Pad4 = [[0, 0], [pt, pb], [pl, pr], [0, 0]];
    const r = keep(run('Conv2D', backend, { x: xT, filter: dyT }, { strides: [1, 1], dilations: [sh, sw], pad, dataFormat: 'NHWC' })); // [Ci, ≥kh, ≥kw, Co]
    const cropped = keep(run('Slice', backend, { x: r }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] }));
    return run('Transpose', backend, { x: cropped }, { perm: [1, 2, 0, 3] }); // [Ci,kh,kw,Co] → [kh,kw,Ci,Co]
  } finally {
    for (const t of temps) (backend as WasmBackend).disposeData(t.dataId);
  }
};

/**
 * dx of a stride-1, dilation-1 convolution as a forward convolution on XNNPACK; anything else goes
 * to `fallback` (the backend's own kernel).
 */
function conv2DBackpropInputWasm(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as { strides: number | [number, number]; pad: unknown; dataFormat?: string; dimRoundingMode?: string; inputShape: number[] };
    const info = convInfoOf(a.inputShape, filter.shape, a);
    const [kh, kw] = filter.shape as [number, number, number, number];
    const padTop = kh - 1 - info.padInfo.top;
    const padLeft = kw - 1 - info.padInfo.left;
    const padBottom = kh - 1 - info.padInfo.bottom;
    const padRight = kw - 1 - info.padInfo.right;
    const nhwc = a.dataFormat === undefined || a.dataFormat === 'NHWC';
    const unpadded = info.padInfo.top === 0 && info.padInfo.left === 0 && info.padInfo.bottom === 0 && info.padInfo.right === 0;
    if (nhwc && unpadded && info.strideHeight === kh && info.strideWidth === kw && info.outHeight * kh === info.inHeight && info.outWidth * kw === info.inWidth) {
      return nonOverlappingBackpropInput(dy, filter, backend);
    }
    const usable = nhwc && info.strideHeight === 1 && info.strideWidth === 1 && padTop >= 0 && padLeft >= 0 && padBottom >= 0 && padRight >= 0;
    if (!usable) return fallback(args);
    const wasm = backend as unknown as WasmBackend;
    // W [kh, kw, Ci, Co] → W' [kh, kw, Co, Ci] with W'[y, x, o, i] = W[kh−1−y, kw−1−x, i, o] (on the host:
    // wasm's Reverse kernel is slow)
    const [, , ci, co] = filter.shape as [number, number, number, number];
    const swapped = wasm.makeOutput([kh, kw, co, ci], 'float32'); // may grow the heap: take views after this
    const src = wasm.typedArrayFromHeap(filter) as Float32Array;
    const dst = wasm.typedArrayFromHeap(swapped) as Float32Array;
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        const from = ((kh - 1 - y) * kw + (kw - 1 - x)) * ci * co;
        const to = (y * kw + x) * co * ci;
        for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) dst[to + o * ci + i] = src[from + i * co + o]!;
      }
    }
    try {
      const pad: Pad4 = [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]];
      return run('Conv2D', backend, { x: dy, filter: swapped }, { strides: [1, 1], dilations: [1, 1], pad, dataFormat: 'NHWC' });
    } finally {
      wasm.disposeData(swapped.dataId);
    }
  };
}

/**
 * dx of a convolution whose stride equals its kernel, unpadded (the mask head's 2×2 stride-2
 * deconvolution runs as this in its forward pass): every output pixel has exactly one tap, so
 * dx[n, s·i + y, s·j + x, c] = Σ_o dy[n, i, j, o]·W[y, x, c, o] is one matmul and a depth-to-space.
 */
function nonOverlappingBackpropInput(dy: TensorInfo, filter: TensorInfo, backend: unknown): TensorInfo {
  const [n, h, w, co] = dy.shape as [number, number, number, number];
  const [kh, kw, ci] = filter.shape as [number, number, number, number];
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo) => (temps.push(t), t);
  try {
    const wT = keep(run('Transpose', backend, { x: filter }, { perm: [3, 0, 1, 2] })); // [kh, kw, Ci, Co] → [Co, kh, kw, Ci]
    const a = keep(run('Reshape', backend, { x: dy }, { shape: [1, n * h * w, co] })); // [N, H, W, Co] → [1, NHW, Co]
    const b = keep(run('Reshape', backend, { x: wT }, { shape: [1, co, kh * kw * ci] })); // → [1, Co, kh·kw·Ci]
    const prod = keep(run('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false })); // [1, NHW, kh·kw·Ci]
    const six = keep(run('Reshape', backend, { x: prod }, { shape: [n, h, w, kh, kw, ci] }));
    const moved = keep(run('Transpose', backend, { x: six }, { perm: [0, 1, 3, 2, 4, 5] })); // → [N, H, kh, W, kw, Ci]
    return run('Reshape', backend, { x: moved }, { shape: [n, h * kh, w * kw, ci] });
  } finally {
    for (const t of temps) (backend as WasmBackend).disposeData(t.dataId);
  }
}

/**
 * Batched matmul with a transposed operand as an explicit transpose + the plain product: wasm's
 * BatchMatMul is 13× slower with transposeA or transposeB (461 ms vs 34 ms for [256, 3136]ᵀ·[256, 256]),
 * and every matmul gradient transposes one operand.
 */
function batchMatMulWasm(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return fallback(args);
    const swapLast = (t: TensorInfo) => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
      return run('Transpose', backend, { x: t }, { perm });
    };
    const temps: TensorInfo[] = [];
    try {
      const a2 = transposeA ? swapLast(a) : a;
      if (transposeA) temps.push(a2);
      const b2 = transposeB ? swapLast(b) : b;
      if (transposeB) temps.push(b2);
      return fallback({ inputs: { a: a2, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temps) (backend as unknown as WasmBackend).disposeData(t.dataId);
    }
  };
}

/** UnsortedSegmentSum on the wasm heap: out[segmentIds[i], …] += x[i, …]; ids outside [0, numSegments) are dropped (tf semantics). */
const unsortedSegmentSumWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  const wasm = backend as unknown as WasmBackend;
  const lead = segmentIds.shape.reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(segmentIds.shape.length).reduce((p, d) => p * d, 1);
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = wasm.makeOutput(outShape, 'float32'); // may grow the heap: take views after this
  const o = wasm.typedArrayFromHeap(out) as Float32Array;
  o.fill(0);
  const xs = wasm.typedArrayFromHeap(x);
  const ids = wasm.typedArrayFromHeap(segmentIds);
  for (let i = 0; i < lead; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j]! += xs[src + j]!;
  }
  return out;
};

const TRAINING_TWIN = Symbol('training twin');

/** Register the gradient functions described above (idempotent); kernels are left as the backends ship them. */
export function registerTrainingGradients(): void {
  for (const g of TFJS_GRADIENTS) if (getGradient(g.kernelName) === undefined) registerGradient(g);
  if (getGradient('StridedSlice') === undefined) registerGradient(stridedSliceGradConfig);
  registerRoiGradients();
}

/**
 * Register the gradients and the training kernels described above (idempotent). Call it after the
 * backend is imported (`useBackend`): a backend's kernels are only touched when it is present.
 */
export function registerTrainingKernels(): void {
  registerTrainingGradients();
  const replace = (name: string, backend: 'wasm' | 'cpu', wrap: (fallback: KernelFunc) => KernelFunc) => {
    const k = getKernel(name, backend);
    if (k === undefined || TRAINING_TWIN in k.kernelFunc) return;
    const kernelFunc = Object.assign(wrap(k.kernelFunc), { [TRAINING_TWIN]: true });
    unregisterKernel(name, backend);
    registerKernel({ ...k, kernelFunc });
  };
  // cpu: its own Conv2DBackpropFilter runs at 0.003 GFLOP/s (35 s for 3×3 64→64 on 8×14×14), its
  // forward conv at 0.26: use the forward conv.
  replace('Conv2DBackpropFilter', 'cpu', () => conv2DBackpropFilterByConv);
  if (getKernel('Conv2DBackpropInput', 'wasm') === undefined) return; // no wasm backend in this process
  if (getKernel('Conv2DBackpropFilter', 'wasm') === undefined) {
    registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: Object.assign(conv2DBackpropFilterByConv, { [TRAINING_TWIN]: true }) });
  }
  if (getKernel('UnsortedSegmentSum', 'wasm') === undefined) {
    registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm });
  }
  replace('Conv2DBackpropInput', 'wasm', conv2DBackpropInputWasm);
  replace('BatchMatMul', 'wasm', batchMatMulWasm);
}
