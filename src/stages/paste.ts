/**
 * Mask paste-back: torchvision `paste_masks_in_image` (roi_heads.py), pure JS on Float32Arrays.
 * Each detection's M×M mask probabilities (the predicted class's sigmoid) are resized into its box
 * in the original image; everything outside the box is 0.
 *
 * Glossary
 *   D        number of detections
 *   M        mask side (28 in Mask R-CNN R50-FPN)
 *   padding  zero border added around each mask before resizing (1): the mask becomes (M+2)×(M+2)
 *            and its box is widened by the same factor s = (M+2)/M about its centre, so the mask's
 *            edge falls off smoothly instead of being cut at the box edge
 *   H, W     original image size
 *
 * Per box, like torchvision (float32 where torch is float32):
 *   1. expand_boxes: half sizes (x2−x1)·0.5 and centres (x2+x1)·0.5, half sizes ·fl(s);
 *      x1' = xc − w/2, x2' = xc + w/2 (same for y); then `.to(int64)`, i.e. truncation toward 0.
 *   2. w = max(x2' − x1' + 1, 1), h = max(y2' − y1' + 1, 1) (integers).
 *   3. bilinear `interpolate` (align_corners=False) of the padded mask to h×w.
 *   4. write rows [max(y1', 0), min(y2' + 1, H)) and columns [max(x1', 0), min(x2' + 1, W)) of the
 *      image from the resized mask at (row − y1', col − x1').
 * A box wholly outside the image (where torchvision's slice assignment raises a shape error) gives an
 * all-zero mask here. Only the box region is computed.
 */
import type { PasteMode } from '../config.ts';
import type { Boxes, Size } from '../types.ts';
import { interpolatePlane, type LinearTaps, linearTaps } from './transform.ts';

export class PasteError extends Error {
  override name = 'PasteError';
}

const f32 = Math.fround;

/** torchvision `expand_boxes(box, (M + 2·padding)/M)` then `.to(int64)`: the integer box the padded mask is resized into. */
export function expandBox(box: ArrayLike<number>, M: number, padding = 1): [number, number, number, number] {
  const scale = f32((M + 2 * padding) / M); // python float · float32 tensor: the scalar is rounded to float32
  const [x1, y1, x2, y2] = [f32(box[0]!), f32(box[1]!), f32(box[2]!), f32(box[3]!)];
  const wHalf = f32(f32(f32(x2 - x1) * 0.5) * scale);
  const hHalf = f32(f32(f32(y2 - y1) * 0.5) * scale);
  const xc = f32(f32(x2 + x1) * 0.5);
  const yc = f32(f32(y2 + y1) * 0.5);
  const toInt = (v: number) => Math.trunc(v) + 0; // int64 cast truncates toward 0; + 0 turns −0 into 0
  return [toInt(f32(xc - wHalf)), toInt(f32(yc - hHalf)), toInt(f32(xc + wHalf)), toInt(f32(yc + hHalf))];
}

/** A pasted mask stored as the image region it covers: probabilities in [x0, x0+width) × [y0, y0+height), zero elsewhere. */
export interface MaskRegion {
  x0: number;
  y0: number;
  width: number;
  height: number;
  /** height × width, row-major */
  data: Float32Array;
}

/**
 * How a mask goes back into the image.
 *   torchvision  `paste_masks_in_image`: the padded mask resized into the expanded box cast to
 *                integers (steps 1–4 above). The cast moves the mask by up to a pixel and the
 *                `+ 1` stretches it by one, and the resize places pixel centres half a pixel away
 *                from where the mask targets sampled them: a quantization like RoIPool's, at the
 *                last step. It is the reference; parity tests use it.
 *   exact        each image pixel samples the mask where the training targets put it. Mask targets
 *                are the ground truth RoIAligned into the box (aligned = false, in the resized
 *                image), so cell (i, j) holds the image at resized pixel index (y1 + (i + ½)·bh,
 *                x1 + (j + ½)·bw), bw = (x2 − x1)/M. Pixel x of the original image is
 *                (x + ½)·r − ½ in the resized image (r = resized/original, align_corners=False), so
 *                it reads mask column u = ((x + ½ − ½/r) − x1)/bw − ½ (boxes in original pixels),
 *                bilinearly, zero outside the mask (detectron2's grid-sample paste, with the
 *                aligned = false offset). No integer box, no stretch.
 * (The type, PasteMode, lives in config.ts beside roiHeads.maskPaste.)
 */
export type { PasteMode };

export interface PasteOptions {
  /** zero border of the torchvision paste (1) */
  padding?: number;
  mode?: PasteMode;
  /** resized/original size ratio [rh, rw] of the image the mask targets were made in ([1, 1]); exact mode only */
  scale?: readonly [number, number];
}

