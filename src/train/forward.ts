/**
 * The training forward: the inference stages (`conv2d`, `fpn`, `rpnHead`, `poolRois`, `boxHead`,
 * `maskHead`) on the trainable parameters, with real BatchNorm in the backbone, batch B ≥ 1.
 *
 * Glossary
 *   B          images in the batch (same padded size); the backbone, FPN and RPN head run on
 *              [B, Hp, Wp, ·]; RoI pooling runs per image on that image's slice of P2–P5
 *   BN train   y = γ·(x − μ_B)/√(σ²_B + eps) + β with μ_B, σ²_B the biased mean/variance over
 *              (B, H, W) per channel (torch BatchNorm2d in training mode); the batch statistics are
 *              reported so the caller can update the running buffers
 *   BN eval    the same with running_mean/running_var: exactly what the engine's FrozenBN computes
 *              (there folded into the conv), so eval mode is the exported model
 *   N          anchors of one image (all levels, order level, y, x, a); T = B·N
 *   R, P       sampled RoIs and positive RoIs of the batch (images concatenated)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FpnFeatures } from '../stages/fpn.ts';
import { fpn } from '../stages/fpn.ts';
import { rpnHead } from '../stages/rpn_head.ts';
import { poolRois } from '../stages/roi_pool.ts';
import { boxHead } from '../stages/box_head.ts';
import { maskHead } from '../stages/mask_head.ts';
import { keypointHead } from '../stages/keypoint_head.ts';
import type { MaskRcnnConfig } from '../config.ts';
import type { Boxes, Size } from '../types.ts';
import type { BatchNorm, ConvBn, TrainBackbone, TrainableMaskRcnn, TrainBlock } from './params.ts';
import { fastRcnnLoss, keypointLoss, maskLoss, rpnLoss } from './losses.ts';

export type BnMode = 'train' | 'eval';

/** Batch statistics of one BN layer in one training forward (kept tensors: the caller disposes them). */
export interface BnBatchStats {
  bn: BatchNorm;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  /** values per channel: B·H·W */
  count: number;
}

export interface BnContext {
  mode: BnMode;
  /** when given (train mode), each BN layer's batch statistics are kept and pushed here */
  stats?: BnBatchStats[];
}

/**
 * BatchNorm in training mode as one differentiable op with the textbook backward (x̂ = (x − μ)·r,
 * r = 1/√(σ² + eps), y = γ·x̂ + β):
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·r/n · (n·dy − dβ − x̂·dγ)   (sums over B, H, W; n = B·H·W)
 * tfjs's own `batchNorm` gradient tiles r to the full map and goes through mean and variance as
 * separate ops; this is the same math in five elementwise passes and two reductions.
 * Calls `onStats(μ, σ²)` with the batch statistics (biased variance, like torch's normalization).
 */
function batchNormTrain(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, onStats: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void): tf.Tensor4D {
  const f = (xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(xIn, [0, 1, 2]);
    onStats(mean as tf.Tensor1D, variance as tf.Tensor1D);
    const r = tf.rsqrt(tf.add(variance, eps));
    const xHat = tf.mul(tf.sub(xIn, mean), r);
    save([xHat, r, g]);
    return {
      value: tf.add(tf.mul(xHat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, gm] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
        const n = xh.shape[0] * xh.shape[1] * xh.shape[2];
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dGamma = tf.sum(tf.mul(dy, xh), [0, 1, 2]);
        const inner = tf.sub(tf.sub(tf.mul(dy, n), dBeta), tf.mul(xh, dGamma));
        const dx = tf.mul(inner, tf.div(tf.mul(gm, rs), n));
        return [dx, dGamma, dBeta];
      },
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(x, gamma, beta) as tf.Tensor4D;
}

function batchNorm(x: tf.Tensor4D, bn: BatchNorm, eps: number, ctx: BnContext): tf.Tensor4D {
  if (ctx.mode === 'eval') return tf.batchNorm4d(x, bn.runningMean as tf.Tensor1D, bn.runningVar as tf.Tensor1D, bn.beta as tf.Tensor1D, bn.gamma as tf.Tensor1D, eps);
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  return batchNormTrain(x, bn.gamma as tf.Tensor1D, bn.beta as tf.Tensor1D, eps, (mean, variance) => {
    ctx.stats?.push({ bn, mean: tf.keep(mean.clone()), variance: tf.keep(variance.clone()), count });
  });
}

/**
 * The bias-free conv of a conv + BN pair: `tf.conv2d` with torch's symmetric padding (what
 * `layers.conv2d` does, minus the bias add). Unfused, so the gradient of an input that needs none
 * (the image, for the stem) is never computed.
 */
function convNoBias(layer: ConvBn['conv'], x: tf.Tensor4D): tf.Tensor4D {
  const p = layer.pad;
  return tf.conv2d(x, layer.filter, layer.stride, [[0, 0], [p, p], [p, p], [0, 0]], 'NHWC', layer.dilation);
}

function convBn(p: ConvBn, x: tf.Tensor4D, eps: number, ctx: BnContext, relu: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const y = batchNorm(convNoBias(p.conv, x), p.bn, eps, ctx);
    return relu ? tf.relu(y) : y;
  });
}

