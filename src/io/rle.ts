/**
 * COCO run-length encoding, compatible with pycocotools (`maskApi.c`: rleEncode, rleToString,
 * rleFrString, rleArea, rleIou).
 *
 * Glossary
 *   mask     H×W binary mask, row-major here (our masks); nonzero = foreground
 *   counts   run lengths over the mask in column-major (Fortran) order, starting with a run of
 *            zeros (possibly empty): [zeros, ones, zeros, …]
 *   string   the compressed form: each count (from the third on, as the difference from the count
 *            two before) in 5-bit groups, least significant first, 0x20 = "more groups follow",
 *            0x10 of the last group = sign, each group + 48 as an ASCII character
 */

export interface CocoRle {
  /** [height, width] */
  size: [number, number];
  /** pycocotools' compressed counts string */
  counts: string;
}

export class RleError extends Error {
  override name = 'RleError';
}

/** Run lengths of a row-major H×W mask, read column by column (pycocotools `rleEncode`). */
export function maskToCounts(mask: ArrayLike<number | boolean>, height: number, width: number): number[] {
  if (!(Number.isInteger(height) && Number.isInteger(width) && height >= 0 && width >= 0)) {
    throw new RleError(`expected a mask size of non-negative integers; found ${height}×${width}`);
  }
  if (mask.length !== height * width) {
    throw new RleError(`expected a row-major ${height}×${width} mask (${height * width} values); found ${mask.length} values`);
  }
  const runs = new Runs();
  for (let x = 0; x < width; x++) {
    for (let y = 0, i = x; y < height; y++, i += width) runs.add(Boolean(mask[i]), 1);
  }
  return runs.counts();
}

/** Column-major run lengths, built by appending stretches of equal values. */
class Runs {
  private readonly list: number[] = [];
  private current = false; // runs start with zeros
  private run = 0;
  add(value: boolean, length: number): void {
    if (length === 0) return;
    if (value !== this.current) {
      this.list.push(this.run);
      this.run = 0;
      this.current = value;
    }
    this.run += length;
  }
  counts(): number[] {
    return [...this.list, this.run];
  }
}

/**
 * Run lengths of an H×W mask that is `p > threshold` inside a region and 0 outside it, without
 * materializing the H×W mask: time O(W + region area), memory O(runs).
 */
export function regionToCounts(
  region: { x0: number; y0: number; width: number; height: number; data: ArrayLike<number> },
  threshold: number,
  height: number,
  width: number,
): number[] {
  const { x0, y0, width: rw, height: rh, data } = region;
  if (x0 < 0 || y0 < 0 || x0 + rw > width || y0 + rh > height || data.length !== rw * rh) {
    throw new RleError(`expected a region inside the ${height}×${width} image with width·height values; found ${rw}×${rh} at (${x0}, ${y0}) with ${data.length} values`);
  }
  const runs = new Runs();
  runs.add(false, x0 * height);
  for (let x = 0; x < rw; x++) {
    runs.add(false, y0);
    for (let y = 0, i = x; y < rh; y++, i += rw) runs.add(data[i]! > threshold, 1);
    runs.add(false, height - y0 - rh);
  }
  runs.add(false, (width - x0 - rw) * height);
  return runs.counts();
}

/** pycocotools `rleToString`: counts → compressed ASCII. */
export function countsToString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    for (let more = true; more; ) {
      let c = ((x % 32) + 32) % 32; // x & 0x1f on a two's-complement integer
      x = Math.floor(x / 32); // arithmetic shift right by 5
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** pycocotools `rleFrString`: compressed ASCII → counts. */
export function stringToCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    for (let more = true; more; ) {
      if (p >= s.length) throw new RleError(`RLE string ends inside a count at character ${p}; expected more 5-bit groups`);
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new RleError(`RLE string has '${s[p]}' at character ${p}; expected characters '0'…'o' (48–111)`);
      x += (c & 0x1f) * 32 ** k;
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 32 ** k; // sign-extend
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

/** Encode a mask given as a region of probabilities (`p > threshold` is foreground) in an H×W image as COCO RLE. */
export function encodeRegionRle(region: Parameters<typeof regionToCounts>[0], threshold: number, height: number, width: number): CocoRle {
  return { size: [height, width], counts: countsToString(regionToCounts(region, threshold, height, width)) };
}

/** Encode a row-major H×W mask (nonzero = foreground) as COCO RLE. */
export function encodeRle(mask: ArrayLike<number | boolean>, height: number, width: number): CocoRle {
  return { size: [height, width], counts: countsToString(maskToCounts(mask, height, width)) };
}

function countsOf(rle: CocoRle): number[] {
  const counts = stringToCounts(rle.counts);
  const [h, w] = rle.size;
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== h * w || counts.some((c) => c < 0)) {
    throw new RleError(`RLE counts cover ${total} pixels (${counts.length} runs); its size ${h}×${w} needs ${h * w}: the RLE is corrupt`);
  }
  return counts;
}

/** Decode COCO RLE to a row-major H×W mask of 0/1. */
export function decodeRle(rle: CocoRle): Uint8Array {
  const [h, w] = rle.size;
  const mask = new Uint8Array(h * w);
  let j = 0; // column-major position
  countsOf(rle).forEach((run, k) => {
    if (k % 2 === 1) {
      for (let t = j; t < j + run; t++) mask[(t % h) * w + Math.floor(t / h)] = 1;
    }
    j += run;
  });
  return mask;
}

/** Foreground pixel count (pycocotools `area`). */
export function rleArea(rle: CocoRle): number {
  return countsOf(rle).reduce((a, run, k) => (k % 2 === 1 ? a + run : a), 0);
}

/**
 * Intersection over union of two RLEs of the same size (pycocotools `iou` with iscrowd = 0);
 * 0 when both are empty. Works on the runs, never on pixels.
 */
export function rleIou(a: CocoRle, b: CocoRle): number {
  if (a.size[0] !== b.size[0] || a.size[1] !== b.size[1]) {
    throw new RleError(`rleIou needs masks of the same size; found ${a.size.join('×')} and ${b.size.join('×')}`);
  }
  const ca = countsOf(a);
  const cb = countsOf(b);
  // Walk both run lists together; accumulate pixels where both (intersection) / either (union) are 1.
  let ia = 0;
  let ib = 0;
  let ra = ca[0] ?? 0;
  let rb = cb[0] ?? 0;
  let inter = 0;
  let union = 0;
  while (ia < ca.length && ib < cb.length) {
    const step = Math.min(ra, rb);
    const va = ia % 2 === 1;
    const vb = ib % 2 === 1;
    if (va && vb) inter += step;
    if (va || vb) union += step;
    ra -= step;
    rb -= step;
    if (ra === 0) ra = ca[++ia] ?? 0;
    if (rb === 0) rb = cb[++ib] ?? 0;
  }
  return union === 0 ? 0 : inter / union;
}

/** Binary mask from probabilities: 1 where p > threshold (torchvision's references use `masks > 0.5`). */
export function thresholdMask(probabilities: ArrayLike<number>, threshold = 0.5): Uint8Array {
  const out = new Uint8Array(probabilities.length);
  for (let i = 0; i < out.length; i++) out[i] = probabilities[i]! > threshold ? 1 : 0;
  return out;
}