/** The resize ratio [rh, rw] = resized/original of a transformed image: the exact paste's `scale`. */
export function pasteScale(sizes: { original: Size; resized: Size }): [number, number] {
  return [sizes.resized[0] / sizes.original[0], sizes.resized[1] / sizes.original[1]];
}

interface PasteGeometry {
  /** image region written: [x0, x1) × [y0, y1) */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** taps into the (M+2p)×(M+2p) zero-padded mask, per row y − y0 and column x − x0 of the region */
  rows: LinearTaps;
  cols: LinearTaps;
  /** side of the padded mask */
  P: number;
  padding: number;
}

function sliceTaps(t: LinearTaps, from: number, to: number): LinearTaps {
  return { i0: t.i0.subarray(from, to), i1: t.i1.subarray(from, to), w0: t.w0.subarray(from, to), w1: t.w1.subarray(from, to) };
}

function checkBox(box: ArrayLike<number>): void {
  for (let k = 0; k < 4; k++) {
    if (!Number.isFinite(box[k]!)) {
      throw new PasteError(`expected a finite box [x1, y1, x2, y2]; found [${Array.from(box).join(', ')}]: check the detections for NaN/Infinity`);
    }
  }
}

function torchvisionGeometry(box: ArrayLike<number>, M: number, imageSize: Size, padding: number): PasteGeometry {
  const [H, W] = imageSize;
  const [bx1, by1, bx2, by2] = expandBox(box, M, padding);
  const w = Math.max(bx2 - bx1 + 1, 1);
  const h = Math.max(by2 - by1 + 1, 1);
  const P = M + 2 * padding;
  // Image region written, intersected with the resized mask's extent (torchvision raises where they differ).
  const x0 = Math.min(Math.max(bx1, 0), W);
  const x1 = Math.max(x0, Math.min(bx2 + 1, W, bx1 + w));
  const y0 = Math.min(Math.max(by1, 0), H);
  const y1 = Math.max(y0, Math.min(by2 + 1, H, by1 + h));
  // Resized-mask pixel (r, c) lands on image pixel (by1 + r, bx1 + c).
  const rows = sliceTaps(linearTaps(P, h), y0 - by1, y1 - by1);
  const cols = sliceTaps(linearTaps(P, w), x0 - bx1, x1 - bx1);
  return { x0, x1, y0, y1, rows, cols, P, padding };
}

/**
 * Exact-mode taps along one axis for image pixels [from, to): padded-mask coordinate u + p of pixel x,
 * clamped to the padded mask, whose zero border makes the clamp the zero padding of grid sampling.
 */
function exactTaps(from: number, to: number, lo: number, binSize: number, shift: number, P: number, padding: number): LinearTaps {
  const n = Math.max(0, to - from);
  const taps: LinearTaps = { i0: new Int32Array(n), i1: new Int32Array(n), w0: new Float32Array(n), w1: new Float32Array(n) };
  for (let k = 0; k < n; k++) {
    const u = (from + k + shift - lo) / binSize - 0.5 + padding;
    const c = Math.min(Math.max(u, 0), P - 1);
    const i0 = Math.floor(c);
    taps.i0[k] = i0;
    taps.i1[k] = Math.min(i0 + 1, P - 1);
    taps.w1[k] = f32(c - i0);
    taps.w0[k] = f32(1 - taps.w1[k]!);
  }
  return taps;
}

function exactGeometry(box: ArrayLike<number>, M: number, imageSize: Size, scale: readonly [number, number]): PasteGeometry {
  const [H, W] = imageSize;
  const padding = 1;
  const P = M + 2;
  const axis = (lo: number, hi: number, r: number, size: number) => {
    const bin = (hi - lo) / M;
    const shift = 0.5 - 0.5 / r;
    // pixels whose coordinate u lies in (−1, M), where the mask (or its fall-off to zero) is
    const a = bin > 0 ? Math.min(Math.max(Math.floor(lo - 0.5 * bin - shift), 0), size) : 0;
    const b = bin > 0 ? Math.max(a, Math.min(Math.ceil(hi + 0.5 * bin - shift) + 1, size)) : 0;
    return { a, b, taps: exactTaps(a, b, lo, bin, shift, P, padding) };
  };
  const x = axis(box[0]!, box[2]!, scale[1], W);
  const y = axis(box[1]!, box[3]!, scale[0], H);
  return { x0: x.a, x1: x.b, y0: y.a, y1: y.b, rows: y.taps, cols: x.taps, P, padding };
}

function pasteGeometry(box: ArrayLike<number>, M: number, imageSize: Size, options: PasteOptions): PasteGeometry {
  checkBox(box);
  const mode = options.mode ?? 'torchvision';
  if (mode === 'exact') return exactGeometry(box, M, imageSize, options.scale ?? [1, 1]);
  if (mode !== 'torchvision') throw new PasteError(`expected paste mode 'torchvision' or 'exact'; found ${JSON.stringify(mode)}`);
  return torchvisionGeometry(box, M, imageSize, options.padding ?? 1);
}

