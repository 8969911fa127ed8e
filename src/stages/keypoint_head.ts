/**
 * Keypoint head (torchvision `KeypointRCNNHeads` + `KeypointRCNNPredictor`, the paper's §5): the same
 * small FCN per RoI as the mask head, but its outputs are K keypoint maps, each read as a one-hot
 * "mask" with a softmax over its m × m positions (src/geometry/keypoints.ts decodes them).
 *
 * Glossary
 *   R        RoIs (detections); R = 0 gives an empty [0, 4S, 4S, Kp]
 *   S        pooled size (cfg.roiHeads.keypointRoiPool.outputSize, 14); maps are 4S × 4S (56)
 *   C        channels of the pooled features (cfg.fpn.outChannels, 256)
 *   Kp       keypoints (cfg.roiHeads.keypointPredictor.numKeypoints, 17 for COCO persons)
 *   keypoint_head.{0,2,…}  3×3 conv (padding 1) + ReLU, widths cfg.roiHeads.keypointHead.layers (8 × 512)
 *   kps_score_lowres       ConvTranspose2d 4×4, stride 2, padding 1 → Kp maps of 2S × 2S (no ReLU)
 *   up_scale               bilinear 2× (align_corners = false) → 4S × 4S logits; channel = keypoint
 *
 * State dict names: `roi_heads.keypoint_head.{2i}.{weight,bias}` (an nn.Sequential with a ReLU after
 * each conv), `roi_heads.keypoint_predictor.kps_score_lowres.{weight,bias}`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskRcnnConfig } from '../config.ts';
import type { StateDict } from '../types.ts';
import { type Conv2d, type ConvTranspose2d, conv2d, convTranspose2d, disposeLayers, loadConv2d, loadConvTranspose2d, settle } from './layers.ts';

export interface KeypointHead {
  fcn: Conv2d[];
  kpsScoreLowres: ConvTranspose2d;
  poolSize: number;
  channels: number;
  numKeypoints: number;
  dispose(): void;
}

type KeypointHeadConfigPart = Pick<MaskRcnnConfig, 'fpn' | 'roiHeads'>;

/** The deconv of `KeypointRCNNPredictor`: kernel 4, stride 2, padding 4/2 − 1 = 1 (doubles the size). */
export const KPS_DECONV = { kernel: 4, stride: 2, pad: 1 } as const;

export function loadKeypointHead(sd: StateDict, cfg: KeypointHeadConfigPart): KeypointHead {
  const { layers } = cfg.roiHeads.keypointHead;
  const numKeypoints = cfg.roiHeads.keypointPredictor.numKeypoints;
  const made: (Conv2d | ConvTranspose2d)[] = [];
  try {
    const fcn: Conv2d[] = [];
    let inChannels = cfg.fpn.outChannels;
    layers.forEach((outChannels, i) => {
      const c = loadConv2d(sd, `roi_heads.keypoint_head.${2 * i}`, { inChannels, outChannels, kernel: 3, pad: 1 });
      made.push(c);
      fcn.push(c);
      inChannels = outChannels;
    });
    const kpsScoreLowres = loadConvTranspose2d(sd, 'roi_heads.keypoint_predictor.kps_score_lowres', { inChannels, outChannels: numKeypoints, ...KPS_DECONV });
    made.push(kpsScoreLowres);
    return {
      fcn,
      kpsScoreLowres,
      poolSize: cfg.roiHeads.keypointRoiPool.outputSize,
      channels: cfg.fpn.outChannels,
      numKeypoints,
      dispose: () => disposeLayers(made),
    };
  } catch (e) {
    disposeLayers(made);
    throw e;
  }
}

/** The keypoint head's output as plain data (the trace's `keypointHead`). */
export interface KeypointHeadData {
  /** R × m × m × Kp logits (NHWC, keypoint innermost) */
  logits: Float32Array;
  /** m = 4S (56) */
  size: number;
  numKeypoints: number;
}

/**
 * The keypoint head on pooled features, read back; its tensors are disposed. The same computation as
 * `keypointHead`, one layer at a time with a turn of the event loop between layers: torchvision's
 * head is 8 convs of 512 channels (≈ 0.5 GFLOP per RoI each), which on wasm would otherwise hold the
 * page (or a test worker) for seconds to minutes in one synchronous block.
 */
export async function keypointHeadData(net: KeypointHead, pooled: tf.Tensor4D): Promise<KeypointHeadData> {
  const { poolSize: S, channels: C } = net;
  const [R, h, w, c] = pooled.shape;
  if (R === 0 || h !== S || w !== S || c !== C) {
    const logits = keypointHead(net, pooled); // empty, or the shape error
    logits.dispose();
    return { logits: new Float32Array(0), size: 4 * S, numKeypoints: net.numKeypoints };
  }
  let x = pooled;
  try {
    for (const layer of net.fcn) {
      const next = conv2d(layer, x, 'relu');
      if (x !== pooled) x.dispose();
      x = next;
      await settle(x);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const logits = tf.tidy(() => tf.image.resizeBilinear(convTranspose2d(net.kpsScoreLowres, x), [4 * S, 4 * S], false, true));
    try {
      return { logits: (await logits.data()) as Float32Array, size: 4 * S, numKeypoints: net.numKeypoints };
    } finally {
      logits.dispose();
    }
  } finally {
    if (x !== pooled) x.dispose();
  }
}

/** Keypoint logits [R, 4S, 4S, Kp] for pooled RoI features [R, S, S, C]. Returns a new tensor. */
export function keypointHead(net: KeypointHead, pooled: tf.Tensor4D): tf.Tensor4D {
  const { poolSize: S, channels: C, numKeypoints: Kp } = net;
  const [R, h, w, c] = pooled.shape;
  if (h !== S || w !== S || c !== C) {
    throw new Error(`keypointHead: expected pooled features [R, ${S}, ${S}, ${C}], found [${pooled.shape.join(', ')}]`);
  }
  if (R === 0) return tf.zeros([0, 4 * S, 4 * S, Kp]);
  return tf.tidy(() => {
    let x = pooled;
    for (const layer of net.fcn) x = conv2d(layer, x, 'relu');
    const low = convTranspose2d(net.kpsScoreLowres, x); // [R, 2S, 2S, Kp]
    // torch interpolate(scale_factor=2, bilinear, align_corners=False): source (o + ½)/2 − ½, clamped at 0
    return tf.image.resizeBilinear(low, [4 * S, 4 * S], false, true);
  });
}
