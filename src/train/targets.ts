/**
 * Training targets, pure functions on plain arrays (torchvision `Matcher`,
 * `BalancedPositiveNegativeSampler`, `RegionProposalNetwork.assign_targets_to_anchors`,
 * `RoIHeads.select_training_samples`, `project_masks_on_boxes`), for one image.
 *
 * Glossary
 *   G            ground-truth instances of the image; gt boxes [x1, y1, x2, y2] in resized-image pixels
 *   N            predictions to label: anchors (RPN) or proposals + gt boxes (RoI heads)
 *   quality      IoU matrix G × N (torchvision `box_iou`)
 *   matches      per prediction: the gt index it is assigned to, or BELOW_LOW_THRESHOLD (−1,
 *                background) or BETWEEN_THRESHOLDS (−2, ignored)
 *   low-quality matches  (RPN) every gt also claims the predictions of highest IoU with it (ties
 *                included), even below the high threshold, so that no gt is left without an anchor
 *   sampling     at most batchSizePerImage predictions per image, at most positiveFraction of them
 *                positive (labels ≥ 1), the rest negative (label 0), chosen uniformly at random
 *   regression   Faster R-CNN deltas of the matched gt box relative to the prediction (`BoxCoder.encode`)
 *   mask target  the gt mask of a positive RoI, RoIAligned into M × M (spatial scale 1, adaptive
 *                sampling, aligned = false): soft values in [0, 1], as torchvision feeds its BCE
 */
import type { Rng } from '../data/random.ts';
import { BoxCoder, boxArea, boxCount, iouWithAreas } from '../geometry/index.ts';
import type { Boxes } from '../types.ts';
import { poolRoisHost, type HostMap, type RoiKernelAttrs } from '../../kernels/index.ts';

export const BELOW_LOW_THRESHOLD = -1;
export const BETWEEN_THRESHOLDS = -2;

export interface MatcherConfig {
  /** IoU ≥ this: matched (positive). */
  highThreshold: number;
  /** IoU < this: background; in between: ignored. */
  lowThreshold: number;
  /** RPN: also match each gt's best predictions (torchvision `allow_low_quality_matches`). */
  allowLowQualityMatches: boolean;
}

/** IoU of every gt box with every prediction: G × N, row-major (torchvision `box_iou(gt, boxes)`). */
export function iouMatrix(gt: Boxes, boxes: Boxes): Float32Array {
  const g = boxCount(gt, 'gt boxes');
  const n = boxCount(boxes, 'boxes');
  const out = new Float32Array(g * n);
  const areas = new Float32Array(n);
  for (let j = 0; j < n; j++) areas[j] = boxArea(boxes, j);
  for (let i = 0; i < g; i++) {
    const a = boxArea(gt, i);
    for (let j = 0; j < n; j++) out[i * n + j] = iouWithAreas(gt, i, a, boxes, j, areas[j]!);
  }
  return out;
}

/**
 * torchvision `Matcher.__call__` on a G × N quality matrix: each prediction takes the gt of highest
 * IoU (the first on ties); IoU < low → −1, in [low, high) → −2; with low-quality matches, the
 * predictions that are some gt's best (ties included) keep their best gt whatever the IoU.
 * G = 0 gives all −1 (an image without objects is all background).
 */
export function matchPredictions(quality: Float32Array, g: number, n: number, cfg: MatcherConfig): Int32Array {
  if (quality.length !== g * n) throw new Error(`matchPredictions: expected a ${g} × ${n} quality matrix, found ${quality.length} values`);
  const matches = new Int32Array(n).fill(BELOW_LOW_THRESHOLD);
  if (g === 0) return matches;
  const best = new Int32Array(n);
  const bestVal = new Float32Array(n).fill(-Infinity);
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < n; j++) {
      const q = quality[i * n + j]!;
      if (q > bestVal[j]!) {
        bestVal[j] = q;
        best[j] = i;
      }
    }
  }
  for (let j = 0; j < n; j++) {
    const v = bestVal[j]!;
    matches[j] = v < cfg.lowThreshold ? BELOW_LOW_THRESHOLD : v < cfg.highThreshold ? BETWEEN_THRESHOLDS : best[j]!;
  }
  if (cfg.allowLowQualityMatches) {
    for (let i = 0; i < g; i++) {
      let highest = -Infinity;
      for (let j = 0; j < n; j++) highest = Math.max(highest, quality[i * n + j]!);
      for (let j = 0; j < n; j++) if (quality[i * n + j] === highest) matches[j] = best[j]!;
    }
  }
  return matches;
}

