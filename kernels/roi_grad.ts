/**
 * Gradients of the RoI pooling kernels with respect to the feature maps, registered with tfjs
 * (`registerGradient`) for `RoiAlign`, `RoiWarp`, `RoiPool` and `MultiScaleRoiPool`, so that
 * `tf.grad`/`tf.variableGrads` (training, issue 4) send gradients through the pooler. Each backward is
 * a kernel of its own: a CPU twin for `cpu` and `wasm` and a WGSL program for `webgpu`. No gradient
 * flows to the boxes or levels (torchvision has none either): their gradient is zero.
 *
 * What each backward computes (torchvision's `_roi_align_backward` / `_roi_pool_backward`):
 *   RoIAlign, RoIWarp, mode 'avg':  every sampling point of bin (k, ph, pw) spreads
 *     dy[k, ph, pw, c] · w / count onto each of its 4 neighbour cells (w its bilinear weight; points
 *     outside the map spread nothing). Linear, so this is the exact transpose of the forward.
 *   mode 'max':  dy goes to the 4 neighbours of the winning sampling point only (· w, no count); a
 *     point outside the map that wins (value 0) sends nothing.
 *   RoIPool:  dy goes to the argmax cell of the bin (the first maximum in row-major order, like
 *     torchvision); an empty bin sends nothing.
 *   MultiScaleRoiPool:  the same per RoI, into the gradient of the RoI's level map.
 * The argmax choices are the forward kernel's own: the CPU twin re-runs `poolRoisHost` with its
 * argmax output (roi_cpu.ts); the WGSL program repeats the same comparisons.
 *
 * CPU twin: geometry from roi_geometry.ts, accumulated in float32 in torchvision's order (per cell
 * and channel: RoI, bin row, bin column, sampling point, tap), with torchvision's rounding of each
 * term (dy·w, then ÷ count), so the result equals torchvision's CPU backward bit for bit (measured
 * in tests/kernels_grad.test.ts: 0 difference for roi_align, roi_pool and MultiScaleRoIAlign).
 * Speed in Node 20: 512 RoIs × 7×7 × 256 channels on a 4-level pyramid ≈ 0.8 s (about 3× the
 * forward, which merges taps per cell and so is not torchvision-ordered).
 *
 * WGSL: atomics-free, one invocation per input element (row, col, channel) of each map, gathering
 * from every RoI of its image/level whose sampling footprint can reach its row and column. For
 * RoIAlign/RoIWarp 'avg' the bilinear weights factor into a row part and a column part
 * (w = wy·wx, and a point is outside when y or x is), so a cell sums
 * Σ_ph Σ_pw dy[k, ph, pw, c] · (Σ_iy wy) · (Σ_ix wx) / count. The max poolers recompute the winner
 * of each bin that covers the cell. Cost: O(K) cheap range tests per element plus the work of the
 * RoIs that touch it; the sums run in a different order than torchvision's (float32 rounding only).
 *
 * Backends: the backward kernels exist for cpu, wasm and webgpu; on webgl (roi_webgl.ts) only the
 * forward exists, so a gradient there fails with tfjs's "kernel not registered" error.
 * tfjs's own op gradients (Sum, Mul, …) are registered by importing
 * '@tensorflow/tfjs-core/dist/register_all_gradients' (the union package @tensorflow/tfjs does it).
 *
 * Glossary: x (NHWC map), rois [K, 5], boxes [K, 4], levels [K] int32, K, PH, PW as in roi_ops.ts;
 * dy = ∂L/∂output [K, PH, PW, C]; dx = ∂L/∂x, the shape of x; taps, frame, bin as in roi_geometry.ts.
 */
