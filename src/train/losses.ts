/**
 * The paper's multi-task loss L = Lrpn_cls + Lrpn_box + Lcls + Lbox + Lmask, with torchvision's
 * normalizations (`rpn.compute_loss`, `fastrcnn_loss`, `maskrcnn_loss`), as tfjs ops so that
 * `tf.variableGrads` differentiates them.
 *
 * Glossary
 *   BCE        binary cross-entropy with logits, the stable form max(x, 0) − x·y + log(1 + e^−|x|)
 *   smooth L1  0.5·d²/β for d = |x − y| < β, else d − 0.5·β (β = 1/9 in the RPN and the box head)
 *   CE         softmax cross-entropy over the K + 1 classes (index 0 = background)
 *   T          anchors of the whole batch (images concatenated); R sampled RoIs; P positive RoIs
 *   dense weights  the RPN losses are computed over all T anchors with a weight per anchor
 *              (1/#sampled for sampled ones, 0 elsewhere): the same sums as torchvision's gathers,
 *              with no gather in the graph
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskLoss } from '../config.ts';

/**
 * One-hot rows as float32. (tfjs-backend-wasm 4.22's OneHot with dtype 'float32' writes the int32
 * bit pattern of 1, a denormal ≈ 1.4e-45: make int32 and cast.)
 */
export function oneHotFloat(labels: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(labels, depth), 'float32') as tf.Tensor2D);
}

/** Elementwise BCE with logits: max(x, 0) − x·y + log(1 + exp(−|x|)). */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.softplus(tf.neg(tf.abs(logits)))));
}

/** Elementwise smooth L1 (torch `smooth_l1_loss` with `beta`, no reduction): with m = min(d, β), 0.5·m²/β + (d − m). */
export function smoothL1(pred: tf.Tensor, target: tf.Tensor, beta: number): tf.Tensor {
  return tf.tidy(() => {
    const d = tf.abs(tf.sub(pred, target));
    if (beta <= 0) return d;
    const m = tf.minimum(d, beta);
    return tf.add(tf.mul(tf.square(m), 0.5 / beta), tf.sub(d, m));
  });
}

/** Mean softmax cross-entropy of logits [R, K] against labels [R] (int32). R = 0 gives 0. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const [r, k] = logits.shape;
    if (r === 0) return tf.mul(tf.sum(logits), 0) as tf.Scalar;
    const oneHot = oneHotFloat(labels, k); // [R, K]
    const logp = tf.logSoftmax(logits); // [R, K]
    return tf.neg(tf.div(tf.sum(tf.mul(logp, oneHot)), r)) as tf.Scalar;
  });
}

export interface RpnLossInputs {
  /** [T] objectness logits of every anchor of the batch */
  objectness: tf.Tensor1D;
  /** [T, 4] predicted deltas */
  deltas: tf.Tensor2D;
  /** [T] 1 object / 0 background (any value where not sampled) */
  labels: tf.Tensor1D;
  /** [T, 4] encoded targets (any value where not positive) */
  regression: tf.Tensor2D;
  /** [T] 1 for sampled anchors, 0 elsewhere */
  sampled: tf.Tensor1D;
  /** [T] 1 for sampled positive anchors, 0 elsewhere */
  positive: tf.Tensor1D;
}

/**
 * torchvision `RegionProposalNetwork.compute_loss`: objectness = mean BCE over the sampled anchors of
 * the batch; box = Σ smooth-L1(β = 1/9) over the sampled positives' 4 deltas / #sampled.
 */
export function rpnLoss(x: RpnLossInputs, beta = 1 / 9): { objectness: tf.Scalar; box: tf.Scalar } {
  return tf.tidy(() => {
    const count = tf.maximum(tf.sum(x.sampled), 1);
    const objectness = tf.div(tf.sum(tf.mul(bceWithLogits(x.objectness, x.labels), x.sampled)), count) as tf.Scalar;
    const perAnchor = tf.sum(smoothL1(x.deltas, x.regression, beta), 1); // [T]
    const box = tf.div(tf.sum(tf.mul(perAnchor, x.positive)), count) as tf.Scalar;
    return { objectness, box };
  });
}

/**
 * torchvision `fastrcnn_loss`: classifier = mean CE over the R sampled RoIs; box = Σ smooth-L1
 * (β = 1/9) of the gt class's 4 deltas over the positives / R.
 * classLogits [R, K], boxRegression [R, 4K], labels [R] int32, regression [R, 4].
 */
