/**
 * Images in the browser: synthetic scenes of the validation split (the shipped model's world,
 * generated here from their seed), the bundled photos (public/samples/) and files the reader picks,
 * decoded by the browser into an `RgbImage` (alpha dropped; EXIF orientation applied as the browser
 * shows it). Bad input gets a message that says what was found and what to do.
 */
import { SCENE_SPLITS, generateScene } from '../data/scenes.ts';
import type { RgbImage } from '../types.ts';
import type { ImageInput } from './session.ts';

export type Sample = {
  id: string;
  label: string;
  credit: string;
} & (
  | {
      /** File under public/samples/. */
      file: string;
    }
  | {
      /** Seed of a synthetic scene (src/data/scenes.ts, 256×256), generated in the page. */
      sceneSeed: number;
    }
);

/** A validation scene (never trained on) as a sample. */
const scene = (seed: number, what: string): Sample => ({
  id: `scene-${seed}`,
  label: `Synthetic scene ${seed} (256×256: ${what})`,
  sceneSeed: seed,
  credit: `generated in this page from seed ${seed} of the validation split (seeds ${SCENE_SPLITS.val.first}–${SCENE_SPLITS.val.last}), which the shipped model never trained on`,
});

/** The first is the default: a scene, where the shipped scene model finds things (it knows nothing of photos). */
export const SAMPLES: readonly Sample[] = [
  scene(1_000_007, 'hexagons, triangles, squares, stars, a circle'),
  scene(1_000_009, 'a ring, hexagons, squares, a star, a triangle'),
  { id: 'chelsea', label: 'Chelsea the cat (451×300)', file: 'chelsea.jpg', credit: 'Stefan van der Walt, CC0 (scikit-image sample data)' },
  { id: 'astronaut', label: 'Astronaut Eileen Collins (512×512)', file: 'astronaut.jpg', credit: 'NASA, public domain (scikit-image sample data)' },
];

/** Larger images are refused: the engine resizes to ~800 px anyway, and decoding costs memory. */
export const MAX_PIXELS = 40_000_000;

export class ImageInputError extends Error {
  override name = 'ImageInputError';
}

const be16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const be32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const le16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const le24 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const le32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const tag = (b: Uint8Array, at: number, text: string) => Array.from(text).every((c, i) => b[at + i] === c.charCodeAt(0));

/**
 * Width and height from the header of a PNG, JPEG, GIF, BMP or WebP (the first bytes of the file),
 * so that a huge image is refused before the browser decodes it; undefined when not found.
 */
export function headerSize(b: Uint8Array): { width: number; height: number } | undefined {
  if (b.length >= 24 && b[0] === 0x89 && tag(b, 1, 'PNG') && tag(b, 12, 'IHDR')) return { width: be32(b, 16), height: be32(b, 20) };
  if (b.length >= 10 && (tag(b, 0, 'GIF87a') || tag(b, 0, 'GIF89a'))) return { width: le16(b, 6), height: le16(b, 8) };
  if (b.length >= 26 && tag(b, 0, 'BM')) return { width: le32(b, 18) | 0, height: Math.abs(le32(b, 22) | 0) };
  if (b.length >= 30 && tag(b, 0, 'RIFF') && tag(b, 8, 'WEBP')) {
    // VP8X: 24-bit (width − 1), (height − 1); VP8L: 14-bit fields after the signature byte; VP8: 14-bit fields after the start code.
    if (tag(b, 12, 'VP8X')) return { width: le24(b, 24) + 1, height: le24(b, 27) + 1 };
    if (tag(b, 12, 'VP8L') && b[20] === 0x2f) {
      const v = le32(b, 21);
      return { width: (v & 0x3fff) + 1, height: ((v >>> 14) & 0x3fff) + 1 };
    }
    if (tag(b, 12, 'VP8 ')) return { width: le16(b, 26) & 0x3fff, height: le16(b, 28) & 0x3fff };
    return undefined;
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    // JPEG: walk the marker segments to the first start-of-frame (SOF0–SOF15 but DHT C4, JPG C8, DAC CC).
    let at = 2;
    while (at + 9 < b.length) {
      if (b[at] !== 0xff) return undefined;
      const marker = b[at + 1]!;
      if (marker === 0xff) {
        at++;
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        at += 2;
        continue;
      }
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: be16(b, at + 7), height: be16(b, at + 5) };
      if (marker === 0xda || marker === 0xd9) return undefined;
      at += 2 + be16(b, at + 2);
    }
  }
  return undefined;
}

function checkPixels(width: number, height: number, name: string): void {
  if (width * height > MAX_PIXELS) {
    throw new ImageInputError(`${name} is ${width}×${height} (${((width * height) / 1e6).toFixed(0)} megapixels); this page takes up to ${MAX_PIXELS / 1e6} megapixels. Scale it down first: the model resizes it to a few hundred pixels anyway`);
  }
}

/** Decode image bytes with the browser's decoders (PNG, JPEG, WebP, GIF, BMP, AVIF …). */
export async function decodeImageBlob(blob: Blob, name: string): Promise<RgbImage> {
  if (blob.size === 0) throw new ImageInputError(`${name} is empty (0 bytes); pick a PNG or JPEG photo`);
  // A huge image is refused from its header, before the browser spends memory decoding it.
  const header = headerSize(new Uint8Array(await blob.slice(0, 512 * 1024).arrayBuffer()));
  if (header) checkPixels(header.width, header.height, name);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    const head = new Uint8Array(await blob.slice(0, 8).arrayBuffer());
    const hex = Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ImageInputError(`${name} is not an image this browser can decode (first bytes ${hex}); pick a PNG, JPEG or WebP file`);
  }
  const { width, height } = bitmap;
  try {
    checkPixels(width, height, name);
  } catch (e) {
    bitmap.close();
    throw e;
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (ctx === null) throw new ImageInputError('this browser gave no 2D canvas to decode images with');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i]!;
    data[j + 1] = rgba[i + 1]!;
    data[j + 2] = rgba[i + 2]!;
  }
  return { width, height, data };
}

/** A sample: a scene generated here, or a bundled photo fetched from the site. */
export async function loadSample(sample: Sample, base: string): Promise<ImageInput> {
  if ('sceneSeed' in sample) return { id: `sample:${sample.id}`, label: sample.label, image: generateScene(sample.sceneSeed).image };
  const url = new URL(`samples/${sample.file}`, new URL(base, location.href)).href;
  const res = await fetch(url);
  if (!res.ok) throw new ImageInputError(`sample ${sample.file}: HTTP ${res.status}; is public/samples/ deployed?`);
  return { id: `sample:${sample.id}`, label: sample.label, image: await decodeImageBlob(await res.blob(), sample.file) };
}

/** A file the reader picked. */
export async function loadImageFile(file: File): Promise<ImageInput> {
  return { id: `file:${file.name}:${file.size}:${file.lastModified}`, label: file.name, image: await decodeImageBlob(file, file.name) };
}
