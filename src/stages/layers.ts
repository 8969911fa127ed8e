/**
 * Shared building blocks of the convolutional stages: read a tensor out of a torchvision state
 * dict (checking its shape), convert torch layouts to tfjs layouts once at load time, and apply the
 * layers in NHWC.
 *
 * Glossary
 *   OIHW   torch conv weight [out, in, kh, kw]
 *   HWIO   tfjs conv filter [kh, kw, in, out]
 *   IOHW   torch ConvTranspose2d weight [in, out, kh, kw]
 *   FrozenBN  torchvision FrozenBatchNorm2d: y = (x − running_mean)·weight/√(running_var + eps) + bias,
 *          folded here into the preceding conv (per output channel scale and bias).
 *   pad    torch's explicit symmetric zero padding (not tfjs 'same', which pads bottom/right more
 *          for stride 2).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor, StateDict } from '../types.ts';

/** A checkpoint tensor is missing or has a shape this config does not expect. */
export class StateDictError extends Error {
  override name = 'StateDictError';
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** The tensor `name` of `sd`, checked to have exactly `shape`. */
export function takeTensor(sd: StateDict, name: string, shape: readonly number[]): NamedTensor {
  const t = sd.get(name);
  if (t === undefined) {
    throw new StateDictError(
      `state dict has no tensor ${name} (expected shape ${fmt(shape)}); ` +
        'the checkpoint does not match this model: check the config (backbone.depth, numClasses, …) or the checkpoint',
    );
  }
  const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw new StateDictError(
      `state dict tensor ${name} has shape ${fmt(t.shape)}; this config expects ${fmt(shape)}; ` +
        'pick the config that matches the checkpoint (channels, depth, numClasses) or the matching checkpoint',
    );
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) {
    throw new StateDictError(`state dict tensor ${name}: shape ${fmt(t.shape)} holds ${count} values but its data has ${t.data.length}`);
  }
  return t;
}

/** A 2-D convolution with bias, weights in tfjs layout. */
export interface Conv2d {
  /** [kh, kw, in, out] */
  filter: tf.Tensor4D;
  /** [out] */
  bias: tf.Tensor1D;
  stride: number;
  /** torch `padding`: the same number of zeros on every side. */
  pad: number;
  dilation: number;
}

export interface ConvSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  pad?: number;
  dilation?: number;
}

/**
 * OIHW → HWIO, multiplying output channel o by `scale[o]` when given.
 * torch w[o, i, y, x] at ((o·I + i)·K + y)·K + x  →  tfjs f[y, x, i, o] at ((y·K + x)·I + i)·O + o.
 */
function oihwToHwio(w: Float32Array, O: number, I: number, K: number, scale?: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < O; o++) {
    const s = scale ? scale[o]! : 1;
    for (let i = 0; i < I; i++) {
      for (let y = 0; y < K; y++) {
        for (let x = 0; x < K; x++) {
          const v = w[((o * I + i) * K + y) * K + x]!;
          out[((y * K + x) * I + i) * O + o] = scale ? Math.fround(v * s) : v;
        }
      }
    }
  }
  return out;
}

function makeConv(filter: Float32Array, bias: Float32Array, spec: ConvSpec): Conv2d {
  const { inChannels: I, outChannels: O, kernel: K } = spec;
  return {
    filter: tf.tensor4d(filter, [K, K, I, O]),
    bias: tf.tensor1d(bias),
    stride: spec.stride ?? 1,
    pad: spec.pad ?? 0,
    dilation: spec.dilation ?? 1,
  };
}

/** `nn.Conv2d` with bias: `<name>.weight` [out, in, k, k], `<name>.bias` [out]. */
export function loadConv2d(sd: StateDict, name: string, spec: ConvSpec): Conv2d {
  const { inChannels: I, outChannels: O, kernel: K } = spec;
  const w = takeTensor(sd, `${name}.weight`, [O, I, K, K]);
  const b = takeTensor(sd, `${name}.bias`, [O]);
  return makeConv(oihwToHwio(w.data, O, I, K), Float32Array.from(b.data), spec);
}

