/** Geometry, hand-computed: every expectation below is worked out in the comment beside it. */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config.ts';
import {
  BoxCoder,
  argsortDescending,
  baseAnchors,
  batchedNms,
  boxArea,
  clipBoxes,
  expf,
  filterProposals,
  fmaf,
  gridAnchors,
  inferScale,
  iou,
  mapLevels,
  nms,
  nmsSteps,
  postprocessDetections,
  removeSmallBoxes,
  roundHalfEven,
  softmaxRowsf32,
  topkIndices,
} from '../src/geometry/index.ts';
import { argsortDescendingStable } from '../src/geometry/stdsort.ts';

const B = (...v: number[]) => Float32Array.from(v);
const sigmoid = (x: number) => Math.fround(1 / (1 + Math.exp(-x)));

describe('boxes', () => {
  it('boxArea([1, 2, 4, 6]) is 3 · 4 = 12', () => {
    expect(boxArea(B(1, 2, 4, 6), 0)).toBe(12);
  });

  it('iou of [0,0,10,10] and [5,5,15,15] is 25 / (100 + 100 − 25) = 1/7 in float32', () => {
    expect(iou(B(0, 0, 10, 10), 0, B(5, 5, 15, 15), 0)).toBe(Math.fround(1 / 7));
  });

  it('iou of disjoint boxes and of boxes sharing only an edge is 0; of a box with itself 1', () => {
    expect(iou(B(0, 0, 10, 10), 0, B(20, 20, 30, 30), 0)).toBe(0);
    expect(iou(B(0, 0, 10, 10), 0, B(10, 0, 20, 10), 0)).toBe(0);
    expect(iou(B(3, 4, 8, 9), 0, B(3, 4, 8, 9), 0)).toBe(1);
  });

  it('clipBoxes([-5, -3, 120, 40], [h 30, w 100]) is [0, 0, 100, 30] and leaves its input alone', () => {
    const boxes = B(-5, -3, 120, 40, 1, 2, 3, 4);
    expect(Array.from(clipBoxes(boxes, [30, 100]))).toEqual([0, 0, 100, 30, 1, 2, 3, 4]);
    expect(Array.from(boxes)).toEqual(Array.from(B(-5, -3, 120, 40, 1, 2, 3, 4)));
  });

  it('removeSmallBoxes(boxes, 1e-3) keeps width and height ≥ 1e-3 (equal is kept)', () => {
    // w = 0.001 (kept, ≥), w = 0.0009 (dropped), h = 0 (dropped), 1 × 1 (kept)
    const boxes = B(0, 0, 0.001, 1, 0, 0, 0.0009, 1, 0, 0, 5, 0, 2, 2, 3, 3);
    expect(Array.from(removeSmallBoxes(boxes, 1e-3))).toEqual([0, 3]);
  });

  it('removeSmallBoxes rejects a flat array whose length is not a multiple of 4', () => {
    expect(() => removeSmallBoxes(B(0, 0, 1), 0)).toThrow(/multiple of 4.*found length 3/);
  });
});