function block(b: TrainBlock, x: tf.Tensor4D, eps: number, ctx: BnContext): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    b.convs.forEach((c, i) => {
      y = convBn(c, y, eps, ctx, i < b.convs.length - 1);
    });
    const identity = b.downsample ? convBn(b.downsample, x, eps, ctx, false) : x;
    return tf.relu(tf.add(y, identity)) as tf.Tensor4D;
  });
}

/** The ResNet body with BatchNorm: [B, H, W, 3] → C2..C5 (same structure as stages/backbone.ts). */
export function backboneForward(net: TrainBackbone, x: tf.Tensor4D, ctx: BnContext): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    let y = tf.maxPool(convBn(net.stem, x, net.eps, ctx, true), 3, 2, 1);
    const cs: tf.Tensor4D[] = [];
    for (const stage of net.stages) {
      for (const b of stage) y = block(b, y, net.eps, ctx);
      cs.push(y);
    }
    return cs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  });
}

export interface FeatureOutput {
  /** P2, P3, P4, P5, pool: [B, hi, wi, C] */
  maps: FpnFeatures;
  /** per level [B, hi, wi, A] */
  objectness: tf.Tensor4D[];
  /** per level [B, hi, wi, 4A] */
  deltas: tf.Tensor4D[];
}

/** Backbone → FPN → RPN head on a batch. New tensors (the caller disposes them, or a tidy does). */
export function featuresForward(model: TrainableMaskRcnn, input: tf.Tensor4D, ctx: BnContext): FeatureOutput {
  return tf.tidy(() => {
    const [c2, c3, c4, c5] = backboneForward(model.backbone, input, ctx);
    const maps = fpn(model.fpn, { c2, c3, c4, c5 });
    const head = rpnHead(model.rpnHead, maps);
    return { maps, objectness: head.objectness, deltas: head.deltas };
  });
}

/** Image b's P2–P5 ([1, hi, wi, C] each), sliced out of the batch. */
export function imageLevels(maps: FpnFeatures, b: number): tf.Tensor4D[] {
  return maps.slice(0, 4).map((m) => (m.shape[0] === 1 ? m : tf.slice(m, [b, 0, 0, 0], [1, m.shape[1], m.shape[2], m.shape[3]])));
}

/** Pool each image's boxes from its own levels and concatenate: [Σ Ki, s, s, C]. */
export function poolBatch(maps: FpnFeatures, boxes: readonly Boxes[], imageSizes: readonly Size[], cfg: TrainableMaskRcnn['config']['roiHeads']['boxRoiPool']): tf.Tensor4D {
  return tf.tidy(() => {
    const pooled = boxes.map((bx, b) => poolRois(imageLevels(maps, b), bx, imageSizes[b]!, cfg).pooled);
    return pooled.length === 1 ? pooled[0]! : tf.concat(pooled, 0);
  });
}

/** Objectness [B·N] and deltas [B·N, 4] in torchvision's concatenated order (image, level, y, x, a). */
export function flattenRpn(objectness: readonly tf.Tensor4D[], deltas: readonly tf.Tensor4D[]): { objectness: tf.Tensor1D; deltas: tf.Tensor2D } {
  return tf.tidy(() => {
    const b = objectness[0]!.shape[0];
    const o = objectness.map((t) => tf.reshape(t, [b, -1])); // [B, h, w, A] → [B, h·w·A]
    const d = deltas.map((t) => tf.reshape(t, [b, -1, 4])); // [B, h, w, 4A] → [B, h·w·A, 4]
    return {
      objectness: tf.reshape(tf.concat(o, 1), [-1]) as tf.Tensor1D, // [B, N] → [B·N]
      deltas: tf.reshape(tf.concat(d, 1), [-1, 4]) as tf.Tensor2D, // [B, N, 4] → [B·N, 4]
    };
  });
}

