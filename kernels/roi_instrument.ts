/**
 * Instrumentation of the RoI poolers: for given RoIs, the geometry the kernels use, as plain data, so
 * a page can draw *why* RoIAlign beats RoIPool — the true RoI on the feature grid, the rounded one,
 * the bins, RoIAlign's sampling points with their four neighbour cells and bilinear weights, the
 * cell each RoIPool max came from, and how far quantization moved each edge.
 *
 * Same code path, not a drawing-only copy: every number below comes from roi_geometry.ts (the
 * functions the CPU twin runs and the WGSL program repeats line for line), and the per-bin outputs
 * and argmax choices come from the CPU twin itself (`poolRoisHost`, roi_cpu.ts). tests/
 * kernels_instrument.test.ts proves that re-summing the weighted neighbours reproduces every
 * backend's kernel output.
 *
 * Coordinates are the kernels' own, on the feature grid: cell (row i, column j) holds its value at
 * the point (x = j, y = i) — torchvision's frame for RoIAlign with aligned = false, RoIPool and
 * RoIWarp (to draw cells as unit squares centred on their values, shift by −½). A RoI (x1, y1, x2,
 * y2) in image pixels maps to (x1·scale − o, …) with o = ½ for RoIAlign aligned = true, else 0
 * (the "true" RoI). RoIPool reads the cells whose points lie in [round(x1·scale), round(x2·scale)]
 * (its "pooled" RoI, integer corners); RoIWarp samples the rectangle between those rounded corners.
 *
 * Glossary
 *   box        (x1, y1, x2, y2) in image pixels; boxes = [K, 4] flat
 *   scale      spatial scale: feature size / image size
 *   H, W       feature-map height and width; values HWC: index (row·W + col)·C + c
 *   PH, PW     bins per RoI (outputSize)
 *   true RoI   the box on the feature grid before any rounding or clamping (float32)
 *   pooled RoI the rectangle the pooler actually uses (rounded for RoIPool/RoIWarp; size ≥ 1 where clamped)
 *   drift      pooled − true, per edge (x1, y1, x2, y2), in feature cells and image pixels (÷ scale)
 *   taps       the 4 neighbour cells of a sampling point and their bilinear weights
 */
import { levelRange, mapLevels } from '../src/geometry/levels.ts';
import { poolRoisHost } from './roi_cpu.ts';
import {
  binSamplePoints, binStart, binTaps, makeTaps, roiAlignFrame, roiPoolBin, roiPoolFrame, roiWarpFrame,
  type AlignFrame,
} from './roi_geometry.ts';
import { RoiOpError, checkRoiValues, type RoiKernelAttrs, type RoiPooler, type RoiReduce } from './roi_ops.ts';

const f = Math.fround;

/** A feature map's size and, optionally, its values (one image, HWC float32; one channel = an H·W map). */
export interface FeatureMapView {
  height: number;
  width: number;
  /** H·W·C values, channels innermost. Without them the result has geometry only (no outputs, no argmax). */
  values?: Float32Array;
}

export interface InstrumentOptions {
  pooler: RoiPooler;
  /** [PH, PW] */
  outputSize: [number, number];
  /** feature size / image size */
  spatialScale: number;
  /** roiAlign/roiWarp: points per bin side; ≤ 0 adaptive (ignored by roiPool) */
  samplingRatio: number;
  /** roiAlign: subtract ½ after scaling (ignored by roiPool/roiWarp) */
  aligned: boolean;
  /** roiAlign/roiWarp: 'avg' (default) or 'max' */
  mode?: RoiReduce;
  /** include the per-bin geometry (default true); false keeps only the RoI-level numbers */
  bins?: boolean;
}

/** A rectangle on the feature grid (kernel coordinates, see the header). */
export interface Rect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface QuantizationError {
  /** pooled − true per edge, in feature cells */
  drift: Rect;
  /** pooled − true per edge, in image pixels (drift ÷ scale) */
  driftPixels: Rect;
  /** area of the true RoI and of the pooled RoI, in feature cells² (0 for an inverted side) */
  trueArea: number;
  pooledArea: number;
  /** pooled area outside the true RoI / true area outside the pooled RoI, in feature cells² */
  areaAdded: number;
  areaLost: number;
  /** the same two in image pixels² (÷ scale²) */
  areaAddedPixels: number;
  areaLostPixels: number;
}

