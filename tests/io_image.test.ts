/**
 * Image decoding: every fixture of tests/fixtures/images (made by tests/oracle/make_images.py)
 * against PIL's Image.open(...).convert('RGB'), and every kind of bad input with its message.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, ImageError, sniffFormat, upsampleFancy } from '../src/io/image.ts';
import { decodeNpy } from '../src/io/npy.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'images');
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));

/** A PNG chunk with its CRC. */
function chunk(type: string, data: number[]): number[] {
  const body = [...Buffer.from(type, 'latin1'), ...data];
  const crc = crc32(Uint8Array.from(body));
  const be = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return [...be(data.length), ...body, ...be(crc)];
}
const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ihdr = (w: number, h: number, depth: number, colorType: number) =>
  chunk('IHDR', [(w >>> 24) & 255, (w >>> 16) & 255, (w >>> 8) & 255, w & 255, (h >>> 24) & 255, (h >>> 16) & 255, (h >>> 8) & 255, h & 255, depth, colorType, 0, 0, 0]);

describe('decodeImage: bad input', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['an empty file', new Uint8Array(0), /photo\.png: the file is empty \(0 bytes\); expected a PNG or JPEG image/],
    ['a GIF', fixture('not_image.gif'), /expected a PNG or JPEG image; found a GIF \(magic 'GIF8[79]a'\)\. Convert it to PNG or JPEG/],
    ['a WebP', Uint8Array.from([...Buffer.from('RIFF'), 10, 0, 0, 0, ...Buffer.from('WEBPVP8 ')]), /found a WebP \(magic 52 49 46 46 0a 00 00 00 57 45 42 50\)/],
    ['a PyTorch checkpoint (ZIP)', Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0]), /found a ZIP archive \(PyTorch checkpoints are ZIP files: pass it as the weights/],
    ['an SVG', new Uint8Array(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), /found a text file \(SVG, HTML or XML\?\) \(magic '<svg xml'\)/],
    ['unknown bytes', Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), /found an unknown format \(magic 01 02 03 04 05 06 07 08\)/],
    ['the first 4 bytes of a PNG', Uint8Array.from(PNG_SIG.slice(0, 4)), /the file is truncated \(4 bytes, only the start of a PNG\/JPEG signature\)/],
    ['a PNG cut off inside IDAT', fixture('truncated.png'), /the PNG is truncated \(chunk IDAT at byte 33 declares \d+ bytes of data but the file ends \d+ bytes later/],
    ['a PNG without IEND', Uint8Array.from([...PNG_SIG, ...ihdr(1, 1, 8, 2)]), /the PNG is truncated \(it ends after 33 bytes without the IEND chunk/],
    ['a PNG with a changed IDAT byte', fixture('corrupt.png'), /the PNG is corrupt \(chunk IDAT at byte 33 fails its CRC check: stored [0-9a-f]+, computed [0-9a-f]+\)/],
    ['a PNG of colour type 2 at 4 bits', Uint8Array.from([...PNG_SIG, ...ihdr(1, 1, 4, 2), ...chunk('IEND', [])]), /PNG colour type 2 with bit depth 4 is not a valid PNG combination/],
    ['a PNG of 0×5 pixels', Uint8Array.from([...PNG_SIG, ...ihdr(0, 5, 8, 2), ...chunk('IEND', [])]), /the PNG header says 0×5 pixels; expected at least 1×1/],
    ['a PNG of 20000×20000 pixels (refused from the header alone)', Uint8Array.from([...PNG_SIG, ...ihdr(20000, 20000, 8, 2)]), /20000×20000 = 400\.0 megapixels, above the limit of 100\.0 megapixels \(option maxPixels\)\. Downscale/],
    ['a JPEG cut off in its data', fixture('truncated.jpg'), /the JPEG is truncated \(no end-of-image marker after the image data; the file has \d+ bytes\)/],
    ['a JPEG cut off in its header', fixture('baseline420.jpg').subarray(0, 30), /the JPEG is truncated \(marker 0xff[0-9a-f]{2} at byte \d+ declares \d+ bytes past the end/],
    ['an arithmetic-coded JPEG', Uint8Array.from([0xff, 0xd8, 0xff, 0xc9, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0, 0xff, 0xd9]), /this JPEG is arithmetic-coded sequential \(SOF9\), which the decoder \(jpeg-js\) does not support; re-save it/],
    ['a 12-bit JPEG', Uint8Array.from([0xff, 0xd8, 0xff, 0xc1, 0, 11, 12, 0, 16, 0, 16, 1, 1, 0x11, 0, 0xff, 0xd9]), /this JPEG has 12-bit samples; only 8-bit JPEGs are supported/],
    ['a JPEG with garbage after SOI', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0x12, 0x34, 0, 0]), /the JPEG is corrupt \(expected a marker at byte 8, found 0x12\)/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`decodeImage of ${what} throws an ImageError: ${message.source.slice(0, 60)}…`, () => {
      expect(() => decodeImage(bytes, 'photo.png')).toThrow(ImageError);
      expect(() => decodeImage(bytes, 'photo.png')).toThrow(message);
    });
  }

  it('decodeImage(bytes, name, { maxPixels: 3000 }) refuses the 64×48 fixture (3072 pixels)', () => {
    expect(() => decodeImage(fixture('rgb.png'), 'rgb.png', { maxPixels: 3000 })).toThrow(/rgb\.png: 64×48 = 0\.0 megapixels, above the limit of 0\.0 megapixels/);
    expect(() => decodeImage(fixture('baseline420.jpg'), 'a.jpg', { maxPixels: 3000 })).toThrow(/64×48 .* above the limit/);
    expect(decodeImage(fixture('rgb.png'), 'rgb.png', { maxPixels: 3072 }).width).toBe(64);
  });

  it('sniffFormat looks at the bytes, not the name: a PNG called photo.jpg is a PNG', () => {
    expect(sniffFormat(fixture('rgb.png'), 'photo.jpg')).toBe('png');
    expect(decodeImage(fixture('rgb.png'), 'photo.jpg').width).toBe(64);
    expect(sniffFormat(fixture('baseline420.jpg'), 'x.png')).toBe('jpeg');
  });
});