import {
  engine, getGradient, getKernel, registerGradient, registerKernel, zeros,
  type GradConfig, type KernelFunc, type NamedAttrMap, type Tensor, type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { poolRoisHost, type HostMap } from './roi_cpu.ts';
import { binTaps, makeTaps, roiAlignFrame, roiWarpFrame } from './roi_geometry.ts';
import {
  MultiScaleRoiPoolKernel, RoiAlignKernel, RoiOpError, RoiPoolKernel, RoiWarpKernel, checkRoiValues,
  type RoiKernelAttrs, type RoiPooler, type RoiReduce,
} from './roi_ops.ts';
import { COMMON_WGSL, roiFrameWgsl } from './roi_webgpu.ts';

export const RoiAlignGradKernel = 'RoiAlignGrad';
export const RoiPoolGradKernel = 'RoiPoolGrad';
export const RoiWarpGradKernel = 'RoiWarpGrad';
export const MultiScaleRoiPoolGradKernel = 'MultiScaleRoiPoolGrad';

const GRAD_OF: Record<string, string> = {
  [RoiAlignKernel]: RoiAlignGradKernel,
  [RoiPoolKernel]: RoiPoolGradKernel,
  [RoiWarpKernel]: RoiWarpGradKernel,
  [MultiScaleRoiPoolKernel]: MultiScaleRoiPoolGradKernel,
};

const f = Math.fround;

/**
 * Backward of `poolRoisHost` (same arguments): `dy` is ∂L/∂out [K, PH, PW, C]; `dxs[l]` receives
 * ∂L/∂maps[l] (zeroed first, length = that map's size). Map values are read only for the max
 * poolers (RoIPool, mode 'max'), which re-run the forward to find each bin's argmax.
 */
export function poolRoisHostGrad(
  maps: readonly HostMap[],
  rois: ArrayLike<number>,
  stride: 4 | 5,
  levels: ArrayLike<number> | null,
  attrs: RoiKernelAttrs,
  dy: ArrayLike<number>,
  dxs: readonly Float32Array[],
): void {
  const [pooledH, pooledW] = attrs.outputSize;
  const k = rois.length / stride;
  for (const dx of dxs) dx.fill(0);
  const routed = attrs.pooler === 'roiPool' || attrs.mode === 'max';
  let argmax: Int32Array | null = null;
  if (routed && k > 0) {
    argmax = new Int32Array(dy.length);
    poolRoisHost(maps, rois, stride, levels, attrs, new Float32Array(dy.length), argmax);
  }
  let taps = makeTaps(16);
  for (let r = 0; r < k; r++) {
    const level = levels === null ? 0 : levels[r]!;
    const { height, width, channels: C } = maps[level]!;
    const dx = dxs[level]!;
    const scale = attrs.scales[level]!;
    const at = r * stride;
    const batch = stride === 5 ? rois[at]! : 0;
    const o0 = stride === 5 ? 1 : 0;
    const x1 = rois[at + o0]!, y1 = rois[at + o0 + 1]!, x2 = rois[at + o0 + 2]!, y2 = rois[at + o0 + 3]!;
    const base = batch * height * width * C;
    const outRoi = r * pooledH * pooledW * C;
    if (attrs.pooler === 'roiPool') {
      // dy of bin (ph, pw) → its argmax cell; order per (cell, c): RoI, ph, pw (torchvision).
      for (let o = outRoi; o < outRoi + pooledH * pooledW * C; o += C) {
        for (let c = 0; c < C; c++) {
          const cell = argmax![o + c]!;
          if (cell >= 0) dx[base + cell * C + c]! += dy[o + c]!;
        }
      }
      continue;
    }
    const frame = attrs.pooler === 'roiAlign'
      ? roiAlignFrame(x1, y1, x2, y2, scale, pooledH, pooledW, attrs.samplingRatio, attrs.aligned)
      : roiWarpFrame(x1, y1, x2, y2, scale, pooledH, pooledW, attrs.samplingRatio);
    const points = Math.max(frame.gridH, 0) * Math.max(frame.gridW, 0);
    if (taps.inside.length < points) taps = makeTaps(points);
    const { cell, weight, inside } = taps;
    // torchvision divides by gridH·gridW (there is no term at all when the grid is empty).
    const count = frame.gridH * frame.gridW;
    for (let ph = 0; ph < pooledH; ph++) {
      for (let pw = 0; pw < pooledW; pw++) {
        const n = binTaps(frame, ph, pw, height, width, taps);
        const o = outRoi + (ph * pooledW + pw) * C;
        if (attrs.mode === 'avg') {
          for (let s = 0; s < n; s++) {
            if (inside[s] === 0) continue;
            for (let t = 4 * s; t < 4 * s + 4; t++) {
              const w = weight[t]!;
              const p = base + cell[t]! * C;
              // float32 like torchvision: g = dy·w / count, then added to the float32 gradient.
              for (let c = 0; c < C; c++) dx[p + c]! += f(f(dy[o + c]! * w) / count);
            }
          }
        } else {
          for (let c = 0; c < C; c++) {
            const s = argmax![o + c]!;
            if (s < 0 || inside[s] === 0) continue;
            for (let t = 4 * s; t < 4 * s + 4; t++) dx[base + cell[t]! * C + c]! += f(dy[o + c]! * weight[t]!);
          }
        }
      }
    }
  }
}

// ---- cpu / wasm glue --------------------------------------------------------------------------

interface CpuLikeBackend {
  readSync(dataId: object): unknown;
  makeTensorInfo?(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}
interface WasmLikeBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Attributes of a backward kernel: the forward's, plus (multi-scale) which level's map `x` is. */
export interface RoiGradAttrs extends RoiKernelAttrs {
  level?: number;
}

/**
 * Inputs of a backward kernel: dy, the map x, and rois [K, 5] (single-map ops) or boxes [K, 4] +
 * levels [K] (multi-scale: x is the map of level `attrs.level`; only that level's RoIs reach it).
 */
function gradInputs(kernelName: string, inputs: Record<string, TensorInfo | undefined>, a: RoiGradAttrs) {
  const multi = kernelName === MultiScaleRoiPoolGradKernel;
  const need = (name: string): TensorInfo => {
    const t = inputs[name];
    if (t === undefined) throw new RoiOpError(`${kernelName}: input '${name}' is missing`);
    return t;
  };
  const dy = need('dy');
  const x = need('x');
  const rois = multi ? need('boxes') : need('rois');
  const levels = multi ? need('levels') : null;
  const level = multi ? (a.level ?? -1) : 0;
  if (!Number.isInteger(level) || level < 0 || level >= a.scales.length) {
    throw new RoiOpError(`${kernelName}: attribute level must be the index of x among the ${a.scales.length} pyramid maps; found ${a.level}`);
  }
  const expected = [rois.shape[0]!, a.outputSize[0], a.outputSize[1], x.shape[3]!];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== expected[i])) {
    throw new RoiOpError(`${kernelName}: dy must have the forward output's shape [${expected.join(', ')}]; found [${dy.shape.join(', ')}]`);
  }
  return { multi, dy, x, rois, levels, level };
}

