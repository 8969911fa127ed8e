/**
 * Image input for the CLI and tests (Node): PNG and JPEG bytes → `RgbImage`, the pixels torchvision
 * users get from `PIL.Image.open(path).convert('RGB')`.
 *
 * - The format is sniffed from the magic bytes, never from the file name.
 * - PNG (pngjs): every bit depth and colour type. Alpha is dropped, not composited (PIL's
 *   convert('RGB')); a tRNS colour key is ignored (pngjs blanks those pixels, we restore them);
 *   palettes are looked up; 1/2/4-bit grey is scaled by 255/(2^d − 1); 16-bit samples keep their high
 *   byte (v >> 8), as PIL does for 16-bit RGB(A)/LA. One deliberate difference: PIL opens 16-bit
 *   greyscale as 32-bit mode 'I' and convert('RGB') then clips every value above 255 to 255, which
 *   whitens the image; we take the high byte there too.
 * - JPEG (jpeg-js for entropy decoding and IDCT): baseline, extended and progressive Huffman, 1/3/4
 *   components. jpeg-js upsamples chroma by repetition and converts colour in floating point with
 *   truncation; to get closer to PIL (libjpeg-turbo), 3-component images are decoded to raw
 *   components and then upsampled with libjpeg's "fancy" triangle filter (h2v1, h1v2, h2v2) and
 *   converted with libjpeg's fixed-point YCbCr → RGB tables. The remaining difference is jpeg-js's
 *   IDCT against libjpeg's ISLOW IDCT (±1–2 levels). CMYK/YCCK (4 components, Adobe) use jpeg-js's
 *   conversion, which is close to but not the same as PIL's.
 * - EXIF orientation is not applied (neither PIL's Image.open nor torchvision's read_image applies it).
 * - Memory is bounded: the size is read from the header and images above `maxPixels` are refused
 *   before anything is decoded.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RgbImage } from '../types.ts';

export class ImageError extends Error {
  override name = 'ImageError';
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (default 100 megapixels). */
  maxPixels?: number;
}

/**
 * Default pixel limit, 100 MP. Measured on a 10000×10000 image (Node 20): PNG peaks at 1.6 GB RSS
 * (10 s), JPEG at 2.0 GB (21 s; jpeg-js keeps Int32 coefficient blocks), i.e. 16–20 bytes per pixel.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export type ImageFormat = 'png' | 'jpeg';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const startsWith = (b: ArrayLike<number>, sig: readonly number[], at = 0) => sig.every((v, i) => b[at + i] === v);
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** Formats we recognize only to name them in an error; `magic` is how many leading bytes identify them. */
const OTHER_FORMATS: { name: string; magic: number; test: (b: Uint8Array) => boolean }[] = [
  { name: 'a GIF', magic: 6, test: (b) => startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a')) },
  { name: 'a WebP', magic: 12, test: (b) => startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8) },
  { name: 'a BMP', magic: 2, test: (b) => startsWith(b, ascii('BM')) && b.length >= 14 },
  { name: 'a TIFF', magic: 4, test: (b) => startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]) },
  { name: 'an AVIF', magic: 12, test: (b) => startsWith(b, ascii('ftyp'), 4) && (startsWith(b, ascii('avif'), 8) || startsWith(b, ascii('avis'), 8)) },
  { name: 'a HEIC/HEIF', magic: 12, test: (b) => startsWith(b, ascii('ftyp'), 4) && ['heic', 'heix', 'hevc', 'heim', 'heis', 'mif1', 'msf1'].some((s) => startsWith(b, ascii(s), 8)) },
  { name: 'a JPEG 2000', magic: 8, test: (b) => startsWith(b, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(b, [0xff, 0x4f, 0xff, 0x51]) },
  { name: 'a JPEG XL', magic: 8, test: (b) => startsWith(b, [0xff, 0x0a]) || startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20]) },
  { name: 'a Photoshop PSD', magic: 4, test: (b) => startsWith(b, ascii('8BPS')) },
  { name: 'an ICO', magic: 4, test: (b) => startsWith(b, [0, 0, 1, 0]) },
  { name: 'a PDF', magic: 5, test: (b) => startsWith(b, ascii('%PDF-')) },
  { name: 'a ZIP archive (PyTorch checkpoints are ZIP files: pass it as the weights, not the image)', magic: 4, test: (b) => startsWith(b, [0x50, 0x4b, 0x03, 0x04]) },
  { name: 'a NumPy .npy array', magic: 6, test: (b) => startsWith(b, [0x93, ...ascii('NUMPY')]) },
  { name: 'a gzip file', magic: 2, test: (b) => startsWith(b, [0x1f, 0x8b]) },
  { name: 'a text file (SVG, HTML or XML?)', magic: 8, test: (b) => /^(\xef\xbb\xbf)?\s*</.test(String.fromCharCode(...b.subarray(0, 64))) },
];

