/**
 * The WGSL program of the RoI pooling kernels for tfjs-backend-webgpu: one dispatch for all RoIs
 * and, for the multi-scale op, all pyramid levels (each level map is its own program input; a RoI's
 * level selects which one it reads). It follows roi_geometry.ts line for line (torchvision
 * semantics, float32).
 *
 * Work split: a bin (k, ph, pw) of the output [K, PH, PW, C] is pooled by `threadsPerBin`
 * invocations; invocation t computes the bin's geometry once (frame, bin size, each sampling point's
 * four neighbours and weights, or RoIPool's cells) and applies it to channel groups t, t + T,
 * t + 2T, … (T = threadsPerBin, GROUPS_PER_THREAD groups each, unrolled so the accumulators stay in
 * registers). A group is a vec4<f32> of 4 channels when C is a multiple of 4 (maps read and output
 * written as vec4), else one channel. Neighbouring invocations read neighbouring groups of the same
 * cell (contiguous NHWC memory). Per channel, the sampling points are summed in the same order as
 * with one invocation per output element (the previous layout): max and RoIPool results are
 * bit-identical to it, averages within 2.4e-7 (the shader compiler's rounding of the inlined
 * weighted sum). On SwiftShader this is ≈ 5× less work than one invocation per element, which
 * recomputed the geometry, two correctly rounded divisions included, for every channel
 * (bench/kernels.ts).
 *
 * Division: WGSL lets `a / b` be off by 2.5 ULP, which would move RoIPool bin edges and adaptive
 * grid sizes whenever roi size / PH is an integer. The shader divides with `divRn`, a correctly
 * rounded float32 division by long division of the mantissas (integer ops only), so bin sizes and
 * sampling points are bit-identical to the CPU twin's. +, − and × are correctly rounded in WGSL.
 * A power-of-two divisor (a sampling grid of 2 or 4) takes a shortcut: a · 2^−e is exact.
 *
 * Inputs: `F0 … F{L-1}` (maps, NHWC float32, as vec4 when C % 4 = 0), then `Rois` [K, 5]
 * (single-map ops) or `Boxes` [K, 4] + `Levels` [K] int32 (multi-scale). Uniforms: threads,
 * threadsPerBin, samplingRatio, aligned, scale0 … scale{L-1}. `shaderKey` encodes every
 * compile-time branch: pooler, mode, number of maps, single/multi, group width and count.
 *
 * This file imports nothing from @tensorflow/tfjs-backend-webgpu at run time (types only), so
 * importing the kernels never registers the webgpu backend.
 */