function hostGradKernel(kernelName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as RoiGradAttrs;
    const { multi, dy: dyInfo, x: xInfo, rois: roiInfo, levels: levelInfo, level } = gradInputs(kernelName, inputs, a);
    let output: TensorInfo | null = null;
    let read: (info: TensorInfo) => ArrayLike<number>;
    let dx: Float32Array;
    if ('typedArrayFromHeap' in backend) {
      const wasm = backend as WasmLikeBackend;
      output = wasm.makeOutput([...xInfo.shape], 'float32'); // may grow the heap: take views after this
      read = (info) => wasm.typedArrayFromHeap(info);
      dx = wasm.typedArrayFromHeap(output) as Float32Array;
    } else {
      const cpu = backend as CpuLikeBackend;
      read = (info) => cpu.readSync(info.dataId) as ArrayLike<number>;
      dx = new Float32Array(xInfo.shape.reduce((p, d) => p * d, 1));
    }
    let rois = read(roiInfo);
    let dy = read(dyInfo);
    const levels = levelInfo === null ? null : read(levelInfo);
    checkRoiValues(kernelName, rois, multi ? 4 : 5, xInfo.shape[0]!, levels === null ? undefined : { values: levels, count: a.scales.length });
    if (levels !== null) {
      // Only the RoIs of this level reach x, in their input order.
      ({ rois, dy } = selectLevel(rois, dy, levels, level, dy.length / Math.max(levels.length, 1)));
    }
    const routed = a.pooler === 'roiPool' || a.mode === 'max';
    const map: HostMap = {
      data: routed ? (read(xInfo) as Float32Array) : new Float32Array(0), // avg poolers never read x
      batch: xInfo.shape[0]!,
      height: xInfo.shape[1]!,
      width: xInfo.shape[2]!,
      channels: xInfo.shape[3]!,
    };
    poolRoisHostGrad([map], rois, multi ? 4 : 5, null, { ...a, scales: [a.scales[level]!] }, dy, [dx]);
    if (output !== null) return output;
    const cpu = backend as CpuLikeBackend;
    if (cpu.makeTensorInfo === undefined) throw new RoiOpError(`${kernelName}: this backend cannot make an output tensor (no makeTensorInfo)`);
    return cpu.makeTensorInfo([...xInfo.shape], 'float32', dx);
  };
}