/** The first `n` bytes: quoted when all printable ASCII ('GIF89a'), else hex. */
function describeMagic(b: Uint8Array, n = 8): string {
  const head = b.subarray(0, n);
  return head.every((c) => c >= 0x20 && c < 0x7f)
    ? `'${String.fromCharCode(...head)}'`
    : Array.from(head, (c) => c.toString(16).padStart(2, '0')).join(' ');
}

/** 'png' or 'jpeg' from the magic bytes; throws an ImageError naming what was found otherwise. */
export function sniffFormat(bytes: Uint8Array, fileName = 'image'): ImageFormat {
  if (bytes.length === 0) {
    throw new ImageError(`${fileName}: the file is empty (0 bytes); expected a PNG or JPEG image. Check the path, or re-download the file`);
  }
  if (startsWith(bytes, PNG_MAGIC)) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  const prefixOf = (sig: readonly number[]) => bytes.length < sig.length && startsWith(bytes, sig.slice(0, bytes.length));
  if (prefixOf(PNG_MAGIC) || prefixOf([0xff, 0xd8, 0xff])) {
    throw new ImageError(`${fileName}: the file is truncated (${bytes.length} bytes, only the start of a PNG/JPEG signature); re-download or re-export it`);
  }
  const other = OTHER_FORMATS.find((f) => f.test(bytes));
  const found = other ? other.name : 'an unknown format';
  throw new ImageError(
    `${fileName}: expected a PNG or JPEG image; found ${found} (magic ${describeMagic(bytes, other?.magic)}). Convert it to PNG or JPEG first (e.g. \`magick input output.png\`)`,
  );
}

function checkSize(width: number, height: number, maxPixels: number, fileName: string, what: string): void {
  if (!(width >= 1 && height >= 1)) {
    throw new ImageError(`${fileName}: the ${what} header says ${width}×${height} pixels; expected at least 1×1. The file is corrupt`);
  }
  if (width * height > maxPixels) {
    throw new ImageError(
      `${fileName}: ${width}×${height} = ${(width * height / 1e6).toFixed(1)} megapixels, above the limit of ${(maxPixels / 1e6).toFixed(1)} megapixels ` +
        `(option maxPixels). Downscale the image first (the model resizes it to ~800×1333 anyway) or raise maxPixels`,
    );
  }
}

/** Decode PNG or JPEG bytes to RGB. `fileName` only labels error messages. */
export function decodeImage(bytes: Uint8Array, fileName = 'image', options: DecodeOptions = {}): RgbImage {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  return sniffFormat(bytes, fileName) === 'png' ? decodePng(bytes, fileName, maxPixels) : decodeJpeg(bytes, fileName, maxPixels);
}

// ───────────────────────────────────────────── PNG ─────────────────────────────────────────────

const be32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const be16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (PNG/zlib polynomial) of b[from, to). */
function crc32(b: Uint8Array, from: number, to: number): number {
  let c = -1;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

const PNG_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
}