export interface Sampled {
  /** indices of the sampled positives, increasing */
  positive: Int32Array;
  /** indices of the sampled negatives, increasing */
  negative: Int32Array;
}

/** k distinct elements of `from`, uniformly at random (partial Fisher–Yates), returned sorted. */
function choose(from: number[], k: number, rand: Rng): Int32Array {
  const a = from.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand.next() * (a.length - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return Int32Array.from(a.slice(0, k)).sort();
}

/**
 * torchvision `BalancedPositiveNegativeSampler` for one image: labels ≥ 1 are positive, 0 negative,
 * −1 ignored; keeps min(⌊batch·fraction⌋, #pos) positives and min(batch − that, #neg) negatives.
 */
export function sampleBalanced(labels: ArrayLike<number>, batchSizePerImage: number, positiveFraction: number, rand: Rng): Sampled {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= 1) pos.push(i);
    else if (labels[i] === 0) neg.push(i);
  }
  const numPos = Math.min(Math.floor(batchSizePerImage * positiveFraction), pos.length);
  const numNeg = Math.min(batchSizePerImage - numPos, neg.length);
  return { positive: choose(pos, numPos, rand), negative: choose(neg, numNeg, rand) };
}

export interface RpnTargets {
  /** per anchor: 1 object, 0 background, −1 ignored (torchvision's float labels) */
  labels: Float32Array;
  /** per anchor: encoded deltas to its matched gt box (zeros where unmatched), N × 4 */
  regression: Float32Array;
  sampled: Sampled;
}

export interface RpnTrainConfig {
  fgIouThresh: number;
  bgIouThresh: number;
  batchSizePerImage: number;
  positiveFraction: number;
}

/**
 * Anchor labels, regression targets and the sampled anchors of one image
 * (`assign_targets_to_anchors` + the sampler of `compute_loss`). `anchors` are all levels'
 * anchors concatenated in the head's order (level, y, x, a).
 */
export function rpnTargets(anchors: Boxes, gt: Boxes, cfg: RpnTrainConfig, coder: BoxCoder, rand: Rng): RpnTargets {
  const n = boxCount(anchors, 'anchors');
  const g = boxCount(gt, 'gt boxes');
  const matches = matchPredictions(iouMatrix(gt, anchors), g, n, {
    highThreshold: cfg.fgIouThresh,
    lowThreshold: cfg.bgIouThresh,
    allowLowQualityMatches: true,
  });
  const labels = new Float32Array(n);
  const matched = new Float32Array(4 * n);
  for (let j = 0; j < n; j++) {
    const m = matches[j]!;
    labels[j] = m >= 0 ? 1 : m === BETWEEN_THRESHOLDS ? -1 : 0;
    // torchvision encodes gt[max(m, 0)] for every anchor; only positives are used.
    if (g > 0) matched.set(gt.subarray(4 * Math.max(m, 0), 4 * Math.max(m, 0) + 4), 4 * j);
  }
  const regression = g > 0 ? coder.encode(matched, anchors) : new Float32Array(4 * n);
  if (g > 0) for (let j = 0; j < n; j++) if (labels[j] !== 1) regression.fill(0, 4 * j, 4 * j + 4);
  const sampled = sampleBalanced(labels, cfg.batchSizePerImage, cfg.positiveFraction, rand);
  return { labels, regression, sampled };
}

export interface RoiTargets {
  /** the sampled RoIs (proposals, then gt boxes, in index order), R × 4 */
  rois: Boxes;
  /** class per RoI: 0 background, ≥ 1 the matched gt's label */
  labels: Int32Array;
  /** encoded deltas (box coder weights of the box head) to the matched gt, R × 4; meaningful for labels ≥ 1 */
  regression: Float32Array;
  /** matched gt index per RoI (0 for background, like torchvision's clamp) */
  matchedGt: Int32Array;
}

export interface RoiTrainConfig {
  fgIouThresh: number;
  bgIouThresh: number;
  batchSizePerImage: number;
  positiveFraction: number;
}

