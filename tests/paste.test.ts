/**
 * Mask paste-back against hand-computed cases and torchvision's paste_masks_in_image.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../src/io/npy.ts';
import { expandBox, pasteMask, pasteMaskRegion, pasteMasks, PasteError, regionsToPlanes } from '../src/stages/paste.ts';
import type { Size } from '../src/types.ts';
import { maskTargets } from '../src/train/targets.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';
import { rng } from './support/random_weights.ts';

describe('paste geometry (hand-computed)', () => {
  it('expandBox([10, 20, 38, 48], 28) widens the 28-px box by 30/28 about its centre: [9, 19, 39, 49]', () => {
    // half sizes 14 · fl(30/28) = 14 · 1.0714285373687744 → fl = 15; centres 24, 34
    expect(expandBox([10, 20, 38, 48], 28)).toEqual([9, 19, 39, 49]);
  });

  it('expandBox truncates toward zero like .to(int64): [-5.5, 0.2, 3.1, 9.9] → [-5, 0, 3, 10]', () => {
    // exact: x −5.80714…, 3.40714…; y −0.14643…, 10.24643…
    expect(expandBox([-5.5, 0.2, 3.1, 9.9], 28)).toEqual([-5, 0, 3, 10]);
  });

  it('pasteMasks of a 1×1 mask [1] into box [0, 0, 2, 2] of a 4×4 image gives the outer product of [4/7, 1, 4/7, 1/7]', () => {
    // padded mask 3×3 with a single 1 in the centre; box expanded ×3 about (1, 1) → [−2, −2, 4, 4], so
    // the mask is resized 3 → 7 (ratio 3/7): resized index i samples src = (i + 0.5)·3/7 − 0.5;
    // image index = resized index − 2 → i = 2..5 → src 4/7, 1, 10/7, 13/7 → weights of the 1: 4/7, 1, 4/7, 1/7.
    const out = pasteMasks(Float32Array.from([1]), 1, Float32Array.from([0, 0, 2, 2]), [4, 4]);
    const p = [4 / 7, 1, 4 / 7, 1 / 7];
    expect(out.length).toBe(16);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(out[r * 4 + c]).toBeCloseTo(p[r]! * p[c]!, 6);
  });

  it('pasteMasks leaves everything outside the expanded box at exactly 0', () => {
    const out = pasteMasks(new Float32Array(4).fill(1), 2, Float32Array.from([4, 3, 6, 5]), [10, 12]);
    // expanded: half 1 · 2 = 2 about (5, 4) → [3, 2, 7, 6]: rows 2..6, cols 3..7 may be non-zero
    for (let r = 0; r < 10; r++) {
      for (let c = 0; c < 12; c++) {
        const inside = r >= 2 && r <= 6 && c >= 3 && c <= 7;
        if (!inside) expect(out[r * 12 + c]).toBe(0);
      }
    }
    expect(out[4 * 12 + 5]).toBeCloseTo(1, 6); // box centre
  });

  it('pasteMasks with a box wholly outside the image (where torchvision raises) gives an all-zero mask', () => {
    const masks = new Float32Array(2 * 4).fill(1);
    const out = pasteMasks(masks, 2, Float32Array.from([50, 2, 60, 8, -30, -30, -10, -12]), [10, 20]);
    expect(out.length).toBe(2 * 10 * 20);
    expect(out.every((v) => v === 0)).toBe(true);
  });

  it('pasteMasks with D = 0 returns an empty array', () => {
    expect(pasteMasks(new Float32Array(0), 28, new Float32Array(0), [5, 7]).length).toBe(0);
  });

  it('pasteMasks rejects masks whose length is not D·M·M, naming both', () => {
    expect(() => pasteMasks(new Float32Array(10), 3, new Float32Array(8), [5, 5])).toThrow(PasteError);
    expect(() => pasteMasks(new Float32Array(10), 3, new Float32Array(8), [5, 5])).toThrow(/2×3×3 .* found 10 values/);
  });

  it('pasteMask rejects a non-finite box', () => {
    expect(() => pasteMask(new Float32Array(4), 0, 2, [0, 0, NaN, 3], [5, 5], new Float32Array(25))).toThrow(/finite box.*NaN/);
  });

  it('pasteMasks of 100 28×28 masks into a 640×480 image: D planes, each zero outside its (1-px expanded, clipped) box', () => {
    // Its speed is a benchmark's business, not a test's (tests assert no timings).
    const r = rng(5);
    const D = 100;
    const masks = Float32Array.from({ length: D * 28 * 28 }, () => r());
    const boxes = new Float32Array(D * 4);
    for (let d = 0; d < D; d++) {
      const x = r() * 600;
      const y = r() * 440;
      boxes.set([x, y, x + 20 + r() * 300, y + 20 + r() * 300], 4 * d);
    }
    const out = pasteMasks(masks, 28, boxes, [480, 640]);
    expect(out.length).toBe(D * 480 * 640);
    for (let d = 0; d < D; d += 9) {
      // expandBox widens by 28/26 around the centre; nothing may land more than 2 px beyond that.
      const [x1, y1, x2, y2] = boxes.subarray(4 * d, 4 * d + 4) as unknown as [number, number, number, number];
      const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2, hw = ((x2 - x1) / 2) * (28 / 26) + 2, hh = ((y2 - y1) / 2) * (28 / 26) + 2;
      let outside = 0;
      let inside = 0;
      for (let y = 0; y < 480; y++) {
        for (let x = 0; x < 640; x++) {
          const v = out[d * 480 * 640 + y * 640 + x]!;
          if (Math.abs(x + 0.5 - cx) > hw || Math.abs(y + 0.5 - cy) > hh) outside += v === 0 ? 0 : 1;
          else if (v > 0) inside++;
        }
      }
      expect(outside, `detection ${d}`).toBe(0);
      expect(inside, `detection ${d}`).toBeGreaterThan(0);
    }
  });
});

describe.runIf(hasTorchvision())('paste parity with torchvision paste_masks_in_image', () => {
  // Every box reaches into the image: torchvision raises (or slices with negative indices) otherwise.
  const r = rng(42);
  const cases: { M: number; size: Size; boxes: number[] }[] = [];
  {
    const [H, W] = [61, 83];
    const boxes: number[] = [
      10.3, 12.7, 40.2, 50.9, // inside
      -12.4, -7.9, 20.6, 15.2, // over the top-left corner
      60.1, 40.5, 95.3, 70.8, // over the bottom-right corner
      -0.6, 5.2, 30.4, 20.1, // x1 in (−1, 0): truncation toward 0
      30, 30, 30, 30, // zero-size box → 1×1
      5.5, 5.5, 6.1, 6.4, // sub-pixel box
      -20, -20, 100, 90, // larger than the image
      0, 0, 82, 60, // exactly the image
    ];
    for (let i = 0; i < 24; i++) {
      // top-left anywhere from 10 px outside to the last pixel; bottom-right at least 1 px inside
      const x = r() * (W + 9) - 10;
      const y = r() * (H + 9) - 10;
      boxes.push(x, y, Math.max(x + r() * 40, 1), Math.max(y + r() * 40, 1));
    }
    cases.push({ M: 28, size: [H, W], boxes });
  }
  {
    const boxes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const x = r() * 30;
      const y = r() * 20;
      boxes.push(x, y, x + 1 + r() * 25, y + 1 + r() * 25);
    }
    cases.push({ M: 14, size: [23, 37], boxes });
  }
  let dir: string;
  let masksOf: Float32Array[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'paste-'));
    masksOf = cases.map(({ M, boxes }) => {
      const D = boxes.length / 4;
      // probabilities with structure: a blob plus noise, so the resize has edges to get right
      return Float32Array.from({ length: D * M * M }, (_, i) => {
        const y = Math.floor(i / M) % M;
        const x = i % M;
        const blob = (x - M / 2) ** 2 + (y - M / 2) ** 2 < (M / 3) ** 2 ? 0.7 : 0;
        return Math.min(1, blob + r() * 0.3);
      });
    });
    // The oracle's paste command reads <case>/masks.npy and <case>/boxes.npy; all cases run in one batch.
    const jobs = cases.map(({ M, size, boxes }, k) => {
      const sub = join(dir, `case${k}`);
      mkdirSync(sub);
      writeFileSync(join(sub, 'masks.npy'), encodeNpy([boxes.length / 4, M, M], masksOf[k]!));
      writeFileSync(join(sub, 'boxes.npy'), encodeNpy([boxes.length / 4, 4], Float32Array.from(boxes)));
      return ['paste', sub, String(size[0]), String(size[1])];
    });
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    oracle('transform_paste.py', ['batch', join(dir, 'jobs.json')]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  cases.forEach(({ M, size, boxes }, k) => {
    it(`pasteMasks(${boxes.length / 4} masks ${M}×${M}, boxes in and around a ${size[0]}×${size[1]} image) matches torchvision within 1e-5`, () => {
      const want = decodeNpy(readFileSync(join(dir, `case${k}`, 'pasted.npy')));
      expect(want.shape).toEqual([boxes.length / 4, size[0], size[1]]);
      const got = pasteMasks(masksOf[k]!, M, Float32Array.from(boxes), size);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want.data[i]!));
      console.log(`[paste] M=${M}, ${boxes.length / 4} boxes into ${size.join('×')}: max |diff| vs torchvision = ${maxDiff}`);
      expect(maxDiff).toBeLessThanOrEqual(1e-5);
    });
  });
});

describe('pasteMaskRegion (memory bounded by the box)', () => {
  it.each(['torchvision', 'exact'] as const)('pasteMaskRegion (%s) holds exactly the nonzero region pasteMask writes, for boxes inside, across and outside the image', (mode) => {
    const M = 5;
    const mask = Float32Array.from({ length: M * M }, (_, i) => ((i * 37) % 11) / 10);
    const size: Size = [30, 40];
    for (const box of [[3.2, 4.7, 17.9, 21.1], [-6.5, -2, 8.25, 9], [30, 20, 55, 41], [50, 50, 60, 60], [5, 5, 5, 9]]) {
      const plane = new Float32Array(30 * 40);
      pasteMask(mask, 0, M, box, size, plane, 0, { mode });
      const region = pasteMaskRegion(mask, 0, M, box, size, { mode });
      const expanded = regionsToPlanes([region], size);
      expect(Array.from(expanded), JSON.stringify(box)).toEqual(Array.from(plane));
      expect(region.x0 + region.width).toBeLessThanOrEqual(40);
      expect(region.y0 + region.height).toBeLessThanOrEqual(30);
    }
  });
});

describe('exact paste (the inverse of the mask targets)', () => {
  it('a 2×2 mask of ones in box [0, 0, 4, 4] of a 6×6 image: each axis reads [½, 1, 1, 1, ½, 0]', () => {
    // bin 2; pixel x reads mask column u = x/2 − ½ → −½, 0, ½, 1, 3/2, 2; the zero border beyond
    // columns −1 and 2 gives ½ at u = −½ and 3/2, and 0 from u = 2 on.
    const out = pasteMasks(new Float32Array(4).fill(1), 2, Float32Array.from([0, 0, 4, 4]), [6, 6], { mode: 'exact' });
    const p = [0.5, 1, 1, 1, 0.5, 0];
    expect(Array.from(out)).toEqual(p.flatMap((a) => p.map((b) => a * b)));
  });

  it('a mask made at twice the size (scale r = 2) shifts by ½ − ½/r = ¼ pixel: box [0, 0, 4, 4] reads u = (x + ¼)/2 − ½', () => {
    // columns: u = −3/8, 1/8, 5/8, 9/8, 13/8, 17/8 → 5/8, 1, 1, 7/8, 3/8, 0 on a 2×2 mask of ones (cells at u = 0, 1);
    // the one image row (y = 0) reads v = −3/8 → 5/8
    const out = pasteMasks(new Float32Array(4).fill(1), 2, Float32Array.from([0, 0, 4, 4]), [1, 6], { mode: 'exact', scale: [2, 2] });
    expect(Array.from(out)).toEqual([5 / 8, 1, 1, 7 / 8, 3 / 8, 0].map((v) => (5 / 8) * v));
  });

  it("mask targets pasted back exactly reproduce the ground truth; torchvision's integer paste loses pixels on small objects", () => {
    const [H, W] = [40, 48];
    const gt = new Uint8Array(H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 20.5) ** 2 + (y - 17) ** 2 <= 36 && !((x - 20.5) ** 2 + (y - 17) ** 2 <= 6)) gt[y * W + x] = 1;
    const M = 28;
    const iou = (plane: Float32Array) => {
      let inter = 0;
      let union = 0;
      for (let i = 0; i < H * W; i++) {
        const a = plane[i]! > 0.5;
        const b = gt[i] === 1;
        if (a && b) inter++;
        if (a || b) union++;
      }
      return inter / union;
    };
    // the ring's tight box, and a detection box a little off it
    for (const box of [[14, 11, 27, 24], [13.4, 10.7, 27.6, 24.2]]) {
      const target = maskTargets({ count: 1, height: H, width: W, data: gt }, Float32Array.from(box), Int32Array.from([0]), M);
      const exact = iou(pasteMasks(target, M, Float32Array.from(box), [H, W], { mode: 'exact' }));
      const integer = iou(pasteMasks(target, M, Float32Array.from(box), [H, W]));
      expect(exact, JSON.stringify(box)).toBeGreaterThan(0.97);
      expect(integer, JSON.stringify(box)).toBeLessThan(exact - 0.05);
    }
  });

  it('an unknown paste mode is refused with the two it knows', () => {
    expect(() => pasteMasks(new Float32Array(4), 2, Float32Array.from([0, 0, 4, 4]), [6, 6], { mode: 'nearest' as 'exact' })).toThrow(/'torchvision' or 'exact'; found "nearest"/);
  });
});