/** Everything the losses compare against, computed on the host before the differentiated forward. */
export interface LossTargets {
  /** [T] 1/0 labels, [T·4] regression, [T] sampled and positive indicators */
  rpnLabels: Float32Array;
  rpnRegression: Float32Array;
  rpnSampled: Float32Array;
  rpnPositive: Float32Array;
  /** per image: the sampled RoIs (R_b × 4) */
  rois: Boxes[];
  /** [R] classes, [R·4] regression targets, images concatenated */
  roiLabels: Int32Array;
  roiRegression: Float32Array;
  /** per image: the positive RoIs (P_b × 4) */
  maskRois: Boxes[];
  /** [P] classes and [P·M·M] mask targets (mask targets empty without a mask branch) */
  maskLabels: Int32Array;
  maskTargets: Float32Array;
  /** Keypoint branch: [P·K] target cells y·m + x of the positives' keypoints and 0/1 validity (empty without it) */
  keypointIndex: Int32Array;
  keypointValid: Float32Array;
}

/** The losses of a Mask R-CNN, in the order they are logged. */
export const LOSS_NAMES = ['rpnObjectness', 'rpnBox', 'classifier', 'boxReg', 'mask'] as const;
/** Every loss a model can have: Mask R-CNN's and the keypoint branch's. */
export const ALL_LOSS_NAMES = [...LOSS_NAMES, 'keypoint'] as const;
export type LossName = (typeof ALL_LOSS_NAMES)[number];
export type Losses = Partial<Record<LossName, tf.Scalar>>;

/** The losses of a model with this config: the four of Faster R-CNN, then `mask` and/or `keypoint` for its branches. */
export function lossNames(config: Pick<MaskRcnnConfig, 'roiHeads'>): LossName[] {
  return ALL_LOSS_NAMES.filter((n) => (n !== 'mask' || config.roiHeads.maskBranch) && (n !== 'keypoint' || config.roiHeads.keypointBranch));
}

/** The losses of a batch whose targets are known (`lossNames(config)`). Inside `tf.variableGrads` this is the training graph. */
export function lossForward(model: TrainableMaskRcnn, input: tf.Tensor4D, imageSizes: readonly Size[], t: LossTargets, ctx: BnContext): Losses {
  return tf.tidy(() => {
    const cfg = model.config.roiHeads;
    const f = featuresForward(model, input, ctx);
    const rpn = flattenRpn(f.objectness, f.deltas);
    const rpnParts = rpnLoss({
      objectness: rpn.objectness,
      deltas: rpn.deltas,
      labels: tf.tensor1d(t.rpnLabels),
      regression: tf.tensor2d(t.rpnRegression, [t.rpnLabels.length, 4]),
      sampled: tf.tensor1d(t.rpnSampled),
      positive: tf.tensor1d(t.rpnPositive),
    });
    const boxPooled = poolBatch(f.maps, t.rois, imageSizes, cfg.boxRoiPool);
    const box = boxHead(model.boxHead, boxPooled);
    const r = t.roiLabels.length;
    const head = fastRcnnLoss(box.classLogits, box.boxRegression, tf.tensor1d(t.roiLabels, 'int32'), tf.tensor2d(t.roiRegression, [r, 4]));
    const losses: Losses = { rpnObjectness: rpnParts.objectness, rpnBox: rpnParts.box, classifier: head.classifier, boxReg: head.box };
    const p = t.maskLabels.length;
    if (cfg.maskBranch) {
      const maskPooled = poolBatch(f.maps, t.maskRois, imageSizes, cfg.maskRoiPool);
      const logits = maskHead(model.maskHead!, maskPooled);
      const m = logits.shape[1];
      losses.mask = maskLoss(logits, tf.tensor1d(t.maskLabels, 'int32'), tf.tensor3d(t.maskTargets, [p, m, m]), cfg.maskLoss);
    }
    if (cfg.keypointBranch) {
      // The same positive RoIs as the mask branch (torchvision: proposals with labels > 0).
      const kpPooled = poolBatch(f.maps, t.maskRois, imageSizes, cfg.keypointRoiPool);
      const logits = keypointHead(model.keypointHead!, kpPooled);
      const validCount = t.keypointValid.reduce((a, b) => a + b, 0);
      losses.keypoint = keypointLoss(logits, tf.tensor1d(t.keypointIndex, 'int32'), tf.tensor1d(t.keypointValid), validCount);
    }
    return losses;
  });
}

/** L = Lrpn_cls + Lrpn_box + Lcls + Lbox (+ Lmask) (+ Lkeypoint). */
export function totalLoss(losses: Losses): tf.Scalar {
  return tf.tidy(() => tf.addN(ALL_LOSS_NAMES.flatMap((n) => (losses[n] ? [losses[n]] : []))) as tf.Scalar);
}