describe('BoxCoder', () => {
  const anchors = B(0, 0, 10, 20, 5, 5, 6, 9);

  it('decode of zero deltas returns the anchors (weights 1,1,1,1 and 10,10,5,5)', () => {
    for (const w of [[1, 1, 1, 1], [10, 10, 5, 5]] as const) {
      expect(Array.from(new BoxCoder(w).decode(new Float32Array(8), anchors))).toEqual(Array.from(anchors));
    }
  });

  it('decode([1, −0.5, ln 2, 0]) on [0,0,10,20] moves the centre by (1·10, −0.5·20) and doubles the width', () => {
    // centre (5, 10) → (15, 0); w 10 → 20, h 20 → [5, −10, 25, 10]
    const out = new BoxCoder([1, 1, 1, 1]).decode(B(1, -0.5, Math.LN2, 0), B(0, 0, 10, 20));
    [5, -10, 25, 10].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
    // the same box with weights (10, 10, 5, 5): deltas scaled by the weights
    const weighted = new BoxCoder([10, 10, 5, 5]).decode(B(10, -5, 5 * Math.LN2, 0), B(0, 0, 10, 20));
    [5, -10, 25, 10].forEach((v, i) => expect(weighted[i]).toBeCloseTo(v, 5));
  });

  it('decode clamps dw, dh at log(1000/16): a 16-px anchor grows to at most 1000 px', () => {
    // anchor [0,0,16,16], dw = dh = 10 → exp(log 62.5) · 16 = 1000 around centre 8
    const out = new BoxCoder([1, 1, 1, 1]).decode(B(0, 0, 10, 10), B(0, 0, 16, 16));
    [-492, -492, 508, 508].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 3));
  });

  it('decodePerClass(N×4K, N×4, K) returns N×K×4 with class c from columns 4c..4c+3', () => {
    // one RoI [0,0,10,10]; class 0 zero deltas, class 1 moves right by one width (dx = 1 · 10 weight)
    const out = new BoxCoder([10, 10, 5, 5]).decodePerClass(B(0, 0, 0, 0, 10, 0, 0, 0), B(0, 0, 10, 10), 2);
    expect(Array.from(out)).toEqual([0, 0, 10, 10, 10, 0, 20, 10]);
  });

  it('decode rejects deltas that do not match the boxes', () => {
    expect(() => new BoxCoder([1, 1, 1, 1]).decode(new Float32Array(4), anchors)).toThrow(/expected 2 × 4 deltas.*found 4/);
  });

  it('encode then decode returns the target boxes', () => {
    const coder = new BoxCoder([10, 10, 5, 5]);
    const gt = B(2, 3, 14, 30, 4, 4, 7, 8);
    const back = coder.decode(coder.encode(gt, anchors), anchors);
    gt.forEach((v, i) => expect(back[i]).toBeCloseTo(v, 4));
  });
});

