/**
 * Anchors: the reference boxes the RPN scores and regresses, torchvision `AnchorGenerator`.
 *
 * Glossary
 * - size s and aspect ratio r = height / width: a base (cell) anchor has w = s / √r, h = s · √r,
 *   centred on 0 and rounded half-to-even (`torch.round`): [−w/2, −h/2, w/2, h/2].
 * - A: anchors per location = |sizes of the level| · |aspectRatios|, ordered ratio-major,
 *   size-minor (torchvision `generate_anchors`).
 * - stride: padded image size // feature size (integer division), per axis.
 * - grid anchor: base anchor + (x · stride_w, y · stride_h) for each feature cell (y, x); the flat
 *   order is (y, x, a), the same as the NHWC head output flattened.
 */
import type { AnchorConfig } from '../config.ts';
import type { Size } from '../types.ts';
import { f32, roundHalfEven } from './float32.ts';

/** Base anchors of one level, A × 4 flat, in float32 exactly like torchvision. */
export function baseAnchors(sizes: readonly number[], aspectRatios: readonly number[]): Float32Array {
  const out = new Float32Array(4 * sizes.length * aspectRatios.length);
  let o = 0;
  for (const ratio of aspectRatios) {
    const hRatio = f32(Math.sqrt(f32(ratio)));
    const wRatio = f32(1 / hRatio);
    for (const size of sizes) {
      const ws = f32(wRatio * f32(size));
      const hs = f32(hRatio * f32(size));
      // stack([-ws, -hs, ws, hs]) / 2, then round half to even
      out[o++] = roundHalfEven(f32(-ws / 2));
      out[o++] = roundHalfEven(f32(-hs / 2));
      out[o++] = roundHalfEven(f32(ws / 2));
      out[o++] = roundHalfEven(f32(hs / 2));
    }
  }
  return out;
}

/** Anchors of every level over the padded image, plus each level's [strideH, strideW]. */
export interface GridAnchors {
  /** Per level: h · w · A × 4 flat, order (y, x, a). */
  anchors: Float32Array[];
  /** Per level: [padded height // h, padded width // w]. */
  strides: [number, number][];
}

/**
 * torchvision `AnchorGenerator.forward` for one image: level l uses `cfg.sizes[l]` and
 * `cfg.aspectRatios` on a `featureSizes[l]` grid over the padded image.
 */
export function gridAnchors(paddedImageSize: Size, featureSizes: readonly Size[], cfg: AnchorConfig): GridAnchors {
  if (featureSizes.length !== cfg.sizes.length) {
    throw new Error(
      `gridAnchors: expected one feature map per anchor size list (${cfg.sizes.length} levels), found ${featureSizes.length}; ` +
        'pass every pyramid level the RPN sees (P2–P6) or change anchors.sizes',
    );
  }
  const anchors: Float32Array[] = [];
  const strides: [number, number][] = [];
  for (const [level, [fh, fw]] of featureSizes.entries()) {
    if (!(fh > 0 && fw > 0)) throw new Error(`gridAnchors: level ${level} has an empty feature map [${fh}, ${fw}]`);
    const strideH = Math.floor(paddedImageSize[0] / fh);
    const strideW = Math.floor(paddedImageSize[1] / fw);
    const base = baseAnchors(cfg.sizes[level]!, cfg.aspectRatios);
    const a = base.length / 4;
    const out = new Float32Array(fh * fw * a * 4);
    let o = 0;
    for (let y = 0; y < fh; y++) {
      const sy = y * strideH;
      for (let x = 0; x < fw; x++) {
        const sx = x * strideW;
        for (let k = 0; k < a; k++) {
          out[o++] = f32(sx + base[4 * k]!);
          out[o++] = f32(sy + base[4 * k + 1]!);
          out[o++] = f32(sx + base[4 * k + 2]!);
          out[o++] = f32(sy + base[4 * k + 3]!);
        }
      }
    }
    anchors.push(out);
    strides.push([strideH, strideW]);
  }
  return { anchors, strides };
}