/** One neighbour cell of a sampling point (after torchvision's clamping) and its bilinear weight. */
export interface Tap {
  row: number;
  col: number;
  weight: number;
}

export interface SamplePoint {
  /** coordinates as the kernel computed them (before clamping) */
  y: number;
  x: number;
  /** false when the point lies outside [−1, H] × [−1, W]: it reads 0 and has no taps */
  inside: boolean;
  /** (y_low, x_low), (y_low, x_high), (y_high, x_low), (y_high, x_high); empty when outside */
  taps: Tap[];
}

/** A RoIAlign/RoIWarp bin: a continuous rectangle and its sampling points. */
export interface SampledBin {
  ph: number;
  pw: number;
  /** [binStart, binStart + bin size] along each axis (float32 start, as the kernel computes it) */
  rect: Rect;
  /** row-major: iy outer, ix inner; point index = iy·gridW + ix */
  points: SamplePoint[];
  /** with values: the kernel's output per channel */
  output?: Float32Array;
  /** with values and mode 'max': the winning point per channel (−1: the bin has no points) */
  argmaxPoint?: Int32Array;
}

/** A RoIPool bin: integer cell ranges, clamped to the map. */
export interface CellBin {
  ph: number;
  pw: number;
  /** rows [rowStart, rowEnd) × columns [colStart, colEnd) */
  rowStart: number;
  rowEnd: number;
  colStart: number;
  colEnd: number;
  /** no cells: the output is 0 */
  empty: boolean;
  output?: Float32Array;
  /** with values: the cell each channel's max came from, row·W + col (−1 for an empty bin) */
  argmaxCell?: Int32Array;
}

interface RoiGeometryBase {
  /** index of the RoI in the input */
  index: number;
  box: [number, number, number, number];
  scale: number;
  featureSize: [number, number];
  outputSize: [number, number];
  trueRoi: Rect;
  pooledRoi: Rect;
  quantization: QuantizationError;
  /** pyramid level index (multi-scale only) */
  level?: number;
}

export interface SampledRoiGeometry extends RoiGeometryBase {
  pooler: 'roiAlign' | 'roiWarp';
  mode: RoiReduce;
  /** sampling points per bin [gridH, gridW] (0 for a degenerate adaptive grid) */
  grid: [number, number];
  /** the average's divisor, max(gridH·gridW, 1) */
  count: number;
  /** [binH, binW] in feature cells (float32) */
  binSize: [number, number];
  /** PH·PW bins, row-major (empty when options.bins is false) */
  bins: SampledBin[];
}

export interface PooledRoiGeometry extends RoiGeometryBase {
  pooler: 'roiPool';
  /** [binH, binW] in cells (float32): roi cells / PH, PW */
  binSize: [number, number];
  bins: CellBin[];
}

export type RoiGeometry = SampledRoiGeometry | PooledRoiGeometry;

/**
 * The geometry the `options.pooler` kernel uses for each box (K×4 image pixels) on one feature map;
 * with `map.values`, also each bin's output per channel and where each max came from.
 */
export function instrumentRois(boxes: ArrayLike<number>, map: FeatureMapView, options: InstrumentOptions): RoiGeometry[] {
  const op = 'instrumentRois';
  const attrs = toAttrs(op, options, [options.spatialScale]);
  const k = checkBoxes(op, boxes);
  checkMapView(op, 'map', map);
  return instrumentLevels(boxes, k, [map], null, attrs, options.bins ?? true);
}

export interface MultiScaleInstrumentOptions extends Omit<InstrumentOptions, 'spatialScale'> {
  /** spatial scale of each map, finest first (1/4, 1/8, 1/16, 1/32 for P2–P5) */
  scales: number[];
  /** level mapper s0 (torchvision 224) */
  canonicalScale?: number;
  /** level mapper k0 (torchvision 4) */
  canonicalLevel?: number;
}

export interface MultiScaleGeometry {
  /** level index per box (0 = maps[0]), from torchvision's LevelMapper */
  levels: Int32Array;
  /** FPN levels of the finest and coarsest map (2 and 5 for P2–P5) */
  kMin: number;
  kMax: number;
  rois: RoiGeometry[];
}

/**
 * Multi-scale instrumentation: assign each box its FPN level (src/geometry/levels.ts `mapLevels`,
 * kMin/kMax from the scales like torchvision's `setup_scales`), then instrument it on that level's map
 * with that level's scale — what `multiScaleRoiPool` and the engine's `poolRois` do.
 */
