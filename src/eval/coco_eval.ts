/**
 * COCO-style evaluation (bbox, segm and keypoints), following pycocotools' `COCOeval` (evaluate,
 * accumulate, summarize) rule for rule, so that numbers compare with published COCO results.
 *
 * Glossary (pycocotools' names)
 *   gt, dt        ground-truth annotations, detections (results)
 *   T, R, K, A, M counts of IoU thresholds (0.50:0.05:0.95), recall thresholds (0:0.01:1, the
 *                 101-point interpolation), categories, area ranges (all, small < 32², medium,
 *                 large > 96², bounds inclusive), max detections per image (1, 10, 100)
 *   crowd         a gt with iscrowd = 1: an ignore region. IoU with a crowd gt is
 *                 intersection / area(dt); a crowd gt can absorb any number of detections, and a
 *                 detection matched to it counts neither as true nor as false positive
 *   ignore        a gt that is a crowd or whose area is outside the area range; detections matched
 *                 to it are ignored, and so are unmatched detections whose own area is outside the range
 *   matching      per image and category, detections in score order (stable sort, like numpy's
 *                 mergesort), each takes the not-yet-matched gt with the highest IoU ≥ threshold,
 *                 preferring non-ignored gts (gts are tried non-ignored first, and a match to a
 *                 non-ignored gt is never traded for an ignored one)
 *   precision     [T, R, K, A, M]: interpolated precision at each recall threshold (the running
 *                 maximum from the right of tp / (tp + fp + ε), read at the first detection whose
 *                 recall reaches the threshold; 0 past the last recall reached); −1 where a category
 *                 has no non-ignored gt
 *   recall        [T, K, A, M]: the recall reached with all (at most M per image) detections
 *   AP            mean of precision over T, R and the categories that have gt (−1 if none); AR alike
 *
 * Detection areas (used only for the area-range rule above) are the box's w·h in bbox evaluation
 * and the mask's pixel count in segm evaluation, as pycocotools computes them for results that carry
 * only a box or only a mask (torchvision's references submit them that way).
 *
 * Keypoints (iouType 'keypoints'; pycocotools' computeOks, setKpParams, _summarizeKps)
 *   K             keypoints per instance; gt and results hold them flat, [x, y, v]×K (gt: v = 0 not
 *                 labelled, 1 labelled but hidden, 2 visible) and [x, y, score]×K (results)
 *   σ             per-keypoint sigmas (`kpt_oks_sigmas`; COCO's 17 by default), variance (2σ)²
 *   OKS           the IoU of keypoints: with s² = the gt's area and d the distance of a detected
 *                 keypoint to the gt's, OKS = mean over the gt's labelled keypoints (v > 0) of
 *                 exp(−d² / (2·s²·(2σ)²)). A gt with no labelled keypoint measures instead, for all
 *                 K keypoints, the distance to the gt box enlarged by its own size on every side
 *                 ([x − w, x + 2w] × [y − h, y + 2h]; 0 inside it)
 *   ignore        crowd gts, and gts with num_keypoints = 0 (they still absorb one detection each,
 *                 a crowd any number); matching, accumulation and AP as above
 *   params        maxDets [20]; area ranges all, medium, large (no small); the 10 summary numbers
 *                 AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl
 *   dt area       as pycocotools' loadRes: w·h of the result's bbox when the first result carries a
 *                 (non-empty) bbox, otherwise the area of the box spanned by all K detected keypoints
 */
import { type CocoRle, RleError, stringToCounts } from '../io/rle.ts';

/** The detection IoU types (the 12-number summary). */
export type IouType = 'bbox' | 'segm';
/** Every IoU type this evaluator reads: the detection types and 'keypoints' (OKS, 10 numbers). */
export type CocoIouType = IouType | 'keypoints';

export interface CocoImage {
  id: number;
  width: number;
  height: number;
  file_name?: string;
}

/** COCO RLE as stored in annotation files: compressed (string counts) or not (array counts). */
export type CocoSegmentation = CocoRle | { size: [number, number]; counts: number[] };

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, width, height] */
  bbox: number[];
  area: number;
  iscrowd?: number;
  segmentation?: CocoSegmentation | number[][];
  /** [x, y, v]×K, v = 0 not labelled, 1 labelled but not visible, 2 visible; needed for keypoint evaluation */
  keypoints?: number[];
  /** the number of labelled keypoints (v > 0); 0 makes the gt an ignore region in keypoint evaluation */
  num_keypoints?: number;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
  /** keypoint names, K of them, in the order of the annotations' keypoints */
  keypoints?: string[];
  /** pairs of 1-based keypoint indices joined by a limb */
  skeleton?: [number, number][];
}

