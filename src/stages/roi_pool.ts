/**
 * Multi-scale RoI pooling (torchvision `MultiScaleRoIAlign`, batch 1): each RoI is assigned an FPN
 * level by the paper's rule k = ⌊k0 + log2(√(wh)/s0)⌋ clamped to [kMin, kMax], then pooled from that
 * level with the configured pooler (RoIAlign, RoIPool or RoIWarp) — all levels in one kernel call.
 *
 * Glossary
 *   K        number of RoIs
 *   P2..P5   the pyramid levels the heads pool from (`fpn_0`..`fpn_3`; the extra `pool` level is RPN only)
 *   scale    feature size / image size of a level, a power of two inferred like torchvision (1/4 … 1/32)
 *   kMin,kMax the levels of the finest and coarsest map: −log2(scale)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RoiPoolConfig } from '../config.ts';
import { inferScale, mapLevels } from '../geometry/index.ts';
import type { Boxes, Size } from '../types.ts';
import { multiScaleRoiPool } from '../../kernels/index.ts';
import { settle } from './layers.ts';

export interface PooledRois {
  /** [K, s, s, C] pooled features, in the order of the input boxes. */
  pooled: tf.Tensor4D;
  /** FPN level index per RoI, 0 = P2. */
  levels: Int32Array;
  /** spatial scale per level used by the pooler. */
  scales: number[];
}

/** The scales of the pyramid levels relative to the (resized, unpadded) image, like torchvision's `_setup_scales`. */
export function levelScales(features: readonly tf.Tensor4D[], imageSize: Size): number[] {
  // features: [1, h, w, C] → feature size (h, w)
  return features.map((f) => inferScale([f.shape[1], f.shape[2]], imageSize));
}

/** Assign each box a level and pool it from that level. The caller owns `pooled`. */
export function poolRois(features: readonly tf.Tensor4D[], boxes: Boxes, imageSize: Size, cfg: RoiPoolConfig): PooledRois {
  const scales = levelScales(features, imageSize);
  const kMin = Math.round(-Math.log2(scales[0]!));
  const kMax = Math.round(-Math.log2(scales[scales.length - 1]!));
  const levels = mapLevels(boxes, { canonicalScale: cfg.canonicalScale, canonicalLevel: cfg.canonicalLevel, kMin, kMax });
  const count = boxes.length / 4;
  const pooled = tf.tidy(() => {
    const boxTensor = tf.tensor2d(boxes, [count, 4]);
    const levelTensor = tf.tensor1d(levels, 'int32');
    return multiScaleRoiPool(features as tf.Tensor4D[], boxTensor, levelTensor, {
      pooler: cfg.pooler,
      outputSize: [cfg.outputSize, cfg.outputSize],
      scales,
      samplingRatio: cfg.samplingRatio,
      aligned: cfg.aligned,
    });
  });
  return { pooled, levels, scales };
}

/** The pooling of a stage: `poolRois`, waited for (so the stage's time includes the kernel). The caller owns `pooled`. */
export async function poolRoisSettled(features: readonly tf.Tensor4D[], boxes: Boxes, imageSize: Size, cfg: RoiPoolConfig): Promise<PooledRois> {
  const p = poolRois(features, boxes, imageSize, cfg);
  try {
    await settle(p.pooled);
  } catch (e) {
    p.pooled.dispose();
    throw e;
  }
  return p;
}