import { getKernel, registerKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import {
  MultiScaleRoiPoolKernel, RoiAlignKernel, RoiPoolKernel, RoiWarpKernel, RoiOpError, checkRoiValues,
  type RoiKernelAttrs, type RoiPooler, type RoiReduce,
} from './roi_ops.ts';

const WORKGROUP = 64;
/**
 * Channel groups (of 4 channels when C % 4 = 0, else of 1) pooled by one invocation: its bin's
 * geometry (frame, sampling points, bilinear taps) is computed once for all of them. 8 groups =
 * 32 channels per invocation, 8 invocations per bin at C = 256 (see the header).
 */
const GROUPS_PER_THREAD = 8;

export class RoiPoolProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms: string;
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  /** 4: channels are read and written as vec4<f32> (C a multiple of 4), else 1 */
  outputComponent: number;
  variableComponents: number[];
  /** invocations per bin (k, ph, pw); invocation t pools channel groups t, t + threadsPerBin, … */
  threadsPerBin: number;
  threads: number;

  constructor(
    readonly pooler: RoiPooler,
    readonly mode: RoiReduce,
    readonly numMaps: number,
    /** Boxes [K, 4] + Levels [K] instead of Rois [K, 5] */
    readonly multi: boolean,
    outputShape: [number, number, number, number],
  ) {
    this.outputShape = outputShape;
    this.dispatchLayout = { x: [0, 1, 2, 3] };
    this.outputComponent = outputShape[3] % 4 === 0 ? 4 : 1;
    const groups = outputShape[3] / this.outputComponent;
    this.threadsPerBin = Math.ceil(groups / GROUPS_PER_THREAD);
    this.threads = outputShape[0] * outputShape[1] * outputShape[2] * this.threadsPerBin;
    this.dispatch = [Math.ceil(this.threads / WORKGROUP), 1, 1];
    const maps = Array.from({ length: numMaps }, (_, l) => `F${l}`);
    this.variableNames = multi ? [...maps, 'Boxes', 'Levels'] : [...maps, 'Rois'];
    this.variableComponents = [...maps.map(() => this.outputComponent), ...(multi ? [1, 1] : [1])];
    this.uniforms = 'threads : i32, threadsPerBin : i32, samplingRatio : i32, aligned : i32, ' + maps.map((_, l) => `scale${l} : f32, `).join('');
    this.shaderKey = `roiPool_${pooler}_${mode}_${numMaps}_${multi ? 'multi' : 'single'}_${this.outputComponent}x${GROUPS_PER_THREAD}`;
  }

  getUserCode(): string {
    const T = this.outputComponent === 4 ? 'vec4<f32>' : 'f32';
    const levels = Array.from({ length: this.numMaps }, (_, l) => l);
    const perLevel = levels.map((l) => (this.pooler === 'roiPool' ? roiPoolLevel(l, T) : sampleLevel(l, this.pooler, this.mode, T))).join('\n');
    const readRoi = this.multi
      ? `let roi = vec4<f32>(Boxes[k * 4], Boxes[k * 4 + 1], Boxes[k * 4 + 2], Boxes[k * 4 + 3]);
        let b = 0;
        let level = Levels[k];`
      : `let roi = vec4<f32>(Rois[k * 5 + 1], Rois[k * 5 + 2], Rois[k * 5 + 3], Rois[k * 5 + 4]);
        let b = i32(Rois[k * 5]);
        let level = 0;`;
    const dispatchLevels = levels.map((l) => `if (level == ${l}) { poolLevel${l}(roi, b, ph, pw, t, out0); }`).join(' else ');
    return `
      ${COMMON_WGSL}

      // Output element of channel group g of this bin: out0 + g (in units of ${T}).
      fn writeZeros(t : i32, out0 : i32) {
        for (var g = t; g < uniforms.outShape[3] / ${this.outputComponent}; g += uniforms.threadsPerBin) {
          setOutputAtIndex(out0 + g, ${T}(0.0));
        }
      }
      ${perLevel}
      fn main(index : i32) {
        if (index >= uniforms.threads) { return; }
        // index → (bin, t), bin = (k, ph, pw)
        let bin = index / uniforms.threadsPerBin;
        let t = index - bin * uniforms.threadsPerBin;
        let out0 = bin * (uniforms.outShape[3] / ${this.outputComponent});
        let pw = bin % uniforms.outShape[2];
        let row = bin / uniforms.outShape[2];
        let ph = row % uniforms.outShape[1];
        let k = row / uniforms.outShape[1];
        ${readRoi}
        ${dispatchLevels} else { writeZeros(t, out0); }
      }
    `;
  }
}

