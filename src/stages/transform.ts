/**
 * The transform stage: torchvision `GeneralizedRCNNTransform` at inference, batch 1.
 *
 *   image (uint8 RGB, H0×W0) ─ normalize ─ resize (bilinear) ─ pad to a multiple of sizeDivisible
 *
 * Glossary
 *   H0, W0     original image size (`originalSize`)
 *   H, W       resized size, before padding (`imageSize`; torchvision `image_sizes`)
 *   Hp, Wp     padded size: H, W rounded up to a multiple of `sizeDivisible` (the tensor's shape)
 *   scale      the float32 resize factor min(minSize / min(H0, W0), maxSize / max(H0, W0))
 *   mean, std  per-channel normalization on [0, 1] RGB: x' = (x/255 − mean) / std
 *
 * What torchvision does, to the bit (torchvision 0.14 `transform.py` + torch 1.13 `interpolate`):
 *   - the image enters as float32 v/255 (`to_tensor`), is normalized in float32, THEN resized;
 *   - `scale` is float32 and computed as `minSize / t` with t a float32 tensor, which torch evaluates
 *     as `t.reciprocal() * minSize` (two roundings), so it is not always the correctly rounded quotient;
 *   - `interpolate(scale_factor=scale, recompute_scale_factor=True)` takes the output size as
 *     floor(dim · scale) in double: the short side is 799, not 800, for about half of all sizes;
 *   - the bilinear kernel (align_corners=False) then uses its own ratio dim/outDim in float32, source
 *     coordinate (i + 0.5)·ratio − 0.5 in double, clamped at 0, and float32 weights;
 *   - padding is bottom/right, zeros (in normalized space).
 * tf.image.resizeBilinear (halfPixelCenters) clamps the edges like torch but takes the ratio in double
 * (cpu backend; webgpu does everything in f32), so source positions drift: 5.4e-5 off torch on a noisy
 * 480×640 → 800×1066 resize. The resize here is plain JS that mirrors torch's arithmetic (within 1–2
 * float32 ulp of torch's CPU kernel) and the stage uploads the finished tensor once.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TransformConfig } from '../config.ts';
import type { Boxes, RgbImage, Size } from '../types.ts';

export interface TransformedImage {
  /** [1, Hp, Wp, 3] normalized, resized, zero-padded (NHWC). The caller owns it. */
  input: tf.Tensor4D;
  /** [H, W] after resizing, before padding (torchvision `image_sizes[0]`). */
  imageSize: Size;
  /** [H0, W0] of the decoded image. */
  originalSize: Size;
  /** The float32 resize factor torchvision passes to `interpolate` (`scale.item()`). */
  scale: number;
}

export class TransformError extends Error {
  override name = 'TransformError';
}

const f32 = Math.fround;

/**
 * torchvision's resize factor and output size for an H0×W0 image (`_resize_image_and_masks`):
 * scale = min(minSize · fl(1/fl(min(H0,W0))), maxSize · fl(1/fl(max(H0,W0)))) in float32,
 * size = floor(dim · scale) in double.
 */
export function resizedSize(originalSize: Size, minSize: number, maxSize: number): { size: Size; scale: number } {
  const [h0, w0] = originalSize;
  // torch: `self_min_size / min_size` with min_size a float32 tensor = min_size.reciprocal() * self_min_size
  const byShort = f32(f32(1 / f32(Math.min(h0, w0))) * f32(minSize));
  const byLong = f32(f32(1 / f32(Math.max(h0, w0))) * f32(maxSize));
  const scale = Math.min(byShort, byLong);
  const size: Size = [Math.floor(h0 * scale), Math.floor(w0 * scale)];
  if (size[0] < 1 || size[1] < 1) {
    throw new TransformError(
      `resizing a ${h0}×${w0} image by ${scale} (minSize ${minSize}, maxSize ${maxSize}) gives ${size[0]}×${size[1]}; ` +
        'expected at least 1×1: the image is too elongated for these sizes, crop it or raise transform.maxSize',
    );
  }
  return { size, scale };
}

/** H, W rounded up to a multiple of `sizeDivisible` (torchvision `batch_images`). */
export function paddedSize(size: Size, sizeDivisible: number): Size {
  return [Math.ceil(size[0] / sizeDivisible) * sizeDivisible, Math.ceil(size[1] / sizeDivisible) * sizeDivisible];
}