export interface CocoDataset {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

export interface CocoResult {
  image_id: number;
  category_id: number;
  score: number;
  /** [x, y, width, height]; needed for bbox evaluation */
  bbox?: number[];
  /** needed for segm evaluation */
  segmentation?: CocoSegmentation;
  /** [x, y, score]×K; needed for keypoint evaluation */
  keypoints?: number[];
}

export interface EvalParams {
  iouThrs: number[];
  recThrs: number[];
  /** ascending; the last is the number of detections per image that are kept */
  maxDets: number[];
  areaRng: [number, number][];
  areaRngLbl: string[];
  /**
   * Keypoint evaluation only: σ per keypoint (K values, > 0). Left out: COCO's 17 person sigmas
   * when the keypoints have K = 17, an error otherwise. An evaluation's params hold the ones used.
   */
  kpt_oks_sigmas?: number[];
}

export interface CocoSummary {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
}

/** pycocotools' `_summarizeKps`: the 10 keypoint numbers, all at maxDets 20 (no small area range). */
export interface CocoKeypointSummary {
  AP: number;
  AP50: number;
  AP75: number;
  APm: number;
  APl: number;
  AR: number;
  AR50: number;
  AR75: number;
  ARm: number;
  ARl: number;
}

export interface CocoEvaluation {
  iouType: IouType;
  params: EvalParams;
  imgIds: number[];
  catIds: number[];
  /** [T, R, K, A, M] row-major */
  precision: Float64Array;
  /** [T, K, A, M] row-major */
  recall: Float64Array;
  stats: CocoSummary;
}

/** A keypoint evaluation: as CocoEvaluation (A = 3 area ranges, M = 1), with the 10 keypoint numbers. */
export interface CocoKeypointEvaluation extends Omit<CocoEvaluation, 'iouType' | 'stats'> {
  iouType: 'keypoints';
  /** params.kpt_oks_sigmas holds the sigmas used */
  params: EvalParams & { kpt_oks_sigmas: number[] };
  stats: CocoKeypointSummary;
}

export class CocoEvalError extends Error {
  override name = 'CocoEvalError';
}

/** numpy.linspace(start, stop, num): i·step + start, the last value exactly `stop`. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
}

/** COCO's 17 person-keypoint sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles). */
export const COCO_KEYPOINT_SIGMAS: readonly number[] = Object.freeze(
  [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map((s) => s / 10),
);

/**
 * pycocotools' default Params: setDetParams for bbox/segm, setKpParams for keypoints (maxDets [20],
 * area ranges all/medium/large; the sigmas are left out and chosen from K at evaluation).
 */
export function defaultParams(iouType: CocoIouType = 'bbox'): EvalParams {
  if (iouType === 'keypoints') {
    return {
      iouThrs: linspace(0.5, 0.95, 10),
      recThrs: linspace(0, 1, 101),
      maxDets: [20],
      areaRng: [
        [0, 1e5 ** 2],
        [32 ** 2, 96 ** 2],
        [96 ** 2, 1e5 ** 2],
      ],
      areaRngLbl: ['all', 'medium', 'large'],
    };
  }
  return {
    iouThrs: linspace(0.5, 0.95, 10),
    recThrs: linspace(0, 1, 101),
    maxDets: [1, 10, 100],
    areaRng: [
      [0, 1e5 ** 2],
      [0, 32 ** 2],
      [32 ** 2, 96 ** 2],
      [96 ** 2, 1e5 ** 2],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
  };
}

/** numpy's np.spacing(1): pycocotools adds it to tp + fp. */
const EPS = 2.220446049250313e-16;

// ---------------------------------------------------------------------------------------------
// Input checks

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v); // NaN and ±Infinity, which JSON writes as null
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

function checkBox(bbox: unknown, where: string): number[] {
  if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isFiniteNumber) || bbox[2]! < 0 || bbox[3]! < 0) {
    throw new CocoEvalError(`${where}: expected bbox [x, y, width, height] of 4 finite numbers with width, height ≥ 0; found ${describe(bbox)}`);
  }
  return bbox;
}