describe('nms', () => {
  // A and B overlap with IoU 90/110 ≈ 0.82; C is far away.
  const boxes = B(0, 0, 10, 10, 1, 0, 11, 10, 20, 20, 30, 30);

  it('nms(3 boxes, 0.5) drops the lower-scoring of the overlapping pair', () => {
    expect(Array.from(nms(boxes, B(0.9, 0.8, 0.7), 0.5))).toEqual([0, 2]);
    expect(Array.from(nms(boxes, B(0.8, 0.9, 0.7), 0.5))).toEqual([1, 2]);
  });

  it('nms returns kept indices by decreasing score', () => {
    expect(Array.from(nms(boxes, B(0.1, 0.2, 0.9), 0.9))).toEqual([2, 1, 0]);
  });

  it('nms keeps a box whose IoU equals the threshold exactly (suppresses on >, not ≥)', () => {
    // [0,0,10,10] and [0,0,10,5]: inter 50, union 100 → IoU exactly 0.5
    const pair = B(0, 0, 10, 10, 0, 0, 10, 5);
    expect(Array.from(nms(pair, B(0.9, 0.8), 0.5))).toEqual([0, 1]);
    expect(Array.from(nms(pair, B(0.9, 0.8), 0.49))).toEqual([0]);
  });

  it('nms visits equal scores by increasing index', () => {
    // two identical boxes with equal scores: the first one is kept
    expect(Array.from(nms(B(0, 0, 4, 4, 0, 0, 4, 4), B(0.5, 0.5), 0.5))).toEqual([0]);
  });

  it('nmsSteps records who suppressed whom and at which IoU', () => {
    const t = nmsSteps(boxes, B(0.9, 0.8, 0.7), 0.5);
    expect(Array.from(t.keep)).toEqual([0, 2]);
    expect(Array.from(t.order)).toEqual([0, 1, 2]);
    expect(Array.from(t.suppressedBy)).toEqual([-1, 0, -1]);
    expect(t.suppressionIou[1]).toBe(Math.fround(90 / 110));
    expect(t.suppressionIou[0]).toBeNaN();
  });

  it('nmsSteps over many boxes (grid of cells) records exactly what the all-pairs greedy loop does', () => {
    // The textbook loop, written out here with iou(): visit by decreasing score (stable), each kept
    // box suppresses every later unsuppressed box with IoU > t.
    const reference = (bx: Float32Array, sc: Float32Array, t: number) => {
      const n = sc.length;
      const order = argsortDescendingStable(sc);
      const by = new Int32Array(n).fill(-1);
      const at = new Float32Array(n).fill(NaN);
      const keep: number[] = [];
      for (let a = 0; a < n; a++) {
        const i = order[a]!;
        if (by[i] !== -1) continue;
        keep.push(i);
        for (let b = a + 1; b < n; b++) {
          const j = order[b]!;
          if (by[j] !== -1) continue;
          const o = iou(bx, i, bx, j);
          if (o > t) { by[j] = i; at[j] = o; }
        }
      }
      return { keep, by: Array.from(by), at: Array.from(at) };
    };
    let s = 12345;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    // Clustered boxes of all sizes, duplicates, empty and inverted boxes, tied scores; then one
    // non-finite coordinate; thresholds from 0 to 0.9 and a negative one (everything overlaps).
    for (const [n, t, bad] of [[300, 0.5, false], [700, 0.7, false], [200, 0, false], [150, -0.1, false], [400, 0.3, true]] as const) {
      const bx = new Float32Array(4 * n);
      for (let k = 0; k < n; k++) {
        const cx = Math.floor(rand() * 4) * 60 + rand() * 20, cy = Math.floor(rand() * 3) * 80 + rand() * 20;
        const w = rand() < 0.1 ? 0 : 2 + rand() * (rand() < 0.2 ? 200 : 30), h = rand() < 0.05 ? -3 : 2 + rand() * 30;
        bx.set([cx, cy, cx + w, cy + h], 4 * k);
        if (k % 17 === 3) bx.set(bx.subarray(4 * (k - 1), 4 * k), 4 * k); // an exact duplicate
      }
      if (bad) bx[4 * 7 + 2] = Infinity;
      const sc = Float32Array.from({ length: n }, () => Math.round(rand() * 50) / 50);
      const want = reference(bx, sc, t);
      const got = nmsSteps(bx, sc, t);
      expect(Array.from(got.keep)).toEqual(want.keep);
      expect(Array.from(got.suppressedBy)).toEqual(want.by);
      expect(Array.from(got.suppressionIou)).toEqual(want.at);
      expect(want.keep.length).toBeGreaterThan(t < 0 ? 0 : 10); // the case is not trivial
      expect(want.keep.length).toBeLessThan(t < 0 ? 2 : n); // and something was suppressed
    }
  });

  it('batchedNms suppresses only within a group and sorts the result by score', () => {
    // C = copy of B with a higher score in group 0: C suppresses A there; B (group 1) survives
    const b3 = B(0, 0, 10, 10, 1, 0, 11, 10, 1, 0, 11, 10);
    expect(Array.from(batchedNms(b3, B(0.9, 0.8, 0.95), Int32Array.from([0, 1, 0]), 0.5))).toEqual([2, 1]);
  });

  it('batchedNms over 1000 boxes (per-group branch) keeps one of each duplicate pair within a group', () => {
    // 550 pairs of identical boxes, far apart; pair i scores 1 − i/2048 and 1 − i/2048 − 1/4096
    const n = 1100;
    const boxes = new Float32Array(4 * n);
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const p = i >> 1;
      boxes.set([20 * p, 0, 20 * p + 10, 10], 4 * i);
      scores[i] = 1 - p / 2048 - (i & 1) / 4096;
    }
    const sameGroup = Int32Array.from({ length: n }, (_, i) => (i >> 1) % 3);
    expect(Array.from(batchedNms(boxes, scores, sameGroup, 0.5))).toEqual(Array.from({ length: 550 }, (_, p) => 2 * p));
    const splitPairs = Int32Array.from({ length: n }, (_, i) => i & 1);
    expect(Array.from(batchedNms(boxes, scores, splitPairs, 0.5))).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});

describe('sorting like torch', () => {
  it('argsortDescending and topkIndices order by decreasing value', () => {
    expect(Array.from(argsortDescending([0.1, 0.5, 0.3]))).toEqual([1, 2, 0]);
    expect(Array.from(topkIndices([3, 1, 4, 1, 5], 2))).toEqual([4, 2]);
    expect(Array.from(topkIndices([3, 1], 10))).toEqual([0, 1]);
  });

  it('argsortDescendingStable keeps equal values in index order and puts NaN first', () => {
    expect(Array.from(argsortDescendingStable([1, 2, 1, 2]))).toEqual([1, 3, 0, 2]);
    expect(Array.from(argsortDescendingStable([1, NaN, 2]))).toEqual([1, 2, 0]);
  });
});

describe('float32', () => {
  it('roundHalfEven rounds halves to the even neighbour', () => {
    expect([0.5, 1.5, 2.5, 3.5, -2.5, 1.2, -1.7].map(roundHalfEven)).toEqual([0, 2, 2, 4, -2, 1, -2]);
  });

  it('fmaf rounds a·b + c once, even where double then float rounding would not', () => {
    // a² = 1 + 2⁻¹¹ + 2⁻²⁴ is a float32 midpoint; + 2⁻⁸⁰ puts the exact sum just above it
    const a = 1 + 2 ** -12;
    expect(fmaf(a, a, 2 ** -80)).toBe(1 + 2 ** -11 + 2 ** -23);
    expect(Math.fround(a * a + 2 ** -80)).toBe(1 + 2 ** -11); // the double-rounding answer
    expect(fmaf(a, a, 0)).toBe(1 + 2 ** -11); // an exact tie goes to even
  });

  it('expf(0) = 1, expf(1) ≈ e, and it saturates like SLEEF (0 below −104, ∞ above 100)', () => {
    expect(expf(0)).toBe(1);
    expect(expf(1)).toBeCloseTo(Math.E, 6);
    expect(expf(-105)).toBe(0);
    expect(expf(101)).toBe(Infinity);
  });

  it('softmaxRowsf32 of equal logits is 1/K; of [0, ln 3] is [1/4, 3/4]', () => {
    expect(Array.from(softmaxRowsf32(B(2, 2, 2, 2), 4))).toEqual([0.25, 0.25, 0.25, 0.25]);
    const p = softmaxRowsf32(B(0, Math.log(3)), 2);
    expect(p[0]).toBeCloseTo(0.25, 6);
    expect(p[1]).toBeCloseTo(0.75, 6);
  });
});

describe('anchors', () => {
  it('baseAnchors([32], [0.5, 1, 2]) is [−23,−11,23,11], [−16,−16,16,16], [−11,−23,11,23]', () => {
    // r = 0.5: w = 32/√0.5 = 45.25, h = 22.63 → halves 22.63, 11.31 → round 23, 11
    expect(Array.from(baseAnchors([32], [0.5, 1, 2]))).toEqual([-23, -11, 23, 11, -16, -16, 16, 16, -11, -23, 11, 23]);
  });

  it('baseAnchors rounds half to even: sizes 3, 5, 7 give half-sides 1.5 → 2, 2.5 → 2, 3.5 → 4', () => {
    expect(Array.from(baseAnchors([3, 5, 7], [1]))).toEqual([-2, -2, 2, 2, -2, -2, 2, 2, -4, -4, 4, 4]);
  });

  it('baseAnchors orders ratio-major, size-minor', () => {
    expect(Array.from(baseAnchors([16, 32], [1, 4]))).toEqual([
      -8, -8, 8, 8, -16, -16, 16, 16, // r = 1: 16, 32
      -4, -16, 4, 16, -8, -32, 8, 32, // r = 4: w = s/2, h = 2s
    ]);
  });

  it('gridAnchors on a 2 × 3 grid (stride 32) orders anchors (y, x, a)', () => {
    const { anchors, strides } = gridAnchors([64, 96], [[2, 3]], { sizes: [[32]], aspectRatios: [0.5, 1] });
    expect(strides).toEqual([[32, 32]]);
    const expected: number[] = [];
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        const [sx, sy] = [32 * x, 32 * y];
        expected.push(sx - 23, sy - 11, sx + 23, sy + 11, sx - 16, sy - 16, sx + 16, sy + 16);
      }
    }
    expect(Array.from(anchors[0]!)).toEqual(expected);
  });

  it('gridAnchors strides are padded size // feature size per axis (65 // 2 = 32, 100 // 3 = 33)', () => {
    const { strides, anchors } = gridAnchors([65, 100], [[2, 3]], { sizes: [[10]], aspectRatios: [1] });
    expect(strides).toEqual([[32, 33]]);
    expect(Array.from(anchors[0]!.subarray(4 * 5))).toEqual([66 - 5, 32 - 5, 66 + 5, 32 + 5]); // (y 1, x 2)
  });

  it('gridAnchors rejects a feature list that does not match the size lists', () => {
    expect(() => gridAnchors([64, 64], [[2, 2]], defaultConfig().anchors)).toThrow(/5 levels.*found 1/);
  });
});

