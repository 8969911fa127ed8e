/**
 * The WGSL program of the RoI pooling kernels for tfjs-backend-webgpu: one invocation per output
 * element (k, ph, pw, c) of [K, PH, PW, C], one dispatch for all RoIs and, for the multi-scale op,
 * all pyramid levels (each level map is its own program input; a RoI's level selects which one it
 * reads). It follows roi_geometry.ts line for line (torchvision semantics, float32).
 *
 * Division: WGSL lets `a / b` be off by 2.5 ULP, which would move RoIPool bin edges and adaptive
 * grid sizes whenever roi size / PH is an integer. The shader divides with `divRn`, a correctly
 * rounded float32 division by long division of the mantissas (integer ops only), so bin sizes and
 * sampling points are bit-identical to the CPU twin's. +, − and × are correctly rounded in WGSL.
 *
 * Inputs: `F0 … F{L-1}` (maps, NHWC float32), then `Rois` [K, 5] (single-map ops) or `Boxes` [K, 4]
 * + `Levels` [K] int32 (multi-scale). Uniforms: samplingRatio, aligned, scale0 … scale{L-1}.
 * `shaderKey` encodes every compile-time branch: pooler, mode, number of maps, single/multi.
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

export class RoiPoolProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms: string;
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  size = true;

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
    const size = outputShape.reduce((p, d) => p * d, 1);
    this.dispatch = [Math.ceil(size / WORKGROUP), 1, 1];
    const maps = Array.from({ length: numMaps }, (_, l) => `F${l}`);
    this.variableNames = multi ? [...maps, 'Boxes', 'Levels'] : [...maps, 'Rois'];
    this.uniforms = 'samplingRatio : i32, aligned : i32, ' + maps.map((_, l) => `scale${l} : f32, `).join('');
    this.shaderKey = `roiPool_${pooler}_${mode}_${numMaps}_${multi ? 'multi' : 'single'}`;
  }

  getUserCode(): string {
    const levels = Array.from({ length: this.numMaps }, (_, l) => l);
    const perLevel = levels.map((l) => (this.pooler === 'roiPool' ? roiPoolLevel(l) : sampleLevel(l, this.pooler, this.mode))).join('\n');
    const readRoi = this.multi
      ? `let roi = vec4<f32>(Boxes[k * 4], Boxes[k * 4 + 1], Boxes[k * 4 + 2], Boxes[k * 4 + 3]);
        let b = 0;
        let level = Levels[k];`
      : `let roi = vec4<f32>(Rois[k * 5 + 1], Rois[k * 5 + 2], Rois[k * 5 + 3], Rois[k * 5 + 4]);
        let b = i32(Rois[k * 5]);
        let level = 0;`;
    const dispatchLevels = levels
      .map((l) => `if (level == ${l}) { value = poolLevel${l}(roi, b, ph, pw, c); }`)
      .join(' else ');
    return `
      ${COMMON_WGSL}
      ${perLevel}
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let coords = getCoordsFromIndex(index);
        let k = coords[0];
        let ph = coords[1];
        let pw = coords[2];
        let c = coords[3];
        ${readRoi}
        var value = 0.0;
        ${dispatchLevels}
        setOutputAtIndex(index, value);
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
  fn divRn(a : f32, b : f32) -> f32 {
    let q0 = a / b;
    let ua = bitcast<u32>(a);
    let ub = bitcast<u32>(b);
    let ea = i32((ua >> 23u) & 0xffu);
    let eb = i32((ub >> 23u) & 0xffu);
    if (ea == 0 || ea == 255 || eb == 0 || eb == 255) { return q0; }
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

/** RoIAlign / RoIWarp on level l: frame, sampling points, bilinear taps, average or max. */
function sampleLevel(l: number, pooler: RoiPooler, mode: RoiReduce): string {
  const frame = pooler === 'roiAlign'
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
  const reduce = mode === 'avg'
    ? { init: 'var acc = 0.0;', add: 'acc = acc + v;', done: 'return acc / f32(max(gridH * gridW, 1));' }
    : { init: 'var acc = bitcast<f32>(0xff7fffffu); // -FLT_MAX', add: 'acc = max(acc, v);', done: 'return acc;' };
  return `
    fn bilinearLevel${l}(base : i32, yIn : f32, xIn : f32, H : i32, W : i32, C : i32) -> f32 {
      if (!(yIn >= -1.0 && yIn <= f32(H) && xIn >= -1.0 && xIn <= f32(W))) { return 0.0; }
      var y = max(yIn, 0.0);
      var x = max(xIn, 0.0);
      var yLow = i32(y);
      var xLow = i32(x);
      var yHigh = yLow + 1;
      var xHigh = xLow + 1;
      if (yLow >= H - 1) { yLow = H - 1; yHigh = H - 1; y = f32(yLow); }
      if (xLow >= W - 1) { xLow = W - 1; xHigh = W - 1; x = f32(xLow); }
      let ly = y - f32(yLow);
      let lx = x - f32(xLow);
      let hy = 1.0 - ly;
      let hx = 1.0 - lx;
      let w1 = hy * hx;
      let w2 = hy * lx;
      let w3 = ly * hx;
      let w4 = ly * lx;
      return w1 * F${l}[base + (yLow * W + xLow) * C] + w2 * F${l}[base + (yLow * W + xHigh) * C]
           + w3 * F${l}[base + (yHigh * W + xLow) * C] + w4 * F${l}[base + (yHigh * W + xHigh) * C];
    }

    fn poolLevel${l}(roi : vec4<f32>, b : i32, ph : i32, pw : i32, c : i32) -> f32 {
      let H = uniforms.f${l}Shape[1];
      let W = uniforms.f${l}Shape[2];
      let C = uniforms.f${l}Shape[3];
      if (b < 0 || b >= uniforms.f${l}Shape[0]) { return 0.0; }
      let base = b * H * W * C + c;
      let scale = uniforms.scale${l};
      ${frame}
      let binH = divRn(roiH, f32(uniforms.outShape[1]));
      let binW = divRn(roiW, f32(uniforms.outShape[2]));
      var gridH = uniforms.samplingRatio;
      var gridW = uniforms.samplingRatio;
      if (uniforms.samplingRatio <= 0) {
        gridH = i32(ceil(binH));
        gridW = i32(ceil(binW));
      }
      if (gridH <= 0 || gridW <= 0) { return 0.0; }
      let y0 = startY + f32(ph) * binH;
      let x0 = startX + f32(pw) * binW;
      ${reduce.init}
      for (var iy = 0; iy < gridH; iy++) {
        let y = y0 + divRn((f32(iy) + 0.5) * binH, f32(gridH));
        for (var ix = 0; ix < gridW; ix++) {
          let x = x0 + divRn((f32(ix) + 0.5) * binW, f32(gridW));
          let v = bilinearLevel${l}(base, y, x, H, W, C);
          ${reduce.add}
        }
      }
      ${reduce.done}
    }
  `;
}

/** RoIPool on level l: quantized bins, max over cells, 0 for an empty bin. */
function roiPoolLevel(l: number): string {
  return `
    fn poolLevel${l}(roi : vec4<f32>, b : i32, ph : i32, pw : i32, c : i32) -> f32 {
      let H = uniforms.f${l}Shape[1];
      let W = uniforms.f${l}Shape[2];
      let C = uniforms.f${l}Shape[3];
      if (b < 0 || b >= uniforms.f${l}Shape[0]) { return 0.0; }
      let base = b * H * W * C + c;
      let scale = uniforms.scale${l};
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
      if (hEnd <= hStart || wEnd <= wStart) { return 0.0; }
      var acc = bitcast<f32>(0xff7fffffu); // -FLT_MAX
      for (var h = hStart; h < hEnd; h++) {
        for (var w = wStart; w < wEnd; w++) {
          let v = F${l}[base + (h * W + w) * C];
          if (v > acc) { acc = v; }
        }
      }
      return acc;
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