/** Run lengths of a COCO RLE (compressed or not), checked against the image size. */
function checkRle(seg: unknown, image: CocoImage, where: string): number[] {
  if (Array.isArray(seg)) {
    throw new CocoEvalError(`${where}: segmentation is a polygon list; this evaluator reads RLE only ({size: [h, w], counts}); convert polygons to RLE first (src/io/rle.ts encodeRle on a rasterized mask)`);
  }
  const rle = seg as { size?: unknown; counts?: unknown } | null;
  if (typeof rle !== 'object' || rle === null || !Array.isArray(rle.size) || rle.size.length !== 2) {
    throw new CocoEvalError(`${where}: expected segmentation as COCO RLE {size: [height, width], counts}; found ${describe(seg)}`);
  }
  const [h, w] = rle.size as number[];
  if (h !== image.height || w !== image.width) {
    throw new CocoEvalError(`${where}: mask size ${h}×${w} does not match image ${image.id}'s ${image.height}×${image.width}; masks must be in original-image pixels`);
  }
  let counts: number[];
  if (typeof rle.counts === 'string') {
    try {
      counts = stringToCounts(rle.counts);
    } catch (e) {
      if (e instanceof RleError) throw new CocoEvalError(`${where}: ${e.message}`);
      throw e;
    }
  } else if (Array.isArray(rle.counts) && rle.counts.every((c) => Number.isInteger(c) && c >= 0)) {
    counts = rle.counts as number[];
  } else {
    throw new CocoEvalError(`${where}: RLE counts must be a compressed string or an array of non-negative integers; found ${describe(rle.counts)}`);
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== h! * w! || counts.some((c) => c < 0)) {
    throw new CocoEvalError(`${where}: RLE counts cover ${total} pixels; its size ${h}×${w} needs ${h! * w!}: the RLE is corrupt`);
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// IoU

/** A region for IoU: a box [x, y, w, h] or a mask's run lengths (column-major, zeros first). */
interface Region {
  box: number[];
  runs: number[] | null;
  area: number;
}

/** pycocotools `bbIou`: box IoU, or intersection / area(dt) for a crowd gt. */
function boxIou(d: number[], g: number[], crowd: boolean): number {
  const w = Math.min(d[0]! + d[2]!, g[0]! + g[2]!) - Math.max(d[0]!, g[0]!);
  if (w <= 0) return 0;
  const h = Math.min(d[1]! + d[3]!, g[1]! + g[3]!) - Math.max(d[1]!, g[1]!);
  if (h <= 0) return 0;
  const i = w * h;
  const da = d[2]! * d[3]!;
  const u = crowd ? da : da + g[2]! * g[3]! - i;
  return i / u;
}

/** Pixels set in both masks, walking the two run lists together. */
function runsIntersection(a: readonly number[], b: readonly number[]): number {
  let ia = 0;
  let ib = 0;
  let ra = a[0] ?? 0;
  let rb = b[0] ?? 0;
  let inter = 0;
  while (ia < a.length && ib < b.length) {
    const step = Math.min(ra, rb);
    if (ia % 2 === 1 && ib % 2 === 1) inter += step;
    ra -= step;
    rb -= step;
    if (ra === 0) ra = a[++ia] ?? 0;
    if (rb === 0) rb = b[++ib] ?? 0;
  }
  return inter;
}

/** pycocotools `rleIou`: mask IoU, or intersection / area(dt) for a crowd gt; 0 for empty unions. */
function maskIou(d: Region, g: Region, crowd: boolean): number {
  const inter = runsIntersection(d.runs!, g.runs!);
  const u = crowd ? d.area : d.area + g.area - inter;
  return u > 0 ? inter / u : 0;
}

const runsArea = (runs: readonly number[]) => runs.reduce((a, r, k) => (k % 2 === 1 ? a + r : a), 0);

// ---------------------------------------------------------------------------------------------
// OKS

/**
 * pycocotools `computeOks` for one detection and one gt: the mean, over the gt's labelled keypoints
 * (v > 0), of exp(−e) with e = d² / (2σ)² / (area + ε) / 2 (pycocotools' order of operations; ε =
 * np.spacing(1)). A gt with no labelled keypoint takes, for all K keypoints, d = the distance from the
 * detected keypoint to the gt box enlarged by its own width and height on each side
 * ([x − w, x + 2w] × [y − h, y + 2h], d = 0 inside or on the edge), and the mean over all K.
 *
 * @param dt      the detection's keypoints, [x, y, score]×K (the scores are not read)
 * @param gt      the gt's keypoints, [x, y, v]×K
 * @param gtBox   the gt's bbox [x, y, w, h] (read only when no keypoint is labelled)
 * @param gtArea  the gt's area: s² in the formula
 * @param sigmas  σ per keypoint, K values
 */
export function keypointOks(dt: ArrayLike<number>, gt: ArrayLike<number>, gtBox: ArrayLike<number>, gtArea: number, sigmas: ArrayLike<number>): number {
  const K = sigmas.length;
  let labelled = 0;
  for (let k = 0; k < K; k++) if (gt[3 * k + 2]! > 0) labelled++;
  // the enlarged ("double") gt box, for gts with no labelled keypoint
  const x0 = gtBox[0]! - gtBox[2]!;
  const x1 = gtBox[0]! + gtBox[2]! * 2;
  const y0 = gtBox[1]! - gtBox[3]!;
  const y1 = gtBox[1]! + gtBox[3]! * 2;
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const xd = dt[3 * k]!;
    const yd = dt[3 * k + 1]!;
    let dx: number;
    let dy: number;
    if (labelled > 0) {
      if (!(gt[3 * k + 2]! > 0)) continue;
      dx = xd - gt[3 * k]!;
      dy = yd - gt[3 * k + 1]!;
    } else {
      dx = Math.max(0, x0 - xd) + Math.max(0, xd - x1);
      dy = Math.max(0, y0 - yd) + Math.max(0, yd - y1);
    }
    const twoSigma = sigmas[k]! * 2;
    const e = (dx * dx + dy * dy) / (twoSigma * twoSigma) / (gtArea + EPS) / 2;
    sum += Math.exp(-e);
  }
  return sum / (labelled > 0 ? labelled : K);
}

/** Area of the box spanned by all K keypoints [x, y, ·]×K: pycocotools' loadRes area of a keypoint result. */
function keypointsExtentArea(kp: readonly number[]): number {
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let i = 0; i < kp.length; i += 3) {
    xMin = Math.min(xMin, kp[i]!);
    xMax = Math.max(xMax, kp[i]!);
    yMin = Math.min(yMin, kp[i + 1]!);
    yMax = Math.max(yMax, kp[i + 1]!);
  }
  return (xMax - xMin) * (yMax - yMin);
}