/** Write the image region g.[x0,x1)×[y0,y1) from the zero-padded mask; image pixel (y, x) → out[origin + y·stride + x]. */
function pasteInto(mask: Float32Array, maskOffset: number, M: number, g: PasteGeometry, out: Float32Array, origin: number, stride: number): void {
  if (g.x1 <= g.x0 || g.y1 <= g.y0) return;
  // The (M+2p)×(M+2p) zero-padded mask (F.pad(mask, (p, p, p, p))).
  const { P, padding } = g;
  const padded = new Float32Array(P * P);
  for (let r = 0; r < M; r++) {
    padded.set(mask.subarray(maskOffset + r * M, maskOffset + (r + 1) * M), (r + padding) * P + padding);
  }
  interpolatePlane(padded, 0, P, P, g.rows, g.cols, { r0: 0, r1: g.y1 - g.y0, c0: 0, c1: g.x1 - g.x0 }, out, origin + g.y0 * stride + g.x0, stride);
}

/**
 * Paste one M×M mask (`mask[maskOffset …]`, row-major) into `out[outOffset …]`, an H×W row-major
 * plane that is zero where the box does not reach (only the box region is written).
 */
export function pasteMask(
  mask: Float32Array,
  maskOffset: number,
  M: number,
  box: ArrayLike<number>,
  imageSize: Size,
  out: Float32Array,
  outOffset = 0,
  options: PasteOptions = {},
): void {
  pasteInto(mask, maskOffset, M, pasteGeometry(box, M, imageSize, options), out, outOffset, imageSize[1]);
}

/**
 * Paste one M×M mask like `pasteMask`, but return only the region of the image it writes, so that
 * memory is bounded by the box, not by the image (a 10000×10000 photo with 100 detections).
 */
export function pasteMaskRegion(mask: Float32Array, maskOffset: number, M: number, box: ArrayLike<number>, imageSize: Size, options: PasteOptions = {}): MaskRegion {
  const g = pasteGeometry(box, M, imageSize, options);
  const width = g.x1 - g.x0;
  const height = g.y1 - g.y0;
  const data = new Float32Array(width * height);
  // image pixel (y, x) → data[(y − y0)·width + (x − x0)]
  pasteInto(mask, maskOffset, M, g, data, -g.y0 * width - g.x0, width);
  return { x0: g.x0, y0: g.y0, width, height, data };
}

/** Expand regions into D×H×W (zero outside each region). */
export function regionsToPlanes(regions: readonly MaskRegion[], imageSize: Size): Float32Array {
  const [H, W] = imageSize;
  let out: Float32Array;
  try {
    out = new Float32Array(regions.length * H * W);
  } catch {
    throw new PasteError(
      `${regions.length} masks of ${H}×${W} need ${((regions.length * H * W * 4) / 2 ** 20).toFixed(0)} MiB, more than can be allocated; read them one at a time as regions`,
    );
  }
  regions.forEach((r, d) => {
    for (let y = 0; y < r.height; y++) out.set(r.data.subarray(y * r.width, (y + 1) * r.width), d * H * W + (r.y0 + y) * W + r.x0);
  });
  return out;
}

/**
 * torchvision `paste_masks_in_image(masks, boxes, imageSize, padding=1)`.
 * masks: D×M×M probabilities (row-major); boxes: D boxes [x1, y1, x2, y2] in original-image pixels;
 * returns D×H×W float32 (row-major), zero outside each box.
 */
export function pasteMasks(masks: Float32Array, M: number, boxes: Boxes, imageSize: Size, options: PasteOptions = {}): Float32Array {
  const D = boxes.length / 4;
  if (!Number.isInteger(D) || masks.length !== D * M * M) {
    throw new PasteError(
      `expected D×M×M = ${Number.isInteger(D) ? D : '?'}×${M}×${M} mask values for ${boxes.length} box coordinates (4 per box); found ${masks.length} values: pass the predicted class's mask per detection`,
    );
  }
  const [H, W] = imageSize;
  if (!(Number.isInteger(H) && Number.isInteger(W) && H >= 1 && W >= 1)) {
    throw new PasteError(`expected an image size [H, W] of positive integers; found [${H}, ${W}]`);
  }
  let out: Float32Array;
  try {
    out = new Float32Array(D * H * W);
  } catch {
    throw new PasteError(
      `${D} masks of ${H}×${W} need ${((D * H * W * 4) / 2 ** 20).toFixed(0)} MiB, more than can be allocated; paste them one at a time with pasteMask`,
    );
  }
  for (let d = 0; d < D; d++) {
    pasteMask(masks, d * M * M, M, boxes.subarray(4 * d, 4 * d + 4), imageSize, out, d * H * W, options);
  }
  return out;
}