describe('decodeImage: geometry (hand-computed)', () => {
  it('decodeImage of the 1×1 PNG (200, 100, 50) gives those three bytes', () => {
    expect(decodeImage(fixture('1x1.png'))).toEqual({ width: 1, height: 1, data: Uint8Array.from([200, 100, 50]) });
  });

  it('decodeImage of a 1×1 JPEG gives 1×1 pixels near (200, 100, 50)', () => {
    const img = decodeImage(fixture('1x1.jpg'));
    expect([img.width, img.height, img.data.length]).toEqual([1, 1, 3]);
    for (const [i, v] of [200, 100, 50].entries()) expect(Math.abs(img.data[i]! - v)).toBeLessThanOrEqual(3);
  });

  it('upsampleFancy h2v1 of [0, 100, 200] is libjpeg\'s triangle filter: [0, 25, 75, 125, 175, 200]', () => {
    // first: in0, (3·0 + 100 + 2) >> 2 = 25; middle: (300 + 0 + 1) >> 2 = 75, (300 + 200 + 2) >> 2 = 125;
    // last: (600 + 100 + 1) >> 2 = 175, in2
    expect(Array.from(upsampleFancy(Uint8Array.from([0, 100, 200]), 3, 1, 2, 1))).toEqual([0, 25, 75, 125, 175, 200]);
  });

  it('upsampleFancy h2v2 of a 3×2 plane weights 9/16, 3/16, 3/16, 1/16 with biases 8 and 7', () => {
    // rows [0, 0, 0] and [160, 160, 160]: column sums for the top output row of input row 0 are
    // 3·0 + 0 (row above = itself) = 0; for its lower output row 3·0 + 160 = 160 → (160·4 + 8) >> 4 = 40.
    const out = upsampleFancy(Uint8Array.from([0, 0, 0, 160, 160, 160]), 3, 2, 2, 2);
    expect(out.length).toBe(24);
    expect(Array.from(out.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(out.subarray(6, 12))).toEqual([40, 40, 40, 40, 40, 40]);
    expect(Array.from(out.subarray(12, 18))).toEqual([120, 120, 120, 120, 120, 120]); // (3·160 + 0)·4 + 8 >> 4
    expect(Array.from(out.subarray(18, 24))).toEqual([160, 160, 160, 160, 160, 160]);
  });

  it('upsampleFancy of a plane at most 2 samples wide repeats samples (libjpeg uses fancy only above 2)', () => {
    expect(Array.from(upsampleFancy(Uint8Array.from([10, 90]), 2, 1, 2, 1))).toEqual([10, 10, 90, 90]);
  });
});

describe.runIf(hasTorchvision())('decodeImage matches PIL Image.open(...).convert("RGB")', () => {
  const exact = [
    'rgb.png', 'rgba.png', 'gray.png', 'gray_alpha.png', 'palette.png', 'palette4.png', 'palette_trns.png',
    'bilevel.png', 'rgb_trns.png', 'gray_trns.png', 'gray2.png', 'interlaced.png', 'rgb16.png', 'rgba16.png', '1x1.png',
  ];
  // JPEG: jpeg-js's IDCT is not libjpeg-turbo's ISLOW, so a few levels of difference remain.
  const approx: [string, number][] = [
    ['baseline420.jpg', 3], ['baseline422.jpg', 3], ['baseline444.jpg', 3], ['odd420.jpg', 3],
    ['progressive.jpg', 3], ['gray.jpg', 2], ['cmyk.jpg', 2], ['1x1.jpg', 2],
  ];
  let dir: string;
  let modes: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'images-'));
    const names = [...exact, ...approx.map(([n]) => n)];
    const jobs = names.map((n) => ['decode', join(FIXTURES, n), join(dir, `${n}.npy`)]);
    jobs.push(['raw', join(FIXTURES, 'gray16.png'), join(dir, 'gray16.raw.npy')]);
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    const out = JSON.parse(oracle('transform_paste.py', ['batch', join(dir, 'jobs.json')])) as { mode: string }[];
    modes = Object.fromEntries(names.map((n, i) => [n, out[i]!.mode]));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const pil = (name: string) => decodeNpy(new Uint8Array(readFileSync(join(dir, `${name}.npy`))));

  for (const name of exact) {
    it(`decodeImage(${name}) equals PIL's RGB pixels exactly`, () => {
      const want = pil(name);
      const got = decodeImage(fixture(name), name);
      expect([got.height, got.width, 3]).toEqual(want.shape);
      expect(Buffer.from(got.data).equals(Buffer.from(want.data as Uint8Array))).toBe(true);
    });
  }

  it('decodeImage(gray16.png) keeps the high byte of each 16-bit sample (PIL opens it as mode I and would clip at 255)', () => {
    const raw = decodeNpy(new Uint8Array(readFileSync(join(dir, 'gray16.raw.npy')))); // H×W 16-bit values
    expect(Math.max(...raw.data)).toBeGreaterThan(255); // really 16-bit samples
    const got = decodeImage(fixture('gray16.png'));
    expect([got.height, got.width]).toEqual(raw.shape);
    const want = new Uint8Array(raw.data.length * 3);
    raw.data.forEach((v, i) => want.fill(v >> 8, 3 * i, 3 * i + 3));
    expect(Array.from(got.data)).toEqual(Array.from(want));
  });

  for (const [name, tolerance] of approx) {
    it(`decodeImage(${name}) is within ${tolerance} levels of PIL (libjpeg-turbo) everywhere`, () => {
      const want = pil(name);
      const got = decodeImage(fixture(name), name);
      expect([got.height, got.width, 3]).toEqual(want.shape);
      let max = 0;
      let sum = 0;
      let same = 0;
      for (let i = 0; i < got.data.length; i++) {
        const d = Math.abs(got.data[i]! - want.data[i]!);
        max = Math.max(max, d);
        sum += d;
        if (d === 0) same++;
      }
      const mean = sum / got.data.length;
      console.log(`[image] ${name} (PIL mode ${modes[name]}): max |diff| ${max}, mean ${mean.toFixed(3)}, ${(100 * same / got.data.length).toFixed(1)}% identical`);
      expect(max).toBeLessThanOrEqual(tolerance);
      expect(mean).toBeLessThan(0.25);
    });
  }
});