/** A flat [x, y, ·]×K keypoint list of finite numbers, K given. */
function checkKeypoints(kp: unknown, K: number, kFrom: string, where: string, triple: string): number[] {
  if (!Array.isArray(kp)) {
    throw new CocoEvalError(`${where}: keypoint evaluation needs keypoints as a flat list ${triple}×K; found ${describe(kp)}`);
  }
  if (kp.length !== 3 * K) {
    const found = kp.length % 3 === 0 ? `${kp.length} numbers (K = ${kp.length / 3})` : `${kp.length} numbers, not a multiple of 3`;
    throw new CocoEvalError(`${where}: expected keypoints ${triple}×${K} = ${3 * K} numbers (K = ${K} from ${kFrom}); found ${found}: give every instance the same K keypoints, and one σ per keypoint`);
  }
  const bad = kp.findIndex((v) => !isFiniteNumber(v));
  if (bad >= 0) {
    throw new CocoEvalError(`${where}: keypoints must be finite numbers; found ${describe(kp[bad])} at index ${bad} (keypoint ${Math.floor(bad / 3)}, ${['x', 'y', triple.includes('v') ? 'v' : 'score'][bad % 3]})`);
  }
  return kp;
}

/**
 * The σ per keypoint for a keypoint evaluation: params.kpt_oks_sigmas when given, else COCO's 17
 * when the data's K (from the first gt annotation, result or category that has keypoints) is 17.
 */
function keypointSigmas(gt: CocoDataset, results: readonly CocoResult[], given: unknown): { sigmas: number[]; kFrom: string } {
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length === 0 || !given.every((v) => isFiniteNumber(v) && v > 0)) {
      throw new CocoEvalError(`params.kpt_oks_sigmas: expected one σ > 0 per keypoint (a non-empty list of finite numbers); found ${describe(given)}`);
    }
    return { sigmas: [...given], kFrom: `params.kpt_oks_sigmas (${given.length} values)` };
  }
  const ann = gt.annotations.findIndex((a) => Array.isArray(a?.keypoints));
  const res = results.findIndex((r) => Array.isArray(r?.keypoints));
  const cat = gt.categories.findIndex((c) => Array.isArray(c?.keypoints));
  let K = COCO_KEYPOINT_SIGMAS.length;
  let where = '';
  if (ann >= 0) {
    K = gt.annotations[ann]!.keypoints!.length / 3;
    where = `ground-truth annotation ${gt.annotations[ann]!.id ?? `#${ann}`} has ${gt.annotations[ann]!.keypoints!.length} numbers`;
  } else if (res >= 0) {
    K = results[res]!.keypoints!.length / 3;
    where = `result #${res} has ${results[res]!.keypoints!.length} numbers`;
  } else if (cat >= 0) {
    K = gt.categories[cat]!.keypoints!.length;
    where = `category ${gt.categories[cat]!.id} names ${K}`;
  }
  if (!Number.isInteger(K)) throw new CocoEvalError(`${where}, not a multiple of 3: keypoints are a flat list [x, y, v]×K`);
  if (K !== COCO_KEYPOINT_SIGMAS.length) {
    throw new CocoEvalError(
      `the keypoints have K = ${K} per instance (${where}); COCO's default sigmas are for its ${COCO_KEYPOINT_SIGMAS.length} person keypoints: ` +
        `pass params.kpt_oks_sigmas with one σ per keypoint (${K} values)`,
    );
  }
  return { sigmas: [...COCO_KEYPOINT_SIGMAS], kFrom: `COCO's ${COCO_KEYPOINT_SIGMAS.length} default sigmas` };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

interface Gt {
  id: number;
  area: number;
  crowd: boolean;
  /** pycocotools' gt['ignore'] before the area rule: crowd, or (keypoints) num_keypoints = 0 */
  ignore: boolean;
  region: Region;
  /** [x, y, v]×K in keypoint evaluation */
  keypoints: number[] | null;
}

interface Dt {
  score: number;
  area: number;
  region: Region;
  /** [x, y, score]×K in keypoint evaluation */
  keypoints: number[] | null;
}

/** One image × category × area range: pycocotools' evalImg. */
interface EvalImg {
  /** scores of the kept detections, descending */
  dtScores: number[];
  /** [T × D]: matched to a gt */
  dtMatched: Uint8Array;
  /** [T × D]: ignored */
  dtIgnore: Uint8Array;
  /** number of non-ignored gts */
  numGt: number;
}

/** Indices of `items` sorted by descending score, ties in input order (numpy mergesort on −score). */
function byScore(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
}