/** Walk the chunk list (lengths and CRCs) so truncation and corruption are reported as such, before decoding. */
function checkPngStructure(b: Uint8Array, fileName: string, maxPixels: number): PngHeader {
  const truncated = (what: string) =>
    new ImageError(`${fileName}: the PNG is truncated (${what}; the file has ${b.length} bytes). Re-download or re-export it`);
  if (b.length < 33) throw truncated('no complete IHDR header');
  if (be32(b, 8) !== 13 || !startsWith(b, ascii('IHDR'), 12)) {
    throw new ImageError(`${fileName}: the PNG is corrupt (expected the IHDR chunk first, found '${String.fromCharCode(...b.subarray(12, 16))}'). Re-export it`);
  }
  const header: PngHeader = { width: be32(b, 16), height: be32(b, 20), depth: b[24]!, colorType: b[25]! };
  const depths = PNG_DEPTHS[header.colorType];
  if (!depths || !depths.includes(header.depth)) {
    throw new ImageError(
      `${fileName}: PNG colour type ${header.colorType} with bit depth ${header.depth} is not a valid PNG combination; the file is corrupt or not a standard PNG`,
    );
  }
  checkSize(header.width, header.height, maxPixels, fileName, 'PNG');
  let at = 8;
  let sawIdat = false;
  for (;;) {
    if (at + 8 > b.length) throw truncated(`it ends after ${b.length} bytes without the IEND chunk`);
    const length = be32(b, at);
    const type = String.fromCharCode(...b.subarray(at + 4, at + 8));
    if (at + 12 + length > b.length) {
      throw truncated(`chunk ${type} at byte ${at} declares ${length} bytes of data but the file ends ${b.length - at - 8} bytes later`);
    }
    const stored = be32(b, at + 8 + length);
    const computed = crc32(b, at + 4, at + 8 + length);
    if (stored !== computed) {
      throw new ImageError(
        `${fileName}: the PNG is corrupt (chunk ${type} at byte ${at} fails its CRC check: stored ${stored.toString(16)}, computed ${computed.toString(16)}). Re-download or re-export it`,
      );
    }
    if (type === 'IDAT') sawIdat = true;
    if (type === 'IEND') break;
    at += 12 + length;
  }
  if (!sawIdat) throw new ImageError(`${fileName}: the PNG has no IDAT (pixel data) chunk; the file is corrupt`);
  return header;
}

function decodePng(bytes: Uint8Array, fileName: string, maxPixels: number): RgbImage {
  const header = checkPngStructure(bytes, fileName, maxPixels);
  let png: ReturnType<typeof PNG.sync.read> & { transColor?: number[] };
  try {
    // skipRescale: 16-bit samples stay 16-bit (we take the high byte like PIL), 1/2/4-bit stay raw.
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
  } catch (e) {
    throw new ImageError(`${fileName}: the PNG data is corrupt (${(e as Error).message}). Re-download or re-export it`);
  }
  const { width, height } = png;
  const data = png.data as unknown as ArrayLike<number>; // RGBA; Uint16Array when 16-bit
  const n = width * height;
  if (data.length < n * 4) {
    throw new ImageError(`${fileName}: the PNG decoded to ${data.length} samples; expected ${width}×${height}×4. The file is corrupt`);
  }
  const out = new Uint8Array(n * 3);
  // Palette entries are already 8-bit RGBA; grey/RGB samples are at the file's depth.
  const depth = header.colorType === 3 ? 8 : header.depth;
  const scale = depth < 8 ? 255 / (2 ** depth - 1) : 1; // 1 → 255, 2 → 85, 4 → 17: exact integers
  const shift = depth === 16 ? 8 : 0;
  // pngjs zeroes all four channels of pixels equal to the tRNS colour key; PIL keeps their colour.
  const key = png.transColor && header.colorType !== 3 ? png.transColor : undefined;
  const keyRgb = key ? (key.length === 1 ? [key[0]!, key[0]!, key[0]!] : key) : undefined;
  for (let i = 0, j = 0, k = 0; i < n; i++, j += 4, k += 3) {
    let r = data[j]!;
    let g = data[j + 1]!;
    let b = data[j + 2]!;
    if (keyRgb && data[j + 3] === 0) [r, g, b] = keyRgb as [number, number, number];
    out[k] = shift ? r >>> shift : r * scale;
    out[k + 1] = shift ? g >>> shift : g * scale;
    out[k + 2] = shift ? b >>> shift : b * scale;
  }
  return { width, height, data: out };
}

// ───────────────────────────────────────────── JPEG ────────────────────────────────────────────