/**
 * torchvision `select_training_samples` for one image: append the gt boxes to the proposals, match
 * (no low-quality matches), label, sample, encode. Returns the sampled RoIs with their targets.
 */
export function roiTargets(proposals: Boxes, gt: Boxes, gtLabels: Int32Array, cfg: RoiTrainConfig, coder: BoxCoder, rand: Rng): RoiTargets {
  const g = boxCount(gt, 'gt boxes');
  if (gtLabels.length !== g) throw new Error(`roiTargets: expected one label per gt box (${g}), found ${gtLabels.length}`);
  const all = new Float32Array(proposals.length + gt.length);
  all.set(proposals);
  all.set(gt, proposals.length);
  const n = all.length / 4;
  const matches = matchPredictions(iouMatrix(gt, all), g, n, {
    highThreshold: cfg.fgIouThresh,
    lowThreshold: cfg.bgIouThresh,
    allowLowQualityMatches: false,
  });
  const labels = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const m = matches[j]!;
    labels[j] = m >= 0 ? gtLabels[m]! : m === BETWEEN_THRESHOLDS ? -1 : 0;
  }
  const { positive, negative } = sampleBalanced(labels, cfg.batchSizePerImage, cfg.positiveFraction, rand);
  // torch.where(pos | neg): sampled indices in increasing order
  const index = Int32Array.from([...positive, ...negative]).sort();
  const r = index.length;
  const rois = new Float32Array(4 * r);
  const matchedBoxes = new Float32Array(4 * r);
  const out: RoiTargets = { rois, labels: new Int32Array(r), regression: new Float32Array(4 * r), matchedGt: new Int32Array(r) };
  index.forEach((j, k) => {
    rois.set(all.subarray(4 * j, 4 * j + 4), 4 * k);
    out.labels[k] = labels[j]!;
    const m = Math.max(matches[j]!, 0);
    out.matchedGt[k] = m;
    if (g > 0) matchedBoxes.set(gt.subarray(4 * m, 4 * m + 4), 4 * k);
  });
  // An image without gt has no positives: torchvision encodes against a zero box; nothing uses it.
  if (g > 0 && r > 0) out.regression = coder.encode(matchedBoxes, rois);
  return out;
}

/** Ground-truth instance masks of one image: G planes of height × width, 1 inside. */
export interface GtMasks {
  count: number;
  height: number;
  width: number;
  /** G · height · width, row-major per plane */
  data: Uint8Array;
}

/**
 * torchvision `project_masks_on_boxes`: RoIAlign (spatial scale 1, output M × M, sampling ratio
 * adaptive, aligned = false) of gt mask `matchedGt[k]` inside RoI k. Returns K · M · M values in
 * [0, 1], RoI-major. Uses the engine's own RoIAlign (the CPU twin of the kernel).
 */
export function maskTargets(masks: GtMasks, rois: Boxes, matchedGt: Int32Array, M: number): Float32Array {
  const k = boxCount(rois, 'rois');
  if (matchedGt.length !== k) throw new Error(`maskTargets: expected one matched gt per RoI (${k}), found ${matchedGt.length}`);
  const out = new Float32Array(k * M * M);
  if (k === 0) return out;
  if (masks.count === 0) throw new Error('maskTargets: positive RoIs but no gt masks; every positive RoI needs the mask of its gt');
  const map: HostMap = {
    data: Float32Array.from(masks.data),
    batch: masks.count,
    height: masks.height,
    width: masks.width,
    channels: 1,
  };
  const withIndex = new Float32Array(5 * k);
  for (let i = 0; i < k; i++) {
    const m = matchedGt[i]!;
    if (m < 0 || m >= masks.count) throw new Error(`maskTargets: RoI ${i} is matched to gt ${m}, but there are ${masks.count} masks`);
    withIndex[5 * i] = m;
    withIndex.set(rois.subarray(4 * i, 4 * i + 4), 5 * i + 1);
  }
  const attrs: RoiKernelAttrs = { pooler: 'roiAlign', mode: 'avg', outputSize: [M, M], scales: [1], samplingRatio: -1, aligned: false };
  poolRoisHost([map], withIndex, 5, null, attrs, out);
  return out;
}
