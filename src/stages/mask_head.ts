/**
 * Mask head (torchvision `MaskRCNNHeads` + `MaskRCNNPredictor`): a small FCN per RoI.
 *
 * Glossary
 *   K        RoIs (detections); K = 0 gives an empty [0, 2S, 2S, numClasses]
 *   S        pooled size (cfg.roiHeads.maskRoiPool.outputSize, 14); masks are 2S × 2S (28)
 *   C        channels of the pooled features (cfg.fpn.outChannels, 256)
 *   mask_fcn{1..4}  3×3 conv (padding = dilation = cfg.roiHeads.maskHead.dilation) + ReLU, widths
 *            cfg.roiHeads.maskHead.layers
 *   conv5_mask      ConvTranspose2d 2×2 stride 2 (→ cfg.roiHeads.maskPredictor.dimReduced) + ReLU
 *   mask_fcn_logits 1×1 conv → numClasses logits per pixel: [K, 2S, 2S, numClasses], channel = class
 *
 * State dict names: `roi_heads.mask_head.{i}.0.*`, `roi_heads.mask_predictor.conv5_mask.*`,
 * `roi_heads.mask_predictor.mask_fcn_logits.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskRcnnConfig } from '../config.ts';
import type { StateDict } from '../types.ts';
import {
  conv2d,
  convTranspose2d,
  disposeLayers,
  loadConv2d,
  loadConvTranspose2d,
  type Conv2d,
  type ConvTranspose2d,
} from './layers.ts';

export interface MaskHead {
  fcn: Conv2d[];
  conv5Mask: ConvTranspose2d;
  maskFcnLogits: Conv2d;
  poolSize: number;
  channels: number;
  numClasses: number;
  dispose(): void;
}

type MaskHeadConfigPart = Pick<MaskRcnnConfig, 'numClasses' | 'fpn' | 'roiHeads'>;

export function loadMaskHead(sd: StateDict, cfg: MaskHeadConfigPart): MaskHead {
  const { layers, dilation } = cfg.roiHeads.maskHead;
  const dimReduced = cfg.roiHeads.maskPredictor.dimReduced;
  const made: (Conv2d | ConvTranspose2d)[] = [];
  try {
    const fcn: Conv2d[] = [];
    let inChannels = cfg.fpn.outChannels;
    layers.forEach((outChannels, i) => {
      const c = loadConv2d(sd, `roi_heads.mask_head.${i}.0`, { inChannels, outChannels, kernel: 3, pad: dilation, dilation });
      made.push(c);
      fcn.push(c);
      inChannels = outChannels;
    });
    const conv5Mask = loadConvTranspose2d(sd, 'roi_heads.mask_predictor.conv5_mask', { inChannels, outChannels: dimReduced, kernel: 2, stride: 2 });
    made.push(conv5Mask);
    const maskFcnLogits = loadConv2d(sd, 'roi_heads.mask_predictor.mask_fcn_logits', { inChannels: dimReduced, outChannels: cfg.numClasses, kernel: 1 });
    made.push(maskFcnLogits);
    return {
      fcn,
      conv5Mask,
      maskFcnLogits,
      poolSize: cfg.roiHeads.maskRoiPool.outputSize,
      channels: cfg.fpn.outChannels,
      numClasses: cfg.numClasses,
      dispose: () => disposeLayers(made),
    };
  } catch (e) {
    disposeLayers(made);
    throw e;
  }
}

/** The mask head's output as plain data (the trace's `maskHead`). */
export interface MaskHeadData {
  /** K × m × m × numClasses logits (NHWC, class innermost) */
  maskLogits: Float32Array;
  /** m = 2S (28) */
  size: number;
}

/** The mask head on pooled features, read back; its tensor is disposed. */
export async function maskHeadData(net: MaskHead, pooled: tf.Tensor4D): Promise<MaskHeadData> {
  const logits = maskHead(net, pooled);
  try {
    return { maskLogits: (await logits.data()) as Float32Array, size: logits.shape[1] };
  } finally {
    logits.dispose();
  }
}

/** Mask logits [K, 2S, 2S, numClasses] for pooled RoI features [K, S, S, C]. Returns a new tensor. */
export function maskHead(net: MaskHead, pooled: tf.Tensor4D): tf.Tensor4D {
  const { poolSize: S, channels: C, numClasses: N } = net;
  const [K, h, w, c] = pooled.shape;
  if (h !== S || w !== S || c !== C) {
    throw new Error(`maskHead: expected pooled features [K, ${S}, ${S}, ${C}], found [${pooled.shape.join(', ')}]`);
  }
  if (K === 0) return tf.zeros([0, 2 * S, 2 * S, N]);
  return tf.tidy(() => {
    let x = pooled;
    for (const layer of net.fcn) x = conv2d(layer, x, 'relu');
    const up = tf.relu(convTranspose2d(net.conv5Mask, x)); // [K, 2S, 2S, dimReduced]
    return conv2d(net.maskFcnLogits, up);
  });
}