describe('levels', () => {
  const cfg = { canonicalScale: 224, canonicalLevel: 4, kMin: 2, kMax: 5 };
  const squares = (...sides: number[]) => Float32Array.from(sides.flatMap((s) => [0, 0, s, s]));

  it('mapLevels: √wh = 224 → level 4, 112 → 3, 448 → 5, 56 → 2, 223 → 3 (index = level − 2)', () => {
    expect(Array.from(mapLevels(squares(224, 112, 448, 56, 223), cfg))).toEqual([2, 1, 3, 0, 1]);
  });

  it('mapLevels clamps to [kMin, kMax]: 28 → level 1 → 2, 2000 → level 7 → 5', () => {
    expect(Array.from(mapLevels(squares(28, 2000, 0), cfg))).toEqual([0, 3, 0]);
  });

  it('mapLevels: ε = 1e-6 lifts a box a hair under 224 (224 × 223.99986) to level 4', () => {
    // √(224 · 223.99986) ≈ 224 · (1 − 3.1e-7): log2 ≈ −4.5e-7, so 4 − 4.5e-7 floors to 3 without ε
    const box = B(0, 0, 224, 223.99986);
    expect(Array.from(mapLevels(box, cfg))).toEqual([2]);
    expect(Array.from(mapLevels(box, { ...cfg, eps: 0 }))).toEqual([1]);
  });

  it('inferScale snaps feature/image to a power of two from the height', () => {
    expect(inferScale([200, 336], [800, 1333])).toBe(1 / 4);
    expect(inferScale([50, 84], [797, 1333])).toBe(1 / 16); // 50/797 = 0.0627 → 2^−4
    expect(inferScale([13, 21], [800, 1333])).toBe(1 / 64); // 0.01625 → log2 −5.94 → 2^−6
  });
});