export function instrumentMultiScale(
  boxes: ArrayLike<number>,
  maps: readonly FeatureMapView[],
  options: MultiScaleInstrumentOptions,
): MultiScaleGeometry {
  const op = 'instrumentMultiScale';
  if (maps.length === 0) throw new RoiOpError(`${op}: maps is empty; pass one FeatureMapView per pyramid level, finest first`);
  if (!Array.isArray(options.scales) || options.scales.length !== maps.length) {
    throw new RoiOpError(`${op}: scales must hold one spatial scale per map (${maps.length}); found ${JSON.stringify(options.scales)}`);
  }
  const attrs = toAttrs(op, options, options.scales);
  const k = checkBoxes(op, boxes);
  maps.forEach((m, i) => checkMapView(op, `maps[${i}]`, m));
  const { kMin, kMax } = levelRange(attrs.scales);
  const levels = mapLevels(Float32Array.from(boxes), {
    canonicalScale: options.canonicalScale ?? 224,
    canonicalLevel: options.canonicalLevel ?? 4,
    kMin,
    kMax,
  });
  const rois = instrumentLevels(boxes, k, maps, levels, attrs, options.bins ?? true);
  return { levels, kMin, kMax, rois };
}

// ---- implementation ---------------------------------------------------------------------------

function instrumentLevels(
  boxes: ArrayLike<number>, k: number, maps: readonly FeatureMapView[], levels: Int32Array | null,
  attrs: RoiKernelAttrs, withBins: boolean,
): RoiGeometry[] {
  const [pooledH, pooledW] = attrs.outputSize;
  // With values: run the CPU twin itself on all boxes (the kernel's outputs and argmax choices).
  const pooled = maps.some((m) => m.values !== undefined) ? runTwin(boxes, k, maps, levels, attrs) : null;
  const result: RoiGeometry[] = [];
  for (let r = 0; r < k; r++) {
    const level = levels === null ? 0 : levels[r]!;
    const map = maps[level]!;
    const scale = attrs.scales[level]!;
    const box: [number, number, number, number] = [boxes[4 * r]!, boxes[4 * r + 1]!, boxes[4 * r + 2]!, boxes[4 * r + 3]!];
    const channels = map.values === undefined ? 0 : map.values.length / (map.height * map.width);
    const slice = (a: Float32Array | Int32Array | undefined, ph: number, pw: number) => {
      if (a === undefined || map.values === undefined) return undefined;
      const o = ((r * pooledH + ph) * pooledW + pw) * channels;
      return a.slice(o, o + channels);
    };
    const base = {
      index: r,
      box,
      scale,
      featureSize: [map.height, map.width] as [number, number],
      outputSize: attrs.outputSize,
      ...(levels === null ? {} : { level }),
    };
    if (attrs.pooler === 'roiPool') {
      const frame = roiPoolFrame(box[0], box[1], box[2], box[3], scale, pooledH, pooledW);
      const trueRoi = scaled(box, scale, 0);
      // RoIPool reads the cells (points) start … start + size − 1 along each axis.
      const pooledRoi = { x1: frame.startX, y1: frame.startY, x2: frame.startX + frame.roiW - 1, y2: frame.startY + frame.roiH - 1 };
      const bins: CellBin[] = [];
      if (withBins) {
        for (let ph = 0; ph < pooledH; ph++) {
          for (let pw = 0; pw < pooledW; pw++) {
            const b = roiPoolBin(frame, ph, pw, map.height, map.width);
            const bin: CellBin = {
              ph, pw, rowStart: b.hStart, rowEnd: b.hEnd, colStart: b.wStart, colEnd: b.wEnd,
              empty: b.hEnd <= b.hStart || b.wEnd <= b.wStart,
            };
            const output = slice(pooled?.out, ph, pw);
            if (output !== undefined) {
              bin.output = output as Float32Array;
              bin.argmaxCell = slice(pooled!.argmax, ph, pw) as Int32Array;
            }
            bins.push(bin);
          }
        }
      }
      result.push({
        ...base, pooler: 'roiPool', trueRoi, pooledRoi, quantization: quantization(trueRoi, pooledRoi, scale),
        binSize: [frame.binH, frame.binW], bins,
      });
      continue;
    }
    const aligned = attrs.pooler === 'roiAlign' && attrs.aligned;
    const frame = attrs.pooler === 'roiAlign'
      ? roiAlignFrame(box[0], box[1], box[2], box[3], scale, pooledH, pooledW, attrs.samplingRatio, attrs.aligned)
      : roiWarpFrame(box[0], box[1], box[2], box[3], scale, pooledH, pooledW, attrs.samplingRatio);
    const trueRoi = scaled(box, scale, aligned ? 0.5 : 0);
    const pooledRoi = sampledRoi(frame, trueRoi);
    const bins: SampledBin[] = [];
    if (withBins) {
      const points = Math.max(frame.gridH, 0) * Math.max(frame.gridW, 0);
      const taps = makeTaps(Math.max(points, 1));
      for (let ph = 0; ph < pooledH; ph++) {
        for (let pw = 0; pw < pooledW; pw++) {
          const n = binTaps(frame, ph, pw, map.height, map.width, taps);
          const coords = binSamplePoints(frame, ph, pw);
          const samples: SamplePoint[] = [];
          for (let s = 0; s < n; s++) {
            const inside = taps.inside[s] === 1;
            const t: Tap[] = [];
            if (inside) {
              for (let j = 4 * s; j < 4 * s + 4; j++) {
                const cell = taps.cell[j]!;
                t.push({ row: Math.floor(cell / map.width), col: cell % map.width, weight: taps.weight[j]! });
              }
            }
            samples.push({ y: coords[2 * s]!, x: coords[2 * s + 1]!, inside, taps: t });
          }
          const y1 = binStart(frame.startY, frame.binH, ph);
          const x1 = binStart(frame.startX, frame.binW, pw);
          const bin: SampledBin = { ph, pw, rect: { x1, y1, x2: x1 + frame.binW, y2: y1 + frame.binH }, points: samples };
          const output = slice(pooled?.out, ph, pw);
          if (output !== undefined) {
            bin.output = output as Float32Array;
            if (attrs.mode === 'max') bin.argmaxPoint = slice(pooled!.argmax, ph, pw) as Int32Array;
          }
          bins.push(bin);
        }
      }
    }
    result.push({
      ...base, pooler: attrs.pooler, mode: attrs.mode, trueRoi, pooledRoi, quantization: quantization(trueRoi, pooledRoi, scale),
      grid: [Math.max(frame.gridH, 0), Math.max(frame.gridW, 0)], count: frame.count, binSize: [frame.binH, frame.binW], bins,
    });
  }
  return result;
}

