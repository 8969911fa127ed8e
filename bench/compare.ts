/**
 * Do two engines report the same detections? (So that a benchmark compares equal work.)
 *
 * Each reference detection is matched to the unused detection of the other engine with the same
 * label whose box corners are closest (max |corner difference|, greedy in the reference's order,
 * which is descending score). A pair is "matched" when that difference is ≤ `tolPx`.
 */
import type { Detections } from './protocol.ts';

export interface Agreement {
  count: number;
  refCount: number;
  /** Reference detections with a same-label box within `tolPx`. */
  matched: number;
  /** Largest corner difference (px, original image) over the matched pairs. */
  maxBoxDiff: number;
  /** Largest |score difference| over the matched pairs. */
  maxScoreDiff: number;
}

export function agreement(ours: Detections, ref: Detections, tolPx = 1): Agreement {
  const n = ref.labels.length;
  const m = ours.labels.length;
  const used = new Uint8Array(m);
  let matched = 0;
  let maxBoxDiff = 0;
  let maxScoreDiff = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestDiff = Infinity;
    for (let j = 0; j < m; j++) {
      if (used[j] || ours.labels[j] !== ref.labels[i]) continue;
      let d = 0;
      for (let k = 0; k < 4; k++) d = Math.max(d, Math.abs(ours.boxes[4 * j + k]! - ref.boxes[4 * i + k]!));
      if (d < bestDiff) {
        bestDiff = d;
        best = j;
      }
    }
    if (best >= 0 && bestDiff <= tolPx) {
      used[best] = 1;
      matched++;
      maxBoxDiff = Math.max(maxBoxDiff, bestDiff);
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(ours.scores[best]! - ref.scores[i]!));
    }
  }
  return { count: m, refCount: n, matched, maxBoxDiff, maxScoreDiff };
}
