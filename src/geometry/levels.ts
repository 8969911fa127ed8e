/**
 * Which FPN level pools each RoI (FPN paper eq. 1) and each level's scale, as torchvision's
 * `MultiScaleRoIAlign` (`LevelMapper`, `_infer_scale`) computes them.
 *
 * Glossary
 * - k = ⌊k0 + log2(√(wh) / s0) + ε⌋ clamped to [kMin, kMax]; k0 = canonicalLevel (4),
 *   s0 = canonicalScale (224), ε = 1e-6 (so a box of exactly 224·2^j lands on level 4 + j).
 * - level index: k − kMin, 0-based into the list of pooled feature maps (P2 → 0).
 * - scale of a level: feature size / image size, snapped to a power of two (1/4 for P2).
 */
import type { Boxes, Size } from '../types.ts';
import { boxArea, boxCount } from './boxes.ts';
import { f32, roundHalfEven } from './float32.ts';

/**
 * torchvision `_infer_scale`: 2^round(log2(feature / image)) from the first (height) dimension.
 * `imageSize` is the resized, unpadded image (torchvision passes `image_sizes`, not the padded
 * batch), so 50 / 797 still gives 1/16.
 */
export function inferScale(featureSize: Size, imageSize: Size): number {
  const approx = f32(featureSize[0] / imageSize[0]); // python float → float32 tensor
  return 2 ** roundHalfEven(f32(Math.log2(approx)));
}

export interface LevelMapperConfig {
  /** s0 (224) */
  canonicalScale: number;
  /** k0 (4) */
  canonicalLevel: number;
  /** Lowest level pooled, −log2(scale) of the finest map (2 for P2). */
  kMin: number;
  /** Highest level pooled (5 for P5). */
  kMax: number;
  /** Added before the floor; torchvision 1e-6. */
  eps?: number;
}

/** kMin and kMax from the pooled maps' scales, as torchvision's `setup_scales` does. */
export function levelRange(scales: readonly number[]): { kMin: number; kMax: number } {
  if (scales.length === 0) throw new Error('levelRange: expected at least one feature map scale, found none');
  const kMin = -f32(Math.log2(f32(scales[0]!)));
  const kMax = -f32(Math.log2(f32(scales[scales.length - 1]!)));
  return { kMin: Math.trunc(kMin), kMax: Math.trunc(kMax) };
}

/** 0-based level index per box (torchvision `LevelMapper.__call__`), float32. */
export function mapLevels(boxes: Boxes, cfg: LevelMapperConfig): Int32Array {
  const n = boxCount(boxes);
  const eps = f32(cfg.eps ?? 1e-6);
  const s0 = f32(cfg.canonicalScale);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = f32(Math.sqrt(boxArea(boxes, i)));
    const target = Math.floor(f32(f32(cfg.canonicalLevel + f32(Math.log2(f32(s / s0)))) + eps));
    const clamped = Math.min(Math.max(target, cfg.kMin), cfg.kMax);
    out[i] = clamped - cfg.kMin;
  }
  return out;
}
