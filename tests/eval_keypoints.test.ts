/**
 * COCO keypoint evaluation (OKS): hand-computed cases. Each expectation is derived in the comment
 * next to it from pycocotools' rules (cocoeval.py computeOks, evaluateImg, accumulate, _summarizeKps,
 * Params.setKpParams; coco.py loadRes for the detection areas):
 *   OKS = mean over the gt's labelled keypoints (v > 0) of exp(−d² / (2σ)² / area / 2)
 *   a gt with no labelled keypoint: d = distance to its box enlarged by w, h on each side, mean over all K
 *   gts with num_keypoints 0 or iscrowd are ignored; maxDets [20]; areas all, medium, large
 * No Python pycocotools runs here: these hand cases are the oracle, one or more per rule.
 *
 * COCO's sigmas (÷10): nose .26, eyes .25, ears .35, shoulders .79, elbows .72, wrists .62,
 * hips 1.07, knees .87, ankles .89. Precision of a perfect list is 1/(1 + ε): toBeCloseTo(…, 10).
 */
import { describe, expect, it } from 'vitest';
import {
  apOf,
  COCO_KEYPOINT_SIGMAS,
  type CocoAnnotation,
  type CocoDataset,
  CocoEvalError,
  type CocoResult,
  defaultParams,
  evaluateCoco,
  formatSummary,
  keypointOks,
  perCategory,
} from '../src/eval/coco_eval.ts';

type Box = [number, number, number, number];

/**
 * 17 keypoints on the diagonal of `box` [x, y, w, h]: keypoint k at (x + k·w/16, y + k·h/16), each
 * with the third value `v`. Their extent is the box itself (area w·h).
 */
function diagonal(box: Box, v = 2): number[] {
  return Array.from({ length: 17 }, (_, k) => [box[0] + (k * box[2]) / 16, box[1] + (k * box[3]) / 16, v]).flat();
}

/** The keypoints moved by (dx, dy); the third values kept. */
const shifted = (kp: readonly number[], dx: number, dy = 0) => kp.map((v, i) => (i % 3 === 0 ? v + dx : i % 3 === 1 ? v + dy : v));

interface KpAnn {
  image?: number;
  box: Box;
  /** default: the box's w·h */
  area?: number;
  /** default: diagonal(box) */
  keypoints?: number[];
  /** default: the count of v > 0 */
  num?: number;
  crowd?: boolean;
}

/** A person-keypoint ground truth: images 1…n (640×480), category 1 'person' with its 17 keypoint names. */
function kpGroundTruth(anns: KpAnn[], images = 1): CocoDataset {
  return {
    images: Array.from({ length: images }, (_, i) => ({ id: i + 1, width: 640, height: 480 })),
    categories: [
      {
        id: 1,
        name: 'person',
        keypoints: ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle'],
        skeleton: [
          [16, 14],
          [14, 12],
          [17, 15],
          [15, 13],
          [12, 13],
        ],
      },
    ],
    annotations: anns.map((a, i): CocoAnnotation => {
      const keypoints = a.keypoints ?? diagonal(a.box);
      return {
        id: i + 1,
        image_id: a.image ?? 1,
        category_id: 1,
        bbox: a.box,
        area: a.area ?? a.box[2] * a.box[3],
        iscrowd: a.crowd ? 1 : 0,
        keypoints,
        num_keypoints: a.num ?? keypoints.filter((v, j) => j % 3 === 2 && v > 0).length,
      };
    }),
  };
}

const kdet = (keypoints: number[], score: number, image = 1, bbox?: Box): CocoResult => ({ image_id: image, category_id: 1, score, keypoints, ...(bbox ? { bbox } : {}) });
const kpStats = (gt: CocoDataset, dts: CocoResult[]) => evaluateCoco(gt, dts, 'keypoints').stats;