/** The CPU twin on all boxes: outputs [K, PH, PW, C] and its argmax choices. */
function runTwin(
  boxes: ArrayLike<number>, k: number, maps: readonly FeatureMapView[], levels: Int32Array | null, attrs: RoiKernelAttrs,
): { out: Float32Array; argmax: Int32Array } {
  const first = maps[0]!;
  const channels = (first.values?.length ?? 0) / (first.height * first.width);
  maps.forEach((m, i) => {
    if (m.values === undefined || m.values.length !== m.height * m.width * channels) {
      throw new RoiOpError(
        `instrument: maps[${i}] has ${m.values?.length ?? 'no'} values; expected ${m.height}×${m.width}×${channels} ` +
          '(give values for every map or for none, all with the same channel count)',
      );
    }
  });
  const hostMaps = maps.map((m) => ({
    data: m.values!,
    batch: 1,
    height: m.height,
    width: m.width,
    channels,
  }));
  const [ph, pw] = attrs.outputSize;
  const out = new Float32Array(k * ph * pw * channels);
  const argmax = new Int32Array(out.length).fill(-1);
  poolRoisHost(hostMaps, boxes, 4, levels, attrs, out, argmax);
  return { out, argmax };
}

/** The box on the feature grid: x·scale − o in float32 (the first step of every frame). */
function scaled(box: [number, number, number, number], scale: number, o: number): Rect {
  const s = f(scale);
  return { x1: f(f(box[0] * s) - o), y1: f(f(box[1] * s) - o), x2: f(f(box[2] * s) - o), y2: f(f(box[3] * s) - o) };
}

/** The rectangle RoIAlign/RoIWarp sample: start + roi size; an unclamped side ends exactly where the true RoI ends (RoIAlign). */
function sampledRoi(frame: AlignFrame, trueRoi: Rect): Rect {
  const end = (start: number, size: number, trueEnd: number) => (f(trueEnd - start) === size ? trueEnd : start + size);
  return {
    x1: frame.startX,
    y1: frame.startY,
    x2: end(frame.startX, frame.roiW, trueRoi.x2),
    y2: end(frame.startY, frame.roiH, trueRoi.y2),
  };
}