/** Per output index: the two source indices and their float32 weights of a 1-D linear resize. */
export interface LinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

/**
 * The taps of torch's `upsample_bilinear2d` along one axis, align_corners=False, output size given
 * (torch 1.13 `compute_source_index_and_lambda`): ratio = fl(inSize / outSize); src = max(0,
 * ratio·(i + 0.5) − 0.5) in double; i0 = ⌊src⌋, i1 = min(i0 + 1, inSize − 1); w1 = fl(src − i0),
 * w0 = fl(1 − w1). Equal sizes copy.
 */
export function linearTaps(inSize: number, outSize: number): LinearTaps {
  const taps: LinearTaps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  };
  const ratio = f32(inSize / outSize);
  for (let i = 0; i < outSize; i++) {
    if (inSize === outSize) {
      taps.i0[i] = i;
      taps.i1[i] = i;
      taps.w0[i] = 1;
      taps.w1[i] = 0;
      continue;
    }
    const src = Math.max(0, ratio * (i + 0.5) - 0.5);
    const i0 = Math.trunc(src);
    const w1 = f32(src - i0);
    taps.i0[i] = i0;
    taps.i1[i] = i0 < inSize - 1 ? i0 + 1 : i0;
    taps.w1[i] = w1;
    taps.w0[i] = f32(1 - w1);
  }
  return taps;
}

/**
 * torch's bilinear `interpolate` (align_corners=False) of one inH×inW float32 plane (row-major, from
 * `src[srcOffset]`) to the size of `rows` × `cols`, computing only output rows [r0, r1) and columns
 * [c0, c1): output pixel (r, c) goes to `out[outOffset + r·outStride + c]`, nothing else is written.
 * Per pixel, in float32 like torch's CPU kernel: t_k = x[y_k, x0]·wx0 + x[y_k, x1]·wx1, then
 * out = t_0·wy0 + t_1·wy1.
 */
export function interpolatePlane(
  src: Float32Array,
  srcOffset: number,
  inH: number,
  inW: number,
  rows: LinearTaps,
  cols: LinearTaps,
  region: { r0: number; r1: number; c0: number; c1: number },
  out: Float32Array,
  /** index in `out` of output pixel (r, c) = outOffset + r·outStride + c */
  outOffset: number,
  outStride: number,
): void {
  if (inH === 0 || inW === 0) return;
  for (let r = region.r0; r < region.r1; r++) {
    const top = srcOffset + rows.i0[r]! * inW;
    const bottom = srcOffset + rows.i1[r]! * inW;
    const wy0 = rows.w0[r]!;
    const wy1 = rows.w1[r]!;
    const o = outOffset + r * outStride;
    for (let c = region.c0; c < region.c1; c++) {
      const x0 = cols.i0[c]!;
      const x1 = cols.i1[c]!;
      const wx0 = cols.w0[c]!;
      const wx1 = cols.w1[c]!;
      const t0 = f32(f32(src[top + x0]! * wx0) + f32(src[top + x1]! * wx1));
      const t1 = f32(f32(src[bottom + x0]! * wx0) + f32(src[bottom + x1]! * wx1));
      out[o + c] = f32(t0 * wy0) + f32(t1 * wy1);
    }
  }
}

/** 256-entry float32 table per channel: fl(fl(fl(v/255) − mean) / std), torchvision's `normalize` on `to_tensor`. */
export function normalizationTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  return [0, 1, 2].map((ch) => {
    const m = f32(mean[ch]!);
    const s = f32(std[ch]!);
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = f32(f32(f32(v / 255) - m) / s);
    return table;
  });
}

/**
 * The transform as plain data: [Hp, Wp, 3] float32 (HWC), plus the sizes. `transformImage` uploads
 * this; notebooks and tests can use it without a tensor.
 */
