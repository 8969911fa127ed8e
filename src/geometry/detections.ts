/**
 * From box-head outputs to detections: torchvision `RoIHeads.postprocess_detections`, one image.
 *
 * Glossary
 * - N: RoIs (proposals); K: classes including background (COCO 91), class 0 = background.
 * - classLogits: N × K; boxRegression: N × 4K, class c's deltas at columns 4c..4c+3.
 * - class probabilities: softmax over K in float32 (torch's lane order, see float32.ts).
 * - candidate: one (RoI, class ≥ 1) pair, flattened RoI-major; it survives if its probability is
 *   > scoreThresh and its decoded, clipped box is at least minSize wide and high.
 * - keep: per-class NMS (IoU > nmsThresh suppresses) by decreasing score, the first
 *   detectionsPerImg, as indices into the candidates.
 */
import type { Boxes, Size } from '../types.ts';
import { type BoxCoder, boxCount, clipBoxes, gather, gatherBoxes, removeSmallBoxes } from './boxes.ts';
import { f32, softmaxRowsf32 } from './float32.ts';
import { batchedNms } from './nms.ts';

/** torchvision `box_score_thresh`, `box_nms_thresh`, `box_detections_per_img` and the 1e-2 min size. */
export interface DetectionConfig {
  scoreThresh: number;
  nmsThresh: number;
  detectionsPerImg: number;
  minSize: number;
}

export interface LabeledBoxes {
  boxes: Boxes;
  scores: Float32Array;
  /** Class index 1..K−1 (0, background, never appears). */
  labels: Int32Array;
  /** The RoI (row of classLogits / proposals) each box was regressed from. */
  proposalIndex: Int32Array;
}

export interface DetectionResult extends LabeledBoxes {
  /** N × K softmax probabilities (float32). */
  classProbs: Float32Array;
  /** What NMS saw: (RoI, class) pairs above the score threshold with big enough boxes. */
  candidates: LabeledBoxes;
  /** Indices into `candidates`, output order: the detections are candidates[keep]. */
  keep: Int32Array;
}

/** torchvision `postprocess_detections` for one image; `imageSize` is the resized, unpadded size. */
export function postprocessDetections(
  classLogits: Float32Array,
  boxRegression: Float32Array,
  proposals: Boxes,
  imageSize: Size,
  numClasses: number,
  cfg: DetectionConfig,
  coder: BoxCoder,
): DetectionResult {
  const n = boxCount(proposals, 'postprocessDetections proposals');
  const k = numClasses;
  if (classLogits.length !== n * k || boxRegression.length !== n * 4 * k) {
    throw new Error(
      `postprocessDetections: expected ${n} × ${k} class logits and ${n} × ${4 * k} box deltas for ${n} proposals and ${k} classes, ` +
        `found ${classLogits.length} and ${boxRegression.length} values; check numClasses against the box predictor`,
    );
  }
  // (N, 4K) deltas, (N, 4) proposals → (N, K, 4) boxes, clipped to the image
  const predBoxes = clipBoxes(coder.decodePerClass(boxRegression, proposals, k), imageSize);
  const classProbs = softmaxRowsf32(classLogits, k);

  // drop background, flatten (N, K−1) RoI-major, keep scores > thresh (compared in float32)
  const thresh = f32(cfg.scoreThresh);
  const flat: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let c = 1; c < k; c++) if (classProbs[i * k + c]! > thresh) flat.push(i * k + c);
  }
  const aboveThresh = Int32Array.from(flat);
  const boxesAbove = gatherBoxes(predBoxes, aboveThresh);
  const small = removeSmallBoxes(boxesAbove, cfg.minSize);
  const pairs = gather(aboveThresh, small); // index i·K + c of each candidate
  const candidates: LabeledBoxes = {
    boxes: gatherBoxes(boxesAbove, small),
    scores: gather(classProbs, pairs),
    labels: Int32Array.from(pairs, (p) => p % k),
    proposalIndex: Int32Array.from(pairs, (p) => Math.floor(p / k)),
  };

  const keep = batchedNms(candidates.boxes, candidates.scores, candidates.labels, cfg.nmsThresh).slice(0, cfg.detectionsPerImg);
  return {
    boxes: gatherBoxes(candidates.boxes, keep),
    scores: gather(candidates.scores, keep),
    labels: gather(candidates.labels, keep),
    proposalIndex: gather(candidates.proposalIndex, keep),
    classProbs,
    candidates,
    keep,
  };
}
