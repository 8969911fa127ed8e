/** Comparison helpers for parity tests: relative tensor error and box-set matching. */

/** max |a − b| / max |b| (the tolerance measure of the engine issue), with the absolute numbers. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): { rel: number; maxAbsDiff: number; maxRef: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let maxAbsDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
    maxRef = Math.max(maxRef, Math.abs(b[i]!));
  }
  return { rel: maxRef === 0 ? maxAbsDiff : maxAbsDiff / maxRef, maxAbsDiff, maxRef };
}

/**
 * Match each reference box to a distinct box of ours whose corners are all within `tol` px
 * (greedy, nearest first). Returns, per reference box, the index of ours, or −1 when none is close.
 */
export function matchBoxes(ours: Float32Array, ref: Float32Array, tol: number): Int32Array {
  const n = ref.length / 4;
  const m = ours.length / 4;
  const used = new Uint8Array(m);
  const match = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    // Same position first (the common case), then any unused box.
    let best = -1;
    let bestDiff = Infinity;
    const diff = (j: number) => Math.max(...[0, 1, 2, 3].map((k) => Math.abs(ours[j * 4 + k]! - ref[i * 4 + k]!)));
    if (i < m && !used[i]) {
      const d = diff(i);
      if (d <= tol) {
        best = i;
        bestDiff = d;
      }
    }
    if (best < 0) {
      for (let j = 0; j < m; j++) {
        if (used[j]) continue;
        const d = diff(j);
        if (d < bestDiff) {
          bestDiff = d;
          best = j;
        }
      }
    }
    if (best >= 0 && bestDiff <= tol) {
      used[best] = 1;
      match[i] = best;
    }
  }
  return match;
}

/** IoU of two binary masks given as probabilities thresholded as `p > t`. */
export function maskIou(a: ArrayLike<number>, b: ArrayLike<number>, t: number): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! > t;
    const y = b[i]! > t;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}