describe('keypointOks (pycocotools computeOks), hand-computed', () => {
  const sigmas = COCO_KEYPOINT_SIGMAS;

  it("COCO's sigmas are pycocotools' [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89] / 10", () => {
    expect(sigmas).toHaveLength(17);
    expect(sigmas[0]).toBe(0.26 / 10);
    expect(sigmas[11]).toBe(1.07 / 10);
    expect(sigmas[16]).toBe(0.89 / 10);
  });

  it('a detection equal to its gt has OKS 1 (labels v = 1 and v = 2 alike; unlabelled v = 0 keypoints elsewhere do not count)', () => {
    const gt = diagonal([100, 50, 100, 200]);
    gt[3 * 4 + 2] = 1; // right ear labelled but hidden
    gt[3 * 7 + 2] = 0; // left elbow not labelled
    const dt = [...gt];
    dt[3 * 7] = 600; // the unlabelled keypoint predicted far away
    expect(keypointOks(dt, gt, [100, 50, 100, 200], 20000, sigmas)).toBe(1);
  });

  it('one keypoint (left hip, σ = 0.107) off by d = 30 (dx 18, dy 24), area 100² → (16 + exp(−0.982618)) / 17 = 0.963196', () => {
    // e = d² / (2σ)² / area / 2 = 900 / 0.214² / 10000 / 2 = 900 / 0.045796 / 20000 = 0.9826186;
    // exp(−e) = 0.3743296; the other 16 keypoints are exact (exp(0) = 1): (16 + 0.3743296) / 17 = 0.9631959
    const gt = diagonal([0, 0, 100, 100]);
    const dt = [...gt];
    dt[3 * 11] = gt[3 * 11]! + 18;
    dt[3 * 11 + 1] = gt[3 * 11 + 1]! + 24;
    expect(keypointOks(dt, gt, [0, 0, 100, 100], 10000, sigmas)).toBeCloseTo(0.9631958591965382, 12);
    // the scale s² is the annotation's area, not the box's: area 2500 → e = 3.930474, exp = 0.0196344 → 0.9423314
    expect(keypointOks(dt, gt, [0, 0, 100, 100], 2500, sigmas)).toBeCloseTo(0.942331432836202, 12);
  });

  it('v = 0 gt keypoints do not count: 5 labelled (v 2, 2, 1, 1, 2), the left ear (σ = 0.035) off by 5 → (4 + 0.774837) / 5 = 0.954967', () => {
    // e = 25 / 0.07² / 10000 / 2 = 0.2551020, exp(−e) = 0.7748374; mean over the 5 labelled only
    const gt = Array.from({ length: 17 }, () => [0, 0, 0]).flat(); // 12 unlabelled keypoints at (0, 0)
    const labels = [2, 2, 1, 1, 2];
    labels.forEach((v, k) => gt.splice(3 * k, 3, 50 + 10 * k, 60, v));
    const dt = Array.from({ length: 17 }, () => [400, 400, 0.3]).flat(); // unlabelled ones far away
    labels.forEach((_, k) => dt.splice(3 * k, 3, 50 + 10 * k, 60, 0.9));
    dt[3 * 3] = gt[3 * 3]! + 3; // left ear: dx 3, dy 4 → d = 5
    dt[3 * 3 + 1] = gt[3 * 3 + 1]! + 4;
    expect(keypointOks(dt, gt, [0, 0, 100, 100], 10000, sigmas)).toBeCloseTo(0.9549674857766499, 12);
  });

  it('a gt with no labelled keypoint measures the distance to its box enlarged by w, h on each side, averaged over all K', () => {
    // K = 4, σ = [0.1, 0.2, 0.25, 0.5] → (2σ)² = [0.04, 0.16, 0.25, 1]; gt box [10, 20, 30, 40], area 100:
    // enlarged box x ∈ [10 − 30, 10 + 60] = [−20, 70], y ∈ [20 − 40, 20 + 80] = [−20, 100]
    //   kp0 (70, −20): on the corner → d = 0 → 1
    //   kp1 (80, 50):  dx = 10 → e = 100 / 0.16 / 100 / 2 = 3.125 → 0.0439369
    //   kp2 (30, −30): dy = 10 → e = 100 / 0.25 / 100 / 2 = 2     → 0.1353353
    //   kp3 (75, 110): dx = 5, dy = 10 → e = 125 / 1 / 100 / 2 = 0.625 → 0.5352614
    // OKS = (1 + 0.0439369 + 0.1353353 + 0.5352614) / 4 = 0.4286334 (the gt's own coordinates are not read)
    const gt = [15, 25, 0, 999, 999, 0, 20, 30, 0, 25, 35, 0];
    const dt = [70, -20, 1, 80, 50, 1, 30, -30, 1, 75, 110, 1];
    expect(keypointOks(dt, gt, [10, 20, 30, 40], 100, [0.1, 0.2, 0.25, 0.5])).toBeCloseTo(0.42863341134475264, 12);
    // all inside the enlarged box (even outside the gt box itself): OKS 1
    expect(keypointOks([-19, -19, 1, 69, 99, 1, 0, 0, 1, 60, 90, 1], gt, [10, 20, 30, 40], 100, [0.1, 0.2, 0.25, 0.5])).toBe(1);
  });
});