/**
 * `nn.Conv2d(bias=False)` at `convName` followed by `FrozenBatchNorm2d` at `bnName`, folded:
 * scale = weight/√(running_var + eps) (float32, as torch computes it), filter·scale per output
 * channel, bias = bn.bias − running_mean·scale.
 */
export function loadConv2dFrozenBn(sd: StateDict, convName: string, bnName: string, spec: ConvSpec, eps: number): Conv2d {
  const { inChannels: I, outChannels: O, kernel: K } = spec;
  const w = takeTensor(sd, `${convName}.weight`, [O, I, K, K]);
  const gamma = takeTensor(sd, `${bnName}.weight`, [O]).data;
  const beta = takeTensor(sd, `${bnName}.bias`, [O]).data;
  const mean = takeTensor(sd, `${bnName}.running_mean`, [O]).data;
  const variance = takeTensor(sd, `${bnName}.running_var`, [O]).data;
  const scale = new Float32Array(O);
  const bias = new Float32Array(O);
  const f = Math.fround;
  for (let o = 0; o < O; o++) {
    scale[o] = f(gamma[o]! * f(1 / f(Math.sqrt(f(variance[o]! + eps)))));
    bias[o] = f(beta[o]! - f(mean[o]! * scale[o]!));
  }
  return makeConv(oihwToHwio(w.data, O, I, K, scale), bias, spec);
}

/** Convolution (+ bias, + optional ReLU) with torch's symmetric explicit padding. NHWC in, NHWC out. */
export function conv2d(layer: Conv2d, x: tf.Tensor4D, activation: 'linear' | 'relu' = 'linear'): tf.Tensor4D {
  const p = layer.pad;
  return tf.fused.conv2d({
    x,
    filter: layer.filter,
    strides: layer.stride,
    pad: [[0, 0], [p, p], [p, p], [0, 0]],
    dilations: layer.dilation,
    bias: layer.bias,
    activation,
  });
}

/** `nn.ConvTranspose2d` (output_padding 0), weights in tfjs layout. */
export interface ConvTranspose2d {
  /** [kh, kw, out, in]: tf.conv2dTranspose's filter (the forward conv out → in). */
  filter: tf.Tensor4D;
  /** [out] */
  bias: tf.Tensor1D;
  kernel: number;
  stride: number;
  /** torch `padding`: this many rows and columns are cut from every side of the full output (0 when omitted). */
  pad?: number;
  outChannels: number;
  /** For kernel 4, stride 2, padding 1: `subPixelFilter(filter)`, made once at load (training rebuilds it from the variable). */
  subPixelFilter?: tf.Tensor4D;
}

/**
 * `<name>.weight` [in, out, k, k] (IOHW), `<name>.bias` [out].
 * torch w[i, o, y, x] at ((i·O + o)·K + y)·K + x  →  tfjs f[y, x, o, i] at ((y·K + x)·O + o)·I + i
 * (no spatial flip: both are the adjoint of the same forward convolution).
 */
export function loadConvTranspose2d(
  sd: StateDict,
  name: string,
  spec: { inChannels: number; outChannels: number; kernel: number; stride: number; pad?: number },
): ConvTranspose2d {
  const { inChannels: I, outChannels: O, kernel: K } = spec;
  const w = takeTensor(sd, `${name}.weight`, [I, O, K, K]).data;
  const b = takeTensor(sd, `${name}.bias`, [O]);
  const filter = new Float32Array(w.length);
  for (let i = 0; i < I; i++) {
    for (let o = 0; o < O; o++) {
      for (let y = 0; y < K; y++) {
        for (let x = 0; x < K; x++) filter[((y * K + x) * O + o) * I + i] = w[((i * O + o) * K + y) * K + x]!;
      }
    }
  }
  const f = tf.tensor4d(filter, [K, K, O, I]);
  return {
    filter: f,
    bias: tf.tensor1d(Float32Array.from(b.data)),
    kernel: K,
    stride: spec.stride,
    pad: spec.pad ?? 0,
    outChannels: O,
    ...(K === 4 && spec.stride === 2 && spec.pad === 1 ? { subPixelFilter: subPixelFilter(f) } : {}),
  };
}

