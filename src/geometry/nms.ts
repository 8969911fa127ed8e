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
import { boxArea, boxCount, gatherBoxes, iouWithAreas } from './boxes.ts';
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
  // The boxes in visiting order: the loop below reads them in sequence.
  const sorted = gatherBoxes(boxes, order);
  const areas = new Float32Array(n);
  for (let a = 0; a < n; a++) areas[a] = boxArea(sorted, a);
  // Disjoint boxes have IoU 0 (or NaN for two empty boxes), which suppresses only when the
  // threshold is negative. With a threshold ≥ 0 only boxes that share a grid cell are compared.
  const grid = new OverlapGrid(sorted, iouThreshold >= 0 ? gridCells(n) : 1);
  const candidates = new Int32Array(n);
  const suppressed = new Uint8Array(n); // by position in `order`
  const keep: number[] = [];
  const suppressedBy = trace ? new Int32Array(n).fill(-1) : undefined;
  const suppressionIou = trace ? new Float32Array(n).fill(NaN) : undefined;
  for (let a = 0; a < n; a++) {
    if (suppressed[a]) continue;
    const i = order[a]!;
    keep.push(i);
    // Each later box is tested against box a alone: the order of the tests does not matter.
    const count = grid.later(a, candidates);
    for (let k = 0; k < count; k++) {
      const b = candidates[k]!;
      if (suppressed[b]) continue;
      const ovr = iouWithAreas(sorted, a, areas[a]!, sorted, b, areas[b]!);
      // float ovr against the double threshold, as the C++ kernel compares
      if (ovr > iouThreshold) {
        suppressed[b] = 1;
        if (suppressedBy && suppressionIou) {
          const j = order[b]!;
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

/** Grid cells per side for n boxes: one cell (compare every pair) for few boxes. */
function gridCells(n: number): number {
  return n <= 64 ? 1 : Math.min(32, Math.ceil(Math.sqrt(n) / 2));
}

/**
 * Which boxes can overlap which: a side × side grid over the boxes' extent, each box listed in every
 * cell its closed extent touches. Two boxes whose intersection has a positive width and height share
 * a point inside both, and the cell of that point is in both boxes' cell ranges (the cell of a
 * coordinate is a monotone function of it), so no overlapping pair is missed. When an axis has no
 * finite, positive extent (a NaN or infinite coordinate, or all boxes on one line) every box is in
 * its first row or column, which is still correct.
 */
class OverlapGrid {
  private readonly side: number;
  private readonly start: Int32Array; // per cell, into `members`: cell c's members are start[c] … start[c + 1]
  private readonly members: Int32Array; // positions, ascending within each cell
  private readonly cursor: Int32Array; // per cell: its first member not yet known to be ≤ the current box
  private readonly ranges: Int32Array; // per box: its column and row range [c0, c1, r0, r1]
  private readonly stamp: Int32Array; // per box: the last `later` call (a + 1) that listed it

  /** `boxes`: flat [x1, y1, x2, y2, …]; `side` cells along each axis. */
  constructor(boxes: Boxes, side: number) {
    const n = boxes.length / 4;
    /** The cell index along x (offset 0) or y (offset 1). */
    const axis = (offset: number) => {
      let min = Infinity, max = -Infinity;
      for (let b = 0; b < n; b++) {
        min = Math.min(min, boxes[4 * b + offset]!, boxes[4 * b + offset + 2]!);
        max = Math.max(max, boxes[4 * b + offset]!, boxes[4 * b + offset + 2]!);
      }
      const perUnit = side / (max - min);
      if (!(Number.isFinite(perUnit) && perUnit > 0)) return () => 0;
      return (v: number): number => Math.min(side - 1, Math.max(0, Math.floor((v - min) * perUnit)));
    };
    const col = axis(0), row = axis(1);
    const cells = side * side;
    this.side = side;
    this.ranges = new Int32Array(4 * n);
    this.start = new Int32Array(cells + 1);
    for (let b = 0; b < n; b++) {
      const x1 = boxes[4 * b]!, y1 = boxes[4 * b + 1]!, x2 = boxes[4 * b + 2]!, y2 = boxes[4 * b + 3]!;
      const c0 = Math.min(col(x1), col(x2)), c1 = Math.max(col(x1), col(x2));
      const r0 = Math.min(row(y1), row(y2)), r1 = Math.max(row(y1), row(y2));
      this.ranges.set([c0, c1, r0, r1], 4 * b);
      for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) this.start[r * side + c + 1]!++;
    }
    for (let c = 0; c < cells; c++) this.start[c + 1]! += this.start[c]!;
    this.members = new Int32Array(this.start[cells]!);
    const fill = this.start.slice(0, cells);
    for (let b = 0; b < n; b++) {
      const c0 = this.ranges[4 * b]!, c1 = this.ranges[4 * b + 1]!, r0 = this.ranges[4 * b + 2]!, r1 = this.ranges[4 * b + 3]!;
      for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) this.members[fill[r * side + c]!++] = b;
    }
    this.cursor = this.start.slice(0, cells);
    this.stamp = new Int32Array(n);
  }

  /** Writes to `out` each box after position `a` that shares a cell with box a, once; returns how many. Call with increasing `a`. */
  later(a: number, out: Int32Array): number {
    const { side, start, members, cursor, ranges, stamp } = this;
    let count = 0;
    for (let r = ranges[4 * a + 2]!; r <= ranges[4 * a + 3]!; r++) {
      for (let c = ranges[4 * a]!; c <= ranges[4 * a + 1]!; c++) {
        const cell = r * side + c;
        const end = start[cell + 1]!;
        let m = cursor[cell]!;
        while (m < end && members[m]! <= a) m++;
        cursor[cell] = m;
        for (; m < end; m++) {
          const b = members[m]!;
          if (stamp[b] === a + 1) continue;
          stamp[b] = a + 1;
          out[count++] = b;
        }
      }
    }
    return count;
  }
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