interface JpegComponent {
  id: number;
  h: number;
  v: number;
}

interface JpegHeader {
  width: number;
  height: number;
  components: JpegComponent[];
  jfif: boolean;
  /** Adobe APP14 transform flag and its byte offset in the file. */
  adobe?: { transform: number; at: number };
}

const SOF_NAMES: Record<number, string> = {
  0xc3: 'lossless (SOF3)',
  0xc5: 'differential sequential (SOF5)',
  0xc6: 'differential progressive (SOF6)',
  0xc7: 'differential lossless (SOF7)',
  0xc9: 'arithmetic-coded sequential (SOF9)',
  0xca: 'arithmetic-coded progressive (SOF10)',
  0xcb: 'arithmetic-coded lossless (SOF11)',
  0xcd: 'arithmetic-coded differential sequential (SOF13)',
  0xce: 'arithmetic-coded differential progressive (SOF14)',
  0xcf: 'arithmetic-coded differential lossless (SOF15)',
};

/** Walk the markers up to the first scan: frame size, components, colour-space markers; check for EOI. */
function readJpegHeader(b: Uint8Array, fileName: string, maxPixels: number): JpegHeader {
  const truncated = (what: string) =>
    new ImageError(`${fileName}: the JPEG is truncated (${what}; the file has ${b.length} bytes). Re-download or re-export it`);
  let at = 2;
  let frame: JpegHeader | undefined;
  let jfif = false;
  let adobe: JpegHeader['adobe'];
  for (;;) {
    if (at + 4 > b.length) throw truncated('it ends inside the header');
    if (b[at] !== 0xff) {
      throw new ImageError(`${fileName}: the JPEG is corrupt (expected a marker at byte ${at}, found 0x${b[at]!.toString(16)}). Re-export it`);
    }
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    const length = be16(b, at + 2);
    if (at + 2 + length > b.length) throw truncated(`marker 0xff${marker.toString(16)} at byte ${at} declares ${length} bytes past the end`);
    const seg = b.subarray(at + 4, at + 2 + length);
    if (marker === 0xe0 && startsWith(seg, [...ascii('JFIF'), 0])) jfif = true;
    if (marker === 0xee && startsWith(seg, [...ascii('Adobe')]) && seg.length >= 12) adobe = { transform: seg[11]!, at: at + 4 + 11 };
    if (SOF_NAMES[marker]) {
      throw new ImageError(`${fileName}: this JPEG is ${SOF_NAMES[marker]}, which the decoder (jpeg-js) does not support; re-save it as a baseline JPEG or as PNG`);
    }
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      const precision = seg[0]!;
      if (precision !== 8) {
        throw new ImageError(`${fileName}: this JPEG has ${precision}-bit samples; only 8-bit JPEGs are supported. Re-save it as an 8-bit JPEG or as PNG`);
      }
      const height = be16(seg, 1);
      const width = be16(seg, 3);
      const count = seg[5]!;
      if (![1, 3, 4].includes(count)) {
        throw new ImageError(`${fileName}: this JPEG has ${count} colour components; expected 1 (grey), 3 (YCbCr/RGB) or 4 (CMYK). Convert it to RGB first`);
      }
      const components: JpegComponent[] = [];
      for (let i = 0; i < count; i++) components.push({ id: seg[6 + 3 * i]!, h: seg[7 + 3 * i]! >> 4, v: seg[7 + 3 * i]! & 15 });
      checkSize(width, height, maxPixels, fileName, 'JPEG');
      frame = { width, height, components, jfif, adobe };
    }
    if (marker === 0xda) {
      if (!frame) throw new ImageError(`${fileName}: the JPEG is corrupt (a scan starts before the frame header). Re-export it`);
      // The entropy-coded data must be followed by EOI somewhere; a cut-off download is not.
      let eoi = false;
      for (let i = b.length - 2; i > at; i--) {
        if (b[i] === 0xff && b[i + 1] === 0xd9) {
          eoi = true;
          break;
        }
      }
      if (!eoi) throw truncated('no end-of-image marker after the image data');
      return { ...frame, jfif, adobe };
    }
    at += 2 + length;
  }
}

