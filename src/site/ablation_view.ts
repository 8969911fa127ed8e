/**
 * The ablation chapter's data (chapter 12): models trained with the same recipe and different RoI
 * poolers, run side by side on the same validation scenes, each scene's detections matched to its
 * ground truth, and the AP table next to the paper's Table 2c.
 *
 * Glossary
 *   pooler model   a site model trained on the scenes (src/site/ablation_index.ts); the chapter keeps
 *                  one per pooler, in the order RoIPool, RoIWarp, RoIAlign
 *   detection set  a run's detections as plain data (boxes in original pixels, labels, scores, pasted
 *                  mask regions, the mask threshold): it outlives the run's tensors
 *   match          COCO's rule per scene: detections in score order, each takes the not-yet-matched
 *                  ground-truth object of its class with the highest mask IoU ≥ the threshold
 *   mask IoU       |det ∩ gt| / |det ∪ gt| of the binary masks (det: pasted probability > threshold)
 *   Table 2c       He et al., Mask R-CNN (ICCV 2017), Table 2c: ResNet-50-C4 on COCO minival, mask AP
 *                  for RoIPool, RoIWarp and RoIAlign, with max or average pooling in a bin
 */
import type { Pooler } from '../config.ts';
import { SceneCocoBuilder } from '../data/coco_export.ts';
import { SCENE_SPLITS, type Scene, generateScene } from '../data/scenes.ts';
import { type CocoResult, apOf, evaluateCoco } from '../eval/coco_eval.ts';
import { encodeRegionRle } from '../io/rle.ts';
import type { Trace } from '../model.ts';
import type { MaskRegion } from '../stages/paste.ts';
import type { ApNumbers, EvalReportData, PoolerModelEntry } from './ablation_index.ts';
import type { ImageInput } from './session.ts';

export type { ApNumbers, EvalReportData, PoolerModelEntry } from './ablation_index.ts';

/** The paper's order: the quantizing pooler first, RoIAlign last. */
export const POOLER_ORDER: readonly Pooler[] = ['roiPool', 'roiWarp', 'roiAlign'];
export const POOLER_NAMES: Readonly<Record<Pooler, string>> = { roiPool: 'RoIPool', roiWarp: 'RoIWarp', roiAlign: 'RoIAlign' };

/** The ablation index serialized into the page by src/pages/ablation.astro (`[]` when absent or broken). */
export function readAblationIndex(doc: Document = document): PoolerModelEntry[] {
  const node = doc.getElementById('ablation-index');
  if (node === null) return [];
  try {
    const v = JSON.parse(node.textContent ?? '[]') as unknown;
    return Array.isArray(v) ? (v as PoolerModelEntry[]) : [];
  } catch {
    return [];
  }
}

/** One model per pooler (the first of the index's order), sorted RoIPool, RoIWarp, RoIAlign. */
export function pickPoolerModels(entries: readonly PoolerModelEntry[]): PoolerModelEntry[] {
  const byPooler = new Map<Pooler, PoolerModelEntry>();
  for (const e of entries) if (!byPooler.has(e.pooler)) byPooler.set(e.pooler, e);
  return POOLER_ORDER.flatMap((p) => (byPooler.has(p) ? [byPooler.get(p)!] : []));
}

// ---------------------------------------------------------------------------------------------
// Scenes

export const VAL = SCENE_SPLITS.val;

/** The session's image id of a validation scene. */
export function sceneId(seed: number): string {
  return `scene:${seed}`;
}

/** The seed of a scene image id, or null for any other image. */
export function seedOfImageId(id: string): number | null {
  const m = /^scene:(\d+)$/.exec(id);
  return m === null ? null : Number(m[1]);
}

const sceneCache = new Map<number, Scene>();

/** generateScene(seed) (256×256, the recipe's size), remembered for the last few seeds. */
export function sceneOf(seed: number): Scene {
  let s = sceneCache.get(seed);
  if (s === undefined) {
    s = generateScene(seed);
    sceneCache.set(seed, s);
    if (sceneCache.size > 8) sceneCache.delete(sceneCache.keys().next().value!);
  }
  return s;
}

/** A validation scene as the session's image input. */
export function sceneInput(seed: number): ImageInput {
  return { id: sceneId(seed), label: `validation scene ${seed}`, image: sceneOf(seed).image };
}