describe("evaluateCoco(…, 'keypoints'): AP by hand", () => {
  it('defaultParams("keypoints") is setKpParams: maxDets [20], areas all/medium/large, T = 10, R = 101; the sigmas used are reported', () => {
    const p = defaultParams('keypoints');
    expect(p.maxDets).toEqual([20]);
    expect(p.areaRngLbl).toEqual(['all', 'medium', 'large']);
    expect(p.areaRng).toEqual([
      [0, 1e10],
      [1024, 9216],
      [9216, 1e10],
    ]);
    expect([p.iouThrs.length, p.recThrs.length, p.kpt_oks_sigmas]).toEqual([10, 101, undefined]);
    const e = evaluateCoco(kpGroundTruth([{ box: [0, 0, 100, 100] }]), [], 'keypoints');
    expect(e.params.kpt_oks_sigmas).toEqual([...COCO_KEYPOINT_SIGMAS]);
    expect([e.precision.length, e.recall.length]).toEqual([10 * 101 * 1 * 3 * 1, 10 * 1 * 3 * 1]);
  });

  it('a perfect detector has all 10 numbers 1 (APm, ARm from a medium person, APl, ARl from a large one); the summary has no small range', () => {
    const gt = kpGroundTruth([{ box: [0, 0, 40, 50] }, { box: [200, 100, 100, 200] }]); // areas 2000 (medium), 20000 (large)
    const s = kpStats(gt, [kdet(diagonal([0, 0, 40, 50]), 0.9), kdet(diagonal([200, 100, 100, 200]), 0.8)]);
    expect(Object.keys(s)).toEqual(['AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl']);
    for (const [k, v] of Object.entries(s)) expect(v, k).toBeCloseTo(1, 10);
  });

  it('2 gts, 3 detections with OKS 0.826 (TP up to 0.80), a FP, OKS 0.607 (TP up to 0.60) → AP 457/1010, AP50 253/303, AP75 51/101, AR 0.5', () => {
    // gts: 100×100 persons (area 10000, large) in images 1 and 2. Detections (all 17 keypoints moved by d):
    //   0.9 image 1, d = 6:  OKS = mean_k exp(−36 / (2σk)² / 10000 / 2) = 0.826072 → TP at 0.50 … 0.80
    //   0.8 image 1, far away (OKS 0 with both gts), extent 100×100 (large, so counted in 'large' too): FP
    //   0.7 image 2, d = 11: OKS = 0.607170 → TP at 0.50, 0.55, 0.60
    // t ∈ {.50, .55, .60}: TP, FP, TP over 2 gts: recall [1/2, 1/2, 1], precision [1, 1/2, 2/3] → envelope
    //   [1, 2/3, 2/3]: recall points 0.00 … 0.50 (51) → 1, 0.51 … 1.00 (50) → 2/3: AP_t = (51 + 100/3)/101 = 253/303
    // t ∈ {.65, .70, .75, .80}: TP, FP, FP: recall [1/2, 1/2, 1/2] → 51 points at 1: AP_t = 51/101
    // t ∈ {.85, .90, .95}: no TP → 0
    // AP = (3·253/303 + 4·51/101) / 10 = (253 + 204) / 1010 = 457/1010
    // AR: recall 1 (3 thresholds), 1/2 (4), 0 (3) → 5/10; AR50 = 1, AR75 = 1/2
    const person = diagonal([100, 100, 100, 100]);
    const gt = kpGroundTruth([{ image: 1, box: [100, 100, 100, 100] }, { image: 2, box: [100, 100, 100, 100] }], 2);
    const near = kdet(shifted(person, 6), 0.9, 1);
    const far = kdet(shifted(person, 400, 300), 0.8, 1);
    const loose = kdet(shifted(person, 11), 0.7, 2);
    const box: Box = [100, 100, 100, 100];
    expect(keypointOks(near.keypoints!, person, box, 10000, COCO_KEYPOINT_SIGMAS)).toBeCloseTo(0.826072, 6);
    expect(keypointOks(loose.keypoints!, person, box, 10000, COCO_KEYPOINT_SIGMAS)).toBeCloseTo(0.60717, 5);
    expect(keypointOks(far.keypoints!, person, box, 10000, COCO_KEYPOINT_SIGMAS)).toBeLessThan(1e-10);

    const e = evaluateCoco(gt, [loose, far, near], 'keypoints');
    expect(e.stats.AP).toBeCloseTo(457 / 1010, 10);
    expect(e.stats.AP50).toBeCloseTo(253 / 303, 10);
    expect(e.stats.AP75).toBeCloseTo(51 / 101, 10);
    expect(e.stats.AR).toBeCloseTo(0.5, 10);
    expect(e.stats.AR50).toBeCloseTo(1, 10);
    expect(e.stats.AR75).toBeCloseTo(0.5, 10);
    // both gts are large, and so is every detection: large = all; no medium gt → −1
    expect(e.stats.APl).toBeCloseTo(457 / 1010, 10);
    expect(e.stats.ARl).toBeCloseTo(0.5, 10);
    expect([e.stats.APm, e.stats.ARm]).toEqual([-1, -1]);
    expect(perCategory(e)).toEqual([{ categoryId: 1, AP: expect.closeTo(457 / 1010, 10), AR: expect.closeTo(0.5, 10) }]);
  });

  it('area ranges medium/large, detection area = extent of its keypoints: a small FP is ignored in both → AP 51/202, APm 1, APl 0', () => {
    // gts: medium person 40×50 (area 2000), large person 100×200 (area 20000, missed).
    // detections: 0.95 a FP whose keypoints span 20×20 (area 400, small), far from both gts;
    //             0.9 exactly the medium person (OKS 1 at every threshold)
    // all:    FP, TP over 2 gts → recall [0, 1/2], precision [0, 1/2] → envelope 1/2 up to recall 0.50 (51 points):
    //         AP = 51·(1/2)/101 = 51/202; AR = 1/2
    // medium: the large gt is ignored; the FP is unmatched with area 400 < 32² → ignored; TP over 1 gt → APm = ARm = 1
    // large:  the medium gt is ignored, so the detection matched to it is ignored; the FP (400 < 96²) is ignored;
    //         1 gt, nothing found → APl = ARl = 0
    const gt = kpGroundTruth([{ box: [0, 0, 40, 50] }, { box: [300, 100, 100, 200] }]);
    const fp = diagonal([500, 400, 20, 20], 1);
    const s = kpStats(gt, [kdet(fp, 0.95), kdet(diagonal([0, 0, 40, 50]), 0.9)]);
    expect(s.AP).toBeCloseTo(51 / 202, 10);
    expect(s.AR).toBeCloseTo(0.5, 10);
    expect([s.APm, s.ARm]).toEqual([expect.closeTo(1, 10), expect.closeTo(1, 10)]);
    expect([s.APl, s.ARl]).toEqual([0, 0]);
  });

  it('results with a bbox take their area from it (pycocotools loadRes): the same FP with a 50×50 box counts in medium → APm 0.5', () => {
    // as above, but the FP's bbox is 50×50 = 2500 (medium): medium sees FP, TP over 1 gt → precision [0, 1/2],
    // recall [0, 1] → 1/2 at all 101 points → APm = 0.5, ARm = 1. all unchanged (51/202); large: 2500 < 96² → still ignored → 0
    const gt = kpGroundTruth([{ box: [0, 0, 40, 50] }, { box: [300, 100, 100, 200] }]);
    const fp = diagonal([500, 400, 20, 20], 1);
    const s = kpStats(gt, [kdet(fp, 0.95, 1, [500, 400, 50, 50]), kdet(diagonal([0, 0, 40, 50]), 0.9, 1, [0, 0, 40, 50])]);
    expect(s.AP).toBeCloseTo(51 / 202, 10);
    expect(s.APm).toBeCloseTo(0.5, 10);
    expect(s.ARm).toBeCloseTo(1, 10);
    expect(s.APl).toBe(0);
  });

  it('a gt with num_keypoints 0 is ignored: a detection within its enlarged box is absorbed (AP 1); one far from it is a FP (AP 0.5)', () => {
    // gts: a labelled person P [0, 0, 100, 100] and an unlabelled one U (num_keypoints 0, keypoints all 0) with box
    // [200, 200, 50, 50]: enlarged box [150, 300] × [150, 300].
    // inside: a detection spanning [160, 290]² (outside U's own box, inside the enlarged one) has OKS 1 with U, score 0.9;
    //   P found exactly at 0.8. U is ignored, so the 0.9 detection matched to it is ignored: TP only → AP 1, AR 1
    //   (U itself never counts as missed)
    // far: the 0.9 detection moved to [400, 330]: OKS with U is < 0.5 → a FP ranked first: FP, TP over 1 gt →
    //   precision [0, 1/2] → 1/2 at all 101 points → AP 0.5
    const unlabelled = Array.from({ length: 51 }, () => 0);
    const gt = kpGroundTruth([{ box: [0, 0, 100, 100] }, { box: [200, 200, 50, 50], keypoints: unlabelled }]);
    expect(gt.annotations[1]!.num_keypoints).toBe(0);
    const found = kdet(diagonal([0, 0, 100, 100]), 0.8);
    const inside = diagonal([160, 160, 130, 130], 1);
    const s = kpStats(gt, [kdet(inside, 0.9), found]);
    expect(s.AP).toBeCloseTo(1, 10);
    expect(s.AR).toBeCloseTo(1, 10);
    expect(kpStats(gt, [kdet(shifted(inside, 240, 170), 0.9), found]).AP).toBeCloseTo(0.5, 10);
  });

  it('an ignored non-crowd gt absorbs one detection, a crowd gt any number: two detections in it → AP 0.5 (one is a FP), crowd → AP 1', () => {
    // as above with two detections inside U's enlarged box (0.9, 0.85) and P found at 0.8.
    // U not crowd: the first is matched to U (ignored), the second finds U taken → FP: FP, TP → AP 0.5
    // U crowd (iscrowd 1, num_keypoints 0 as in COCO): both matched to U → ignored: TP → AP 1
    const unlabelled = Array.from({ length: 51 }, () => 0);
    const dts = [kdet(diagonal([160, 160, 130, 130], 1), 0.9), kdet(diagonal([170, 170, 100, 100], 1), 0.85), kdet(diagonal([0, 0, 100, 100]), 0.8)];
    const plain = kpGroundTruth([{ box: [0, 0, 100, 100] }, { box: [200, 200, 50, 50], keypoints: unlabelled }]);
    expect(kpStats(plain, dts).AP).toBeCloseTo(0.5, 10);
    const crowd = kpGroundTruth([{ box: [0, 0, 100, 100] }, { box: [200, 200, 50, 50], keypoints: unlabelled, crowd: true }]);
    expect(kpStats(crowd, dts).AP).toBeCloseTo(1, 10);
  });

  it('a gt whose only person is unlabelled (num_keypoints 0) has no AP: −1', () => {
    const gt = kpGroundTruth([{ box: [200, 200, 50, 50], keypoints: Array.from({ length: 51 }, () => 0) }]);
    expect(kpStats(gt, [kdet(diagonal([200, 200, 50, 50]), 0.9)]).AP).toBe(-1);
  });

  it('num_keypoints, not the v flags, decides the ignore: a gt with num_keypoints 3 but every v = 0 counts, measured by its enlarged box', () => {
    // pycocotools reads gt['num_keypoints'] for the ignore flag and vg > 0 for the distance rule
    const gt = kpGroundTruth([{ box: [200, 200, 50, 50], keypoints: Array.from({ length: 51 }, () => 0), num: 3 }]);
    const s = kpStats(gt, [kdet(diagonal([160, 160, 130, 130]), 0.9)]);
    expect(s.AP).toBeCloseTo(1, 10);
    expect(kpStats(gt, []).AP).toBe(0);
  });

  it('maxDets 20: a TP ranked 20th in its image counts (precision 1/20 → AP 0.05, AR 1); ranked 21st it is dropped (AP 0, AR 0)', () => {
    const gt = kpGroundTruth([{ box: [0, 0, 100, 100] }]);
    const fps = (n: number) => Array.from({ length: n }, (_, i) => kdet(diagonal([400, 300, 100, 100]), 0.9 - i * 0.01));
    const tp = kdet(diagonal([0, 0, 100, 100]), 0.5);
    // 19 FPs then the TP: recall reaches 1 at the 20th with precision 1/20 → the envelope is 1/20 at all 101 points
    const s20 = kpStats(gt, [...fps(19), tp]);
    expect(s20.AP).toBeCloseTo(1 / 20, 10);
    expect(s20.AR).toBeCloseTo(1, 10);
    const s21 = kpStats(gt, [...fps(20), tp]);
    expect([s21.AP, s21.AR]).toEqual([0, 0]);
  });

  it('K = 14 (CrowdPose-like) with 14 sigmas of 0.5, area 1: all keypoints off by 1 px → OKS exp(−1/2) = 0.6065 → AP 0.3', () => {
    // each keypoint: e = d² / (2σ)² / area / 2 = 1 / 1 / 1 / 2 = 0.5 → exp(−0.5) = 0.6065307, and so is the mean:
    // OKS 0.6065 matches at 0.50, 0.55, 0.60 (3 of 10 thresholds, each with precision 1) → AP = 3/10
    const kp = Array.from({ length: 14 }, (_, k) => [10 + k, 10 + k, 2]).flat();
    const gt: CocoDataset = {
      images: [{ id: 1, width: 64, height: 64 }],
      categories: [{ id: 1, name: 'person' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 13, 13], area: 1, iscrowd: 0, keypoints: kp, num_keypoints: 14 }],
    };
    const params = { ...defaultParams('keypoints'), kpt_oks_sigmas: Array.from({ length: 14 }, () => 0.5) };
    const e = evaluateCoco(gt, [{ image_id: 1, category_id: 1, score: 0.9, keypoints: shifted(kp, 1) }], 'keypoints', params);
    expect(e.stats.AP).toBeCloseTo(0.3, 10);
    expect(e.params.kpt_oks_sigmas).toHaveLength(14);
  });
});

