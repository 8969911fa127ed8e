/**
 * COCO-style detection evaluation (bbox and segm), following pycocotools' `COCOeval` (evaluate,
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
 */
import { type CocoRle, RleError, stringToCounts } from '../io/rle.ts';

export type IouType = 'bbox' | 'segm';

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
  /** person keypoints, flat [x, y, v] × K (v: 0 not labelled, 1 occluded, 2 visible) */
  keypoints?: number[];
  /** number of keypoints with v > 0 */
  num_keypoints?: number;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
  /** keypoint names of a category with keypoints */
  keypoints?: string[];
  /** limbs as 1-based keypoint index pairs */
  skeleton?: number[][];
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
}

export interface EvalParams {
  iouThrs: number[];
  recThrs: number[];
  /** ascending; the last is the number of detections per image that are kept */
  maxDets: number[];
  areaRng: [number, number][];
  areaRngLbl: string[];
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

export class CocoEvalError extends Error {
  override name = 'CocoEvalError';
}

/** numpy.linspace(start, stop, num): i·step + start, the last value exactly `stop`. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
}

/** pycocotools' default Params for bbox/segm. */
export function defaultParams(): EvalParams {
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
// Evaluation

interface Gt {
  id: number;
  area: number;
  crowd: boolean;
  region: Region;
}

interface Dt {
  score: number;
  area: number;
  region: Region;
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
  const ignore = gts.map((g) => g.crowd || g.area < aRng[0] || g.area > aRng[1]);
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
}

function prepare(gt: CocoDataset, results: readonly CocoResult[], iouType: IouType): Prepared {
  if (typeof gt !== 'object' || gt === null || !Array.isArray(gt.images) || !Array.isArray(gt.annotations) || !Array.isArray(gt.categories)) {
    throw new CocoEvalError(`expected a COCO ground truth {images: […], annotations: […], categories: […]}; found keys ${describe(gt && Object.keys(gt))}`);
  }
  if (!Array.isArray(results)) throw new CocoEvalError(`expected the results as an array of {image_id, category_id, score, bbox | segmentation}; found ${describe(results)}`);
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

  const gts = new Map<string, Gt[]>();
  gt.annotations.forEach((a, n) => {
    const where = `ground-truth annotation ${a?.id ?? `#${n}`}`;
    const image = images.get(a?.image_id);
    if (!image) throw new CocoEvalError(`${where}: image_id ${describe(a?.image_id)} is not among the ground truth's images`);
    if (!cats.has(a.category_id)) throw new CocoEvalError(`${where}: category_id ${describe(a.category_id)} is not among the categories [${catIds.join(', ')}]`);
    if (!isFiniteNumber(a.area) || a.area < 0) throw new CocoEvalError(`${where}: expected a finite area ≥ 0; found ${describe(a.area)}`);
    const box = checkBox(a.bbox, where);
    const runs = iouType === 'segm' ? checkRle(a.segmentation, image, where) : null;
    push(gts, key(a.image_id, a.category_id), { id: a.id, area: a.area, crowd: Boolean(a.iscrowd), region: { box, runs, area: runs ? runsArea(runs) : box[2]! * box[3]! } });
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
  results.forEach((r, n) => {
    const where = `result #${n} (image ${r.image_id})`;
    if (!cats.has(r.category_id)) throw new CocoEvalError(`${where}: category_id ${describe(r.category_id)} is not among the ground truth's categories [${catIds.join(', ')}]; check the label mapping`);
    if (!isFiniteNumber(r.score)) throw new CocoEvalError(`${where}: expected a finite score; found ${describe(r.score)}`);
    let region: Region;
    if (iouType === 'bbox') {
      const box = checkBox(r.bbox, where);
      region = { box, runs: null, area: box[2]! * box[3]! };
    } else {
      if (r.segmentation === undefined) throw new CocoEvalError(`${where}: segm evaluation needs a segmentation (COCO RLE) in every result`);
      const runs = checkRle(r.segmentation, images.get(r.image_id)!, where);
      region = { box: [], runs, area: runsArea(runs) };
    }
    push(dts, key(r.image_id, r.category_id), { score: r.score, area: region.area, region });
  });
  return { imgIds: [...images.keys()].sort((a, b) => a - b), catIds, gts, dts };
}

/**
 * Evaluate results against a COCO ground truth: pycocotools' evaluate() + accumulate() +
 * summarize(). Throws CocoEvalError on malformed input, naming the record.
 */
export function evaluateCoco(gt: CocoDataset, results: readonly CocoResult[], iouType: IouType, params: EvalParams = defaultParams()): CocoEvaluation {
  if (iouType !== 'bbox' && iouType !== 'segm') throw new CocoEvalError(`iouType must be 'bbox' or 'segm'; found ${describe(iouType)}`);
  const { imgIds, catIds, gts, dts } = prepare(gt, results, iouType);
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
          ious[i * g.length + j] = iouType === 'bbox' ? boxIou(dt.region.box, gt.region.box, gt.crowd) : maskIou(dt.region, gt.region, gt.crowd);
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
  const evaluation = { iouType, params, imgIds, catIds, precision, recall };
  return { ...evaluation, stats: summarize(evaluation) };
}

/** Mean of the entries > −1 of precision (ap) or recall for one IoU threshold (or all), area range and maxDets; −1 if none. */
function meanOf(e: Omit<CocoEvaluation, 'stats'>, ap: boolean, iouThr: number | null, areaLbl: string, maxDets: number, onlyK?: number): number {
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

/** Per category: AP (IoU 0.50:0.95, all areas, maxDets 100) and AR100, −1 where the category has no gt. */
export function perCategory(e: CocoEvaluation): { categoryId: number; AP: number; AR100: number }[] {
  const last = e.params.maxDets[e.params.maxDets.length - 1]!;
  return e.catIds.map((categoryId, k) => ({
    categoryId,
    AP: meanOf(e, true, null, 'all', last, k),
    AR100: meanOf(e, false, null, 'all', last, k),
  }));
}

/** pycocotools `summarize()` for bbox/segm: the 12 standard numbers. */
function summarize(e: Omit<CocoEvaluation, 'stats'>): CocoSummary {
  const md = e.params.maxDets;
  const last = md[md.length - 1]!;
  return {
    AP: meanOf(e, true, null, 'all', last),
    AP50: meanOf(e, true, 0.5, 'all', last),
    AP75: meanOf(e, true, 0.75, 'all', last),
    APs: meanOf(e, true, null, 'small', last),
    APm: meanOf(e, true, null, 'medium', last),
    APl: meanOf(e, true, null, 'large', last),
    AR1: meanOf(e, false, null, 'all', md[0]!),
    AR10: meanOf(e, false, null, 'all', md[1] ?? last),
    AR100: meanOf(e, false, null, 'all', last),
    ARs: meanOf(e, false, null, 'small', last),
    ARm: meanOf(e, false, null, 'medium', last),
    ARl: meanOf(e, false, null, 'large', last),
  };
}

/** The summary as pycocotools prints it (12 lines). */
export function formatSummary(e: CocoEvaluation): string {
  const p = e.params;
  const md = p.maxDets;
  const last = md[md.length - 1]!;
  const iouAll = `${p.iouThrs[0]!.toFixed(2)}:${p.iouThrs[p.iouThrs.length - 1]!.toFixed(2)}`;
  const rows: [boolean, string, string, number, number][] = [
    [true, iouAll, 'all', last, e.stats.AP],
    [true, '0.50', 'all', last, e.stats.AP50],
    [true, '0.75', 'all', last, e.stats.AP75],
    [true, iouAll, 'small', last, e.stats.APs],
    [true, iouAll, 'medium', last, e.stats.APm],
    [true, iouAll, 'large', last, e.stats.APl],
    [false, iouAll, 'all', md[0]!, e.stats.AR1],
    [false, iouAll, 'all', md[1] ?? last, e.stats.AR10],
    [false, iouAll, 'all', last, e.stats.AR100],
    [false, iouAll, 'small', last, e.stats.ARs],
    [false, iouAll, 'medium', last, e.stats.ARm],
    [false, iouAll, 'large', last, e.stats.ARl],
  ];
  return rows
    .map(([ap, iou, area, dets, v]) => ` ${(ap ? 'Average Precision' : 'Average Recall').padEnd(18)} ${ap ? '(AP)' : '(AR)'} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(dets).padStart(3)} ] = ${v.toFixed(3)}`)
    .join('\n');
}

/** The six AP numbers the project reports, as eval.json holds them per IoU type. */
export type ApNumbers = Pick<CocoSummary, 'AP' | 'AP50' | 'AP75' | 'APs' | 'APm' | 'APl'>;

/** The six AP numbers the project reports ({AP, AP50, AP75, APs, APm, APl}). */
export function apOf(stats: CocoSummary): ApNumbers {
  const { AP, AP50, AP75, APs, APm, APl } = stats;
  return { AP, AP50, AP75, APs, APm, APl };
}