function evaluateImg(gts: readonly Gt[], dts: readonly Dt[], ious: Float64Array, aRng: [number, number], params: EvalParams): EvalImg | null {
  if (gts.length === 0 && dts.length === 0) return null;
  const T = params.iouThrs.length;
  const G = gts.length;
  const D = dts.length; // already sorted by score and cut to maxDets[-1]
  const ignore = gts.map((g) => g.ignore || g.area < aRng[0] || g.area > aRng[1]);
  // gts not ignored first, stable
  const gtOrder = ignore.map((_, i) => i).sort((a, b) => Number(ignore[a]) - Number(ignore[b]));
  const gtMatched = new Uint8Array(T * G);
  const dtMatched = new Uint8Array(T * D);
  const dtIgnore = new Uint8Array(T * D);
  if (G > 0 && D > 0) {
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < D; d++) {
        let best = Math.min(params.iouThrs[t]!, 1 - 1e-10);
        let m = -1;
        for (const g of gtOrder) {
          if (gtMatched[t * G + g] && !gts[g]!.crowd) continue; // matched, and not a crowd
          if (m > -1 && !ignore[m] && ignore[g]) break; // matched a regular gt; only ignored ones left
          const iou = ious[d * G + g]!;
          if (iou < best) continue;
          best = iou;
          m = g;
        }
        if (m === -1) continue;
        dtIgnore[t * D + d] = ignore[m] ? 1 : 0;
        dtMatched[t * D + d] = 1;
        gtMatched[t * G + m] = 1;
      }
    }
  }
  // unmatched detections outside the area range are ignored
  dts.forEach((dt, d) => {
    if (dt.area < aRng[0] || dt.area > aRng[1]) {
      for (let t = 0; t < T; t++) if (!dtMatched[t * D + d]) dtIgnore[t * D + d] = 1;
    }
  });
  return { dtScores: dts.map((d) => d.score), dtMatched, dtIgnore, numGt: ignore.filter((i) => !i).length };
}

interface Prepared {
  imgIds: number[];
  catIds: number[];
  /** key `${imgId},${catId}` */
  gts: Map<string, Gt[]>;
  dts: Map<string, Dt[]>;
  /** keypoint evaluation: σ per keypoint */
  sigmas: number[] | null;
}

function prepare(gt: CocoDataset, results: readonly CocoResult[], iouType: CocoIouType, params: EvalParams): Prepared {
  if (typeof gt !== 'object' || gt === null || !Array.isArray(gt.images) || !Array.isArray(gt.annotations) || !Array.isArray(gt.categories)) {
    throw new CocoEvalError(`expected a COCO ground truth {images: […], annotations: […], categories: […]}; found keys ${describe(gt && Object.keys(gt))}`);
  }
  if (!Array.isArray(results)) throw new CocoEvalError(`expected the results as an array of {image_id, category_id, score, bbox | segmentation | keypoints}; found ${describe(results)}`);
  const images = new Map<number, CocoImage>();
  for (const img of gt.images) {
    if (!Number.isInteger(img?.id) || !Number.isInteger(img.width) || !Number.isInteger(img.height)) {
      throw new CocoEvalError(`ground-truth image ${describe(img)}: expected integer id, width and height`);
    }
    if (images.has(img.id)) throw new CocoEvalError(`ground truth lists image id ${img.id} twice; image ids must be unique`);
    images.set(img.id, img);
  }
  const catIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b);
  if (!catIds.every(Number.isInteger)) throw new CocoEvalError(`ground-truth categories need integer ids; found ${describe(gt.categories.map((c) => c.id))}`);
  const cats = new Set(catIds);
  const key = (img: number, cat: number) => `${img},${cat}`;
  const push = <V>(map: Map<string, V[]>, k: string, v: V) => {
    const list = map.get(k);
    if (list) list.push(v);
    else map.set(k, [v]);
  };

  const kp = iouType === 'keypoints' ? keypointSigmas(gt, results, params.kpt_oks_sigmas) : null;
  const K = kp ? kp.sigmas.length : 0;
  if (kp) {
    for (const c of gt.categories) {
      if (c.keypoints !== undefined && (!Array.isArray(c.keypoints) || c.keypoints.length !== K)) {
        throw new CocoEvalError(`category ${c.id} (${c.name}) names ${Array.isArray(c.keypoints) ? c.keypoints.length : describe(c.keypoints)} keypoints; the evaluation has K = ${K} (from ${kp.kFrom}): the names, the annotations and the sigmas must agree`);
      }
    }
  }

  const gts = new Map<string, Gt[]>();
  gt.annotations.forEach((a, n) => {
    const where = `ground-truth annotation ${a?.id ?? `#${n}`}`;
    const image = images.get(a?.image_id);
    if (!image) throw new CocoEvalError(`${where}: image_id ${describe(a?.image_id)} is not among the ground truth's images`);
    if (!cats.has(a.category_id)) throw new CocoEvalError(`${where}: category_id ${describe(a.category_id)} is not among the categories [${catIds.join(', ')}]`);
    if (!isFiniteNumber(a.area) || a.area < 0) throw new CocoEvalError(`${where}: expected a finite area ≥ 0; found ${describe(a.area)}`);
    const box = checkBox(a.bbox, where);
    const runs = iouType === 'segm' ? checkRle(a.segmentation, image, where) : null;
    const crowd = Boolean(a.iscrowd);
    let ignore = crowd;
    let keypoints: number[] | null = null;
    if (kp) {
      keypoints = checkKeypoints(a.keypoints, K, kp.kFrom, where, '[x, y, v]');
      if (!Number.isInteger(a.num_keypoints) || a.num_keypoints! < 0) {
        throw new CocoEvalError(`${where}: keypoint evaluation needs num_keypoints (how many keypoints are labelled, v > 0; 0 makes the gt an ignore region); found ${describe(a.num_keypoints)}`);
      }
      ignore = crowd || a.num_keypoints === 0;
    }
    push(gts, key(a.image_id, a.category_id), { id: a.id, area: a.area, crowd, ignore, region: { box, runs, area: runs ? runsArea(runs) : box[2]! * box[3]! }, keypoints });
  });

  const unknown = new Set<unknown>();
  for (const r of results) if (!images.has(r?.image_id)) unknown.add(r?.image_id);
  if (unknown.size > 0) {
    const list = [...unknown].slice(0, 10).map(describe).join(', ');
    throw new CocoEvalError(
      `${unknown.size} image id(s) in the results are not in the ground truth (${list}${unknown.size > 10 ? ', …' : ''}); ` +
        `the ground truth has ${images.size} images (ids ${[...images.keys()].slice(0, 5).join(', ')}${images.size > 5 ? ', …' : ''}): evaluate the results against the annotations they were made for`,
    );
  }
  const dts = new Map<string, Dt[]>();
  // pycocotools' loadRes: keypoint results take their area from their bbox when the first one has a
  // non-empty bbox, from the extent of their keypoints otherwise
  const first = results[0]?.bbox;
  const kpAreaFromBox = first !== undefined && !(Array.isArray(first) && first.length === 0);
  results.forEach((r, n) => {
    const where = `result #${n} (image ${r.image_id})`;
    if (!cats.has(r.category_id)) throw new CocoEvalError(`${where}: category_id ${describe(r.category_id)} is not among the ground truth's categories [${catIds.join(', ')}]; check the label mapping`);
    if (!isFiniteNumber(r.score)) throw new CocoEvalError(`${where}: expected a finite score; found ${describe(r.score)}`);
    let region: Region;
    let keypoints: number[] | null = null;
    if (iouType === 'bbox') {
      const box = checkBox(r.bbox, where);
      region = { box, runs: null, area: box[2]! * box[3]! };
    } else if (iouType === 'segm') {
      if (r.segmentation === undefined) throw new CocoEvalError(`${where}: segm evaluation needs a segmentation (COCO RLE) in every result`);
      const runs = checkRle(r.segmentation, images.get(r.image_id)!, where);
      region = { box: [], runs, area: runsArea(runs) };
    } else {
      if (r.keypoints === undefined) throw new CocoEvalError(`${where}: keypoint evaluation needs keypoints [x, y, score]×K in every result`);
      keypoints = checkKeypoints(r.keypoints, K, kp!.kFrom, where, '[x, y, score]');
      if (kpAreaFromBox) {
        const box = checkBox(r.bbox, `${where} (the first result has a bbox, so every result needs one: it gives the detection's area, as in pycocotools)`);
        region = { box, runs: null, area: box[2]! * box[3]! };
      } else {
        region = { box: [], runs: null, area: keypointsExtentArea(keypoints) };
      }
    }
    push(dts, key(r.image_id, r.category_id), { score: r.score, area: region.area, region, keypoints });
  });
  return { imgIds: [...images.keys()].sort((a, b) => a - b), catIds, gts, dts, sigmas: kp ? kp.sigmas : null };
}