/** Helpers shared by every level: rounding, correctly rounded division. */
export const COMMON_WGSL = `
  // C round(): half away from zero (WGSL round() is half to even).
  fn roundHalfAway(v : f32) -> f32 {
    let t = trunc(v);
    if (abs(v - t) >= 0.5) { return t + sign(v); }
    return t;
  }

  // Correctly rounded (to nearest, ties to even) a / b for normal a, b and a normal quotient, by
  // long division of the 24-bit mantissas; zeros, subnormals and overflow fall back to a / b.
  // b a power of two (a sampling grid of 2 or 4): a · (1 / b), exact since 1 / b is, when normal.
  fn divRn(a : f32, b : f32) -> f32 {
    let q0 = a / b;
    let ua = bitcast<u32>(a);
    let ub = bitcast<u32>(b);
    let ea = i32((ua >> 23u) & 0xffu);
    let eb = i32((ub >> 23u) & 0xffu);
    if (ea == 0 || ea == 255 || eb == 0 || eb == 255) { return q0; }
    if ((ub & 0x7fffffu) == 0u && eb <= 253) {
      let p = a * bitcast<f32>((ub & 0x80000000u) | (u32(254 - eb) << 23u));
      let ep = (bitcast<u32>(p) >> 23u) & 0xffu;
      if (ep != 0u && ep != 255u) { return p; }
      return q0;
    }
    let ma = (ua & 0x7fffffu) | 0x800000u;
    let mb = (ub & 0x7fffffu) | 0x800000u;
    var e = ea - eb;
    var r = ma;
    if (ma < mb) { r = r << 1u; e = e - 1; }
    var q = 0u;
    for (var i = 0; i < 25; i++) {
      q = q << 1u;
      if (r >= mb) { r = r - mb; q = q | 1u; }
      r = r << 1u;
    }
    var m = q >> 1u;
    if ((q & 1u) == 1u && (r != 0u || (m & 1u) == 1u)) {
      m = m + 1u;
      if (m == 0x1000000u) { m = m >> 1u; e = e + 1; }
    }
    let be = e + 127;
    if (be <= 0 || be >= 255) { return q0; }
    let sgn = (ua ^ ub) & 0x80000000u;
    return bitcast<f32>(sgn | (u32(be) << 23u) | (m & 0x7fffffu));
  }
`;

/** The code of channel groups j = 0 … GROUPS_PER_THREAD − 1, one after the other (accumulators stay in registers). */
function unroll(code: (j: number) => string): string {
  return Array.from({ length: GROUPS_PER_THREAD }, (_, j) => code(j)).join('\n');
}

/**
 * Per level l, the map reads of one invocation: `image` is the start of image b in units of T,
 * CT the channel groups per cell (C / 4 for vec4<f32>), group g of cell (y, x) is
 * F[image + (y·W + x)·CT + g].
 */
function mapLayout(l: number, T: string): string {
  return `let H = uniforms.f${l}Shape[1];
      let W = uniforms.f${l}Shape[2];
      let CT = uniforms.f${l}Shape[3]${T === 'f32' ? '' : ' / 4'};
      let step = uniforms.threadsPerBin;
      if (b < 0 || b >= uniforms.f${l}Shape[0]) { writeZeros(t, out0); return; }
      let image = b * H * W * CT;
      let scale = uniforms.scale${l};`;
}

/**
 * RoIAlign / RoIWarp on level l: frame, then per sampling point its bilinear taps (computed once),
 * applied to each of the invocation's channel groups; average or max.
 */
/**
 * WGSL that maps `roi` (x1, y1, x2, y2) at `scale` onto the feature map: startX/startY, endX/endY and
 * roiW/roiH, for RoIAlign (float, optional half-pixel shift, size ≥ 1 when not aligned) or RoIWarp
 * (rounded like RoIPool). Shared by the forward and the backward programs (roi_grad.ts).
 */
export function roiFrameWgsl(pooler: RoiPooler): string {
  return pooler === 'roiAlign'
    ? `let o = select(0.0, 0.5, uniforms.aligned != 0);
      let startX = roi.x * scale - o;
      let startY = roi.y * scale - o;
      let endX = roi.z * scale - o;
      let endY = roi.w * scale - o;
      var roiW = endX - startX;
      var roiH = endY - startY;
      if (uniforms.aligned == 0) {
        roiW = max(roiW, 1.0);
        roiH = max(roiH, 1.0);
      }`
    : `let startX = roundHalfAway(roi.x * scale);
      let startY = roundHalfAway(roi.y * scale);
      let endX = roundHalfAway(roi.z * scale);
      let endY = roundHalfAway(roi.w * scale);
      let roiW = max(endX - startX, 1.0);
      let roiH = max(endY - startY, 1.0);`;
}

