/**
 * COCO evaluator: hand-computed cases (each expectation derived in the comment next to it from
 * pycocotools' rules: match when IoU ≥ threshold, greedy in score order, precision made monotone from
 * the right, read at the 101 recall thresholds 0, 0.01, …, 1 at the first detection reaching each),
 * a published pycocotools result reproduced to the printed 3 decimals, and bad input.
 *
 * Note on "precision 1": pycocotools divides by tp + fp + ε (ε = 2.2e-16), so a perfect list has
 * precision 1/(1 + ε) = 0.9999999999999998; expectations use toBeCloseTo(…, 10).
 */
import { describe, expect, it } from 'vitest';
import {
  type CocoAnnotation,
  type CocoDataset,
  CocoEvalError,
  type CocoResult,
  defaultParams,
  evaluateCoco,
  formatSummary,
  perCategory,
} from '../src/eval/coco_eval.ts';
import { encodeRle } from '../src/io/rle.ts';

type Box = [number, number, number, number];

/** Ground truth with images 1…n (100×100 unless said) and categories 1, 2. */
function groundTruth(anns: { image?: number; cat?: number; box: Box; area?: number; crowd?: boolean }[], images = 1): CocoDataset {
  return {
    images: Array.from({ length: images }, (_, i) => ({ id: i + 1, width: 100, height: 100 })),
    categories: [
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ],
    annotations: anns.map(
      (a, i): CocoAnnotation => ({
        id: i + 1,
        image_id: a.image ?? 1,
        category_id: a.cat ?? 1,
        bbox: a.box,
        area: a.area ?? a.box[2] * a.box[3],
        iscrowd: a.crowd ? 1 : 0,
      }),
    ),
  };
}

const det = (box: Box, score: number, image = 1, cat = 1): CocoResult => ({ image_id: image, category_id: cat, score, bbox: box });
const bboxAP = (gt: CocoDataset, dts: CocoResult[]) => evaluateCoco(gt, dts, 'bbox').stats;