/**
 * Transposed convolution + bias: [N, H, W, in] → [N, (H−1)·s + k − 2p, (W−1)·s + k − 2p, out]
 * (torch's output size with padding p: the full output with p rows and columns cut on every side).
 */
export function convTranspose2d(layer: ConvTranspose2d, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const { kernel: k, stride: s } = layer;
  const p = layer.pad ?? 0;
  const outShape: [number, number, number, number] = [n, (h - 1) * s + k, (w - 1) * s + k, layer.outChannels];
  if (k === s && p === 0) return tf.tidy(() => tf.add(convTransposeBlocks(layer.filter, x), layer.bias));
  if (k === 4 && s === 2 && p === 1) return tf.tidy(() => tf.add(convTransposeSubPixel(layer, x), layer.bias));
  return tf.tidy(() => {
    const full = tf.conv2dTranspose(x, layer.filter, outShape, s, 'valid'); // [N, (H−1)s + k, (W−1)s + k, out]
    const cut = p === 0 ? full : tf.slice(full, [0, p, p, 0], [n, outShape[1] - 2 * p, outShape[2] - 2 * p, layer.outChannels]);
    return tf.add(cut, layer.bias);
  });
}

/**
 * A transposed convolution whose stride equals its kernel (the mask head's 2×2, stride 2) writes
 * each input pixel into its own K×K output block, so it is one matrix product: out[K·i + a, K·j + b, o]
 * = Σ_c x[i, j, c]·f[a, b, o, c]. Same sums as tf.conv2dTranspose, several times faster on wasm
 * (whose Conv2DBackpropInput is slow).
 */
function convTransposeBlocks(filter: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [k, , o] = filter.shape;
  // filter [K, K, O, C] → [C, K, K, O] → [C, K·K·O]
  const matrix = tf.reshape(tf.transpose(filter, [3, 0, 1, 2]), [c, k * k * o]);
  // x [N, H, W, C] → [N·H·W, C] · [C, K·K·O] → [N·H, W, K, K·O]
  const blocks = tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, c]), matrix), [n * h, w, k, k * o]);
  // → [N·H, K, W, K·O] (rows a of each block next to each other) → [N, H·K, W·K, O]
  return tf.reshape(tf.transpose(blocks, [0, 2, 1, 3]), [n, h * k, w * k, o]);
}

/**
 * The transposed convolution of torchvision's keypoint predictor (kernel 4, stride 2, padding 1:
 * H → 2H) as ONE forward 3×3 convolution and a depth-to-space (sub-pixel convolution). Along one axis
 * torch computes out[o] = Σ x[i]·w[k] over o = 2i + k − 1, so an even output 2m takes
 * x[m]·w[1] + x[m−1]·w[3] and an odd one 2m+1 takes x[m+1]·w[0] + x[m]·w[2]: each of the four output
 * phases (a, b) is a 2×2 convolution of x, i.e. a 3×3 one with a zero row and column. The four phases
 * are the 4·O output channels of one conv2d (XNNPACK, and its gradients are the fast ones), interleaved
 * afterwards. Same sums as tf.conv2dTranspose (another order), which on wasm is a plain loop ~10×
 * slower; the filter is rearranged with tfjs ops, so training differentiates through it.
 */
function convTransposeSubPixel(layer: ConvTranspose2d, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const o = layer.outChannels;
  const window = layer.subPixelFilter ?? subPixelFilter(layer.filter);
  const y = tf.conv2d(x, window, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]); // [N, H, W, 4·O], channel (a·2 + b)·O + o
  // [N, H, W, 2(a), 2(b), O] → [N, H, 2(a), W, 2(b), O] → [N, 2H, 2W, O]
  return tf.reshape(tf.transpose(tf.reshape(y, [n, h, w, 2, 2, o]), [0, 1, 3, 2, 4, 5]), [n, 2 * h, 2 * w, o]);
}

