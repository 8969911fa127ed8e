/**
 * Chapter 7's lens on one RoI: which RoI the reader chose (a detection, a proposal or a box they
 * drew), which FPN level the level mapper sends it to, one channel of that level's map, and the three
 * poolers' geometry and outputs on it — all from the kernels' instrumentation
 * (kernels/roi_instrument.ts), which runs the very functions and CPU twin the kernels use. Nothing here
 * re-derives a bin or a weight.
 *
 * Glossary
 *   RoI        a box (x1, y1, x2, y2) in pixels of the resized image (the frame of the engine's
 *              proposals and detections, and of the poolers)
 *   level      0-based index into P2–P5 (`fpn_0` … `fpn_3`); k = level + kMin is the FPN level
 *   plane      one channel of a level's map as an H×W `FeatureMapView` (a CHW dump's plane c)
 *   lens       the RoI under RoIPool, RoIWarp and RoIAlign with the same output size
 *   drawing frame  cells as unit squares: cell (row i, col j) is [j, j+1] × [i, i+1]; a kernel
 *              coordinate (value of cell j at x = j) is drawn at x + ½, an image coordinate at x·scale
 */
import type { Pooler, RoiPoolConfig } from '../config.ts';
import type { Boxes, NdArray } from '../types.ts';
import {
  type FeatureMapView, type PooledRoiGeometry, type SampledRoiGeometry, instrumentMultiScale, instrumentRois,
} from '../../kernels/roi_instrument.ts';
import { iou } from '../geometry/boxes.ts';

export const POOLERS: readonly Pooler[] = ['roiPool', 'roiWarp', 'roiAlign'];

export const POOLER_LABELS: Readonly<Record<Pooler, string>> = {
  roiPool: 'RoIPool',
  roiWarp: 'RoIWarp',
  roiAlign: 'RoIAlign',
};

export type Box4 = [number, number, number, number];

/** What the reader chose: a detection or proposal by index, or a box they drew. */
export type RoiRef = { kind: 'detection' | 'proposal'; index: number } | { kind: 'custom'; box: Box4 };

/** A chosen RoI with its box (resized-image pixels). */
export interface RoiChoice {
  kind: 'detection' | 'proposal' | 'custom';
  /** Index into the detections or proposals (−1 for a drawn box). */
  index: number;
  box: Box4;
}

/** `d3` (detection 3), `p12` (proposal 12), `b:10.5,20,64,80` (a drawn box); anything else → null. */
export function parseRoiParam(raw: string | null): RoiRef | null {
  if (raw === null) return null;
  const m = /^([dp])(\d{1,5})$/.exec(raw.trim());
  if (m) return { kind: m[1] === 'd' ? 'detection' : 'proposal', index: Number(m[2]) };
  const b = /^b:(.+)$/.exec(raw.trim());
  if (b) {
    const v = b[1]!.split(',').map(Number);
    if (v.length === 4 && v.every(Number.isFinite) && v[2]! > v[0]! && v[3]! > v[1]!) return { kind: 'custom', box: v as Box4 };
  }
  return null;
}

/** The URL form of a choice (inverse of `parseRoiParam`; drawn boxes to 0.1 px). */
export function formatRoiParam(choice: RoiChoice): string {
  if (choice.kind === 'custom') return `b:${choice.box.map((v) => Number(v.toFixed(1))).join(',')}`;
  return `${choice.kind === 'detection' ? 'd' : 'p'}${choice.index}`;
}

const boxAt = (boxes: Boxes, i: number): Box4 => [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!];

/**
 * The RoI a reference names in this run. Without one, or when its index does not exist here (another
 * image, another threshold), the default is the first detection with both sides at least `minSide`
 * pixels (a RoI worth looking at), else detection 0, else proposal 0; null when there are neither.
 */
