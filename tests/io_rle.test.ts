/**
 * COCO RLE against hand-computed encodings (pycocotools' column-major runs and its compressed
 * string) and round trips. pycocotools is not installed here, so every expectation is worked out
 * below from maskApi.c's rules.
 */
import { describe, expect, it } from 'vitest';
import {
  countsToString,
  decodeRle,
  encodeRegionRle,
  encodeRle,
  maskToCounts,
  regionToCounts,
  rleArea,
  rleIou,
  RleError,
  stringToCounts,
  thresholdMask,
} from '../src/io/rle.ts';

describe('COCO RLE (hand-computed)', () => {
  it('maskToCounts reads the row-major mask column by column, starting with zeros: [[0,1,1],[1,1,0]] → [1, 4, 1]', () => {
    // columns: (0, 1), (1, 1), (1, 0) → 0 1 1 1 1 0
    expect(maskToCounts([0, 1, 1, 1, 1, 0], 2, 3)).toEqual([1, 4, 1]);
  });

  it('maskToCounts of an all-ones mask starts with an empty zero run: [0, 4]', () => {
    expect(maskToCounts([1, 1, 1, 1], 2, 2)).toEqual([0, 4]);
    expect(maskToCounts([0, 0, 0, 0], 2, 2)).toEqual([4]);
    expect(maskToCounts([], 0, 0)).toEqual([0]);
  });

  it('maskToCounts accepts booleans and treats any nonzero as foreground', () => {
    expect(maskToCounts([false, true, 0.3, 0], 2, 2)).toEqual([1, 2, 1]);
  });

  it('encodeRle([[0,1,1],[1,1,0]]) = { size: [2, 3], counts: "141" }', () => {
    expect(encodeRle(Uint8Array.from([0, 1, 1, 1, 1, 0]), 2, 3)).toEqual({ size: [2, 3], counts: '141' });
  });

  it('countsToString splits a count into 5-bit groups, least significant first: [0, 100] → "0T3"', () => {
    // 100 = 3·32 + 4: group 4 with the "more" bit 0x20 → 36 + 48 = 'T'; then 3 → '3'
    expect(countsToString([0, 100])).toBe('0T3');
  });

  it('countsToString stores counts from the third on as differences, negative ones with the 0x10 sign bit: [1, 5, 2, 1] → "152L"', () => {
    // i = 3: 1 − 5 = −4 → low 5 bits 28 (0x1c, sign bit set), rest −1 → stop: 28 + 48 = 'L'
    expect(countsToString([1, 5, 2, 1])).toBe('152L');
  });

  it('stringToCounts inverts those: "0T3" → [0, 100], "152L" → [1, 5, 2, 1], "141" → [1, 4, 1]', () => {
    expect(stringToCounts('0T3')).toEqual([0, 100]);
    expect(stringToCounts('152L')).toEqual([1, 5, 2, 1]);
    expect(stringToCounts('141')).toEqual([1, 4, 1]);
  });

  it('stringToCounts and countsToString round-trip large and alternating counts', () => {
    const counts = [0, 1, 1_000_000, 3, 70_000, 2 ** 31 + 5, 0, 12, 123_456_789, 1];
    expect(stringToCounts(countsToString(counts))).toEqual(counts);
  });

  it('decodeRle({ size: [3, 3], counts: "152L" }) puts ones at column-major positions 1–5 and 8', () => {
    // column-major 0 1 1 1 1 1 0 0 1 → columns (0,1,1), (1,1,1), (0,0,1)
    expect(Array.from(decodeRle({ size: [3, 3], counts: '152L' }))).toEqual([0, 1, 0, 1, 1, 0, 1, 1, 1]);
  });

  it('encodeRle then decodeRle returns the mask (random 7×5 masks)', () => {
    let seed = 1;
    for (let t = 0; t < 20; t++) {
      const mask = Uint8Array.from({ length: 35 }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16) & 1);
      expect(Array.from(decodeRle(encodeRle(mask, 7, 5)))).toEqual(Array.from(mask));
    }
  });

  it('rleArea counts foreground pixels: 4 for "141", 6 for "152L"', () => {
    expect(rleArea({ size: [2, 3], counts: '141' })).toBe(4);
    expect(rleArea({ size: [3, 3], counts: '152L' })).toBe(6);
  });

  it('rleIou of the top row and the left column of a 2×2 image is 1/3', () => {
    const top = encodeRle([1, 1, 0, 0], 2, 2);
    const left = encodeRle([1, 0, 1, 0], 2, 2);
    expect(rleIou(top, left)).toBeCloseTo(1 / 3, 12);
    expect(rleIou(top, top)).toBe(1);
    expect(rleIou(encodeRle([0, 0, 0, 0], 2, 2), encodeRle([0, 0, 0, 0], 2, 2))).toBe(0);
  });

  it('rleIou agrees with a pixel count on random 9×11 masks', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16) & 1;
    for (let t = 0; t < 20; t++) {
      const a = Uint8Array.from({ length: 99 }, rand);
      const b = Uint8Array.from({ length: 99 }, rand);
      let inter = 0;
      let union = 0;
      for (let i = 0; i < 99; i++) {
        inter += a[i]! & b[i]!;
        union += a[i]! | b[i]!;
      }
      expect(rleIou(encodeRle(a, 9, 11), encodeRle(b, 9, 11))).toBeCloseTo(inter / union, 12);
    }
  });

  it('thresholdMask keeps p > 0.5 strictly (torchvision references use masks > 0.5)', () => {
    expect(Array.from(thresholdMask(Float32Array.from([0.2, 0.5, 0.5001, 1])))).toEqual([0, 0, 1, 1]);
  });

  it('encodeRle rejects a mask whose length is not height·width', () => {
    expect(() => encodeRle(new Uint8Array(5), 2, 3)).toThrow(RleError);
    expect(() => encodeRle(new Uint8Array(5), 2, 3)).toThrow(/row-major 2×3 mask \(6 values\); found 5/);
  });

  it('decodeRle rejects counts that do not cover the size, and characters outside 48–111', () => {
    expect(() => decodeRle({ size: [2, 2], counts: '141' })).toThrow(/cover 6 pixels .* 2×2 needs 4/);
    expect(() => decodeRle({ size: [2, 2], counts: '1 3' })).toThrow(/' ' at character 1/);
    expect(() => stringToCounts('0T')).toThrow(/ends inside a count at character 2/);
  });
});