// ---------------------------------------------------------------------------------------------
// Detections and their match to the ground truth

export interface DetectionSet {
  /** D×4 [x1, y1, x2, y2], original-image pixels. */
  boxes: Float32Array;
  labels: Int32Array;
  scores: Float32Array;
  masks: readonly MaskRegion[];
  /** A pixel is in a mask when its probability is > this. */
  maskThreshold: number;
}

/** A trace's detections as plain data (its arrays are plain: they outlive the trace's tensors). */
export function detectionsOf(trace: Trace): DetectionSet {
  const r = trace.result;
  return { boxes: r.boxes, labels: r.labels, scores: r.scores, masks: r.masks, maskThreshold: trace.config.roiHeads.maskThreshold };
}

/** Pixels of a pasted mask above `threshold`, inside the `width`×`height` image. */
export function regionArea(region: MaskRegion, threshold: number, width: number, height: number): number {
  let n = 0;
  for (let y = Math.max(0, region.y0); y < Math.min(height, region.y0 + region.height); y++) {
    for (let x = Math.max(0, region.x0); x < Math.min(width, region.x0 + region.width); x++) {
      if (region.data[(y - region.y0) * region.width + (x - region.x0)]! > threshold) n++;
    }
  }
  return n;
}

/** Mask IoU of a pasted mask (> threshold) and a ground-truth H×W mask of `gtArea` pixels. */
export function maskIou(region: MaskRegion, threshold: number, gt: Uint8Array, width: number, height: number, gtArea: number): number {
  let inter = 0;
  let area = 0;
  for (let y = Math.max(0, region.y0); y < Math.min(height, region.y0 + region.height); y++) {
    for (let x = Math.max(0, region.x0); x < Math.min(width, region.x0 + region.width); x++) {
      if (region.data[(y - region.y0) * region.width + (x - region.x0)]! > threshold) {
        area++;
        if (gt[y * width + x]) inter++;
      }
    }
  }
  const union = area + gtArea - inter;
  return union === 0 ? 0 : inter / union;
}

/** IoU of two [x1, y1, x2, y2] boxes (0 when both are empty). */
export function boxIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const iw = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const ih = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = iw * ih;
  const union = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return union <= 0 ? 0 : inter / union;
}

/** The scene's ground truth, as the matcher reads it. */
export interface GroundTruth {
  width: number;
  height: number;
  objects: ReadonlyArray<{ label: number; mask: Uint8Array; box: readonly number[]; area: number }>;
}

export function groundTruthOf(scene: Scene): GroundTruth {
  return { width: scene.image.width, height: scene.image.height, objects: scene.instances };
}

/** Detection-by-object mask IoUs: `ious[d][g]` (0 where the classes differ). */
export function maskIous(dets: DetectionSet, gt: GroundTruth): number[][] {
  return Array.from(dets.labels, (label, d) =>
    gt.objects.map((o) => (o.label === label ? maskIou(dets.masks[d]!, dets.maskThreshold, o.mask, gt.width, gt.height, o.area) : 0)),
  );
}

export interface SceneMatch {
  /** Per ground-truth object: the detection it was matched to (−1: missed) and their mask IoU. */
  objects: Array<{ detection: number; iou: number; boxIou: number }>;
  /** Per detection: the object it matched (−1: a false positive at this threshold). */
  detections: number[];
  threshold: number;
}

/**
 * COCO's greedy matching of one image at mask IoU ≥ `threshold`: detections by descending score
 * (ties: the earlier first), each takes the unmatched object of its class with the highest IoU.
 */
export function matchScene(dets: DetectionSet, gt: GroundTruth, threshold: number, ious: number[][] = maskIous(dets, gt)): SceneMatch {
  const objects = gt.objects.map(() => ({ detection: -1, iou: 0, boxIou: 0 }));
  const detections = Array.from(dets.labels, () => -1);
  const order = Array.from(dets.scores, (_, d) => d).sort((a, b) => dets.scores[b]! - dets.scores[a]! || a - b);
  for (const d of order) {
    let best = -1;
    let bestIou = threshold;
    gt.objects.forEach((_, g) => {
      const v = ious[d]![g]!;
      if (objects[g]!.detection === -1 && v >= bestIou && (best === -1 || v > bestIou)) {
        best = g;
        bestIou = v;
      }
    });
    if (best >= 0) {
      objects[best] = { detection: d, iou: bestIou, boxIou: boxIou(dets.boxes.subarray(4 * d, 4 * d + 4), gt.objects[best]!.box) };
      detections[d] = best;
    }
  }
  return { objects, detections, threshold };
}