export function resolveRoi(ref: RoiRef | null, detections: Boxes, proposals: Boxes, minSide = 8): RoiChoice | null {
  const nd = detections.length / 4;
  const np = proposals.length / 4;
  if (ref?.kind === 'custom') return { kind: 'custom', index: -1, box: ref.box };
  if (ref?.kind === 'detection' && ref.index < nd) return { kind: 'detection', index: ref.index, box: boxAt(detections, ref.index) };
  if (ref?.kind === 'proposal' && ref.index < np) return { kind: 'proposal', index: ref.index, box: boxAt(proposals, ref.index) };
  if (nd > 0) {
    const d = defaultDetection(detections, minSide);
    return { kind: 'detection', index: d, box: boxAt(detections, d) };
  }
  if (np > 0) return { kind: 'proposal', index: 0, box: boxAt(proposals, 0) };
  return null;
}

/** The first detection with both sides ≥ `minSide` pixels, else 0. */
export function defaultDetection(detections: Boxes, minSide = 8): number {
  for (let d = 0; d < detections.length / 4; d++) {
    const b = boxAt(detections, d);
    if (b[2] - b[0] >= minSide && b[3] - b[1] >= minSide) return d;
  }
  return 0;
}

/** The level a box is pooled from, as `multiScaleRoiPool` assigns it (the kernels' instrumentation, geometry only). */
export interface RoiLevel {
  /** 0 = P2 */
  level: number;
  /** FPN level k (2 for P2) */
  k: number;
  scale: number;
  height: number;
  width: number;
}

/**
 * The FPN level the level mapper picks for `box` among `maps` (P2–P5 sizes, finest first) with their
 * `scales` and the pooler's canonical scale and level.
 */
export function roiLevel(
  box: Box4, maps: ReadonlyArray<{ height: number; width: number }>, scales: readonly number[],
  mapper: Pick<RoiPoolConfig, 'canonicalScale' | 'canonicalLevel'>,
): RoiLevel {
  const g = instrumentMultiScale(box, maps.map((m) => ({ height: m.height, width: m.width })), {
    pooler: 'roiAlign', outputSize: [1, 1], samplingRatio: 1, aligned: false, bins: false,
    scales: [...scales], canonicalScale: mapper.canonicalScale, canonicalLevel: mapper.canonicalLevel,
  });
  const level = g.levels[0]!;
  return { level, k: g.kMin + level, scale: scales[level]!, height: maps[level]!.height, width: maps[level]!.width };
}

/** Channel `c` of a CHW dump [C, H, W] as a one-channel H×W map (a CHW plane is an HWC map with C = 1). */
export function channelPlane(dump: NdArray, c: number): FeatureMapView {
  const [C, H, W] = dump.shape as [number, number, number];
  if (!(Number.isInteger(c) && c >= 0 && c < C)) throw new RangeError(`channelPlane: channel ${c} is not in 0…${C - 1} of a ${C}×${H}×${W} map`);
  return { height: H, width: W, values: dump.data.subarray(c * H * W, (c + 1) * H * W) };
}

/** Integer cell ranges [row0, row1) × [col0, col1) of a map. */
export interface CellWindow {
  row0: number;
  row1: number;
  col0: number;
  col1: number;
}

/**
 * The cells to draw around a RoI: every cell the box (drawing frame: x·scale) touches, grown by
 * `margin` cells, clipped to the map; at least one cell.
 */
export function roiWindow(box: Box4, scale: number, height: number, width: number, margin = 1): CellWindow {
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const col0 = clip(Math.floor(box[0] * scale) - margin, width - 1);
  const row0 = clip(Math.floor(box[1] * scale) - margin, height - 1);
  const col1 = Math.max(col0 + 1, clip(Math.ceil(box[2] * scale) + margin, width));
  const row1 = Math.max(row0 + 1, clip(Math.ceil(box[3] * scale) + margin, height));
  return { row0, row1, col0, col1 };
}

/** The channel whose values vary most (largest variance) inside `window` of a CHW dump. */
export function liveliestChannel(dump: NdArray, window: CellWindow): number {
  const [C, H, W] = dump.shape as [number, number, number];
  let best = 0;
  let bestVar = -1;
  for (let c = 0; c < C; c++) {
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    for (let r = window.row0; r < window.row1; r++) {
      for (let j = window.col0; j < window.col1; j++) {
        const v = dump.data[c * H * W + r * W + j]!;
        n++;
        sum += v;
        sumSq += v * v;
      }
    }
    const variance = n > 0 ? sumSq / n - (sum / n) ** 2 : 0;
    if (variance > bestVar + 1e-12) {
      bestVar = variance;
      best = c;
    }
  }
  return best;
}