describe('encodeRegionRle', () => {
  it('encodeRegionRle of a region equals encodeRle of the full thresholded mask', () => {
    const H = 7;
    const W = 9;
    const region = { x0: 2, y0: 1, width: 4, height: 5, data: Float32Array.from({ length: 20 }, (_, i) => ((i * 7) % 5) / 4) };
    const full = new Uint8Array(H * W);
    for (let y = 0; y < region.height; y++) {
      for (let x = 0; x < region.width; x++) full[(region.y0 + y) * W + region.x0 + x] = region.data[y * region.width + x]! > 0.5 ? 1 : 0;
    }
    expect(encodeRegionRle(region, 0.5, H, W)).toEqual(encodeRle(full, H, W));
    expect(regionToCounts(region, 0.5, H, W)).toEqual(maskToCounts(full, H, W));
  });

  it('encodeRegionRle of an empty region is one run of zeros', () => {
    expect(regionToCounts({ x0: 3, y0: 2, width: 0, height: 0, data: new Float32Array(0) }, 0.5, 4, 5)).toEqual([20]);
  });

  it('regionToCounts rejects a region that leaves the image, naming both sizes', () => {
    expect(() => regionToCounts({ x0: 3, y0: 0, width: 4, height: 1, data: new Float32Array(4) }, 0.5, 2, 5)).toThrow(/inside the 2×5 image/);
  });
});