/** What the chapter says about one model on one scene. */
export interface SceneScore {
  objects: number;
  detections: number;
  /** Objects matched at mask IoU ≥ 0.5 / ≥ 0.75 (one-to-one, COCO's rule). */
  found50: number;
  found75: number;
  /** Mean mask IoU and box IoU of the objects matched at 0.5 (NaN when none). */
  meanMaskIou: number;
  meanBoxIou: number;
  /** Detections matched to nothing at 0.5. */
  falsePositives: number;
  /** Per object: the best mask IoU of any detection of its class (0 when none). */
  bestIou: number[];
  match50: SceneMatch;
}

export function scoreScene(dets: DetectionSet, gt: GroundTruth): SceneScore {
  const ious = maskIous(dets, gt);
  const m50 = matchScene(dets, gt, 0.5, ious);
  const m75 = matchScene(dets, gt, 0.75, ious);
  const found = m50.objects.filter((o) => o.detection >= 0);
  const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    objects: gt.objects.length,
    detections: dets.labels.length,
    found50: found.length,
    found75: m75.objects.filter((o) => o.detection >= 0).length,
    meanMaskIou: mean(found.map((o) => o.iou)),
    meanBoxIou: mean(found.map((o) => o.boxIou)),
    falsePositives: m50.detections.filter((g) => g < 0).length,
    bestIou: gt.objects.map((_, g) => ious.reduce((m, row) => Math.max(m, row[g]!), 0)),
    match50: m50,
  };
}

// ---------------------------------------------------------------------------------------------
// COCO results and AP

/** Detections as COCO results of image `imageId` (box → [x, y, w, h]; mask → RLE of p > threshold), like npm run eval. */
export function cocoResultsOfDetections(dets: DetectionSet, imageId: number, height: number, width: number): { bbox: CocoResult[]; segm: CocoResult[] } {
  const bbox: CocoResult[] = [];
  const segm: CocoResult[] = [];
  dets.labels.forEach((label, d) => {
    const [x1, y1, x2, y2] = dets.boxes.subarray(4 * d, 4 * d + 4);
    const score = dets.scores[d]!;
    bbox.push({ image_id: imageId, category_id: label, score, bbox: [x1!, y1!, x2! - x1!, y2! - y1!] });
    segm.push({ image_id: imageId, category_id: label, score, segmentation: encodeRegionRle(dets.masks[d]!, dets.maskThreshold, height, width) });
  });
  return { bbox, segm };
}

/** Collects scenes and each model's detections on them; `evaluate()` gives box and mask AP per model. */
export class LiveEvaluation {
  private readonly gt = new SceneCocoBuilder();
  private readonly results = new Map<string, { bbox: CocoResult[]; segm: CocoResult[] }>();
  private count = 0;

  addScene(scene: Scene): void {
    this.gt.add(scene);
    this.count++;
  }

  addDetections(modelId: string, seed: number, dets: DetectionSet, height: number, width: number): void {
    let r = this.results.get(modelId);
    if (r === undefined) this.results.set(modelId, (r = { bbox: [], segm: [] }));
    const { bbox, segm } = cocoResultsOfDetections(dets, seed, height, width);
    r.bbox.push(...bbox);
    r.segm.push(...segm);
  }

  get images(): number {
    return this.count;
  }

  /** Box and mask AP of `modelId` on the scenes added (a model with no detection gets its zeros from the evaluator). */
  evaluate(modelId: string): EvalReportData {
    const dataset = this.gt.build();
    const r = this.results.get(modelId) ?? { bbox: [], segm: [] };
    return { bbox: apOf(evaluateCoco(dataset, r.bbox, 'bbox').stats), segm: apOf(evaluateCoco(dataset, r.segm, 'segm').stats), images: this.count };
  }
}

// ---------------------------------------------------------------------------------------------
// The AP table

/** AP, AP50, AP75 in percent (the paper's scale). */
export interface ApTriple {
  AP: number;
  AP50: number;
  AP75: number;
}