describe('filterProposals', () => {
  const rpn = { ...defaultConfig().rpn };
  // one level, a 1 × 3 grid, one anchor per cell: anchors 0 and 1 overlap with IoU 90/110
  const anchors = B(0, 0, 10, 10, 1, 0, 11, 10, 20, 0, 30, 10);
  const zeros = new Float32Array(12);

  it('ranks by logit, suppresses the overlapping lower score, and reports candidates and keep', () => {
    const out = filterProposals([B(0, 1, -1)], [zeros], [anchors], [10, 40], rpn);
    // candidates in top-k order: anchors 1 (logit 1), 0 (logit 0), 2 (logit −1)
    expect(Array.from(out.candidates.anchorIndex)).toEqual([1, 0, 2]);
    expect(Array.from(out.candidates.scores)).toEqual([sigmoid(1), 0.5, sigmoid(-1)]);
    // candidate 1 (anchor 0) has IoU 0.82 > 0.7 with candidate 0 (anchor 1)
    expect(Array.from(out.keep)).toEqual([0, 2]);
    expect(Array.from(out.boxes)).toEqual([1, 0, 11, 10, 20, 0, 30, 10]);
    expect(Array.from(out.scores)).toEqual([sigmoid(1), sigmoid(-1)]);
    expect(Array.from(out.levels)).toEqual([0, 0]);
  });

  it('runs NMS per level: the same boxes on two levels are all kept', () => {
    const out = filterProposals([B(0, 1, -1), B(0.5, 1.5, -0.5)], [zeros, zeros], [anchors, anchors], [10, 40], rpn);
    expect(out.scores.length).toBe(4);
    expect(Array.from(out.levels)).toEqual([1, 0, 1, 0]); // by score: 1.5, 1, −0.5, −1
  });

  it('takes preNmsTopN per level and postNmsTopN overall', () => {
    const out = filterProposals([B(0, 1, -1), B(0.5, 1.5, -0.5)], [zeros, zeros], [anchors, anchors], [10, 40], {
      ...rpn,
      preNmsTopN: 1,
      postNmsTopN: 1,
    });
    expect(Array.from(out.candidates.anchorIndex)).toEqual([1, 1]);
    expect(Array.from(out.levels)).toEqual([1]);
    expect(Array.from(out.boxes)).toEqual([1, 0, 11, 10]);
  });

  it('clips to the image, then drops boxes under minSize and scores under scoreThresh (0.5 itself kept)', () => {
    // anchor 2 at x 50..60 is clipped to width 0 in a 40-px-wide image
    const far = B(0, 0, 10, 10, 20, 0, 30, 10, 50, 0, 60, 10);
    const out = filterProposals([B(0, -1, 3)], [zeros], [far], [10, 40], { ...rpn, scoreThresh: 0.5 });
    expect(Array.from(out.candidates.anchorIndex)).toEqual([0]);
    expect(Array.from(out.scores)).toEqual([0.5]);
  });

  it('rejects per-level arrays of inconsistent lengths with a hint', () => {
    expect(() => filterProposals([B(0, 1)], [zeros], [anchors], [10, 40], rpn)).toThrow(/expected 2 anchors.*\(y, x, a\)/);
  });
});