describe('keypoint summary helpers', () => {
  const person = diagonal([100, 100, 100, 100]);
  const gt = kpGroundTruth([{ image: 1, box: [100, 100, 100, 100] }, { image: 2, box: [100, 100, 100, 100] }], 2);
  const e = evaluateCoco(gt, [kdet(shifted(person, 6), 0.9, 1), kdet(shifted(person, 400, 300), 0.8, 1), kdet(shifted(person, 11), 0.7, 2)], 'keypoints');

  it('formatSummary prints the 10 lines of _summarizeKps, at maxDets 20', () => {
    const lines = formatSummary(e).split('\n');
    expect(lines).toEqual([
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 0.452',
      ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 20 ] = 0.835',
      ' Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets= 20 ] = 0.505',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] = -1.000',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ] = 0.452',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 0.500',
      ' Average Recall     (AR) @[ IoU=0.50      | area=   all | maxDets= 20 ] = 1.000',
      ' Average Recall     (AR) @[ IoU=0.75      | area=   all | maxDets= 20 ] = 0.500',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] = -1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ] = 0.500',
    ]);
  });

  it('apOf gives the five keypoint AP numbers {AP, AP50, AP75, APm, APl} (no APs)', () => {
    expect(apOf(e.stats)).toEqual({ AP: e.stats.AP, AP50: e.stats.AP50, AP75: e.stats.AP75, APm: -1, APl: e.stats.APl });
  });
});