describe('evaluateCoco, hand-computed bbox cases', () => {
  it('a perfect detector (3 gts, small/medium/large, 2 categories, 2 images) has AP = AP50 = AP75 = APs = APm = APl = AR = 1', () => {
    const gt = groundTruth(
      [
        { image: 1, cat: 1, box: [0, 0, 20, 20] }, // area 400: small
        { image: 1, cat: 2, box: [0, 0, 99, 99] }, // 9801: large
        { image: 2, cat: 1, box: [10, 10, 50, 50] }, // 2500: medium
      ],
      2,
    );
    const s = bboxAP(gt, [det([0, 0, 20, 20], 0.9, 1, 1), det([0, 0, 99, 99], 0.8, 1, 2), det([10, 10, 50, 50], 0.7, 2, 1)]);
    for (const k of ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const) expect(s[k], k).toBeCloseTo(1, 10);
  });

  it('one gt, one detection at IoU 0.58: matches at thresholds 0.50 and 0.55 only → AP = 2/10 = 0.2, AP50 = 1, AP75 = 0', () => {
    // gt 10×10, detection 5.8×10 inside it: IoU = 58/100
    const s = bboxAP(groundTruth([{ box: [0, 0, 10, 10] }]), [det([0, 0, 5.8, 10], 0.9)]);
    expect(s.AP).toBeCloseTo(0.2, 10);
    expect(s.AP50).toBeCloseTo(1, 10);
    expect(s.AP75).toBe(0);
  });

  it('one gt, one detection at IoU exactly 0.6: pycocotools matches IoU ≥ threshold, so 0.50, 0.55, 0.60 → AP = 0.3', () => {
    // IoU = 60/100 = 0.6 exactly, and the third threshold of linspace(0.5, 0.95, 10) is exactly 0.6
    expect(defaultParams().iouThrs[2]).toBe(0.6);
    expect(bboxAP(groundTruth([{ box: [0, 0, 10, 10] }]), [det([0, 0, 6, 10], 0.9)]).AP).toBeCloseTo(0.3, 10);
  });

  it('two detections of one gt, swapping scores: perfect (IoU 1) first → AP 1; the IoU-0.56 one first → AP 0.6', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10] }]);
    const perfect: Box = [0, 0, 10, 10];
    const loose: Box = [0, 0, 5.6, 10]; // IoU 0.56: matches at 0.50 and 0.55
    // perfect first: at every threshold TP then FP (duplicate) → precision [1, 0.5] → envelope keeps 1 at recall 1 → AP 1
    expect(bboxAP(gt, [det(perfect, 0.9), det(loose, 0.8)]).AP).toBeCloseTo(1, 10);
    // loose first: at 0.50, 0.55 it takes the gt (TP), the perfect one is a duplicate (FP) → 1;
    // at 0.60 … 0.95 loose is a FP, perfect a TP: precision [0, 1/2], recall [0, 1] → 0.5 at all 101 points.
    // AP = (2·1 + 8·0.5) / 10 = 0.6
    expect(bboxAP(gt, [det(perfect, 0.8), det(loose, 0.9)]).AP).toBeCloseTo(0.6, 10);
  });

  it('a false positive ranked above the only true positive: precision [0, 1/2] → 1/2 at every recall point → AP 0.5', () => {
    const s = bboxAP(groundTruth([{ box: [0, 0, 10, 10] }]), [det([50, 50, 10, 10], 0.9), det([0, 0, 10, 10], 0.8)]);
    expect(s.AP).toBeCloseTo(0.5, 10);
    expect(s.AR100).toBeCloseTo(1, 10);
  });

  it('TP, FP, TP over 3 gts (one missed): 101-point interpolation gives (34·1 + 33·2/3) / 101 = 56/101', () => {
    // recall    [1/3, 1/3, 2/3]; precision [1, 1/2, 2/3] → monotone from the right [1, 2/3, 2/3]
    // recall thresholds 0.00 … 0.33 (34 points) reach index 0 → 1;
    //                   0.34 … 0.66 (33 points) first reach 2/3 at index 2 → 2/3;
    //                   0.67 … 1.00 (34 points) are never reached → 0
    const gt = groundTruth([{ box: [0, 0, 10, 10] }, { box: [20, 0, 10, 10] }, { box: [40, 0, 10, 10] }]);
    const s = bboxAP(gt, [det([0, 0, 10, 10], 0.9), det([70, 70, 10, 10], 0.8), det([20, 0, 10, 10], 0.7)]);
    expect(s.AP).toBeCloseTo(56 / 101, 10);
    expect(s.AR100).toBeCloseTo(2 / 3, 10);
  });

  it('area ranges: small and large found, medium missed, one medium-sized FP → AP 67/101, APs 1, APm 0, APl 1', () => {
    // gts: small 20×20 (400), medium 40×40 (1600), large 100×100 (10000); detections: small exact (0.9),
    // large exact (0.8), a 40×40 FP elsewhere (0.7).
    // all:    TP, TP, FP over 3 gts → recall [1/3, 2/3, 2/3], precision [1, 1, 2/3] → 1 up to recall 0.66 (67 points), 0 after
    // small:  the large gt and the large detection are ignored; the FP (area 1600) is outside the range → ignored: AP 1
    // medium: small/large gts ignored (their detections matched to them are ignored too); the FP counts; no TP → 0
    // large:  symmetric to small → 1
    const gt = groundTruth([{ box: [0, 0, 20, 20] }, { box: [30, 0, 40, 40] }, { box: [0, 0, 100, 100], cat: 2 }, { box: [0, 0, 100, 100] }]);
    gt.annotations.splice(2, 1); // keep category 2 without gts: it must not count
    const s = bboxAP(gt, [det([0, 0, 20, 20], 0.9), det([0, 0, 100, 100], 0.8), det([55, 55, 40, 40], 0.7)]);
    expect(s.AP).toBeCloseTo(67 / 101, 10);
    expect(s.APs).toBeCloseTo(1, 10);
    expect(s.APm).toBe(0);
    expect(s.APl).toBeCloseTo(1, 10);
  });

  it('area bounds are inclusive: a 32×32 gt (area 1024) counts as small and as medium; no large gt → APl = −1', () => {
    const s = bboxAP(groundTruth([{ box: [0, 0, 32, 32] }]), [det([0, 0, 32, 32], 0.9)]);
    expect(s.APs).toBeCloseTo(1, 10);
    expect(s.APm).toBeCloseTo(1, 10);
    expect(s.APl).toBe(-1);
    expect(s.ARl).toBe(-1);
  });

  it('gt area comes from the annotation, not the box: a 50×50 box with area 500 is small', () => {
    const s = bboxAP(groundTruth([{ box: [0, 0, 50, 50], area: 500 }]), [det([0, 0, 50, 50], 0.9)]);
    expect(s.APs).toBeCloseTo(1, 10);
    expect(s.APm).toBe(-1);
  });

  it('crowd: detections inside an iscrowd region (IoU = intersection / detection area = 1) are ignored → AP 1; as a normal gt they are FPs → AP 51/101', () => {
    const anns = [{ box: [0, 0, 10, 10] as Box }, { box: [50, 50, 40, 40] as Box, crowd: true }];
    const dts = [det([0, 0, 10, 10], 0.9), det([55, 55, 10, 10], 0.8), det([60, 60, 10, 10], 0.7)];
    // one crowd region absorbs both detections; no FP; the crowd is not a gt to find
    expect(bboxAP(groundTruth(anns), dts).AP).toBeCloseTo(1, 10);
    // not crowd: IoU 100/1600 < 0.5 → two FPs after the TP; 2 gts: recall [1/2, 1/2, 1/2],
    // precision [1, 1/2, 1/3] → envelope 1 up to recall 0.50 (51 points), then 0 → AP 51/101
    const plain = groundTruth([anns[0]!, { box: anns[1]!.box }]);
    expect(bboxAP(plain, dts).AP).toBeCloseTo(51 / 101, 10);
  });

  it('a detection prefers a regular gt at IoU 0.6 over a crowd at IoU 1 → TP at 0.50–0.60, ignored above → AP 0.3', () => {
    // pycocotools tries regular gts first and never trades a regular match for an ignored one
    const gt = groundTruth([{ box: [0, 0, 10, 10] }, { box: [0, 0, 6, 10], crowd: true }]);
    expect(bboxAP(gt, [det([0, 0, 6, 10], 0.9)]).AP).toBeCloseTo(0.3, 10);
  });

  it('a category with only crowd gts has no AP (−1) and is left out of the mean', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10], cat: 1 }, { box: [50, 50, 10, 10], cat: 2, crowd: true }]);
    const e = evaluateCoco(gt, [det([0, 0, 10, 10], 0.9, 1, 1), det([50, 50, 10, 10], 0.9, 1, 2)], 'bbox');
    expect(perCategory(e).map((c) => c.AP)).toEqual([expect.closeTo(1, 10), -1]);
    expect(e.stats.AP).toBeCloseTo(1, 10);
  });

  it('AP is the mean over categories with gts: category 1 perfect (1), category 2 missed (0) → 0.5', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10], cat: 1 }, { box: [50, 50, 10, 10], cat: 2 }]);
    expect(bboxAP(gt, [det([0, 0, 10, 10], 0.9, 1, 1)]).AP).toBeCloseTo(0.5, 10);
  });

  it('maxDets: two gts found by two detections in one image → AR1 = 0.5, AR10 = AR100 = 1', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10] }, { box: [50, 50, 10, 10] }]);
    const s = bboxAP(gt, [det([0, 0, 10, 10], 0.9), det([50, 50, 10, 10], 0.8)]);
    expect(s.AR1).toBeCloseTo(0.5, 10);
    expect(s.AR10).toBeCloseTo(1, 10);
    expect(s.AR100).toBeCloseTo(1, 10);
  });

  it('only the 100 best-scored detections per image count: a TP ranked 101st is dropped → AP 0', () => {
    const fps = Array.from({ length: 100 }, (_, i) => det([60, 60, 5, 5], 0.9 - i * 0.001));
    expect(bboxAP(groundTruth([{ box: [0, 0, 10, 10] }]), [...fps, det([0, 0, 10, 10], 0.5)]).AP).toBe(0);
  });

  it('equal scores keep their input order within an image (stable sort, like mergesort): FP first → 0.5, TP first → 1', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10] }]);
    expect(bboxAP(gt, [det([50, 50, 10, 10], 0.5), det([0, 0, 10, 10], 0.5)]).AP).toBeCloseTo(0.5, 10);
    expect(bboxAP(gt, [det([0, 0, 10, 10], 0.5), det([50, 50, 10, 10], 0.5)]).AP).toBeCloseTo(1, 10);
  });

  it('equal scores across images are ordered by image id, whatever the order of the results', () => {
    // image 1: TP 0.9 and FP 0.5; image 2: TP 0.5. Sorted: TP, FP (image 1), TP (image 2):
    // recall [1/2, 1/2, 1], precision [1, 1/2, 2/3] → envelope [1, 2/3, 2/3]:
    // 0.00…0.50 (51 points) → 1, 0.51…1.00 (50 points) → 2/3: AP = (51 + 50·2/3) / 101
    const gt = groundTruth([{ image: 1, box: [0, 0, 10, 10] }, { image: 2, box: [0, 0, 10, 10] }], 2);
    const dts = [det([0, 0, 10, 10], 0.5, 2), det([50, 50, 10, 10], 0.5, 1), det([0, 0, 10, 10], 0.9, 1)];
    expect(bboxAP(gt, dts).AP).toBeCloseTo((51 + (50 * 2) / 3) / 101, 10);
    // the FP in image 2 instead: TP, TP, FP → AP 1
    const dts2 = [det([0, 0, 10, 10], 0.5, 1), det([50, 50, 10, 10], 0.5, 2), det([0, 0, 10, 10], 0.9, 2)];
    expect(bboxAP(gt, dts2).AP).toBeCloseTo(1, 10);
  });

  it('no results: AP 0 (gts exist, nothing found), not a crash; no gts at all: −1', () => {
    const s = bboxAP(groundTruth([{ box: [0, 0, 10, 10] }]), []);
    expect([s.AP, s.AP50, s.AP75, s.APs, s.AR100]).toEqual([0, 0, 0, 0, 0]);
    expect(s.APm).toBe(-1);
    expect(bboxAP(groundTruth([]), [det([0, 0, 10, 10], 0.9)]).AP).toBe(-1);
  });
});

