/**
 * The geometry of RoI pooling, as pure float32 functions: where a RoI lands on a feature map, where
 * each bin's sampling points are, which 4 cells each point reads and with which bilinear weights,
 * and which cells a RoIPool bin covers. The CPU twin (roi_cpu.ts) runs on exactly these functions,
 * the WGSL program (roi_webgpu.ts) repeats them line for line, and a later instrumentation (to draw
 * bins and sampling points) can call them as they are.
 *
 * Semantics are torchvision's CPU kernels (csrc/ops/cpu/roi_align_kernel.cpp, roi_align_common.h,
 * roi_pool_kernel.cpp), computed in float32 like torchvision (`Math.fround` after every operation)
 * so that floor/ceil/threshold decisions fall the same way.
 *
 * Glossary
 *   RoI         region of interest, a box (x1, y1, x2, y2) in pixels of the image the boxes refer to
 *   scale       spatial scale: feature-map size / image size (1/4 for P2 … 1/32 for P5)
 *   H, W        feature-map height and width; pixel (i, j) of the map sits at integer coordinate (j, i)
 *   PH, PW      pooled output size (bins per RoI: 7×7 box head, 14×14 mask head)
 *   bin         one output cell (ph, pw) of a RoI: a (roiH/PH) × (roiW/PW) rectangle of the map
 *   grid        sampling points per bin along y and x (gridH × gridW)
 *   taps        the 4 neighbouring cells of a sampling point and their bilinear weights
 *
 * RoIAlign (Mask R-CNN §3; torchvision roi_align):
 *   start = x1·scale − o, end = x2·scale − o, with o = 0.5 if `aligned` else 0 (no rounding).
 *   roi size = end − start, clamped to ≥ 1 when not aligned. bin = roi size / PH (resp. PW).
 *   grid = samplingRatio if > 0, else adaptive ⌈roi size / PH⌉ (can be 0 for a degenerate aligned RoI).
 *   sample (iy, ix) of bin (ph, pw): y = startY + ph·binH + (iy + ½)·binH / gridH (same for x).
 *   A sample with y < −1, y > H, x < −1 or x > W reads 0. Otherwise y is clamped at 0, y_low = ⌊y⌋,
 *   and if y_low ≥ H − 1 then y_low = y_high = H − 1 and y = y_low (same for x): bilinear weights
 *   (1−ly)(1−lx), (1−ly)lx, ly(1−lx), ly·lx of cells (y_low,x_low), (y_low,x_high), (y_high,x_low),
 *   (y_high,x_high). Output = sum of samples / max(gridH·gridW, 1) ('avg'), or the largest sample
 *   ('max', the paper's other choice; a sample outside the map counts as 0; no samples → 0).
 *
 * RoIPool (Fast R-CNN; torchvision roi_pool):
 *   start = round(x1·scale), end = round(x2·scale) (round half away from zero, like C `round`),
 *   roi size = max(end − start + 1, 1) cells, bin = roi size / PH.
 *   Bin (ph, pw) covers rows [⌊ph·binH⌋ + startY, ⌈(ph+1)·binH⌉ + startY), clamped to [0, H]
 *   (same for columns); output = max over those cells, 0 for an empty bin.
 *
 * RoIWarp (MNC, as defined here; the paper's Table 2c "quantized RoI, bilinear"):
 *   the RoI is quantized like RoIPool, start = round(x1·scale), end = round(x2·scale), then pooled
 *   exactly like RoIAlign with aligned = false on that integer box: roi size = max(end − start, 1),
 *   same bins, sampling points, bilinear taps and average (or max). So roiWarp(x, rois, scale) equals
 *   roiAlign(x, rois′, scale = 1, aligned = false) with rois′ = round(rois·scale). (MNC's Caffe layer
 *   differs in details, e.g. one sample per bin at the bin's corner; we keep RoIAlign's sampling so
 *   that quantization is the only difference between the two, which is what Table 2c compares.)
 */

const f = Math.fround;

/** −FLT_MAX: torchvision's RoIPool starting value of a non-empty bin. */
export const NEG_FLT_MAX = -3.4028234663852886e38;

/** C `round`: half away from zero (JS `Math.round` rounds half up, which differs for −2.5). */
export function roundHalfAway(v: number): number {
  const t = Math.trunc(v);
  return Math.abs(v - t) >= 0.5 ? t + Math.sign(v) : t;
}

/** A RoI mapped onto a feature map for RoIAlign/RoIWarp: float32 feature-map coordinates. */
export interface AlignFrame {
  startY: number;
  startX: number;
  /** roi size as pooled: end − start, clamped to ≥ 1 where the pooler clamps (RoIAlign unaligned, RoIWarp) */
  roiH: number;
  roiW: number;
  /** roi size / pooled size */
  binH: number;
  binW: number;
  /** sampling points per bin along y and x (≤ 0: none) */
  gridH: number;
  gridW: number;
  /** divisor of the average: max(gridH·gridW, 1) */
  count: number;
}

