/**
 * Non-maximum suppression, as torchvision's CPU kernel does it.
 *
 * Glossary
 * - order: box indices by decreasing score; equal scores by increasing index (the C++ kernel
 *   sorts stably). `batched_nms` with more than 1000 boxes re-sorts its result with torch's
 *   unstable sort, replayed in stdsort.ts, so equal scores come out in torchvision's order too.
 * - greedy step: the highest-scoring box not yet suppressed is kept; every later box whose IoU
 *   with it is **greater than** the threshold (not ≥: tfjs differs) is suppressed.
 * - IoU: float32, areas (x2 − x1)(y2 − y1), see boxes.ts `iou`.
 * - group: a class (box head) or pyramid level (RPN); `batchedNms` never suppresses across groups.
 */
import type { Boxes } from '../types.ts';
import { boxArea, boxCount, iouWithAreas } from './boxes.ts';
import { f32 } from './float32.ts';
import { argsortDescending, argsortDescendingStable } from './stdsort.ts';

/** What `nmsSteps` records about one greedy pass. */
export interface NmsTrace {
  /** Kept box indices, by decreasing score (what `nms` returns). */
  keep: Int32Array;
  /** Box indices in the order the greedy loop visits them (decreasing score). */
  order: Int32Array;
  /** Per box: the kept box that suppressed it, or −1 for a kept box. */
  suppressedBy: Int32Array;
  /** Per box: its IoU with the box that suppressed it (NaN for a kept box). */
  suppressionIou: Float32Array;
}

function checkInputs(boxes: Boxes, scores: Float32Array, name: string): number {
  const n = boxCount(boxes, `${name} boxes`);
  if (scores.length !== n) throw new Error(`${name}: expected one score per box (${n}), found ${scores.length} scores`);
  return n;
}

function greedy(boxes: Boxes, scores: Float32Array, iouThreshold: number, trace: boolean): NmsTrace | Int32Array {
  const n = scores.length;
  const order = argsortDescendingStable(scores);
  const areas = new Float32Array(n);
  for (let i = 0; i < n; i++) areas[i] = boxArea(boxes, i);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  const suppressedBy = trace ? new Int32Array(n).fill(-1) : undefined;
  const suppressionIou = trace ? new Float32Array(n).fill(NaN) : undefined;
  for (let a = 0; a < n; a++) {
    const i = order[a]!;
    if (suppressed[i]) continue;
    keep.push(i);
    for (let b = a + 1; b < n; b++) {
      const j = order[b]!;
      if (suppressed[j]) continue;
      const ovr = iouWithAreas(boxes, i, areas[i]!, boxes, j, areas[j]!);
      // float ovr against the double threshold, as the C++ kernel compares
      if (ovr > iouThreshold) {
        suppressed[j] = 1;
        if (suppressedBy && suppressionIou) {
          suppressedBy[j] = i;
          suppressionIou[j] = ovr;
        }
      }
    }
  }
  const kept = Int32Array.from(keep);
  if (!trace) return kept;
  return { keep: kept, order, suppressedBy: suppressedBy!, suppressionIou: suppressionIou! };
}

/** `torchvision.ops.nms`: kept indices by decreasing score; suppress when IoU > iouThreshold. */
export function nms(boxes: Boxes, scores: Float32Array, iouThreshold: number): Int32Array {
  checkInputs(boxes, scores, 'nms');
  return greedy(boxes, scores, iouThreshold, false) as Int32Array;
}

/** `nms` with every greedy step recorded (which kept box suppressed which, and at what IoU). */
export function nmsSteps(boxes: Boxes, scores: Float32Array, iouThreshold: number): NmsTrace {
  checkInputs(boxes, scores, 'nmsSteps');
  return greedy(boxes, scores, iouThreshold, true) as NmsTrace;
}

/**
 * `torchvision.ops.batched_nms`: NMS within each group, result by decreasing score. Like
 * torchvision on CPU, up to 1000 boxes use the coordinate trick (shift each group by
 * group · (max coordinate + 1) in float32, one NMS) and more use one NMS per group; both
 * branches are replayed because their float32 rounding and tie orders differ.
 */
export function batchedNms(boxes: Boxes, scores: Float32Array, groups: Int32Array, iouThreshold: number): Int32Array {
  const n = checkInputs(boxes, scores, 'batchedNms');
  if (groups.length !== n) throw new Error(`batchedNms: expected one group per box (${n}), found ${groups.length}`);
  if (n === 0) return new Int32Array(0);
  if (4 * n > 4000) return batchedNmsVanilla(boxes, scores, groups, iouThreshold);

  // coordinate trick: boxes_for_nms = boxes + (group · (max + 1))[:, None], all float32
  let max = -Infinity;
  for (let i = 0; i < boxes.length; i++) max = Math.max(max, boxes[i]!);
  const span = f32(max + 1);
  const shifted = new Float32Array(boxes.length);
  for (let i = 0; i < n; i++) {
    const offset = f32(groups[i]! * span);
    for (let c = 0; c < 4; c++) shifted[4 * i + c] = f32(boxes[4 * i + c]! + offset);
  }
  return greedy(shifted, scores, iouThreshold, false) as Int32Array;
}

function batchedNmsVanilla(boxes: Boxes, scores: Float32Array, groups: Int32Array, iouThreshold: number): Int32Array {
  const n = scores.length;
  const keepMask = new Uint8Array(n);
  const ids = [...new Set(groups)].sort((a, b) => a - b);
  for (const id of ids) {
    const members: number[] = [];
    for (let i = 0; i < n; i++) if (groups[i] === id) members.push(i);
    const sub = new Float32Array(4 * members.length);
    const subScores = new Float32Array(members.length);
    members.forEach((i, k) => {
      sub.set(boxes.subarray(4 * i, 4 * i + 4), 4 * k);
      subScores[k] = scores[i]!;
    });
    for (const k of greedy(sub, subScores, iouThreshold, false) as Int32Array) keepMask[members[k]!] = 1;
  }
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (keepMask[i]) kept.push(i);
  const keptScores = Float32Array.from(kept, (i) => scores[i]!);
  return Int32Array.from(argsortDescending(keptScores), (k) => kept[k]!);
}
