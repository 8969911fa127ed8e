/**
 * The CPU twin of the RoI pooling kernels, registered under the same kernel names for the `cpu` and
 * `wasm` backends. It is the engine's path on both, so the inner loop is tight: per (RoI, bin) the
 * sampling points' 4 neighbours and weights are computed once (roi_geometry.ts), the weights of
 * points that share a cell are summed, then channels run innermost over contiguous NHWC memory
 * (1000 RoIs × 7×7 × 256 channels × 2×2 points on a 4-level pyramid: ≈ 0.3 s of CPU in Node 20).
 * Geometry is float32 exactly like torchvision; the sums are accumulated in float64, so outputs
 * differ from torchvision's float32 accumulation by rounding only (≈ 1e-7, measured in
 * tests/kernels_parity.test.ts).
 *
 * Backend access: `cpu` hands out its JS arrays (`readSync`) and takes a new one for the output
 * (`makeTensorInfo`); `wasm` keeps tensors on its heap, so the output is allocated there first
 * (`makeOutput`, which may grow and move the heap) and then every input and the output are viewed
 * in place (`typedArrayFromHeap`): no copies.
 *
 * Glossary: see roi_ops.ts (x, rois, boxes, levels, K, PH, PW) and roi_geometry.ts (frame, bin, taps).
 */
import { getKernel, registerKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  NEG_FLT_MAX, binTaps, makeTaps, roiAlignFrame, roiPoolBin, roiPoolFrame, roiWarpFrame,
  type AlignFrame, type Taps,
} from './roi_geometry.ts';
import {
  MultiScaleRoiPoolKernel, RoiAlignKernel, RoiPoolKernel, RoiWarpKernel, RoiOpError, checkRoiValues,
  type RoiKernelAttrs,
} from './roi_ops.ts';