/** RoIAlign frame of box (x1, y1, x2, y2) in image pixels (torchvision roi_align semantics). */
export function roiAlignFrame(
  x1: number, y1: number, x2: number, y2: number,
  scale: number, pooledH: number, pooledW: number, samplingRatio: number, aligned: boolean,
): AlignFrame {
  const s = f(scale);
  const o = aligned ? 0.5 : 0;
  const startX = f(f(x1 * s) - o);
  const startY = f(f(y1 * s) - o);
  const endX = f(f(x2 * s) - o);
  const endY = f(f(y2 * s) - o);
  let roiW = f(endX - startX);
  let roiH = f(endY - startY);
  if (!aligned) {
    roiW = Math.max(roiW, 1);
    roiH = Math.max(roiH, 1);
  }
  return frameFromSize(startY, startX, roiH, roiW, pooledH, pooledW, samplingRatio);
}

/** RoIWarp frame: the RoI quantized like RoIPool (round(x·scale)), then RoIAlign (aligned = false) sampling. */
export function roiWarpFrame(
  x1: number, y1: number, x2: number, y2: number,
  scale: number, pooledH: number, pooledW: number, samplingRatio: number,
): AlignFrame {
  const s = f(scale);
  const startX = roundHalfAway(f(x1 * s));
  const startY = roundHalfAway(f(y1 * s));
  const endX = roundHalfAway(f(x2 * s));
  const endY = roundHalfAway(f(y2 * s));
  const roiW = Math.max(f(endX - startX), 1);
  const roiH = Math.max(f(endY - startY), 1);
  return frameFromSize(startY, startX, roiH, roiW, pooledH, pooledW, samplingRatio);
}

function frameFromSize(
  startY: number, startX: number, roiH: number, roiW: number,
  pooledH: number, pooledW: number, samplingRatio: number,
): AlignFrame {
  const binH = f(roiH / pooledH);
  const binW = f(roiW / pooledW);
  // torchvision: ceil(roi_height / pooled_height), the same float32 quotient as binH.
  const gridH = samplingRatio > 0 ? samplingRatio : Math.ceil(binH);
  const gridW = samplingRatio > 0 ? samplingRatio : Math.ceil(binW);
  return { startY, startX, roiH, roiW, binH, binW, gridH, gridW, count: Math.max(gridH * gridW, 1) };
}

/**
 * One coordinate of a sampling point: start + p·bin + (i + ½)·bin / grid, in float32 with
 * torchvision's order of operations. p = bin index (ph or pw), i = point index in the bin (iy or ix).
 */
export function sampleCoord(start: number, bin: number, grid: number, p: number, i: number): number {
  return f(binStart(start, bin, p) + f(f((i + 0.5) * bin) / grid));
}

/** Where bin p starts along one axis: start + p·bin in float32 (the first term of `sampleCoord`). */
export function binStart(start: number, bin: number, p: number): number {
  return f(start + f(p * bin));
}

/**
 * Bilinear taps of the sampling point (y, x) on an H×W map, written at slot `at` of `taps`:
 * 4 cell indices (row · W + col) and 4 float32 weights. Returns false, with zero weights, for a
 * point outside [−1, H] × [−1, W] (such a point reads 0). NaN coordinates count as outside.
 */
export function bilinearTaps(y: number, x: number, height: number, width: number, taps: Taps, at: number): boolean {
  const j = 4 * at;
  if (!(y >= -1 && y <= height && x >= -1 && x <= width)) {
    taps.cell.fill(0, j, j + 4);
    taps.weight.fill(0, j, j + 4);
    return false;
  }
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  let yLow = Math.trunc(y);
  let xLow = Math.trunc(x);
  let yHigh: number;
  let xHigh: number;
  if (yLow >= height - 1) {
    yHigh = yLow = height - 1;
    y = yLow;
  } else {
    yHigh = yLow + 1;
  }
  if (xLow >= width - 1) {
    xHigh = xLow = width - 1;
    x = xLow;
  } else {
    xHigh = xLow + 1;
  }
  const ly = f(y - yLow);
  const lx = f(x - xLow);
  const hy = f(1 - ly);
  const hx = f(1 - lx);
  taps.cell[j] = yLow * width + xLow;
  taps.cell[j + 1] = yLow * width + xHigh;
  taps.cell[j + 2] = yHigh * width + xLow;
  taps.cell[j + 3] = yHigh * width + xHigh;
  // Float32Array stores round each product to float32, like torchvision's T w1 = hy * hx.
  taps.weight[j] = hy * hx;
  taps.weight[j + 1] = hy * lx;
  taps.weight[j + 2] = ly * hx;
  taps.weight[j + 3] = ly * lx;
  return true;
}