/** libjpeg's colour space for 3 components (jdapimin.c default_decompress_parms). */
function isYcbcr(h: JpegHeader): boolean {
  if (h.jfif) return true;
  if (h.adobe) return h.adobe.transform !== 0;
  const ids = h.components.map((c) => c.id);
  return !(ids[0] === 82 && ids[1] === 71 && ids[2] === 66); // 'R', 'G', 'B'
}

/**
 * libjpeg-turbo's upsampling of one component plane (w×h samples) to (w·rx)×(h·ry), rx, ry ∈ {1, 2}:
 * the "fancy" triangle filters h2v1, h1v2, h2v2 (jdsample.c), with their rounding biases and edge
 * replication, used when the plane is more than 2 samples wide; plain repetition otherwise.
 */
export function upsampleFancy(plane: Uint8Array, w: number, h: number, rx: number, ry: number): Uint8Array {
  const ow = w * rx;
  const out = new Uint8Array(ow * h * ry);
  const fancy = w > 2;
  for (let y = 0; y < h; y++) {
    const row = plane.subarray(y * w, (y + 1) * w);
    for (let v = 0; v < ry; v++) {
      const o = (y * ry + v) * ow;
      if (!fancy) {
        for (let x = 0; x < ow; x++) out[o + x] = row[Math.floor(x / rx)]!;
        continue;
      }
      // Vertical neighbour (h1v2, h2v2): the row above for the upper output row, below for the lower; edges repeat.
      const other = ry === 2 ? plane.subarray(Math.min(Math.max(v === 0 ? y - 1 : y + 1, 0), h - 1) * w) : row;
      if (rx === 1) {
        if (ry === 1) {
          out.set(row, o);
        } else {
          const bias = v === 0 ? 1 : 2;
          for (let x = 0; x < w; x++) out[o + x] = (row[x]! * 3 + other[x]! + bias) >> 2;
        }
      } else if (ry === 1) {
        // h2v1
        out[o] = row[0]!;
        out[o + 1] = (row[0]! * 3 + row[1]! + 2) >> 2;
        for (let x = 1; x < w - 1; x++) {
          const c = row[x]! * 3;
          out[o + 2 * x] = (c + row[x - 1]! + 1) >> 2;
          out[o + 2 * x + 1] = (c + row[x + 1]! + 2) >> 2;
        }
        out[o + 2 * w - 2] = (row[w - 1]! * 3 + row[w - 2]! + 1) >> 2;
        out[o + 2 * w - 1] = row[w - 1]!;
      } else {
        // h2v2: column sums 3·this row + other row, then the horizontal triangle
        const sum = (x: number) => row[x]! * 3 + other[x]!;
        let last = sum(0);
        let cur = last;
        let next = sum(1);
        out[o] = (cur * 4 + 8) >> 4;
        out[o + 1] = (cur * 3 + next + 7) >> 4;
        for (let x = 1; x < w - 1; x++) {
          last = cur;
          cur = next;
          next = sum(x + 1);
          out[o + 2 * x] = (cur * 3 + last + 8) >> 4;
          out[o + 2 * x + 1] = (cur * 3 + next + 7) >> 4;
        }
        last = cur;
        cur = next;
        out[o + 2 * w - 2] = (cur * 3 + last + 8) >> 4;
        out[o + 2 * w - 1] = (cur * 4 + 7) >> 4;
      }
    }
  }
  return out;
}

/** libjpeg's YCbCr → RGB tables (jdcolor.c build_ycc_rgb_table: 16-bit fixed point, rounded). */
const YCC = (() => {
  const SCALEBITS = 16;
  const ONE_HALF = 1 << (SCALEBITS - 1);
  const FIX = (x: number) => Math.floor(x * (1 << SCALEBITS) + 0.5);
  const crR = new Int32Array(256);
  const cbB = new Int32Array(256);
  const crG = new Int32Array(256);
  const cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (FIX(1.402) * x + ONE_HALF) >> SCALEBITS;
    cbB[i] = (FIX(1.772) * x + ONE_HALF) >> SCALEBITS;
    crG[i] = -FIX(0.71414) * x;
    cbG[i] = -FIX(0.34414) * x + ONE_HALF;
  }
  return { crR, cbB, crG, cbG, SCALEBITS };
})();