export interface LensSettings {
  /** bins per side (the engine: 7 box head, 14 mask head) */
  outputSize: number;
  /** RoIAlign/RoIWarp points per bin side; 0 = adaptive */
  samplingRatio: number;
  /** RoIAlign's −½ */
  aligned: boolean;
}

export interface RoiLens {
  roiPool: PooledRoiGeometry;
  roiWarp: SampledRoiGeometry;
  roiAlign: SampledRoiGeometry;
}

/** The RoI under each pooler on one plane at `scale`: the instrumentation's geometry with each bin's output. */
export function roiLens(box: Box4, plane: FeatureMapView, scale: number, settings: LensSettings): RoiLens {
  const common = { outputSize: [settings.outputSize, settings.outputSize] as [number, number], spatialScale: scale, samplingRatio: settings.samplingRatio, aligned: settings.aligned };
  const [roiPool] = instrumentRois(box, plane, { ...common, pooler: 'roiPool' });
  const [roiWarp] = instrumentRois(box, plane, { ...common, pooler: 'roiWarp' });
  const [roiAlign] = instrumentRois(box, plane, { ...common, pooler: 'roiAlign' });
  return { roiPool: roiPool as PooledRoiGeometry, roiWarp: roiWarp as SampledRoiGeometry, roiAlign: roiAlign as SampledRoiGeometry };
}

/** A RoI's pooled output, channel `c`, as a PH×PW row-major plane (from its instrumented bins). */
export function pooledPlane(geometry: PooledRoiGeometry | SampledRoiGeometry, c = 0): Float32Array {
  const [ph, pw] = geometry.outputSize;
  const out = new Float32Array(ph * pw);
  for (const bin of geometry.bins) {
    if (bin.output === undefined) throw new Error('pooledPlane: the geometry has no outputs; instrument it with the map values');
    out[bin.ph * pw + bin.pw] = bin.output[c]!;
  }
  return out;
}

/** Index and IoU of the box of `boxes` that overlaps `box` most (ties: same label first, then the lower index); null when none overlaps. */
export function bestOverlap(box: Box4, boxes: Boxes, labels?: Int32Array, label?: number): { index: number; iou: number } | null {
  const one = Float32Array.from(box);
  let best: { index: number; iou: number } | null = null;
  for (let i = 0; i < boxes.length / 4; i++) {
    const v = iou(one, 0, boxes, i);
    if (!(v > 0)) continue;
    const sameLabel = label !== undefined && labels?.[i] === label;
    const bestSame = best !== null && label !== undefined && labels?.[best.index] === label;
    if (best === null || v > best.iou || (v === best.iou && sameLabel && !bestSame)) best = { index: i, iou: v };
  }
  return best;
}

const featureCache = new WeakMap<object, Map<number, Promise<NdArray>>>();

/**
 * The CHW dump of pyramid level `level` (`fpn_0` … `fpn_3`) of a trace, read once per pyramid: re-runs
 * that did not recompute the FPN share its `fpn` description (the same object), and so this read.
 */
export function levelFeatures(trace: { fpn: object; dump(name: `fpn_${0 | 1 | 2 | 3}`): Promise<NdArray> }, level: number): Promise<NdArray> {
  if (!(Number.isInteger(level) && level >= 0 && level <= 3)) throw new RangeError(`levelFeatures: level ${level} is not one of the pooled levels 0…3 (P2–P5)`);
  let byLevel = featureCache.get(trace.fpn);
  if (byLevel === undefined) featureCache.set(trace.fpn, (byLevel = new Map()));
  let p = byLevel.get(level);
  if (p === undefined) {
    const cache = byLevel;
    p = trace.dump(`fpn_${level as 0 | 1 | 2 | 3}`);
    p.catch(() => cache.delete(level));
    cache.set(level, p);
  }
  return p;
}