/** Reusable storage for the taps of the sampling points of one bin. */
export interface Taps {
  /** 4 per point: cell index row·W + col */
  cell: Int32Array;
  /** 4 per point: bilinear weights (0 for a point outside the map) */
  weight: Float32Array;
  /** 1 per point: 1 if the point is inside [−1, H] × [−1, W] */
  inside: Uint8Array;
}

export function makeTaps(points: number): Taps {
  return { cell: new Int32Array(4 * points), weight: new Float32Array(4 * points), inside: new Uint8Array(points) };
}

/**
 * Fill `taps` with the sampling points of bin (ph, pw) of `frame`, row-major (iy outer, ix inner);
 * returns the number of points, gridH·gridW (0 when the grid is empty). `taps` must hold that many
 * points (`makeTaps(frame.gridH * frame.gridW)`).
 */
export function binTaps(frame: AlignFrame, ph: number, pw: number, height: number, width: number, taps: Taps): number {
  const { gridH, gridW } = frame;
  if (gridH <= 0 || gridW <= 0) return 0;
  const n = gridH * gridW;
  if (taps.inside.length < n) {
    throw new RangeError(`binTaps: taps hold ${taps.inside.length} points, the bin has ${gridH}×${gridW}; allocate makeTaps(${n})`);
  }
  let at = 0;
  for (let iy = 0; iy < gridH; iy++) {
    const y = sampleCoord(frame.startY, frame.binH, gridH, ph, iy);
    for (let ix = 0; ix < gridW; ix++) {
      const x = sampleCoord(frame.startX, frame.binW, gridW, pw, ix);
      taps.inside[at] = bilinearTaps(y, x, height, width, taps, at) ? 1 : 0;
      at++;
    }
  }
  return n;
}

/** The sampling points (y, x) of bin (ph, pw), for drawing: [y0, x0, y1, x1, …] in feature-map coordinates. */
export function binSamplePoints(frame: AlignFrame, ph: number, pw: number): Float32Array {
  const { gridH, gridW } = frame;
  if (gridH <= 0 || gridW <= 0) return new Float32Array(0);
  const points = new Float32Array(2 * gridH * gridW);
  let at = 0;
  for (let iy = 0; iy < gridH; iy++) {
    const y = sampleCoord(frame.startY, frame.binH, gridH, ph, iy);
    for (let ix = 0; ix < gridW; ix++) {
      points[at++] = y;
      points[at++] = sampleCoord(frame.startX, frame.binW, gridW, pw, ix);
    }
  }
  return points;
}

/** A RoI mapped onto a feature map for RoIPool: integer start cell and float32 bin size. */
export interface PoolFrame {
  startY: number;
  startX: number;
  /** round(y2·scale), round(x2·scale): the last cell row and column (before the 1-cell minimum) */
  endY: number;
  endX: number;
  /** cells per side: max(end − start + 1, 1) */
  roiH: number;
  roiW: number;
  binH: number;
  binW: number;
}

/** RoIPool frame of box (x1, y1, x2, y2) in image pixels (torchvision roi_pool semantics). */
export function roiPoolFrame(x1: number, y1: number, x2: number, y2: number, scale: number, pooledH: number, pooledW: number): PoolFrame {
  const s = f(scale);
  const startX = roundHalfAway(f(x1 * s));
  const startY = roundHalfAway(f(y1 * s));
  const endX = roundHalfAway(f(x2 * s));
  const endY = roundHalfAway(f(y2 * s));
  const roiW = Math.max(endX - startX + 1, 1);
  const roiH = Math.max(endY - startY + 1, 1);
  return { startY, startX, endY, endX, roiH, roiW, binH: f(roiH / pooledH), binW: f(roiW / pooledW) };
}

/** Cells of RoIPool bin (ph, pw): rows [hStart, hEnd) × columns [wStart, wEnd), clamped to the map; empty if hEnd ≤ hStart or wEnd ≤ wStart. */
export interface PoolBin {
  hStart: number;
  hEnd: number;
  wStart: number;
  wEnd: number;
}

export function roiPoolBin(frame: PoolFrame, ph: number, pw: number, height: number, width: number): PoolBin {
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return {
    hStart: clamp(Math.floor(f(ph * frame.binH)) + frame.startY, height),
    hEnd: clamp(Math.ceil(f((ph + 1) * frame.binH)) + frame.startY, height),
    wStart: clamp(Math.floor(f(pw * frame.binW)) + frame.startX, width),
    wEnd: clamp(Math.ceil(f((pw + 1) * frame.binW)) + frame.startX, width),
  };
}