const clamp8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

function decodeJpeg(bytes: Uint8Array, fileName: string, maxPixels: number): RgbImage {
  const header = readJpegHeader(bytes, fileName, maxPixels);
  const { width, height, components } = header;
  const n = width * height;
  const threeComponent = components.length === 3;
  let input = bytes;
  if (threeComponent && header.adobe && header.adobe.transform !== 0) {
    // jpeg-js forces its own YCbCr conversion when the Adobe flag is set; clear it in a copy to get raw components.
    input = bytes.slice();
    input[header.adobe.at] = 0;
  }
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(input, {
      useTArray: true,
      formatAsRGBA: false,
      colorTransform: threeComponent ? false : undefined,
      tolerantDecoding: true,
      maxResolutionInMP: Math.ceil(maxPixels / 1e6) + 1,
      // coefficient blocks (4 bytes per sample), component planes and two output copies, per component
      maxMemoryUsageInMB: Math.max(512, Math.ceil((n * components.length * 7 + n * 3) / 2 ** 20) + 64),
    }) as { width: number; height: number; data: Uint8Array };
  } catch (e) {
    throw new ImageError(`${fileName}: the JPEG data is corrupt or unsupported (${(e as Error).message}). Re-save it as a baseline JPEG or as PNG`);
  }
  if (decoded.width !== width || decoded.height !== height || decoded.data.length !== n * 3) {
    throw new ImageError(`${fileName}: the JPEG decoded to ${decoded.width}×${decoded.height}; its header says ${width}×${height}. The file is corrupt`);
  }
  if (!threeComponent) return { width, height, data: decoded.data }; // grey replicated, or CMYK converted by jpeg-js
  const raw = decoded.data; // 3 raw components per pixel, subsampled ones repeated (nearest)
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  // Each component at full resolution: recovered from jpeg-js's repetition, then libjpeg's fancy upsampling.
  const planes = components.map((c, ci) => {
    const rx = maxH / c.h;
    const ry = maxV / c.v;
    if ((rx === 1 && ry === 1) || ![1, 2].includes(rx) || ![1, 2].includes(ry)) return undefined; // full resolution, or an unusual ratio: keep jpeg-js's samples
    const w = Math.ceil(width / rx);
    const h = Math.ceil(height / ry);
    const plane = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) plane[y * w + x] = raw[(y * ry * width + x * rx) * 3 + ci]!;
    return { data: upsampleFancy(plane, w, h, rx, ry), stride: w * rx };
  });
  const out = new Uint8Array(n * 3);
  const ycc = isYcbcr(header);
  const { crR, cbB, crG, cbG, SCALEBITS } = YCC;
  // Sample (x, y) of component ci is src[ci][base[ci](y) + x·step[ci]]
  const src = planes.map((pl) => (pl ? pl.data : raw));
  const step = planes.map((pl) => (pl ? 1 : 3));
  const rowBase = (ci: number, y: number) => (planes[ci] ? y * planes[ci]!.stride : y * width * 3 + ci);
  const [s0, s1, s2] = src as [Uint8Array, Uint8Array, Uint8Array];
  const [d0, d1, d2] = step as [number, number, number];
  for (let y = 0; y < height; y++) {
    let i0 = rowBase(0, y);
    let i1 = rowBase(1, y);
    let i2 = rowBase(2, y);
    for (let x = 0, o = y * width * 3; x < width; x++, o += 3, i0 += d0, i1 += d1, i2 += d2) {
      const a = s0[i0]!;
      const b = s1[i1]!;
      const c = s2[i2]!;
      if (ycc) {
        // a = Y, b = Cb, c = Cr
        out[o] = clamp8(a + crR[c]!);
        out[o + 1] = clamp8(a + ((cbG[b]! + crG[c]!) >> SCALEBITS));
        out[o + 2] = clamp8(a + cbB[b]!);
      } else {
        out[o] = a;
        out[o + 1] = b;
        out[o + 2] = c;
      }
    }
  }
  return { width, height, data: out };
}