/**
 * Evaluate results against a COCO ground truth: pycocotools' evaluate() + accumulate() +
 * summarize() ('keypoints': with _summarizeKps' 10 numbers). `params` defaults to
 * defaultParams(iouType). Throws CocoEvalError on malformed input, naming the record.
 */
export function evaluateCoco(gt: CocoDataset, results: readonly CocoResult[], iouType: 'keypoints', params?: EvalParams): CocoKeypointEvaluation;
export function evaluateCoco(gt: CocoDataset, results: readonly CocoResult[], iouType: IouType, params?: EvalParams): CocoEvaluation;
export function evaluateCoco(gt: CocoDataset, results: readonly CocoResult[], iouType: CocoIouType, params?: EvalParams): CocoEvaluation | CocoKeypointEvaluation;
export function evaluateCoco(gt: CocoDataset, results: readonly CocoResult[], iouType: CocoIouType, params: EvalParams = defaultParams(iouType)): CocoEvaluation | CocoKeypointEvaluation {
  if (iouType !== 'bbox' && iouType !== 'segm' && iouType !== 'keypoints') throw new CocoEvalError(`iouType must be 'bbox', 'segm' or 'keypoints'; found ${describe(iouType)}`);
  const { imgIds, catIds, gts, dts, sigmas } = prepare(gt, results, iouType, params);
  const T = params.iouThrs.length;
  const R = params.recThrs.length;
  const K = catIds.length;
  const A = params.areaRng.length;
  const M = params.maxDets.length;
  const maxDet = params.maxDets[M - 1]!;

  // evaluate(): evalImgs[k][a][i]
  const evalImgs: (EvalImg | null)[][][] = catIds.map(() => params.areaRng.map(() => []));
  catIds.forEach((catId, k) => {
    for (const imgId of imgIds) {
      const g = gts.get(`${imgId},${catId}`) ?? [];
      const all = dts.get(`${imgId},${catId}`) ?? [];
      const d = byScore(all.map((x) => x.score)).slice(0, maxDet).map((i) => all[i]!);
      const ious = new Float64Array(d.length * g.length);
      d.forEach((dt, i) =>
        g.forEach((gt, j) => {
          ious[i * g.length + j] =
            iouType === 'bbox'
              ? boxIou(dt.region.box, gt.region.box, gt.crowd)
              : iouType === 'segm'
                ? maskIou(dt.region, gt.region, gt.crowd)
                : keypointOks(dt.keypoints!, gt.keypoints!, gt.region.box, gt.area, sigmas!);
        }),
      );
      params.areaRng.forEach((aRng, a) => evalImgs[k]![a]!.push(evaluateImg(g, d, ious, aRng, params)));
    }
  });

  // accumulate()
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      const E = evalImgs[k]![a]!.filter((e): e is EvalImg => e !== null);
      if (E.length === 0) continue;
      const npig = E.reduce((n, e) => n + e.numGt, 0);
      if (npig === 0) continue;
      for (let m = 0; m < M; m++) {
        const md = params.maxDets[m]!;
        // concatenate the first md detections of each image, then sort all by score (stable)
        const scores: number[] = [];
        const src: [EvalImg, number][] = [];
        for (const e of E) {
          for (let d = 0; d < Math.min(md, e.dtScores.length); d++) {
            scores.push(e.dtScores[d]!);
            src.push([e, d]);
          }
        }
        const order = byScore(scores);
        const nd = order.length;
        for (let t = 0; t < T; t++) {
          const rc = new Float64Array(nd);
          const pr = new Float64Array(nd);
          let tp = 0;
          let fp = 0;
          order.forEach((o, i) => {
            const [e, d] = src[o]!;
            const D = e.dtScores.length;
            if (!e.dtIgnore[t * D + d]) {
              if (e.dtMatched[t * D + d]) tp++;
              else fp++;
            }
            rc[i] = tp / npig;
            pr[i] = tp / (fp + tp + EPS);
          });
          recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1]! : 0;
          for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
          // searchsorted(rc, recThrs, 'left'): first i with rc[i] ≥ r; precision 0 past the end
          let i = 0;
          for (let r = 0; r < R; r++) {
            while (i < nd && rc[i]! < params.recThrs[r]!) i++;
            precision[(((t * R + r) * K + k) * A + a) * M + m] = i < nd ? pr[i]! : 0;
          }
        }
      }
    }
  }
  if (iouType === 'keypoints') {
    const evaluation = { iouType, params: { ...params, kpt_oks_sigmas: sigmas! }, imgIds, catIds, precision, recall };
    return { ...evaluation, stats: summarizeKeypoints(evaluation) };
  }
  const evaluation = { iouType, params, imgIds, catIds, precision, recall };
  return { ...evaluation, stats: summarize(evaluation) };
}