export interface ApRow {
  /** 'paper': Table 2c; 'shipped': a model's eval.json; 'live': evaluated in this browser. */
  source: 'paper' | 'shipped' | 'live';
  pooler: Pooler;
  /** How a bin is aggregated, where the paper says (max or average). */
  aggregate?: 'max' | 'avg';
  mask: ApTriple;
  /** Box AP (not in Table 2c). */
  box: ApTriple | null;
  /** Scenes evaluated (ours). */
  images?: number;
  /** The model (ours). */
  modelId?: string;
}

/**
 * He, Gkioxari, Dollár, Girshick, Mask R-CNN (ICCV 2017), Table 2c: "RoIAlign (ResNet-50-C4)
 * comparisons of mask AP", COCO minival; RoIPool aggregates by max, RoIWarp and RoIAlign by max or
 * average.
 */
export const PAPER_TABLE_2C: readonly ApRow[] = [
  { source: 'paper', pooler: 'roiPool', aggregate: 'max', mask: { AP: 26.9, AP50: 48.8, AP75: 26.4 }, box: null },
  { source: 'paper', pooler: 'roiWarp', aggregate: 'max', mask: { AP: 27.2, AP50: 49.2, AP75: 27.1 }, box: null },
  { source: 'paper', pooler: 'roiWarp', aggregate: 'avg', mask: { AP: 27.1, AP50: 48.9, AP75: 27.1 }, box: null },
  { source: 'paper', pooler: 'roiAlign', aggregate: 'max', mask: { AP: 30.2, AP50: 51.0, AP75: 31.8 }, box: null },
  { source: 'paper', pooler: 'roiAlign', aggregate: 'avg', mask: { AP: 30.3, AP50: 51.2, AP75: 31.5 }, box: null },
];

export const PAPER_CITATION = 'He, Gkioxari, Dollár, Girshick, “Mask R-CNN”, ICCV 2017, Table 2c (ResNet-50-C4, COCO minival, mask AP)';

/** How our poolers aggregate a bin: torchvision's roi_pool takes the max, roi_align (and our RoIWarp) the average. */
export const OUR_AGGREGATE: Readonly<Record<Pooler, 'max' | 'avg'>> = { roiPool: 'max', roiWarp: 'avg', roiAlign: 'avg' };

const pct = (ap: ApNumbers): ApTriple => ({ AP: 100 * ap.AP, AP50: 100 * ap.AP50, AP75: 100 * ap.AP75 });

/** A row of our own from an evaluation report (0–1 → percent). */
export function ourRow(source: 'shipped' | 'live', entry: Pick<PoolerModelEntry, 'id' | 'pooler'>, report: EvalReportData): ApRow {
  return { source, pooler: entry.pooler, aggregate: OUR_AGGREGATE[entry.pooler], mask: pct(report.segm), box: pct(report.bbox), images: report.images, modelId: entry.id };
}

/** RoIAlign − RoIPool per metric among `rows` of one source (the paper's: average-pooling RoIAlign vs RoIPool), or null without both. */
export function alignGain(rows: readonly ApRow[], kind: 'mask' | 'box' = 'mask'): ApTriple | null {
  const pool = rows.find((r) => r.pooler === 'roiPool');
  const align = rows.find((r) => r.pooler === 'roiAlign' && (r.aggregate === 'avg' || r.aggregate === undefined)) ?? rows.find((r) => r.pooler === 'roiAlign');
  const a = align?.[kind];
  const p = pool?.[kind];
  if (!a || !p) return null;
  return { AP: a.AP - p.AP, AP50: a.AP50 - p.AP50, AP75: a.AP75 - p.AP75 };
}

// ---------------------------------------------------------------------------------------------
// Why AP75 suffers more than AP50: a shifted square

/**
 * IoU of an s×s square with itself shifted by d pixels along x and along y:
 * (s − d)² / (2s² − (s − d)²), 0 once d ≥ s.
 */
export function shiftedSquareIou(s: number, d: number): number {
  const a = Math.max(0, s - Math.abs(d));
  const inter = a * a;
  return inter / (2 * s * s - inter);
}

/** The validation seeds an evaluation of `n` scenes uses: the first n of the split. */
export function evaluationSeeds(n: number): number[] {
  const count = Math.max(1, Math.min(Math.floor(n), VAL.last - VAL.first + 1));
  return Array.from({ length: count }, (_, i) => VAL.first + i);
}