function quantization(t: Rect, p: Rect, scale: number): QuantizationError {
  const drift = { x1: p.x1 - t.x1, y1: p.y1 - t.y1, x2: p.x2 - t.x2, y2: p.y2 - t.y2 };
  const side = (a: number, b: number) => Math.max(b - a, 0);
  const trueArea = side(t.x1, t.x2) * side(t.y1, t.y2);
  const pooledArea = side(p.x1, p.x2) * side(p.y1, p.y2);
  const overlap = side(Math.max(t.x1, p.x1), Math.min(t.x2, p.x2)) * side(Math.max(t.y1, p.y1), Math.min(t.y2, p.y2));
  const areaAdded = pooledArea - overlap;
  const areaLost = trueArea - overlap;
  return {
    drift,
    driftPixels: { x1: drift.x1 / scale, y1: drift.y1 / scale, x2: drift.x2 / scale, y2: drift.y2 / scale },
    trueArea,
    pooledArea,
    areaAdded,
    areaLost,
    areaAddedPixels: areaAdded / (scale * scale),
    areaLostPixels: areaLost / (scale * scale),
  };
}

// ---- checks -----------------------------------------------------------------------------------

function toAttrs(op: string, o: Omit<InstrumentOptions, 'spatialScale'>, scales: readonly number[]): RoiKernelAttrs {
  if (o.pooler !== 'roiAlign' && o.pooler !== 'roiPool' && o.pooler !== 'roiWarp') {
    throw new RoiOpError(`${op}: pooler '${String(o.pooler)}' is unknown; expected 'roiAlign', 'roiPool' or 'roiWarp'`);
  }
  const size = o.outputSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RoiOpError(`${op}: outputSize must be [height, width] with integers ≥ 1; found ${JSON.stringify(size)}`);
  }
  scales.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) {
      throw new RoiOpError(`${op}: spatial scale ${scales.length > 1 ? `scales[${i}] ` : ''}must be a finite number > 0 (feature size / image size, e.g. 0.25); found ${s}`);
    }
  });
  const pool = o.pooler === 'roiPool';
  if (!pool && !Number.isInteger(o.samplingRatio)) {
    throw new RoiOpError(`${op}: samplingRatio must be an integer (> 0: points per bin side, ≤ 0: adaptive); found ${o.samplingRatio}`);
  }
  if (o.pooler === 'roiAlign' && typeof o.aligned !== 'boolean') throw new RoiOpError(`${op}: aligned must be true or false; found ${JSON.stringify(o.aligned)}`);
  const mode = o.mode ?? 'avg';
  if (mode !== 'avg' && mode !== 'max') throw new RoiOpError(`${op}: mode must be 'avg' or 'max'; found ${JSON.stringify(mode)}`);
  return {
    pooler: o.pooler,
    mode: pool ? 'max' : mode,
    outputSize: [size[0]!, size[1]!],
    scales: [...scales],
    samplingRatio: pool ? 0 : o.samplingRatio,
    aligned: o.pooler === 'roiAlign' ? o.aligned : false,
  };
}

function checkBoxes(op: string, boxes: ArrayLike<number>): number {
  if (boxes.length % 4 !== 0) {
    throw new RoiOpError(`${op}: boxes must be K×4 numbers (x1, y1, x2, y2 per box); found ${boxes.length} numbers`);
  }
  checkRoiValues(op, boxes, 4, 1);
  return boxes.length / 4;
}

function checkMapView(op: string, name: string, m: FeatureMapView): void {
  if (!Number.isInteger(m.height) || !Number.isInteger(m.width) || m.height < 1 || m.width < 1) {
    throw new RoiOpError(`${op}: ${name} must have integer height and width ≥ 1; found ${m.height}×${m.width}`);
  }
  if (m.values !== undefined) {
    const cells = m.height * m.width;
    if (!(m.values instanceof Float32Array) || m.values.length === 0 || m.values.length % cells !== 0) {
      throw new RoiOpError(`${op}: ${name}.values must be a Float32Array of H·W·C = ${m.height}·${m.width}·C values (HWC); found ${m.values.length}`);
    }
  }
}