/** What the summary reads of an evaluation. */
type Accumulated = Pick<CocoEvaluation, 'params' | 'catIds' | 'precision' | 'recall'>;

/** Mean of the entries > −1 of precision (ap) or recall for one IoU threshold (or all), area range and maxDets; −1 if none. */
function meanOf(e: Accumulated, ap: boolean, iouThr: number | null, areaLbl: string, maxDets: number, onlyK?: number): number {
  const { params, catIds } = e;
  const T = params.iouThrs.length;
  const R = params.recThrs.length;
  const K = catIds.length;
  const A = params.areaRng.length;
  const M = params.maxDets.length;
  const a = params.areaRngLbl.indexOf(areaLbl);
  const m = params.maxDets.indexOf(maxDets);
  if (a < 0 || m < 0) return -1;
  let sum = 0;
  let n = 0;
  for (let t = 0; t < T; t++) {
    if (iouThr !== null && params.iouThrs[t] !== iouThr) continue;
    for (let k = 0; k < K; k++) {
      if (onlyK !== undefined && k !== onlyK) continue;
      for (let r = 0; r < (ap ? R : 1); r++) {
        const v = ap ? e.precision[(((t * R + r) * K + k) * A + a) * M + m]! : e.recall[((t * K + k) * A + a) * M + m]!;
        if (v > -1) {
          sum += v;
          n++;
        }
      }
    }
  }
  return n === 0 ? -1 : sum / n;
}

const lastOf = (maxDets: readonly number[]) => maxDets[maxDets.length - 1]!;

/**
 * Per category: AP (IoU 0.50:0.95, all areas, the largest maxDets) and the AR beside it: AR100 in
 * bbox/segm evaluation, AR (at maxDets 20) in keypoint evaluation; −1 where the category has no gt.
 */
export function perCategory(e: CocoKeypointEvaluation): { categoryId: number; AP: number; AR: number }[];
export function perCategory(e: CocoEvaluation): { categoryId: number; AP: number; AR100: number }[];
export function perCategory(e: CocoEvaluation | CocoKeypointEvaluation): { categoryId: number; AP: number; AR?: number; AR100?: number }[] {
  const last = lastOf(e.params.maxDets);
  return e.catIds.map((categoryId, k) => {
    const AP = meanOf(e, true, null, 'all', last, k);
    const AR = meanOf(e, false, null, 'all', last, k);
    return e.iouType === 'keypoints' ? { categoryId, AP, AR } : { categoryId, AP, AR100: AR };
  });
}