/** One feature map on the host: NHWC float32. */
export interface HostMap {
  data: Float32Array;
  batch: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * Pool K RoIs into `out` ([K, PH, PW, C], every element written). `rois` holds K rows of `stride`
 * numbers: (batch index, x1, y1, x2, y2) for stride 5, (x1, y1, x2, y2) with batch 0 for stride 4.
 * RoI k reads `maps[levels[k]]` with `attrs.scales[levels[k]]` (map 0 when `levels` is null).
 * Values must have been checked (finite, indices in range): see checkRoiValues.
 *
 * `argmax` (optional, same length as `out`) receives where each max came from: for RoIPool the cell
 * row·W + col of the RoI's map (−1 for an empty bin), for RoIAlign/RoIWarp with mode 'max' the
 * winning sampling point of the bin, iy·gridW + ix (−1 when the bin has no points). A point outside
 * the map can win (its value is 0); it has no cells. Untouched for mode 'avg'. This is what the
 * instrumentation (roi_instrument.ts) and the backward (roi_grad.ts) read: the kernel's own choice.
 */
export function poolRoisHost(
  maps: readonly HostMap[],
  rois: ArrayLike<number>,
  stride: 4 | 5,
  levels: ArrayLike<number> | null,
  attrs: RoiKernelAttrs,
  out: Float32Array,
  argmax: Int32Array | null = null,
): void {
  const [pooledH, pooledW] = attrs.outputSize;
  const k = rois.length / stride;
  let taps = makeTaps(16);
  for (let r = 0; r < k; r++) {
    const level = levels === null ? 0 : levels[r]!;
    const map = maps[level]!;
    const scale = attrs.scales[level]!;
    const at = r * stride;
    const batch = stride === 5 ? rois[at]! : 0;
    const o = stride === 5 ? 1 : 0;
    const x1 = rois[at + o]!, y1 = rois[at + o + 1]!, x2 = rois[at + o + 2]!, y2 = rois[at + o + 3]!;
    const outRoi = r * pooledH * pooledW * map.channels;
    if (attrs.pooler === 'roiPool') {
      poolRoiMax(map, batch, x1, y1, x2, y2, scale, pooledH, pooledW, out, outRoi, argmax);
      continue;
    }
    const frame = attrs.pooler === 'roiAlign'
      ? roiAlignFrame(x1, y1, x2, y2, scale, pooledH, pooledW, attrs.samplingRatio, attrs.aligned)
      : roiWarpFrame(x1, y1, x2, y2, scale, pooledH, pooledW, attrs.samplingRatio);
    const points = Math.max(frame.gridH, 0) * Math.max(frame.gridW, 0);
    if (taps.inside.length < points) taps = makeTaps(points);
    sampleRoi(map, batch, frame, pooledH, pooledW, attrs.mode, taps, out, outRoi, argmax);
  }
}

/** RoIAlign/RoIWarp of one RoI: per bin, taps once, then channels innermost. */
function sampleRoi(
  map: HostMap, batch: number, frame: AlignFrame, pooledH: number, pooledW: number,
  mode: 'avg' | 'max', taps: Taps, out: Float32Array, outRoi: number, argmax: Int32Array | null,
): void {
  const { data: X, height, width, channels: C } = map;
  const base = batch * height * width * C;
  const { cell, weight, inside } = taps;
  const acc = new Float64Array(C);
  for (let ph = 0; ph < pooledH; ph++) {
    for (let pw = 0; pw < pooledW; pw++) {
      const n = binTaps(frame, ph, pw, height, width, taps);
      const o = outRoi + (ph * pooledW + pw) * C;
      if (mode === 'avg') {
        acc.fill(0); // a small L1-resident row; the bin is written once at the end
        if (n <= MERGE_MAX_POINTS) {
          // Sampling points of a bin share cells: sum their weights per cell, then read each
          // cell once, 4 cells per pass over the channels.
          const u = mergeTaps(taps, n, merged);
          const mc = merged.cell, mw = merged.weight;
          let j = 0;
          for (; j + 4 <= u; j += 4) {
            const p1 = base + mc[j]! * C, p2 = base + mc[j + 1]! * C, p3 = base + mc[j + 2]! * C, p4 = base + mc[j + 3]! * C;
            const w1 = mw[j]!, w2 = mw[j + 1]!, w3 = mw[j + 2]!, w4 = mw[j + 3]!;
            for (let c = 0; c < C; c++) acc[c]! += w1 * X[p1 + c]! + w2 * X[p2 + c]! + w3 * X[p3 + c]! + w4 * X[p4 + c]!;
          }
          for (; j < u; j++) {
            const p = base + mc[j]! * C, w = mw[j]!;
            for (let c = 0; c < C; c++) acc[c]! += w * X[p + c]!;
          }
        } else {
          // Large (adaptive) grids: one pass per sampling point.
          for (let s = 0; s < n; s++) {
            if (inside[s] === 0) continue; // reads 0: adds nothing, still counted in `count`
            const p1 = base + cell[4 * s]! * C, p2 = base + cell[4 * s + 1]! * C;
            const p3 = base + cell[4 * s + 2]! * C, p4 = base + cell[4 * s + 3]! * C;
            const w1 = weight[4 * s]!, w2 = weight[4 * s + 1]!, w3 = weight[4 * s + 2]!, w4 = weight[4 * s + 3]!;
            for (let c = 0; c < C; c++) acc[c]! += w1 * X[p1 + c]! + w2 * X[p2 + c]! + w3 * X[p3 + c]! + w4 * X[p4 + c]!;
          }
        }
        const count = frame.count;
        for (let c = 0; c < C; c++) out[o + c] = acc[c]! / count;
      } else {
        out.fill(n > 0 ? NEG_FLT_MAX : 0, o, o + C);
        argmax?.fill(-1, o, o + C);
        for (let s = 0; s < n; s++) {
          if (inside[s] === 0) {
            for (let c = 0; c < C; c++) {
              if (out[o + c]! < 0) {
                out[o + c] = 0;
                if (argmax !== null) argmax[o + c] = s;
              }
            }
            continue;
          }
          const p1 = base + cell[4 * s]! * C, p2 = base + cell[4 * s + 1]! * C;
          const p3 = base + cell[4 * s + 2]! * C, p4 = base + cell[4 * s + 3]! * C;
          const w1 = weight[4 * s]!, w2 = weight[4 * s + 1]!, w3 = weight[4 * s + 2]!, w4 = weight[4 * s + 3]!;
          for (let c = 0; c < C; c++) {
            const v = w1 * X[p1 + c]! + w2 * X[p2 + c]! + w3 * X[p3 + c]! + w4 * X[p4 + c]!;
            if (v > out[o + c]!) {
              out[o + c] = v;
              if (argmax !== null) argmax[o + c] = s;
            }
          }
        }
      }
    }
  }
}

/**
 * Merge the taps of a bin's `n` sampling points into distinct cells with summed weights (points
 * outside the map and zero weights dropped); returns the number of cells written to `merged`.
 * Adding the weights first changes only the float rounding order (≈1e-7 relative).
 */
function mergeTaps(taps: Taps, n: number, merged: { cell: Int32Array; weight: Float64Array }): number {
  const { cell, weight, inside } = taps;
  const mc = merged.cell, mw = merged.weight;
  let u = 0;
  for (let s = 0; s < n; s++) {
    if (inside[s] === 0) continue;
    for (let t = 4 * s; t < 4 * s + 4; t++) {
      const w = weight[t]!;
      if (w === 0) continue;
      const c = cell[t]!;
      let j = 0;
      // Linear search among ≤ 4·MERGE_MAX_POINTS cells.
      while (j < u && mc[j] !== c) j++;
      if (j === u) {
        mc[u] = c;
        mw[u] = w;
        u++;
      } else {
        mw[j]! += w;
      }
    }
  }
  return u;
}

/** RoIPool of one RoI: max over each quantized bin's cells, channels innermost. */
function poolRoiMax(
  map: HostMap, batch: number, x1: number, y1: number, x2: number, y2: number,
  scale: number, pooledH: number, pooledW: number, out: Float32Array, outRoi: number, argmax: Int32Array | null,
): void {
  const { data: X, height, width, channels: C } = map;
  const base = batch * height * width * C;
  const frame = roiPoolFrame(x1, y1, x2, y2, scale, pooledH, pooledW);
  for (let ph = 0; ph < pooledH; ph++) {
    for (let pw = 0; pw < pooledW; pw++) {
      const { hStart, hEnd, wStart, wEnd } = roiPoolBin(frame, ph, pw, height, width);
      const o = outRoi + (ph * pooledW + pw) * C;
      const empty = hEnd <= hStart || wEnd <= wStart;
      out.fill(empty ? 0 : NEG_FLT_MAX, o, o + C);
      argmax?.fill(-1, o, o + C);
      for (let h = hStart; h < hEnd; h++) {
        for (let w = wStart; w < wEnd; w++) {
          const p = base + (h * width + w) * C;
          if (argmax === null) {
            for (let c = 0; c < C; c++) {
              const v = X[p + c]!;
              if (v > out[o + c]!) out[o + c] = v;
            }
          } else {
            for (let c = 0; c < C; c++) {
              const v = X[p + c]!;
              if (v > out[o + c]!) {
                out[o + c] = v;
                argmax[o + c] = h * width + w;
              }
            }
          }
        }
      }
    }
  }
}

/** Bins with at most this many sampling points have their taps merged per cell (4·16 taps, linear search). */
const MERGE_MAX_POINTS = 16;
const merged = { cell: new Int32Array(4 * MERGE_MAX_POINTS), weight: new Float64Array(4 * MERGE_MAX_POINTS) };

// ---- backend glue -------------------------------------------------------------------------------

interface CpuLikeBackend {
  readSync(dataId: object): unknown;
  makeTensorInfo?(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}
interface WasmLikeBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The kernel function shared by all four kernels on cpu and wasm. */
function hostKernel(kernelName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as RoiKernelAttrs;
    const multi = kernelName === MultiScaleRoiPoolKernel;
    const need = (name: string): TensorInfo => {
      const t = inputs[name];
      if (t === undefined) throw new RoiOpError(`${kernelName}: input '${name}' is missing`);
      return t;
    };
    const mapInfos = multi ? a.scales.map((_, i) => need(`level${i}`)) : [need('x')];
    const roiInfo = multi ? need('boxes') : need('rois');
    const levelInfo = multi ? need('levels') : null;
    const k = roiInfo.shape[0]!;
    const channels = mapInfos[0]!.shape[3]!;
    const outShape = [k, a.outputSize[0], a.outputSize[1], channels];

    let output: TensorInfo | null = null;
    let read: (info: TensorInfo) => ArrayLike<number>;
    let out: Float32Array;
    if ('typedArrayFromHeap' in backend) {
      const wasm = backend as WasmLikeBackend;
      output = wasm.makeOutput(outShape, 'float32'); // may grow the heap: take views after this
      read = (info) => wasm.typedArrayFromHeap(info);
      out = wasm.typedArrayFromHeap(output) as Float32Array;
    } else {
      const cpu = backend as CpuLikeBackend;
      read = (info) => cpu.readSync(info.dataId) as ArrayLike<number>;
      out = new Float32Array(outShape.reduce((p, d) => p * d, 1));
    }

    const rois = read(roiInfo);
    const levels = levelInfo === null ? null : read(levelInfo);
    const batch = mapInfos[0]!.shape[0]!;
    checkRoiValues(kernelName, rois, multi ? 4 : 5, batch, levels === null ? undefined : { values: levels, count: mapInfos.length });
    const maps: HostMap[] = mapInfos.map((m) => ({
      data: read(m) as Float32Array,
      batch: m.shape[0]!,
      height: m.shape[1]!,
      width: m.shape[2]!,
      channels: m.shape[3]!,
    }));
    poolRoisHost(maps, rois, multi ? 4 : 5, levels, a, out);

    if (output !== null) return output;
    const cpu = backend as CpuLikeBackend;
    if (cpu.makeTensorInfo === undefined) throw new RoiOpError(`${kernelName}: this backend cannot make an output tensor (no makeTensorInfo)`);
    return cpu.makeTensorInfo(outShape, 'float32', out);
  };
}

/** Register the CPU twin for `cpu` and `wasm` (idempotent). */
export function registerHostKernels(): void {
  for (const kernelName of [RoiAlignKernel, RoiPoolKernel, RoiWarpKernel, MultiScaleRoiPoolKernel]) {
    for (const backendName of ['cpu', 'wasm']) {
      if (getKernel(kernelName, backendName) === undefined) {
        registerKernel({ kernelName, backendName, kernelFunc: hostKernel(kernelName) });
      }
    }
  }
}