describe('evaluateCoco, segm', () => {
  /** A 10×10 mask with columns [c0, c1) set in rows [r0, r1). */
  function rect(c0: number, c1: number, r0 = 0, r1 = 10) {
    const m = new Uint8Array(100);
    for (let y = r0; y < r1; y++) for (let x = c0; x < c1; x++) m[y * 10 + x] = 1;
    return encodeRle(m, 10, 10);
  }
  const gt = (crowd = false): CocoDataset => ({
    images: [{ id: 7, width: 10, height: 10 }],
    categories: [{ id: 1, name: 'one' }],
    annotations: [{ id: 1, image_id: 7, category_id: 1, bbox: [0, 0, 5, 10], area: 50, iscrowd: crowd ? 1 : 0, segmentation: rect(0, 5) }],
  });

  it('mask IoU 50/60 = 0.833: matches at 0.50 … 0.80 (7 thresholds) → segm AP 0.7', () => {
    const e = evaluateCoco(gt(), [{ image_id: 7, category_id: 1, score: 0.9, segmentation: rect(0, 6) }], 'segm');
    expect(e.stats.AP).toBeCloseTo(0.7, 10);
  });

  it('segm uses the masks, not boxes: mask IoU 45/51 = 0.88 → AP 0.8, though the boxes have IoU 0.5', () => {
    // detection: the gt's columns 0–4 in rows 0–8 (45 px) plus the far corner pixel (9, 9): its box is the
    // whole 10×10 image (box IoU with the gt's 5×10 box: 0.5), but the masks meet in 45 px, union 50 + 46 − 45 = 51
    // → IoU 0.882: matches at 0.50 … 0.85 (8 thresholds) → AP 0.8
    const m = new Uint8Array(100);
    for (let y = 0; y < 9; y++) for (let x = 0; x < 5; x++) m[y * 10 + x] = 1;
    m[99] = 1;
    const e = evaluateCoco(gt(), [{ image_id: 7, category_id: 1, score: 0.9, segmentation: encodeRle(m, 10, 10) }], 'segm');
    expect(e.stats.AP).toBeCloseTo(0.8, 10);
  });

  it('crowd masks: IoU = intersection / detection area, so a detection inside a crowd mask is ignored (AP −1: no gt left)', () => {
    const e = evaluateCoco(gt(true), [{ image_id: 7, category_id: 1, score: 0.9, segmentation: rect(0, 3) }], 'segm');
    expect(e.stats.AP).toBe(-1);
  });

  it('uncompressed RLE (counts as a number array) reads the same as compressed', () => {
    const g = gt();
    g.annotations[0]!.segmentation = { size: [10, 10], counts: [0, 50, 50] };
    const e = evaluateCoco(g, [{ image_id: 7, category_id: 1, score: 0.9, segmentation: rect(0, 6) }], 'segm');
    expect(e.stats.AP).toBeCloseTo(0.7, 10);
  });
});