/**
 * The 3×3 filter [3, 3, C, 4·O] of the sub-pixel form of a 4×4 stride-2 padding-1 transposed conv
 * whose filter is [4, 4, O, C] (tfjs conv2dTranspose layout). Along one axis, the kernel taps of each
 * phase go to window rows (offsets −1, 0, +1): phase 0 (even outputs): row 0 ← tap 3 (x[m−1]),
 * row 1 ← tap 1 (x[m]); phase 1: row 1 ← tap 2 (x[m]), row 2 ← tap 0 (x[m+1]).
 */
export function subPixelFilter(filter: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const TAPS = [[3, 1], [2, 0]] as const;
    const phases: tf.Tensor4D[] = [];
    for (const a of [0, 1] as const) {
      for (const b of [0, 1] as const) {
        // [4, 4, O, C] → the 2×2 taps of phase (a, b) → [2, 2, O, C] → zero-padded into the 3×3 window
        const taps = tf.gather(tf.gather(filter, [...TAPS[a]], 0), [...TAPS[b]], 1) as tf.Tensor4D;
        const window = tf.pad(taps, [[a, 1 - a], [b, 1 - b], [0, 0], [0, 0]]) as tf.Tensor4D; // [3, 3, O, C]
        phases.push(tf.transpose(window, [0, 1, 3, 2]) as tf.Tensor4D); // [3, 3, C, O]
      }
    }
    return tf.concat(phases, 3) as tf.Tensor4D;
  });
}

/** `nn.Linear`, weight stored [in, out] so that y = x·W + b. */
export interface Linear {
  /** [in, out] */
  weight: tf.Tensor2D;
  /** [out] */
  bias: tf.Tensor1D;
}

/**
 * `<name>.weight` [out, in], `<name>.bias` [out] → W [in, out].
 * `torchColumn(i)` maps our input feature i to torch's input feature (identity when omitted): used
 * when our activations are flattened in a different order than torch's.
 */
export function loadLinear(
  sd: StateDict,
  name: string,
  inFeatures: number,
  outFeatures: number,
  torchColumn?: (i: number) => number,
): Linear {
  const w = takeTensor(sd, `${name}.weight`, [outFeatures, inFeatures]).data;
  const b = takeTensor(sd, `${name}.bias`, [outFeatures]);
  const weight = new Float32Array(w.length);
  for (let i = 0; i < inFeatures; i++) {
    const col = torchColumn ? torchColumn(i) : i;
    for (let o = 0; o < outFeatures; o++) weight[i * outFeatures + o] = w[o * inFeatures + col]!;
  }
  return { weight: tf.tensor2d(weight, [inFeatures, outFeatures]), bias: tf.tensor1d(Float32Array.from(b.data)) };
}

/** y = x·W + b (+ ReLU): [N, in] → [N, out]. */
export function linear(layer: Linear, x: tf.Tensor2D, activation: 'linear' | 'relu' = 'linear'): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: layer.weight, bias: layer.bias, activation }) as tf.Tensor2D;
}

/** Dispose every tensor of a list of layers. */
export function disposeLayers(layers: Iterable<{ bias: tf.Tensor; subPixelFilter?: tf.Tensor } & ({ filter: tf.Tensor } | { weight: tf.Tensor })>): void {
  for (const l of layers) {
    l.bias.dispose();
    l.subPixelFilter?.dispose();
    if ('filter' in l) l.filter.dispose();
    else l.weight.dispose();
  }
}

/** Wait until `t` is computed (on GPU backends too) by reading one value of it: a stage's time then includes its kernels. */
export async function settle(t: tf.Tensor): Promise<void> {
  if (t.size === 0) return;
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  one.dispose();
}
