/**
 * "What does the pooler do to the final mask?" (chapter 7): the engine re-run with the mask branch's
 * pooler (and optionally the box branch's) set to RoIPool, RoIWarp and RoIAlign. Only the stages
 * downstream of the pooler recompute (the engine's rerun); every shown run's masks are remembered
 * here, grouped by the run's proposals (the last stage upstream of both poolers, shared — same object —
 * by every re-run that did not recompute it), so the chapter can put the three masks of one RoI side
 * by side.
 *
 * Glossary
 *   snapshot   what a run with one (box pooler, mask pooler) pair produced: its detections and masks
 *   branches   'mask': only `roiHeads.maskRoiPool.pooler` changes (same detections, the mask head sees
 *              differently pooled features); 'both': `boxRoiPool.pooler` too (the detections change)
 */
import type { MaskRcnnSpec, Pooler } from '../config.ts';
import type { Trace } from '../model.ts';
import type { MaskRegion } from '../stages/paste.ts';
import type { Boxes } from '../types.ts';
import { type Box4, POOLERS, bestOverlap } from './roi_lens.ts';

export type PoolerBranches = 'mask' | 'both';

/** The spec part that makes the engine pool with `pooler` in the mask branch, or in both branches. */
export function poolerSpec(pooler: Pooler, branches: PoolerBranches, modelBoxPooler: Pooler): MaskRcnnSpec {
  return { roiHeads: { maskRoiPool: { pooler }, boxRoiPool: { pooler: branches === 'both' ? pooler : modelBoxPooler } } };
}

export interface PoolerSnapshot {
  boxPooler: Pooler;
  maskPooler: Pooler;
  /** D×4 detections, resized-image pixels (the frame the RoIs are chosen in). */
  boxes: Boxes;
  /** D×4 detections, original-image pixels (the frame of `masks`). */
  originalBoxes: Boxes;
  labels: Int32Array;
  scores: Float32Array;
  /** D×M×M mask probabilities of each detection's class. */
  roiMasks: Float32Array;
  maskSize: number;
  /** Pasted masks (original image). */
  masks: MaskRegion[];
}

const key = (box: Pooler, mask: Pooler) => `${box}/${mask}`;

/** Every shown run's masks by (box pooler, mask pooler), for runs sharing the same proposals. */
export class PoolerMasks {
  private readonly byProposals = new WeakMap<object, Map<string, PoolerSnapshot>>();

  /**
   * A memo that records every run `session` shows, as it is shown (a page's `runs()` generator skips
   * runs replaced before the page drew them; this does not). `stop()` unsubscribes.
   */
  static follow(session: { onRun(fn: (view: { trace: Trace }) => void): () => unknown }): PoolerMasks & { stop(): void } {
    const memo = new PoolerMasks() as PoolerMasks & { stop(): void };
    const off = session.onRun((view) => memo.add(view.trace));
    memo.stop = () => void off();
    return memo;
  }

  /** Remember a run's masks (its arrays are plain data: they outlive the trace's tensors). */
  add(trace: Trace): void {
    let group = this.byProposals.get(trace.proposals);
    if (group === undefined) this.byProposals.set(trace.proposals, (group = new Map()));
    const h = trace.config.roiHeads;
    group.set(key(h.boxRoiPool.pooler, h.maskRoiPool.pooler), {
      boxPooler: h.boxRoiPool.pooler,
      maskPooler: h.maskRoiPool.pooler,
      boxes: trace.detections.boxes,
      originalBoxes: trace.result.boxes,
      labels: trace.result.labels,
      scores: trace.result.scores,
      roiMasks: trace.result.roiMasks,
      maskSize: trace.maskHead.size,
      masks: trace.result.masks,
    });
  }

  /** The snapshot of (boxPooler, maskPooler) among runs with `trace`'s proposals, if one was shown. */
  get(trace: Trace, boxPooler: Pooler, maskPooler: Pooler): PoolerSnapshot | undefined {
    return this.byProposals.get(trace.proposals)?.get(key(boxPooler, maskPooler));
  }
}