describe('evaluateCoco reproduces a published pycocotools result', () => {
  // 4 COCO val2014 images (ids 42, 73, 74, 133) with their gt boxes and the first fake detections of
  // cocoapi's results/instances_val2014_fakebbox100_results.json, boxes [x1, y1, x2, y2]; gt area =
  // box area. pycocotools' printed summary for them is published as a test fixture in torchmetrics
  // (tests/detection/test_map.py, `_compare_fn`): we compare to those printed 3 decimals.
  const preds: [number, Box[], number[], number[]][] = [
    [42, [[258.15, 41.29, 606.41, 285.07]], [0.236], [4]],
    [73, [[61.0, 22.75, 565.0, 632.42], [12.66, 3.32, 281.26, 275.23]], [0.318, 0.726], [3, 2]],
    [74, [[87.87, 276.25, 384.29, 379.43], [0.0, 3.66, 142.15, 316.06], [296.55, 93.96, 314.97, 152.79], [328.94, 97.05, 342.49, 122.98], [356.62, 95.47, 372.33, 147.55], [464.08, 105.09, 495.74, 146.99], [276.11, 103.84, 291.44, 150.72]], [0.546, 0.3, 0.407, 0.611, 0.335, 0.805, 0.953], [4, 1, 0, 0, 0, 0, 0]],
    [133, [[0.0, 2.87, 601.0, 421.52]], [0.699], [5]],
  ];
  const targets: [number, Box[], number[]][] = [
    [42, [[214.15, 41.29, 562.41, 285.07]], [4]],
    [73, [[13.0, 22.75, 548.98, 632.42], [1.66, 3.32, 270.26, 275.23]], [2, 2]],
    [74, [[61.87, 276.25, 358.29, 379.43], [2.75, 3.66, 162.15, 316.06], [295.55, 93.96, 313.97, 152.79], [326.94, 97.05, 340.49, 122.98], [356.62, 95.47, 372.33, 147.55], [462.08, 105.09, 493.74, 146.99], [277.11, 103.84, 292.44, 150.72]], [4, 1, 0, 0, 0, 0, 0]],
    [133, [[13.99, 2.87, 640.0, 421.52]], [5]],
  ];
  const xywh = (b: Box): Box => [b[0], b[1], b[2] - b[0], b[3] - b[1]];
  let id = 0;
  const gt: CocoDataset = {
    images: targets.map(([img]) => ({ id: img, width: 640, height: 640 })),
    categories: [0, 1, 2, 3, 4, 5].map((c) => ({ id: c, name: `class ${c}` })),
    annotations: targets.flatMap(([img, boxes, labels]) =>
      boxes.map((b, j) => {
        const bbox = xywh(b);
        return { id: ++id, image_id: img, category_id: labels[j]!, bbox, area: bbox[2] * bbox[3], iscrowd: 0 };
      }),
    ),
  };
  const results = preds.flatMap(([img, boxes, scores, labels]) => boxes.map((b, j) => det(xywh(b), scores[j]!, img, labels[j]!)));

  it('all 12 summary numbers equal pycocotools printed values (AP 0.706, AP50 0.901, …, ARl 0.700)', () => {
    const s = evaluateCoco(gt, results, 'bbox').stats;
    const printed = { AP: 0.706, AP50: 0.901, AP75: 0.846, APs: 0.689, APm: 0.8, APl: 0.701, AR1: 0.592, AR10: 0.716, AR100: 0.716, ARs: 0.767, ARm: 0.8, ARl: 0.7 };
    for (const [k, v] of Object.entries(printed)) expect(s[k as keyof typeof s].toFixed(3), k).toBe(v.toFixed(3));
  });

  it('per-class AP and AR100 equal pycocotools printed values (class 3 has no gt: −1)', () => {
    const classes = perCategory(evaluateCoco(gt, results, 'bbox'));
    expect(classes.map((c) => c.AP.toFixed(3))).toEqual(['0.725', '0.800', '0.454', '-1.000', '0.650', '0.900']);
    expect(classes.map((c) => c.AR100.toFixed(3))).toEqual(['0.780', '0.800', '0.450', '-1.000', '0.650', '0.900']);
  });

  it('formatSummary prints the 12 lines as pycocotools does', () => {
    const lines = formatSummary(evaluateCoco(gt, results, 'bbox')).split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.706');
    expect(lines[6]).toBe(' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.592');
  });
});