/** The boxes [K, 4] and dy rows (`per` values each) of the RoIs on `level`, in input order. */
function selectLevel(boxes: ArrayLike<number>, dy: ArrayLike<number>, levels: ArrayLike<number>, level: number, per: number) {
  const picked: number[] = [];
  for (let r = 0; r < levels.length; r++) if (levels[r] === level) picked.push(r);
  const outBoxes = new Float32Array(4 * picked.length);
  const outDy = new Float32Array(per * picked.length);
  picked.forEach((r, i) => {
    for (let j = 0; j < 4; j++) outBoxes[4 * i + j] = boxes[4 * r + j]!;
    for (let j = 0; j < per; j++) outDy[per * i + j] = dy[per * r + j]!;
  });
  return { rois: outBoxes, dy: outDy };
}

// ---- webgpu -----------------------------------------------------------------------------------

const WORKGROUP = 64;

/**
 * dx of one map [N, H, W, C] (all N images for the single-map ops, level `level` for multi-scale):
 * one invocation per element, gathering from the RoIs (see the header).
 */
export class RoiGradProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms = 'samplingRatio : i32, aligned : i32, scale : f32, level : i32, numRois : i32, pooledH : i32, pooledW : i32,';
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  size = true;

  constructor(
    readonly pooler: RoiPooler,
    readonly mode: RoiReduce,
    readonly multi: boolean,
    mapShape: [number, number, number, number],
  ) {
    this.outputShape = mapShape;
    this.dispatchLayout = { x: [0, 1, 2, 3] };
    this.dispatch = [Math.ceil(mapShape.reduce((p, d) => p * d, 1) / WORKGROUP), 1, 1];
    // The map's values are read only by the max poolers (a binding the shader does not use is an error).
    const maps = this.routed ? ['X'] : [];
    this.variableNames = multi ? ['Dy', ...maps, 'Boxes', 'Levels'] : ['Dy', ...maps, 'Rois'];
    this.shaderKey = `roiGrad_${pooler}_${mode}_${multi ? 'multi' : 'single'}`;
  }

  get routed(): boolean {
    return this.pooler === 'roiPool' || this.mode === 'max';
  }

  getUserCode(): string {
    const readRoi = this.multi
      ? `let roi = vec4<f32>(Boxes[k * 4], Boxes[k * 4 + 1], Boxes[k * 4 + 2], Boxes[k * 4 + 3]);
          if (Levels[k] != uniforms.level) { continue; }`
      : `let roi = vec4<f32>(Rois[k * 5 + 1], Rois[k * 5 + 2], Rois[k * 5 + 3], Rois[k * 5 + 4]);
          if (i32(Rois[k * 5]) != b) { continue; }`;
    const perRoi = this.pooler === 'roiPool' ? ROI_POOL_GRAD_WGSL : sampledGradWgsl(this.pooler, this.mode);
    return `
      ${COMMON_WGSL}
      ${GRAD_COMMON_WGSL}
      ${this.routed ? MAP_AT_WGSL : ''}
      ${perRoi}
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let coords = getCoordsFromIndex(index);
        let b = coords[0];
        let h = coords[1];
        let w = coords[2];
        let c = coords[3];
        var acc = 0.0;
        for (var k = 0; k < uniforms.numRois; k++) {
          ${readRoi}
          acc = acc + roiGrad(roi, k, b, h, w, c);
        }
        setOutputAtIndex(index, acc);
      }
    `;
  }
}

/** Map access and the per-axis bilinear taps (the y or x half of roi_geometry.ts bilinearTaps). */
const GRAD_COMMON_WGSL = `
  fn dyAt(k : i32, ph : i32, pw : i32, c : i32) -> f32 {
    return Dy[((k * uniforms.pooledH + ph) * uniforms.pooledW + pw) * uniforms.outShape[3] + c];
  }

  // Along one axis of size n: (low, high, weight of low, weight of high, inside) of coordinate v.
  struct AxisTaps { low : i32, high : i32, wLow : f32, wHigh : f32, inside : bool, }

  fn axisTaps(vIn : f32, n : i32) -> AxisTaps {
    var t : AxisTaps;
    t.inside = vIn >= -1.0 && vIn <= f32(n);
    var v = max(vIn, 0.0);
    t.low = i32(v);
    t.high = t.low + 1;
    if (t.low >= n - 1) { t.low = n - 1; t.high = n - 1; v = f32(t.low); }
    let l = v - f32(t.low);
    t.wLow = 1.0 - l;
    t.wHigh = l;
    return t;
  }

  // The weight a coordinate's taps give to index i along its axis (0 if outside).
  fn axisWeight(t : AxisTaps, i : i32) -> f32 {
    if (!t.inside) { return 0.0; }
    var s = 0.0;
    if (t.low == i) { s = s + t.wLow; }
    if (t.high == i) { s = s + t.wHigh; }
    return s;
  }
`;

