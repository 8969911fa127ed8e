/**
 * Chapter 8's view of the box head for one RoI, read from the engine's trace: its class logits and
 * probabilities (the trace's softmax, `detections.classProbs`), its K per-class box deltas and the
 * boxes they decode to — decoded and clipped by the engine's own `BoxCoder` and `clipBoxes`, as
 * `postprocessDetections` does — and the detections that came from it.
 *
 * Glossary
 *   row        a RoI's row in the box head's outputs = its index among the proposals
 *   K          classes including background (class 0)
 *   deltas     (tx, ty, tw, th) per class, before division by the box coder weights (10, 10, 5, 5)
 */
import type { MaskRcnnConfig } from '../config.ts';
import { BoxCoder, clipBoxes } from '../geometry/boxes.ts';
import type { DetectionResult } from '../geometry/detections.ts';
import type { Boxes, Size } from '../types.ts';
import type { RoiChoice } from './roi_lens.ts';

/** The box-head row of a chosen RoI: a proposal's own index, or the proposal a detection was regressed from. */
export function roiRow(choice: Pick<RoiChoice, 'kind' | 'index'>, detections: Pick<DetectionResult, 'proposalIndex'>): number {
  if (choice.kind === 'detection') return detections.proposalIndex[choice.index]!;
  if (choice.kind === 'proposal') return choice.index;
  throw new Error('roiRow: a drawn box has no row in the box head; choose a proposal or a detection');
}

export interface RoiClasses {
  row: number;
  /** K logits of the RoI. */
  logits: Float32Array;
  /** K probabilities (softmax over the row, as the engine computed them). */
  probs: Float32Array;
}

export function roiClasses(classLogits: Float32Array, classProbs: Float32Array, numClasses: number, row: number): RoiClasses {
  const k = numClasses;
  if (!(row >= 0 && (row + 1) * k <= classLogits.length)) throw new RangeError(`roiClasses: row ${row} is not one of the ${classLogits.length / k} RoIs`);
  return { row, logits: classLogits.slice(row * k, (row + 1) * k), probs: classProbs.slice(row * k, (row + 1) * k) };
}

/** Class indices by decreasing probability (stable: ties keep the lower index first); background (0) left out unless asked. */
export function topClasses(probs: Float32Array, n: number, withBackground = false): number[] {
  const idx = Array.from(probs.keys()).filter((c) => withBackground || c > 0);
  idx.sort((a, b) => probs[b]! - probs[a]! || a - b);
  return idx.slice(0, n);
}

export interface RoiClassBoxes {
  /** K × 4 raw deltas of the RoI (tx, ty, tw, th per class). */
  deltas: Float32Array;
  /** K × 4 decoded boxes, clipped to the image (resized-image pixels). */
  boxes: Boxes;
}

/** The RoI's K per-class boxes: its deltas applied to its proposal by the box head's coder, clipped like the engine does. */
export function roiClassBoxes(
  boxRegression: Float32Array, proposals: Boxes, row: number, imageSize: Size,
  config: Pick<MaskRcnnConfig, 'numClasses'> & { roiHeads: Pick<MaskRcnnConfig['roiHeads'], 'boxCoderWeights' | 'bboxXformClip'> },
): RoiClassBoxes {
  const k = config.numClasses;
  const deltas = boxRegression.slice(row * 4 * k, (row + 1) * 4 * k);
  const coder = new BoxCoder(config.roiHeads.boxCoderWeights, config.roiHeads.bboxXformClip);
  // one RoI: deltas (1, 4K), its proposal (1, 4) → (1, K, 4) boxes
  const boxes = clipBoxes(coder.decodePerClass(deltas, proposals.slice(4 * row, 4 * row + 4), k), imageSize);
  return { deltas, boxes };
}

/** The detections regressed from box-head row `row` (indices into the detections). */
export function detectionsOfRow(detections: Pick<DetectionResult, 'proposalIndex'>, row: number): number[] {
  const out: number[] = [];
  detections.proposalIndex.forEach((p, d) => {
    if (p === row) out.push(d);
  });
  return out;
}
