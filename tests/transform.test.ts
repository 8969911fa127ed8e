/**
 * The transform stage against hand-computed geometry and against torchvision's
 * GeneralizedRCNNTransform (sizes, scale and every value of the padded input) and resize_boxes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type TransformConfig } from '../src/config.ts';
import { decodeNpy, encodeNpy } from '../src/io/npy.ts';
import {
  linearTaps,
  paddedSize,
  resizeBoxes,
  resizedSize,
  transformImage,
  transformPixels,
  TransformError,
} from '../src/stages/transform.ts';
import type { RgbImage, Size } from '../src/types.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';
import { rng } from './support/random_weights.ts';

function randomImage(height: number, width: number, seed: number): RgbImage {
  const r = rng(seed);
  const data = new Uint8Array(height * width * 3);
  // Smooth gradients plus noise plus a few hard edges: both kinds of content a resize can get wrong.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const edge = (x * 7 + y * 3 + c * 11) % 23 < 4 ? 200 : 0;
        data[(y * width + x) * 3 + c] = Math.min(255, Math.floor((x / width) * 40 + (y / height) * 15 + r() * 40 + edge));
      }
    }
  }
  return { width, height, data };
}

const cfg = (minSize: number, maxSize: number, sizeDivisible = 32): TransformConfig => ({
  ...defaultConfig().transform,
  minSize,
  maxSize,
  sizeDivisible,
});

describe('transform geometry (hand-computed)', () => {
  it('resizedSize([256, 512], 800, 1333) is bound by the long side: scale 1333/512 = 2.603515625, size [666, 1333]', () => {
    // 1/512 and 1/256 are exact in float32: short 800/256 = 3.125, long 1333/512 = 2.603515625 (smaller).
    // 256 · 2.603515625 = 666.5 → 666; 512 · 2.603515625 = 1333.
    expect(resizedSize([256, 512], 800, 1333)).toEqual({ size: [666, 1333], scale: 2.603515625 });
  });

  it('resizedSize([16, 16], 800, 1333) is bound by the short side: scale 50, size [800, 800]', () => {
    expect(resizedSize([16, 16], 800, 1333)).toEqual({ size: [800, 800], scale: 50 });
  });

  it('resizedSize([11, 11], 800, 1333) gives a 799 short side, like torch: fl(fl(1/11)·800)·11 < 800', () => {
    // fl(1/11) = 0.09090909361839294; ·800 = 72.727274894… → fl = 72.7272720336914; ·11 = 799.99999237 → 799.
    expect(resizedSize([11, 11], 800, 1333)).toEqual({ size: [799, 799], scale: 72.7272720336914 });
  });

  it('resizedSize([1, 10000], 800, 1333) throws a TransformError: the short side would be 0 (and the long side 1332)', () => {
    expect(() => resizedSize([1, 10000], 800, 1333)).toThrow(TransformError);
    expect(() => resizedSize([1, 10000], 800, 1333)).toThrow(/gives 0×1332.*too elongated/);
  });

  it('paddedSize([666, 1333], 32) rounds each side up to a multiple of 32: [672, 1344]', () => {
    expect(paddedSize([666, 1333], 32)).toEqual([672, 1344]);
    expect(paddedSize([64, 32], 32)).toEqual([64, 32]);
  });

  it('linearTaps(2, 4) samples at half-pixel centres, clamps the left edge to 0 and repeats the last pixel on the right', () => {
    // ratio 0.5, src = 0.5·(i + 0.5) − 0.5 = −0.25 → 0, 0.25, 0.75, 1.25
    const t = linearTaps(2, 4);
    expect(Array.from(t.i0)).toEqual([0, 0, 0, 1]);
    expect(Array.from(t.i1)).toEqual([1, 1, 1, 1]);
    expect(Array.from(t.w1)).toEqual([0, 0.25, 0.75, 0.25]);
    expect(Array.from(t.w0)).toEqual([1, 0.75, 0.25, 0.75]);
  });

  it('linearTaps(4, 2) downsamples by averaging pixel pairs: src = 0.5, 2.5', () => {
    const t = linearTaps(4, 2);
    expect(Array.from(t.i0)).toEqual([0, 2]);
    expect(Array.from(t.i1)).toEqual([1, 3]);
    expect(Array.from(t.w1)).toEqual([0.5, 0.5]);
  });

  it('resizeBoxes(boxes, [100, 200], [50, 400]) scales x by 2 and y by 0.5', () => {
    const out = resizeBoxes(Float32Array.from([10, 20, 30, 40, 0, 0, 200, 100]), [100, 200], [50, 400]);
    expect(Array.from(out)).toEqual([20, 10, 60, 20, 0, 0, 400, 50]);
  });

  it('resizeBoxes rejects a flat array whose length is not a multiple of 4', () => {
    expect(() => resizeBoxes(new Float32Array(5), [1, 1], [2, 2])).toThrow(/multiple of 4.*found length 5/);
  });
});

describe('transformImage', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('transformImage of a 2×3 image at minSize 2, maxSize 3 only normalizes and pads to [1, 32, 32, 3]', async () => {
    // scale = min(fl(1/2)·2, fl(fl(1/3)·3)) = min(1, 1) = 1: no resize.
    const image: RgbImage = { width: 3, height: 2, data: Uint8Array.from([255, 0, 51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255]) };
    const before = tf.memory().numTensors;
    const t = transformImage(image, cfg(2, 3));
    expect(t.input.shape).toEqual([1, 32, 32, 3]);
    expect(t.imageSize).toEqual([2, 3]);
    expect(t.originalSize).toEqual([2, 3]);
    expect(t.scale).toBe(1);
    const v = await t.input.data();
    // pixel (0, 0): ((255/255 − 0.485)/0.229, (0 − 0.456)/0.224, (0.2 − 0.406)/0.225)
    expect(v[0]).toBeCloseTo(2.2489083, 6);
    expect(v[1]).toBeCloseTo(-2.0357143, 6);
    expect(v[2]).toBeCloseTo(-0.9155556, 6);
    // pixel (1, 2) blue = 255 → (1 − 0.406)/0.225 = 2.64
    expect(v[(1 * 32 + 2) * 3 + 2]).toBeCloseTo(2.64, 5);
    // padding: column 3 of row 0 and everything from row 2 on is exactly 0
    expect(Array.from(v.subarray(3 * 3, 32 * 3)).every((x) => x === 0)).toBe(true);
    expect(Array.from(v.subarray(2 * 32 * 3)).every((x) => x === 0)).toBe(true);
    t.input.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('transformImage of a 1×1 image at the defaults gives an 800×800 constant image padded to 800×800', async () => {
    const t = transformImage({ width: 1, height: 1, data: Uint8Array.from([10, 20, 30]) }, defaultConfig().transform);
    expect(t.input.shape).toEqual([1, 800, 800, 3]);
    expect(t.imageSize).toEqual([800, 800]);
    const v = await t.input.data();
    const last = v.length - 3;
    expect(v[last]).toBe(v[0]);
    expect(v[0]).toBeCloseTo((10 / 255 - 0.485) / 0.229, 6);
    t.input.dispose();
  });

  it('transformImage rejects an image whose data length is not width·height·3', () => {
    expect(() => transformImage({ width: 2, height: 2, data: new Uint8Array(11) }, cfg(2, 2))).toThrow(/2·2·3 = 12 bytes; found 2×2 with 11 bytes/);
  });
});

describe.runIf(hasTorchvision())('transform parity with torchvision GeneralizedRCNNTransform', () => {
  // Every case is prepared up front and sent to the oracle in one batch (torch imports once).
  const sizeCases: [number, number, number, number][] = [
    [480, 640, 800, 1333], [427, 640, 800, 1333], [1, 1, 800, 1333], [11, 11, 800, 1333], [3000, 4000, 800, 1333],
    [100, 4000, 800, 1333], [333, 777, 320, 512], [1080, 1920, 800, 1333], [37, 53, 64, 100], [120, 31, 40, 60],
  ];
  const r = rng(7);
  for (let i = 0; i < 30; i++) {
    const minSize = [320, 512, 800][i % 3]!;
    sizeCases.push([1 + Math.floor(r() * 2000), 1 + Math.floor(r() * 2000), minSize, [1333, 1000, minSize][i % 3]!]);
  }
  const valueCases: [number, number, number, number, number][] = [
    // [H0, W0, minSize, maxSize, sizeDivisible]
    [37, 53, 64, 100, 32], // upscale, odd sizes
    [120, 31, 40, 60, 32], // long side bound, downscale
    [97, 131, 320, 1333, 32], // upscale ×3.3
    [64, 90, 50, 70, 16], // mild downscale, another divisor
    [11, 11, 800, 1333, 32], // the 799 case
  ];
  const boxes = Float32Array.from({ length: 40 }, () => r() * 1000);
  let dir: string;
  let results: unknown[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'transform-'));
    const jobs: string[][] = [['sizes', JSON.stringify(sizeCases)]];
    valueCases.forEach(([h0, w0, minSize, maxSize, div], k) => {
      mkdirSync(join(dir, `case${k}`));
      writeFileSync(join(dir, `case${k}`, 'image.npy'), encodeNpy([h0, w0, 3], randomImage(h0, w0, h0 * 1000 + w0).data, 'uint8'));
      jobs.push(['transform', join(dir, `case${k}`), String(minSize), String(maxSize), String(div)]);
    });
    writeFileSync(join(dir, 'boxes.npy'), encodeNpy([10, 4], boxes));
    jobs.push(['resize_boxes', dir, '799', '1066', '480', '640']);
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    results = JSON.parse(oracle('transform_paste.py', ['batch', join(dir, 'jobs.json')])) as unknown[];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resizedSize gives torchvision’s output size and scale_factor for 40 sizes (odd, tiny, elongated, long-side bound)', () => {
    const got = sizeCases.map(([h, w, mn, mx]) => {
      try {
        return resizedSize([h, w], mn, mx);
      } catch (e) {
        return { error: String(e) };
      }
    });
    expect(got).toEqual(results[0]);
  });

  valueCases.forEach(([h0, w0, minSize, maxSize, div], k) => {
    it(`transformImage(${h0}×${w0}, minSize ${minSize}, maxSize ${maxSize}, sizeDivisible ${div}) matches torchvision within 1e-5`, async () => {
      const meta = results[1 + k] as { image_size: Size; scale: number };
      const want = decodeNpy(readFileSync(join(dir, `case${k}`, 'input.npy'))); // 3×Hp×Wp
      const t = transformImage(randomImage(h0, w0, h0 * 1000 + w0), cfg(minSize, maxSize, div));
      const [, hp, wp] = t.input.shape;
      expect(t.imageSize).toEqual(meta.image_size);
      expect(t.scale).toBe(meta.scale);
      expect([3, hp, wp]).toEqual(want.shape);
      const got = await t.input.data(); // Hp×Wp×3
      t.input.dispose();
      let maxDiff = 0;
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < hp * wp; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i * 3 + c]! - want.data[c * hp * wp + i]!));
      }
      console.log(`[transform] ${h0}×${w0} → ${meta.image_size.join('×')} (padded ${hp}×${wp}): max |diff| vs torchvision = ${maxDiff}`);
      expect(maxDiff).toBeLessThanOrEqual(1e-5);
    });
  });

  it('transformPixels agrees with transformImage (the tensor is the uploaded pixels)', async () => {
    const image = randomImage(20, 30, 3);
    const p = transformPixels(image, cfg(25, 40));
    const t = transformImage(image, cfg(25, 40));
    expect(Array.from(await t.input.data())).toEqual(Array.from(p.pixels));
    t.input.dispose();
  });

  it('resizeBoxes matches torchvision resize_boxes bit for bit (float32 ratios)', () => {
    const want = decodeNpy(readFileSync(join(dir, 'resized.npy')));
    expect(Array.from(resizeBoxes(boxes, [799, 1066], [480, 640]))).toEqual(Array.from(want.data));
  });
});