describe("evaluateCoco(…, 'keypoints') bad input", () => {
  const gt = kpGroundTruth([{ box: [0, 0, 100, 100] }], 2);
  const ok = diagonal([0, 0, 100, 100]);

  it('keypoints of the wrong length, in a result or in the gt', () => {
    expect(() => kpStats(gt, [kdet(ok.slice(0, 48), 0.9)])).toThrow(CocoEvalError);
    expect(() => kpStats(gt, [kdet(ok.slice(0, 48), 0.9)])).toThrow(/result #0 \(image 1\): expected keypoints \[x, y, score\]×17 = 51 numbers \(K = 17 from COCO's 17 default sigmas\); found 48 numbers \(K = 16\)/);
    expect(() => kpStats(gt, [kdet(ok.slice(0, 50), 0.9)])).toThrow(/found 50 numbers, not a multiple of 3/);
    const bad = kpGroundTruth([{ box: [0, 0, 100, 100] }, { box: [0, 0, 10, 10], keypoints: ok.slice(0, 45) }]);
    expect(() => kpStats(bad, [])).toThrow(/ground-truth annotation 2: expected keypoints \[x, y, v\]×17 = 51 numbers/);
    const first = kpGroundTruth([{ box: [0, 0, 10, 10], keypoints: ok.slice(0, 50) }]);
    expect(() => kpStats(first, [])).toThrow(/ground-truth annotation 1 has 50 numbers, not a multiple of 3: keypoints are a flat list \[x, y, v\]×K/);
  });

  it('NaN or Infinity among the keypoints', () => {
    const nan = [...ok];
    nan[4] = Number.NaN;
    expect(() => kpStats(gt, [kdet(nan, 0.9)])).toThrow(/result #0 \(image 1\): keypoints must be finite numbers; found NaN at index 4 \(keypoint 1, y\)/);
    const inf = [...ok];
    inf[5] = Number.POSITIVE_INFINITY;
    expect(() => kpStats(kpGroundTruth([{ box: [0, 0, 100, 100], keypoints: inf, num: 17 }]), [])).toThrow(/ground-truth annotation 1: keypoints must be finite numbers; found Infinity at index 5 \(keypoint 1, v\)/);
  });

  it('results naming an unknown image or category; a result without keypoints', () => {
    expect(() => kpStats(gt, [kdet(ok, 0.9, 7)])).toThrow(/1 image id\(s\) in the results are not in the ground truth \(7\)/);
    expect(() => kpStats(gt, [{ ...kdet(ok, 0.9), category_id: 3 }])).toThrow(/category_id 3 is not among the ground truth's categories \[1\]/);
    expect(() => kpStats(gt, [{ image_id: 1, category_id: 1, score: 0.9, bbox: [0, 0, 1, 1] }])).toThrow(/result #0 \(image 1\): keypoint evaluation needs keypoints \[x, y, score\]×K in every result/);
  });

  it('K ≠ 17 without sigmas: the error names K and asks for params.kpt_oks_sigmas', () => {
    const kp14 = ok.slice(0, 42);
    const gt14 = kpGroundTruth([{ box: [0, 0, 100, 100], keypoints: kp14 }]);
    expect(() => kpStats(gt14, [kdet(kp14, 0.9)])).toThrow(
      /the keypoints have K = 14 per instance \(ground-truth annotation 1 has 42 numbers\); COCO's default sigmas are for its 17 person keypoints: pass params\.kpt_oks_sigmas with one σ per keypoint \(14 values\)/,
    );
  });

  it('sigmas of the wrong length, or not all > 0', () => {
    const p = (kpt_oks_sigmas: number[]) => ({ ...defaultParams('keypoints'), kpt_oks_sigmas });
    // the category's 17 keypoint names disagree first; without names, the first annotation does
    expect(() => evaluateCoco(gt, [kdet(ok, 0.9)], 'keypoints', p(COCO_KEYPOINT_SIGMAS.slice(0, 14)))).toThrow(
      /category 1 \(person\) names 17 keypoints; the evaluation has K = 14 \(from params\.kpt_oks_sigmas \(14 values\)\)/,
    );
    const unnamed: CocoDataset = { ...gt, categories: [{ id: 1, name: 'person' }] };
    expect(() => evaluateCoco(unnamed, [kdet(ok, 0.9)], 'keypoints', p(COCO_KEYPOINT_SIGMAS.slice(0, 14)))).toThrow(
      /ground-truth annotation 1: expected keypoints \[x, y, v\]×14 = 42 numbers \(K = 14 from params\.kpt_oks_sigmas \(14 values\)\); found 51 numbers \(K = 17\)/,
    );
    expect(() => evaluateCoco(gt, [], 'keypoints', p([...COCO_KEYPOINT_SIGMAS.slice(0, 16), 0]))).toThrow(/params\.kpt_oks_sigmas: expected one σ > 0 per keypoint/);
    expect(() => evaluateCoco(gt, [], 'keypoints', p([...COCO_KEYPOINT_SIGMAS.slice(0, 16), Number.NaN]))).toThrow(/params\.kpt_oks_sigmas: expected one σ > 0/);
  });

  it('gt without keypoints or num_keypoints; category keypoint names that disagree with K', () => {
    const noKp: CocoDataset = { ...gt, annotations: [{ ...gt.annotations[0]!, keypoints: undefined }] };
    expect(() => kpStats(noKp, [kdet(ok, 0.9)])).toThrow(/ground-truth annotation 1: keypoint evaluation needs keypoints as a flat list \[x, y, v\]×K/);
    const noNum: CocoDataset = { ...gt, annotations: [{ ...gt.annotations[0]!, num_keypoints: undefined }] };
    expect(() => kpStats(noNum, [])).toThrow(/ground-truth annotation 1: keypoint evaluation needs num_keypoints/);
    const names: CocoDataset = { ...gt, categories: [{ ...gt.categories[0]!, keypoints: ['nose', 'left_eye'] }] };
    expect(() => kpStats(names, [])).toThrow(/category 1 \(person\) names 2 keypoints; the evaluation has K = 17/);
  });

  it('the first result has a bbox (areas come from bboxes, as pycocotools loadRes) but a later one has none', () => {
    expect(() => kpStats(gt, [kdet(ok, 0.9, 1, [0, 0, 100, 100]), kdet(ok, 0.8)])).toThrow(/result #1 \(image 1\) \(the first result has a bbox, so every result needs one.*\): expected bbox/);
  });
});