export function fastRcnnLoss(
  classLogits: tf.Tensor2D,
  boxRegression: tf.Tensor2D,
  labels: tf.Tensor1D,
  regression: tf.Tensor2D,
  beta = 1 / 9,
): { classifier: tf.Scalar; box: tf.Scalar } {
  return tf.tidy(() => {
    const [r, k] = classLogits.shape;
    const classifier = crossEntropy(classLogits, labels);
    if (r === 0) return { classifier, box: tf.mul(tf.sum(boxRegression), 0) as tf.Scalar };
    // The gt class's deltas: one-hot over classes, background (column 0) masked out.
    const positiveClass = tf.mul(oneHotFloat(labels, k), tf.concat([tf.zeros([1, 1]), tf.ones([1, k - 1])], 1)); // [R, K]
    const perClass = tf.reshape(boxRegression, [r, k, 4]); // [R, 4K] → [R, K, 4]
    const chosen = tf.sum(tf.mul(perClass, tf.expandDims(positiveClass, 2)), 1); // [R, 4]
    const isPositive = tf.sum(positiveClass, 1, true); // [R, 1]
    const box = tf.div(tf.sum(tf.mul(smoothL1(chosen, regression, beta), isPositive)), r) as tf.Scalar;
    return { classifier, box };
  });
}

/**
 * torchvision `maskrcnn_loss`: mean BCE of the gt class's mask logits against the M × M targets
 * (`loss` 'sigmoid'; 'softmax' is `softmaxMaskLoss`).
 * maskLogits [P, M, M, K] (NHWC, channel = class), labels [P] int32, targets [P, M, M].
 * P = 0 gives 0 (torchvision `mask_logits.sum() * 0`).
 */
export function maskLoss(maskLogits: tf.Tensor4D, labels: tf.Tensor1D, targets: tf.Tensor3D, loss: MaskLoss = 'sigmoid'): tf.Scalar {
  if (loss === 'softmax') return softmaxMaskLoss(maskLogits, labels, targets);
  return tf.tidy(() => {
    const [p, m, , k] = maskLogits.shape;
    if (p === 0) return tf.mul(tf.sum(maskLogits), 0) as tf.Scalar;
    const oneHot = tf.reshape(oneHotFloat(labels, k), [p, 1, 1, k]);
    const chosen = tf.sum(tf.mul(maskLogits, oneHot), 3); // [P, M, M]: the gt class's channel
    return tf.div(tf.sum(bceWithLogits(chosen, targets)), p * m * m) as tf.Scalar;
  });
}

/**
 * The multinomial mask loss of the paper's Table 2b ("softmax", FCN-style): a softmax across the K
 * channels of every pixel and cross-entropy against the pixel's class, which is the RoI's class c
 * inside the object and background (channel 0) outside. The targets are the same soft M × M values
 * t ∈ [0, 1] the sigmoid loss uses (RoIAlign of the binary mask), so the target distribution puts
 * t on c and 1 − t on background:  L = −mean over P·M·M of [t·log p_c + (1 − t)·log p_0].
 * Every class's logit gets a gradient (the classes compete), unlike the per-class sigmoid.
 */
export function softmaxMaskLoss(maskLogits: tf.Tensor4D, labels: tf.Tensor1D, targets: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const [p, h, w, k] = maskLogits.shape;
    if (p === 0) return tf.mul(tf.sum(maskLogits), 0) as tf.Scalar;
    const logp = tf.logSoftmax(maskLogits); // [P, M, M, K], over the class axis
    const t = tf.expandDims(targets, 3); // [P, M, M, 1]
    const object = tf.reshape(oneHotFloat(labels, k), [p, 1, 1, k]); // the RoI's class
    const background = tf.reshape(oneHotFloat(tf.zeros([1], 'int32') as tf.Tensor1D, k), [1, 1, 1, k]); // channel 0
    const target = tf.add(tf.mul(t, object), tf.mul(tf.sub(1, t), background)); // [P, M, M, K]
    return tf.neg(tf.div(tf.sum(tf.mul(logp, target)), p * h * w)) as tf.Scalar;
  });
}

/**
 * The keypoint loss of the paper's §5 (torchvision `keypointrcnn_loss`): each labelled keypoint of a
 * positive RoI is a one-hot m × m mask, and its loss is the cross-entropy of a softmax over the m²
 * positions of its map (not a per-pixel sigmoid: one position is right, the others compete), averaged
 * over the valid (RoI, keypoint) pairs. logits [P, m, m, K] (NHWC), index [P·K] int32 (y·m + x, RoI
 * major), valid [P·K] 0/1 with `validCount` ones (counted on the host). No valid pair gives 0.
 */
export function keypointLoss(logits: tf.Tensor4D, index: tf.Tensor1D, valid: tf.Tensor1D, validCount: number): tf.Scalar {
  return tf.tidy(() => {
    const [p, m, w, k] = logits.shape;
    if (p === 0 || validCount === 0) return tf.mul(tf.sum(logits), 0) as tf.Scalar;
    const rows = tf.reshape(tf.transpose(logits, [0, 3, 1, 2]), [p * k, m * w]); // [P, m, m, K] → [P, K, m, m] → [P·K, m²]
    const logp = tf.logSoftmax(rows); // over the m² positions
    const picked = tf.sum(tf.mul(logp, oneHotFloat(index, m * w)), 1); // [P·K]: log p of the target cell
    return tf.neg(tf.div(tf.sum(tf.mul(picked, valid)), validCount)) as tf.Scalar;
  });
}
