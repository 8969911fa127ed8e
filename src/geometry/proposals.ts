/**
 * From RPN outputs to proposals at test time: torchvision `RegionProposalNetwork` (decode, then
 * `filter_proposals`), for one image.
 *
 * Glossary
 * - L: pyramid levels the RPN sees (P2–P6 → 5); A: anchors per location; Hl, Wl: level l's size.
 * - objectness[l]: Hl·Wl·A logits, order (y, x, a) — the NHWC `cls_logits` output flattened.
 * - deltas[l]: Hl·Wl·A·4, order (y, x, a, 4) — the NHWC `bbox_pred` output flattened.
 * - anchors[l]: Hl·Wl·A × 4 from `gridAnchors`, same order.
 * - pre-NMS top-k: the preNmsTopN highest logits of each level (torch `topk`, ties replayed).
 * - candidates: the top-k anchors of all levels, decoded, their scores sigmoid(logit), clipped to
 *   the resized image, minus boxes narrower or shorter than minSize and scores < scoreThresh;
 *   this is what NMS sees (levels concatenated P2 first, each by decreasing logit).
 * - keep: `batched_nms` by level (IoU > nmsThresh suppresses) then the first postNmsTopN, as
 *   indices into the candidates, in output order (decreasing score).
 */
import type { RpnConfig } from '../config.ts';
import type { Boxes, Size } from '../types.ts';
import { BoxCoder, clipBoxes, gather, gatherBoxes, removeSmallBoxes } from './boxes.ts';
import { f32, sigmoidf32 } from './float32.ts';
import { batchedNms } from './nms.ts';
import { topkIndices } from './stdsort.ts';

/** Boxes with a score and a pyramid level each. */
export interface ScoredBoxes {
  boxes: Boxes;
  scores: Float32Array;
  /** 0-based pyramid level (0 = P2). */
  levels: Int32Array;
}

export interface ProposalResult extends ScoredBoxes {
  /** What NMS saw: after top-k, sigmoid, decode, clip, small-box and score filters. */
  candidates: ScoredBoxes & {
    /** The anchor each candidate regressed from, as an index into its level's anchors. */
    anchorIndex: Int32Array;
    /** The raw objectness logit of each candidate. */
    logits: Float32Array;
  };
  /** Indices into `candidates`, output order: the proposals are candidates[keep]. */
  keep: Int32Array;
}

/** The RPN settings `filterProposals` reads (test time). */
export type ProposalConfig = Pick<RpnConfig, 'preNmsTopN' | 'postNmsTopN' | 'nmsThresh' | 'scoreThresh' | 'minSize' | 'boxCoderWeights' | 'bboxXformClip'>;

/**
 * torchvision's RPN test-time proposal selection for one image. `imageSize` is the resized,
 * unpadded [height, width] (torchvision `image_sizes`): boxes are clipped to it.
 */
export function filterProposals(
  objectness: readonly Float32Array[],
  deltas: readonly Float32Array[],
  anchors: readonly Float32Array[],
  imageSize: Size,
  cfg: ProposalConfig,
): ProposalResult {
  const levelCount = objectness.length;
  if (deltas.length !== levelCount || anchors.length !== levelCount) {
    throw new Error(
      `filterProposals: expected objectness, deltas and anchors for the same levels, found ${levelCount}, ${deltas.length} and ${anchors.length} levels`,
    );
  }
  const coder = new BoxCoder(cfg.boxCoderWeights, cfg.bboxXformClip);

  // Per level: top-k logits, then decode only those anchors (decode is elementwise).
  const picked: { level: number; index: number }[] = [];
  for (let l = 0; l < levelCount; l++) {
    const n = objectness[l]!.length;
    if (anchors[l]!.length !== 4 * n || deltas[l]!.length !== 4 * n) {
      throw new Error(
        `filterProposals level ${l}: expected ${n} anchors and ${n} × 4 deltas for ${n} logits, found ${anchors[l]!.length / 4} anchors and ${deltas[l]!.length} delta values; ` +
          'check that the head output is flattened in (y, x, a) order and anchors come from gridAnchors on the same feature sizes',
      );
    }
    for (const index of topkIndices(objectness[l]!, cfg.preNmsTopN)) picked.push({ level: l, index });
  }
  const count = picked.length;
  const logits = new Float32Array(count);
  const levels = new Int32Array(count);
  const anchorIndex = new Int32Array(count);
  const selectedAnchors = new Float32Array(4 * count);
  const selectedDeltas = new Float32Array(4 * count);
  picked.forEach(({ level, index }, k) => {
    logits[k] = objectness[level]![index]!;
    levels[k] = level;
    anchorIndex[k] = index;
    selectedAnchors.set(anchors[level]!.subarray(4 * index, 4 * index + 4), 4 * k);
    selectedDeltas.set(deltas[level]!.subarray(4 * index, 4 * index + 4), 4 * k);
  });
  // (count, 4) deltas against (count, 4) anchors → (count, 4) boxes
  const decoded = coder.decode(selectedDeltas, selectedAnchors);
  const probs = sigmoidf32(logits);
  const clipped = clipBoxes(decoded, imageSize);

  // remove small boxes, then low-scoring ones (>=, torchvision's backwards-compatible choice)
  const big = removeSmallBoxes(clipped, cfg.minSize);
  const thresh = f32(cfg.scoreThresh);
  const survivors = Int32Array.from([...big].filter((i) => probs[i]! >= thresh));
  const candidates = {
    boxes: gatherBoxes(clipped, survivors),
    scores: gather(probs, survivors),
    levels: gather(levels, survivors),
    anchorIndex: gather(anchorIndex, survivors),
    logits: gather(logits, survivors),
  };

  const keep = batchedNms(candidates.boxes, candidates.scores, candidates.levels, cfg.nmsThresh).slice(0, cfg.postNmsTopN);
  return {
    boxes: gatherBoxes(candidates.boxes, keep),
    scores: gather(candidates.scores, keep),
    levels: gather(candidates.levels, keep),
    candidates,
    keep,
  };
}