function sampleLevel(l: number, pooler: RoiPooler, mode: RoiReduce, T: string): string {
  const frame = roiFrameWgsl(pooler);
  const avg = mode === 'avg';
  const init = avg ? `${T}(0.0)` : `${T}(bitcast<f32>(0xff7fffffu)) /* -FLT_MAX */`;
  const add = (j: number, v: string) => (avg ? `acc${j} = acc${j} + ${v};` : `acc${j} = max(acc${j}, ${v});`);
  const done = (j: number) => (avg ? `acc${j} / f32(max(gridH * gridW, 1))` : `acc${j}`);
  return `
    fn poolLevel${l}(roi : vec4<f32>, b : i32, ph : i32, pw : i32, t : i32, out0 : i32) {
      ${mapLayout(l, T)}
      ${frame}
      let binH = divRn(roiH, f32(uniforms.outShape[1]));
      let binW = divRn(roiW, f32(uniforms.outShape[2]));
      var gridH = uniforms.samplingRatio;
      var gridW = uniforms.samplingRatio;
      if (uniforms.samplingRatio <= 0) {
        gridH = i32(ceil(binH));
        gridW = i32(ceil(binW));
      }
      if (gridH <= 0 || gridW <= 0) { writeZeros(t, out0); return; }
      let y0 = startY + f32(ph) * binH;
      let x0 = startX + f32(pw) * binW;
      ${unroll((j) => `var acc${j} = ${init};`)}
      for (var iy = 0; iy < gridH; iy++) {
        var y = y0 + divRn((f32(iy) + 0.5) * binH, f32(gridH));
        for (var ix = 0; ix < gridW; ix++) {
          var x = x0 + divRn((f32(ix) + 0.5) * binW, f32(gridW));
          if (!(y >= -1.0 && y <= f32(H) && x >= -1.0 && x <= f32(W))) {
            // outside the map: the point reads 0
            ${unroll((j) => add(j, `${T}(0.0)`))}
            continue;
          }
          // bilinear taps: 4 neighbour cells and weights
          var yy = max(y, 0.0);
          var xx = max(x, 0.0);
          var yLow = i32(yy);
          var xLow = i32(xx);
          var yHigh = yLow + 1;
          var xHigh = xLow + 1;
          if (yLow >= H - 1) { yLow = H - 1; yHigh = H - 1; yy = f32(yLow); }
          if (xLow >= W - 1) { xLow = W - 1; xHigh = W - 1; xx = f32(xLow); }
          let ly = yy - f32(yLow);
          let lx = xx - f32(xLow);
          let hy = 1.0 - ly;
          let hx = 1.0 - lx;
          let w1 = hy * hx;
          let w2 = hy * lx;
          let w3 = ly * hx;
          let w4 = ly * lx;
          let p1 = image + (yLow * W + xLow) * CT;
          let p2 = image + (yLow * W + xHigh) * CT;
          let p3 = image + (yHigh * W + xLow) * CT;
          let p4 = image + (yHigh * W + xHigh) * CT;
          ${unroll((j) => `if (t + ${j} * step < CT) {
            let g = t + ${j} * step;
            ${add(j, `w1 * F${l}[p1 + g] + w2 * F${l}[p2 + g] + w3 * F${l}[p3 + g] + w4 * F${l}[p4 + g]`)}
          }`)}
        }
      }
      ${unroll((j) => `if (t + ${j} * step < CT) { setOutputAtIndex(out0 + t + ${j} * step, ${done(j)}); }`)}
    }
  `;
}