/** The map value at (b, h, w, c) (the output has the map's shape). */
const MAP_AT_WGSL = `
  fn mapAt(b : i32, h : i32, w : i32, c : i32) -> f32 {
    return X[((b * uniforms.outShape[1] + h) * uniforms.outShape[2] + w) * uniforms.outShape[3] + c];
  }
`;

/** RoIAlign / RoIWarp backward for one RoI at element (b, h, w, c). */
function sampledGradWgsl(pooler: RoiPooler, mode: RoiReduce): string {
  const frame = roiFrameWgsl(pooler);
  const body = mode === 'avg'
    ? `
      // Σ_ph Σ_pw dy · (Σ_iy wy(h)) · (Σ_ix wx(w)) / count
      var acc = 0.0;
      for (var ph = 0; ph < PH; ph++) {
        var wy = 0.0;
        for (var iy = 0; iy < gridH; iy++) {
          wy = wy + axisWeight(axisTaps(sampleAt(startY, binH, gridH, ph, iy), H), h);
        }
        if (wy == 0.0) { continue; }
        for (var pw = 0; pw < PW; pw++) {
          var wx = 0.0;
          for (var ix = 0; ix < gridW; ix++) {
            wx = wx + axisWeight(axisTaps(sampleAt(startX, binW, gridW, pw, ix), W), w);
          }
          if (wx == 0.0) { continue; }
          acc = acc + dyAt(k, ph, pw, c) * (wy * wx) / f32(gridH * gridW);
        }
      }
      return acc;`
    : `
      // Each bin whose points can reach (h, w): find its winning point as the forward does.
      var acc = 0.0;
      for (var ph = 0; ph < PH; ph++) {
        var reachY = false;
        for (var iy = 0; iy < gridH; iy++) {
          if (axisWeight(axisTaps(sampleAt(startY, binH, gridH, ph, iy), H), h) != 0.0) { reachY = true; }
        }
        if (!reachY) { continue; }
        for (var pw = 0; pw < PW; pw++) {
          var reachX = false;
          for (var ix = 0; ix < gridW; ix++) {
            if (axisWeight(axisTaps(sampleAt(startX, binW, gridW, pw, ix), W), w) != 0.0) { reachX = true; }
          }
          if (!reachX) { continue; }
          var best = bitcast<f32>(0xff7fffffu); // -FLT_MAX
          var bestY : AxisTaps;
          var bestX : AxisTaps;
          var found = false;
          for (var iy = 0; iy < gridH; iy++) {
            let ty = axisTaps(sampleAt(startY, binH, gridH, ph, iy), H);
            for (var ix = 0; ix < gridW; ix++) {
              let tx = axisTaps(sampleAt(startX, binW, gridW, pw, ix), W);
              var v = 0.0;
              if (ty.inside && tx.inside) {
                v = (ty.wLow * tx.wLow) * mapAt(b, ty.low, tx.low, c) + (ty.wLow * tx.wHigh) * mapAt(b, ty.low, tx.high, c)
                  + (ty.wHigh * tx.wLow) * mapAt(b, ty.high, tx.low, c) + (ty.wHigh * tx.wHigh) * mapAt(b, ty.high, tx.high, c);
              }
              if (v > best) { best = v; bestY = ty; bestX = tx; found = true; }
            }
          }
          if (found && bestY.inside && bestX.inside) {
            acc = acc + dyAt(k, ph, pw, c) * (axisWeight(bestY, h) * axisWeight(bestX, w));
          }
        }
      }
      return acc;`;
  return `
    // start + p·bin + (i + ½)·bin / grid (roi_geometry.ts sampleCoord), for either axis.
    fn sampleAt(start : f32, bin : f32, grid : i32, p : i32, i : i32) -> f32 {
      return start + f32(p) * bin + divRn((f32(i) + 0.5) * bin, f32(grid));
    }

    fn roiGrad(roi : vec4<f32>, k : i32, b : i32, h : i32, w : i32, c : i32) -> f32 {
      let H = uniforms.outShape[1];
      let W = uniforms.outShape[2];
      let PH = uniforms.pooledH;
      let PW = uniforms.pooledW;
      let scale = uniforms.scale;
      ${frame}
      // Rows and columns any point can reach: between start and start + size (size < 0 for an
      // inverted aligned RoI), widened by 1 for the neighbours, clamped into the map.
      let rowLo = clamp(i32(floor(min(startY, startY + roiH))) - 1, 0, H - 1);
      let rowHi = clamp(i32(ceil(max(startY, startY + roiH))) + 1, 0, H - 1);
      let colLo = clamp(i32(floor(min(startX, startX + roiW))) - 1, 0, W - 1);
      let colHi = clamp(i32(ceil(max(startX, startX + roiW))) + 1, 0, W - 1);
      if (h < rowLo || h > rowHi || w < colLo || w > colHi) { return 0.0; }
      let binH = divRn(roiH, f32(PH));
      let binW = divRn(roiW, f32(PW));
      var gridH = uniforms.samplingRatio;
      var gridW = uniforms.samplingRatio;
      if (uniforms.samplingRatio <= 0) {
        gridH = i32(ceil(binH));
        gridW = i32(ceil(binW));
      }
      if (gridH <= 0 || gridW <= 0) { return 0.0; }
      ${body}
    }
  `;
}