describe('postprocessDetections', () => {
  // RoI 0 [0,0,10,10] logits [0, 2, 0] → p = [1, e², 1] / (2 + e²) = [.107, .787, .107]
  // RoI 1 [1,1,11,11] logits [0, 0, 3] → p = [1, 1, e³] / (2 + e³) = [.045, .045, .909]
  // class-1 score of RoI 1 (.045) is under 0.05; class 2 of RoI 0 is suppressed by RoI 1 (IoU 81/119 > .5)
  const logits = B(0, 2, 0, 0, 0, 3);
  const proposals = B(0, 0, 10, 10, 1, 1, 11, 11);
  const cfg = { scoreThresh: 0.05, nmsThresh: 0.5, detectionsPerImg: 100, minSize: 1e-2 };
  const coder = new BoxCoder([10, 10, 5, 5]);

  it('keeps (RoI 1, class 2) and (RoI 0, class 1), by decreasing score', () => {
    const out = postprocessDetections(logits, new Float32Array(24), proposals, [20, 20], 3, cfg, coder);
    expect(Array.from(out.labels)).toEqual([2, 1]);
    expect(Array.from(out.proposalIndex)).toEqual([1, 0]);
    expect(Array.from(out.boxes)).toEqual([1, 1, 11, 11, 0, 0, 10, 10]);
    expect(out.scores[0]).toBeCloseTo(Math.exp(3) / (2 + Math.exp(3)), 6);
    expect(out.scores[1]).toBeCloseTo(Math.exp(2) / (2 + Math.exp(2)), 6);
    expect(Array.from(out.candidates.labels)).toEqual([1, 2, 2]);
    expect(Array.from(out.candidates.proposalIndex)).toEqual([0, 0, 1]);
    expect(Array.from(out.keep)).toEqual([2, 0]);
  });

  it('keeps at most detectionsPerImg and never returns the background class', () => {
    const out = postprocessDetections(B(9, 0, 0, 0, 0, 3), new Float32Array(24), proposals, [20, 20], 3, { ...cfg, detectionsPerImg: 1 }, coder);
    expect(Array.from(out.labels)).toEqual([2]);
    expect(Array.from(out.proposalIndex)).toEqual([1]);
  });

  it('clips boxes to the image before dropping boxes under minSize', () => {
    // RoI entirely right of a 20 × 20 image → clipped to width 0 → dropped
    const out = postprocessDetections(B(0, 5, 0), new Float32Array(12), B(25, 0, 30, 10), [20, 20], 3, cfg, coder);
    expect(out.labels.length).toBe(0);
  });

  it('rejects logits that do not match numClasses', () => {
    expect(() => postprocessDetections(logits, new Float32Array(24), proposals, [20, 20], 4, cfg, coder)).toThrow(/numClasses/);
  });
});