/** RoIPool on level l: quantized bins, max over cells, 0 for an empty bin. */
function roiPoolLevel(l: number, T: string): string {
  return `
    fn poolLevel${l}(roi : vec4<f32>, b : i32, ph : i32, pw : i32, t : i32, out0 : i32) {
      ${mapLayout(l, T)}
      let startX = i32(roundHalfAway(roi.x * scale));
      let startY = i32(roundHalfAway(roi.y * scale));
      let endX = i32(roundHalfAway(roi.z * scale));
      let endY = i32(roundHalfAway(roi.w * scale));
      let roiW = max(endX - startX + 1, 1);
      let roiH = max(endY - startY + 1, 1);
      let binH = divRn(f32(roiH), f32(uniforms.outShape[1]));
      let binW = divRn(f32(roiW), f32(uniforms.outShape[2]));
      let hStart = clamp(i32(floor(f32(ph) * binH)) + startY, 0, H);
      let hEnd = clamp(i32(ceil(f32(ph + 1) * binH)) + startY, 0, H);
      let wStart = clamp(i32(floor(f32(pw) * binW)) + startX, 0, W);
      let wEnd = clamp(i32(ceil(f32(pw + 1) * binW)) + startX, 0, W);
      if (hEnd <= hStart || wEnd <= wStart) { writeZeros(t, out0); return; }
      ${unroll((j) => `var acc${j} = ${T}(bitcast<f32>(0xff7fffffu)); // -FLT_MAX`)}
      for (var h = hStart; h < hEnd; h++) {
        for (var w = wStart; w < wEnd; w++) {
          let p = image + (h * W + w) * CT;
          ${unroll((j) => `if (t + ${j} * step < CT) {
            let v = F${l}[p + t + ${j} * step];
            acc${j} = select(acc${j}, v, v > acc${j}); // a NaN never wins, as torchvision's v > max
          }`)}
        }
      }
      ${unroll((j) => `if (t + ${j} * step < CT) { setOutputAtIndex(out0 + t + ${j} * step, acc${j}); }`)}
    }
  `;
}

/** Host-side values of a tensor on the webgpu backend, if it has not been uploaded yet (else null). */
function hostValues(backend: WebGPUBackend, info: TensorInfo): ArrayLike<number> | null {
  const data = (backend as unknown as { tensorMap: { get(id: object): { values?: unknown } | undefined } }).tensorMap.get(info.dataId);
  const values = data?.values;
  return values instanceof Float32Array || values instanceof Int32Array ? values : null;
}

function webgpuKernel(kernelName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const gpu = backend as WebGPUBackend;
    const a = attrs as unknown as RoiKernelAttrs;
    const multi = kernelName === MultiScaleRoiPoolKernel;
    const need = (name: string): TensorInfo => {
      const t = inputs[name];
      if (t === undefined) throw new RoiOpError(`${kernelName}: input '${name}' is missing`);
      return t;
    };
    const maps = multi ? a.scales.map((_, i) => need(`level${i}`)) : [need('x')];
    const extra = multi ? [need('boxes'), need('levels')] : [need('rois')];
    const limit = gpu.device.limits.maxStorageBuffersPerShaderStage;
    if (maps.length + extra.length + 1 > limit) {
      throw new RoiOpError(
        `${kernelName}: ${maps.length} feature maps need ${maps.length + extra.length + 1} storage buffers in one WebGPU dispatch; ` +
          `this device allows ${limit}; pool from at most ${limit - extra.length - 1} levels per call`,
      );
    }
    // Check RoI values when they are still on the host (see roi_ops.ts).
    const rois = hostValues(gpu, extra[0]!);
    const levels = multi ? hostValues(gpu, extra[1]!) : null;
    if (rois !== null && (!multi || levels !== null)) {
      checkRoiValues(kernelName, rois, multi ? 4 : 5, maps[0]!.shape[0]!, levels === null ? undefined : { values: levels, count: maps.length });
    }
    const outShape: [number, number, number, number] = [extra[0]!.shape[0]!, a.outputSize[0], a.outputSize[1], maps[0]!.shape[3]!];
    const program = new RoiPoolProgram(a.pooler, a.mode, maps.length, multi, outShape);
    const uniforms = [
      { type: 'int32', data: [program.threads] },
      { type: 'int32', data: [program.threadsPerBin] },
      { type: 'int32', data: [a.samplingRatio] },
      { type: 'int32', data: [a.aligned ? 1 : 0] },
      ...a.scales.map((s) => ({ type: 'float32', data: [s] })),
    ];
    return gpu.runWebGPUProgram(program, [...maps, ...extra], 'float32', uniforms);
  };
}

/** Register the WGSL kernels for `webgpu` (idempotent; harmless when that backend is never used). */
export function registerWebGpuKernels(): void {
  for (const kernelName of [RoiAlignKernel, RoiPoolKernel, RoiWarpKernel, MultiScaleRoiPoolKernel]) {
    if (getKernel(kernelName, 'webgpu') === undefined) {
      registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: webgpuKernel(kernelName) });
    }
  }
}