/** RoIPool backward for one RoI at element (b, h, w, c): every bin covering (h, w) whose argmax is (h, w). */
const ROI_POOL_GRAD_WGSL = `
  fn roiGrad(roi : vec4<f32>, k : i32, b : i32, h : i32, w : i32, c : i32) -> f32 {
    let H = uniforms.outShape[1];
    let W = uniforms.outShape[2];
    let PH = uniforms.pooledH;
    let PW = uniforms.pooledW;
    let scale = uniforms.scale;
    let startX = i32(roundHalfAway(roi.x * scale));
    let startY = i32(roundHalfAway(roi.y * scale));
    let endX = i32(roundHalfAway(roi.z * scale));
    let endY = i32(roundHalfAway(roi.w * scale));
    let roiW = max(endX - startX + 1, 1);
    let roiH = max(endY - startY + 1, 1);
    if (h < startY || h >= startY + roiH || w < startX || w >= startX + roiW) { return 0.0; }
    let binH = divRn(f32(roiH), f32(PH));
    let binW = divRn(f32(roiW), f32(PW));
    var acc = 0.0;
    for (var ph = 0; ph < PH; ph++) {
      let hStart = clamp(i32(floor(f32(ph) * binH)) + startY, 0, H);
      let hEnd = clamp(i32(ceil(f32(ph + 1) * binH)) + startY, 0, H);
      if (h < hStart || h >= hEnd) { continue; }
      for (var pw = 0; pw < PW; pw++) {
        let wStart = clamp(i32(floor(f32(pw) * binW)) + startX, 0, W);
        let wEnd = clamp(i32(ceil(f32(pw + 1) * binW)) + startX, 0, W);
        if (w < wStart || w >= wEnd) { continue; }
        var best = bitcast<f32>(0xff7fffffu); // -FLT_MAX
        var bestH = -1;
        var bestW = -1;
        for (var y = hStart; y < hEnd; y++) {
          for (var x = wStart; x < wEnd; x++) {
            let v = mapAt(b, y, x, c);
            if (v > best) { best = v; bestH = y; bestW = x; }
          }
        }
        if (bestH == h && bestW == w) { acc = acc + dyAt(k, ph, pw, c); }
      }
    }
    return acc;
  }
`;

/** Host-side values of a tensor on the webgpu backend, if it has not been uploaded yet (else null). */
function hostValues(backend: WebGPUBackend, info: TensorInfo): ArrayLike<number> | null {
  const data = (backend as unknown as { tensorMap: { get(id: object): { values?: unknown } | undefined } }).tensorMap.get(info.dataId);
  const values = data?.values;
  return values instanceof Float32Array || values instanceof Int32Array ? values : null;
}