/** One line of pycocotools' printed summary: AP or AR, IoU threshold (null: all), area range label, maxDets. */
type SummaryRow = [ap: boolean, iouThr: number | null, area: string, maxDets: number];

/** The rows of pycocotools' `_summarizeDets` (12), in the order of CocoSummary. */
function detectionRows(maxDets: readonly number[]): [keyof CocoSummary, SummaryRow][] {
  const last = lastOf(maxDets);
  return [
    ['AP', [true, null, 'all', last]],
    ['AP50', [true, 0.5, 'all', last]],
    ['AP75', [true, 0.75, 'all', last]],
    ['APs', [true, null, 'small', last]],
    ['APm', [true, null, 'medium', last]],
    ['APl', [true, null, 'large', last]],
    ['AR1', [false, null, 'all', maxDets[0]!]],
    ['AR10', [false, null, 'all', maxDets[1] ?? last]],
    ['AR100', [false, null, 'all', last]],
    ['ARs', [false, null, 'small', last]],
    ['ARm', [false, null, 'medium', last]],
    ['ARl', [false, null, 'large', last]],
  ];
}

/**
 * The rows of pycocotools' `_summarizeKps` (10), in the order of CocoKeypointSummary. pycocotools
 * reads them at maxDets = 20, the default; with other maxDets they are read at the largest.
 */
function keypointRows(maxDets: readonly number[]): [keyof CocoKeypointSummary, SummaryRow][] {
  const last = lastOf(maxDets);
  return [
    ['AP', [true, null, 'all', last]],
    ['AP50', [true, 0.5, 'all', last]],
    ['AP75', [true, 0.75, 'all', last]],
    ['APm', [true, null, 'medium', last]],
    ['APl', [true, null, 'large', last]],
    ['AR', [false, null, 'all', last]],
    ['AR50', [false, 0.5, 'all', last]],
    ['AR75', [false, 0.75, 'all', last]],
    ['ARm', [false, null, 'medium', last]],
    ['ARl', [false, null, 'large', last]],
  ];
}

/** pycocotools `summarize()` for bbox/segm: the 12 standard numbers. */
function summarize(e: Accumulated): CocoSummary {
  return Object.fromEntries(detectionRows(e.params.maxDets).map(([name, [ap, iou, area, dets]]) => [name, meanOf(e, ap, iou, area, dets)])) as unknown as CocoSummary;
}

/** pycocotools `summarize()` for keypoints (`_summarizeKps`): the 10 numbers. */
function summarizeKeypoints(e: Accumulated): CocoKeypointSummary {
  return Object.fromEntries(keypointRows(e.params.maxDets).map(([name, [ap, iou, area, dets]]) => [name, meanOf(e, ap, iou, area, dets)])) as unknown as CocoKeypointSummary;
}

/** The summary as pycocotools prints it (12 lines for bbox/segm, 10 for keypoints). */
export function formatSummary(e: CocoEvaluation | CocoKeypointEvaluation): string {
  const p = e.params;
  const iouAll = `${p.iouThrs[0]!.toFixed(2)}:${p.iouThrs[p.iouThrs.length - 1]!.toFixed(2)}`;
  const stats = e.stats as unknown as Record<string, number>;
  const rows = e.iouType === 'keypoints' ? keypointRows(p.maxDets) : detectionRows(p.maxDets);
  return rows
    .map(([name, [ap, iouThr, area, dets]]) => {
      const iou = iouThr === null ? iouAll : iouThr.toFixed(2);
      return ` ${(ap ? 'Average Precision' : 'Average Recall').padEnd(18)} ${ap ? '(AP)' : '(AR)'} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(dets).padStart(3)} ] = ${stats[name]!.toFixed(3)}`;
    })
    .join('\n');
}

/** The six AP numbers the project reports, as eval.json holds them per IoU type. */
export type ApNumbers = Pick<CocoSummary, 'AP' | 'AP50' | 'AP75' | 'APs' | 'APm' | 'APl'>;
/** The five AP numbers of a keypoint evaluation (no small area range). */
export type KeypointApNumbers = Pick<CocoKeypointSummary, 'AP' | 'AP50' | 'AP75' | 'APm' | 'APl'>;

/** The AP numbers the project reports: {AP, AP50, AP75, APs, APm, APl}, or {AP, AP50, AP75, APm, APl} for keypoints. */
export function apOf(stats: CocoKeypointSummary): KeypointApNumbers;
export function apOf(stats: CocoSummary): ApNumbers;
export function apOf(stats: CocoSummary | CocoKeypointSummary): ApNumbers | KeypointApNumbers {
  if (!('APs' in stats)) {
    const { AP, AP50, AP75, APm, APl } = stats;
    return { AP, AP50, AP75, APm, APl };
  }
  const { AP, AP50, AP75, APs, APm, APl } = stats;
  return { AP, AP50, AP75, APs, APm, APl };
}