describe('evaluateCoco bad input', () => {
  const gt = groundTruth([{ box: [0, 0, 10, 10] }], 2);

  it('results whose image ids are not in the ground truth: the error names them and the gt ids', () => {
    expect(() => bboxAP(gt, [det([0, 0, 1, 1], 0.5, 9), det([0, 0, 1, 1], 0.5, 12), det([0, 0, 1, 1], 0.5, 1)])).toThrow(CocoEvalError);
    expect(() => bboxAP(gt, [det([0, 0, 1, 1], 0.5, 9), det([0, 0, 1, 1], 0.5, 12)])).toThrow(/2 image id\(s\) in the results are not in the ground truth \(9, 12\); the ground truth has 2 images \(ids 1, 2\)/);
  });

  it('malformed results: bad bbox, missing score, unknown category, missing segmentation, wrong mask size, corrupt RLE', () => {
    expect(() => bboxAP(gt, [{ image_id: 1, category_id: 1, score: 0.5, bbox: [0, 0, -1, 2] }])).toThrow(/result #0 \(image 1\): expected bbox \[x, y, width, height\]/);
    expect(() => bboxAP(gt, [{ image_id: 1, category_id: 1, bbox: [0, 0, 1, 2] } as unknown as CocoResult])).toThrow(/expected a finite score/);
    expect(() => bboxAP(gt, [det([0, 0, 1, 1], 0.5, 1, 5)])).toThrow(/category_id 5 is not among the ground truth's categories \[1, 2\]/);
    const segGt: CocoDataset = { ...gt, annotations: [{ ...gt.annotations[0]!, segmentation: encodeRle(new Uint8Array(100 * 100), 100, 100) }] };
    expect(() => evaluateCoco(segGt, [det([0, 0, 1, 1], 0.5)], 'segm')).toThrow(/segm evaluation needs a segmentation/);
    expect(() => evaluateCoco(segGt, [{ image_id: 1, category_id: 1, score: 0.5, segmentation: encodeRle(new Uint8Array(4), 2, 2) }], 'segm')).toThrow(/mask size 2×2 does not match image 1's 100×100/);
    expect(() => evaluateCoco(segGt, [{ image_id: 1, category_id: 1, score: 0.5, segmentation: { size: [100, 100], counts: '0X' } }], 'segm')).toThrow(/RLE counts cover|RLE string/);
  });

  it('malformed ground truth: not a COCO object, unknown image of an annotation, polygon segmentation', () => {
    expect(() => bboxAP({ images: [] } as unknown as CocoDataset, [])).toThrow(/expected a COCO ground truth \{images/);
    const orphan = groundTruth([{ image: 5, box: [0, 0, 1, 1] }]);
    expect(() => bboxAP(orphan, [])).toThrow(/ground-truth annotation 1: image_id 5 is not among the ground truth's images/);
    const poly: CocoDataset = { ...gt, annotations: [{ ...gt.annotations[0]!, segmentation: [[0, 0, 5, 0, 5, 5]] }] };
    expect(() => evaluateCoco(poly, [], 'segm')).toThrow(/polygon list; this evaluator reads RLE only/);
  });
});