function webgpuGradKernel(kernelName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const gpu = backend as WebGPUBackend;
    const a = attrs as unknown as RoiGradAttrs;
    const { multi, dy, x, rois, levels, level } = gradInputs(kernelName, inputs, a);
    const hostRois = hostValues(gpu, rois);
    const hostLevels = levels === null ? null : hostValues(gpu, levels);
    if (hostRois !== null && (!multi || hostLevels !== null)) {
      checkRoiValues(kernelName, hostRois, multi ? 4 : 5, x.shape[0]!, hostLevels === null ? undefined : { values: hostLevels, count: a.scales.length });
    }
    const program = new RoiGradProgram(a.pooler, a.mode, multi, x.shape as [number, number, number, number]);
    const uniforms = [
      { type: 'int32', data: [a.samplingRatio] },
      { type: 'int32', data: [a.aligned ? 1 : 0] },
      { type: 'float32', data: [a.scales[level]!] },
      { type: 'int32', data: [level] },
      { type: 'int32', data: [rois.shape[0]!] },
      { type: 'int32', data: [a.outputSize[0]] },
      { type: 'int32', data: [a.outputSize[1]] },
    ];
    const maps = program.routed ? [x] : [];
    return gpu.runWebGPUProgram(program, multi ? [dy, ...maps, rois, levels!] : [dy, ...maps, rois], 'float32', uniforms);
  };
}

// ---- registration -----------------------------------------------------------------------------

/**
 * The inputs tfjs saves for the backward of MultiScaleRoiPool: boxes, levels and every level map.
 * The number of maps varies per call while `inputsToSave` is fixed, so this list keeps the names
 * present in the call (tfjs 4.22 computes `inputsToSave.map((name) => inputs[name])`).
 */
const MAX_LEVELS = 16;
const multiScaleInputsToSave = {
  map: <T>(fn: (name: string) => T): T[] =>
    ['boxes', 'levels', ...Array.from({ length: MAX_LEVELS }, (_, i) => `level${i}`)].map(fn).filter((t) => t !== undefined),
} as unknown as string[];

function zerosFor(t: Tensor): Tensor {
  return zeros(t.shape, 'float32');
}

const GRADIENTS: GradConfig[] = [RoiAlignKernel, RoiPoolKernel, RoiWarpKernel].map((kernelName) => ({
  kernelName,
  inputsToSave: ['x', 'rois'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, rois] = saved as [Tensor, Tensor];
    return {
      x: () => engine().runKernel(GRAD_OF[kernelName]!, { dy: dy as Tensor, x, rois }, attrs) as Tensor,
      rois: () => zerosFor(rois),
    };
  },
}));
GRADIENTS.push({
  kernelName: MultiScaleRoiPoolKernel,
  inputsToSave: multiScaleInputsToSave,
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [boxes, levels, ...maps] = saved as [Tensor, Tensor, ...Tensor[]];
    const a = attrs as unknown as RoiKernelAttrs;
    if (maps.length !== a.scales.length) {
      throw new RoiOpError(`${MultiScaleRoiPoolKernel} gradient: ${maps.length} level maps were saved for ${a.scales.length} scales; at most ${MAX_LEVELS} levels are supported`);
    }
    const grads: Record<string, () => Tensor> = { boxes: () => zerosFor(boxes), levels: () => zerosFor(levels) };
    // One backward kernel per level map, asked for only when that map needs a gradient.
    maps.forEach((x, i) => {
      grads[`level${i}`] = () => engine().runKernel(MultiScaleRoiPoolGradKernel, { dy: dy as Tensor, x, boxes, levels }, { ...attrs, level: i }) as Tensor;
    });
    return grads;
  },
});

/** Register the backward kernels (cpu, wasm, webgpu) and the gradients of the four RoI kernels (idempotent). */
export function registerRoiGradients(): void {
  for (const kernelName of [RoiAlignGradKernel, RoiPoolGradKernel, RoiWarpGradKernel, MultiScaleRoiPoolGradKernel]) {
    for (const backendName of ['cpu', 'wasm']) {
      if (getKernel(kernelName, backendName) === undefined) registerKernel({ kernelName, backendName, kernelFunc: hostGradKernel(kernelName) });
    }
    if (getKernel(kernelName, 'webgpu') === undefined) registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: webgpuGradKernel(kernelName) });
  }
  for (const g of GRADIENTS) if (getGradient(g.kernelName) === undefined) registerGradient(g);
}

registerRoiGradients();