/** One pooler's mask for the chosen RoI: the detection of that run that overlaps it most. */
export interface PoolerMask {
  pooler: Pooler;
  snapshot: PoolerSnapshot;
  /** Detection index in that run, and its IoU with the RoI. */
  detection: number;
  iou: number;
  /** M×M probabilities (a view into the snapshot). */
  mask: Float32Array;
  region: MaskRegion;
  /** The detection's box in original-image pixels. */
  box: Box4;
}

/**
 * For each pooler, the mask the engine gave the RoI `box` (resized pixels) when it pooled with that
 * pooler: `snapshotOf(pooler)` is that run's snapshot (undefined: not run yet → undefined entry).
 * Ties in IoU go to a detection of class `label`.
 */
export function poolerMasksFor(
  box: Box4, label: number | undefined, snapshotOf: (pooler: Pooler) => PoolerSnapshot | undefined, poolers: readonly Pooler[] = POOLERS,
): Array<PoolerMask | { pooler: Pooler; snapshot?: PoolerSnapshot }> {
  return poolers.map((pooler) => {
    const snapshot = snapshotOf(pooler);
    if (snapshot === undefined) return { pooler };
    const match = bestOverlap(box, snapshot.boxes, snapshot.labels, label);
    if (match === null) return { pooler, snapshot };
    const m = snapshot.maskSize;
    const d = match.index;
    const ob = snapshot.originalBoxes;
    return {
      pooler, snapshot, detection: d, iou: match.iou,
      mask: snapshot.roiMasks.subarray(d * m * m, (d + 1) * m * m),
      region: snapshot.masks[d]!,
      box: [ob[4 * d]!, ob[4 * d + 1]!, ob[4 * d + 2]!, ob[4 * d + 3]!],
    };
  });
}

/** Pixels where exactly one of two pasted masks is above `threshold` / pixels where either is: 1 − IoU of the binary masks (0 when both are empty). */
export function maskDisagreement(a: MaskRegion, b: MaskRegion, threshold: number): { iou: number; changed: number; union: number } {
  const x0 = Math.min(a.x0, b.x0);
  const y0 = Math.min(a.y0, b.y0);
  const x1 = Math.max(a.x0 + a.width, b.x0 + b.width);
  const y1 = Math.max(a.y0 + a.height, b.y0 + b.height);
  const at = (r: MaskRegion, x: number, y: number) =>
    x >= r.x0 && x < r.x0 + r.width && y >= r.y0 && y < r.y0 + r.height && r.data[(y - r.y0) * r.width + (x - r.x0)]! > threshold;
  let inter = 0;
  let union = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const p = at(a, x, y);
      const q = at(b, x, y);
      if (p && q) inter++;
      if (p || q) union++;
    }
  }
  return { iou: union === 0 ? 1 : inter / union, changed: union - inter, union };
}

/** What `runEachPooler` needs of the page's session. */
export interface PoolerSession {
  setParams(part: string, spec: MaskRcnnSpec): void;
  idle(): Promise<void>;
}

/**
 * Run the engine once with each pooler not yet seen (`have(p)` false), one after the other, then with
 * `current` again, so that the page ends where the reader left it. Each is a re-run from the first
 * pooler stage the spec changes (the session decides; the status bar shows it).
 */
export async function runEachPooler(
  session: PoolerSession, part: string, specOf: (pooler: Pooler) => MaskRcnnSpec, current: Pooler,
  have: (pooler: Pooler) => boolean, poolers: readonly Pooler[] = POOLERS,
): Promise<Pooler[]> {
  const ran: Pooler[] = [];
  for (const p of poolers) {
    if (p === current || have(p)) continue;
    session.setParams(part, specOf(p));
    await session.idle();
    ran.push(p);
  }
  if (ran.length > 0) {
    session.setParams(part, specOf(current));
    await session.idle();
  }
  return ran;
}

/** The box branch's pooler when the engine runs `pooler` in `branches`. */
export function boxPoolerOf(pooler: Pooler, branches: PoolerBranches, modelBoxPooler: Pooler): Pooler {
  return branches === 'both' ? pooler : modelBoxPooler;
}