export function transformPixels(
  image: RgbImage,
  cfg: TransformConfig,
): { pixels: Float32Array; paddedSize: Size; imageSize: Size; originalSize: Size; scale: number } {
  const { width: w0, height: h0, data } = image;
  if (!(w0 >= 1 && h0 >= 1) || data.length !== w0 * h0 * 3) {
    throw new TransformError(
      `expected an RGB image with width, height ≥ 1 and ${w0}·${h0}·3 = ${w0 * h0 * 3} bytes; found ${w0}×${h0} with ${data.length} bytes`,
    );
  }
  const originalSize: Size = [h0, w0];
  const { size: imageSize, scale } = resizedSize(originalSize, cfg.minSize, cfg.maxSize);
  const [h, w] = imageSize;
  const [hp, wp] = paddedSize(imageSize, cfg.sizeDivisible);
  const tables = normalizationTables(cfg.imageMean, cfg.imageStd);
  const pixels = new Float32Array(hp * wp * 3); // zero padding bottom/right
  if (h === h0 && w === w0) {
    // Equal sizes: torch's interpolate copies (linearTaps is the identity), so normalize only.
    for (let r = 0; r < h; r++) {
      for (let c = 0, i = r * w0 * 3, o = r * wp * 3; c < w; c++, i += 3, o += 3) {
        pixels[o] = tables[0]![data[i]!]!;
        pixels[o + 1] = tables[1]![data[i + 1]!]!;
        pixels[o + 2] = tables[2]![data[i + 2]!]!;
      }
    }
    return { pixels, paddedSize: [hp, wp], imageSize, originalSize, scale };
  }
  const rows = linearTaps(h0, h);
  const cols = linearTaps(w0, w);
  for (let ch = 0; ch < 3; ch++) {
    const table = tables[ch]!;
    // Normalize only the source rows the resize reads, one float32 row at a time (H0×W0 floats
    // would be 4 bytes per pixel per channel of a possibly large photo).
    const rowCache = new Map<number, Float32Array>();
    const sourceRow = (y: number): Float32Array => {
      let row = rowCache.get(y);
      if (!row) {
        row = new Float32Array(w0);
        for (let x = 0, i = y * w0 * 3 + ch; x < w0; x++, i += 3) row[x] = table[data[i]!]!;
        rowCache.set(y, row);
        if (rowCache.size > 4) rowCache.delete(rowCache.keys().next().value!);
      }
      return row;
    };
    for (let r = 0; r < h; r++) {
      const top = sourceRow(rows.i0[r]!);
      const bottom = sourceRow(rows.i1[r]!);
      const wy0 = rows.w0[r]!;
      const wy1 = rows.w1[r]!;
      let o = r * wp * 3 + ch;
      for (let c = 0; c < w; c++, o += 3) {
        const x0 = cols.i0[c]!;
        const x1 = cols.i1[c]!;
        const wx0 = cols.w0[c]!;
        const wx1 = cols.w1[c]!;
        const t0 = f32(f32(top[x0]! * wx0) + f32(top[x1]! * wx1));
        const t1 = f32(f32(bottom[x0]! * wx0) + f32(bottom[x1]! * wx1));
        pixels[o] = f32(t0 * wy0) + f32(t1 * wy1);
      }
    }
  }
  return { pixels, paddedSize: [hp, wp], imageSize, originalSize, scale };
}

/** torchvision `GeneralizedRCNNTransform` (inference, one image) → the padded batch tensor and sizes. */
export function transformImage(image: RgbImage, cfg: TransformConfig): TransformedImage {
  const { pixels, paddedSize: [hp, wp], imageSize, originalSize, scale } = transformPixels(image, cfg);
  // [Hp·Wp·3] HWC → [1, Hp, Wp, 3]
  const input = tf.tensor4d(pixels, [1, hp, wp, 3], 'float32');
  return { input, imageSize, originalSize, scale };
}

/**
 * torchvision `resize_boxes`: x·fl(fl(toW)/fl(fromW)), y·fl(fl(toH)/fl(fromH)) in float32. `from` and
 * `to` are [H, W]; boxes are flat [x1, y1, x2, y2, …]. Returns new boxes.
 */
export function resizeBoxes(boxes: Boxes, from: Size, to: Size): Boxes {
  if (boxes.length % 4 !== 0) {
    throw new TransformError(`expected boxes as a flat [x1, y1, x2, y2, …] array (length a multiple of 4); found length ${boxes.length}`);
  }
  const ratioH = f32(f32(to[0]) / f32(from[0]));
  const ratioW = f32(f32(to[1]) / f32(from[1]));
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = boxes[i]! * ratioW;
    out[i + 1] = boxes[i + 1]! * ratioH;
    out[i + 2] = boxes[i + 2]! * ratioW;
    out[i + 3] = boxes[i + 3]! * ratioH;
  }
  return out;
}
