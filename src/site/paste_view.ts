/**
 * Chapter 10's view of the paste-back of one detection: the M×M mask, the same mask with torchvision's
 * one-cell zero border, and the integer box it is resized into (the engine's `expandBox`, from
 * stages/paste.ts), with the pasted probabilities the engine wrote (`trace.result.masks`); and how
 * far the two paste modes (torchvision's integer box, the exact one) put the thresholded mask apart.
 */
import { expandBox, type MaskRegion, pasteMaskRegion, pasteScale } from '../stages/paste.ts';
import type { Size } from '../types.ts';

/** The M×M mask with a `padding`-cell zero border: (M+2p)×(M+2p), row-major (torchvision F.pad). */
export function padMask(mask: Float32Array, m: number, padding = 1): Float32Array {
  if (mask.length !== m * m) throw new Error(`padMask: expected ${m}×${m} = ${m * m} values, found ${mask.length}`);
  const p = m + 2 * padding;
  const out = new Float32Array(p * p);
  for (let r = 0; r < m; r++) out.set(mask.subarray(r * m, (r + 1) * m), (r + padding) * p + padding);
  return out;
}

/** The box the padded mask is resized into: the detection box widened by (M+2p)/M about its centre, truncated to integers; and the resized mask's size. */
export function pasteBox(box: ArrayLike<number>, m: number, padding = 1): { box: [number, number, number, number]; width: number; height: number } {
  const b = expandBox(box, m, padding);
  return { box: b, width: Math.max(b[2] - b[0] + 1, 1), height: Math.max(b[3] - b[1] + 1, 1) };
}

/** Pixels above each threshold t of `thresholds` (p > t, like the engine's binary masks). */
export function areaAbove(values: Float32Array, thresholds: readonly number[]): number[] {
  const sorted = Float32Array.from(values).sort();
  // count of values > t = n − (index of the first value > t)
  return thresholds.map((t) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! > t) hi = mid;
      else lo = mid + 1;
    }
    return sorted.length - lo;
  });
}

/** The thresholded pixel counts of both paste modes for one mask, and the pixels where they disagree. */
export interface PasteDisagreement {
  torchvision: number;
  exact: number;
  /** pixels in one thresholded mask and not in the other */
  differing: number;
}

/**
 * Paste one M×M mask both ways, as the engine does (pasteMaskRegion into `sizes.original`, the exact
 * paste with pasteScale(sizes)), and compare the masks p > threshold pixel by pixel.
 */
export function pasteDisagreement(mask: Float32Array, m: number, box: ArrayLike<number>, sizes: { original: Size; resized: Size }, threshold: number): PasteDisagreement {
  const a = pasteMaskRegion(mask, 0, m, box, sizes.original, { mode: 'torchvision' });
  const b = pasteMaskRegion(mask, 0, m, box, sizes.original, { mode: 'exact', scale: pasteScale(sizes) });
  const on = (r: MaskRegion, x: number, y: number) => x >= r.x0 && x < r.x0 + r.width && y >= r.y0 && y < r.y0 + r.height && r.data[(y - r.y0) * r.width + (x - r.x0)]! > threshold;
  const count = (r: MaskRegion) => r.data.reduce((n, v) => n + (v > threshold ? 1 : 0), 0);
  let differing = 0;
  const [x0, x1] = [Math.min(a.x0, b.x0), Math.max(a.x0 + a.width, b.x0 + b.width)];
  const [y0, y1] = [Math.min(a.y0, b.y0), Math.max(a.y0 + a.height, b.y0 + b.height)];
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (on(a, x, y) !== on(b, x, y)) differing++;
  return { torchvision: count(a), exact: count(b), differing };
}
