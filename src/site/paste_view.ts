/**
 * Chapter 10's view of the paste-back of one detection: the M×M mask, the same mask with torchvision's
 * one-cell zero border, and the integer box it is resized into (the engine's `expandBox`, from
 * stages/paste.ts), with the pasted probabilities the engine wrote (`trace.result.masks`).
 */
import { expandBox } from '../stages/paste.ts';

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
