/**
 * RPN head (torchvision `RPNHead`), shared by every pyramid level.
 *
 * Glossary
 *   L        pyramid levels fed to the RPN (P2..P5 and pool: 5)
 *   C        channels of every level (cfg.fpn.outChannels)
 *   A        anchors per location = sizes per level × aspect ratios (3)
 *   hi, wi   size of level i
 *   objectness  `cls_logits` 1×1 conv: [1, hi, wi, A] logits, channel a = anchor a (torch's order)
 *   deltas      `bbox_pred` 1×1 conv: [1, hi, wi, 4A], channel a·4 + k = (dx, dy, dw, dh)[k] of
 *               anchor a (torch's order; NHWC keeps torch's channel index unchanged)
 *
 * State dict names: `rpn.head.conv.0.0.*` (3×3 + ReLU), `rpn.head.cls_logits.*`, `rpn.head.bbox_pred.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskRcnnConfig } from '../config.ts';
import type { Size, StateDict } from '../types.ts';
import { conv2d, disposeLayers, loadConv2d, type Conv2d } from './layers.ts';

const PREFIX = 'rpn.head.';

export interface RpnHead {
  conv: Conv2d;
  clsLogits: Conv2d;
  bboxPred: Conv2d;
  /** A */
  numAnchors: number;
  dispose(): void;
}

export interface RpnHeadOutput {
  /** per level [1, hi, wi, A] */
  objectness: tf.Tensor4D[];
  /** per level [1, hi, wi, 4A] */
  deltas: tf.Tensor4D[];
}

/** One pyramid level of the RPN head's output, read back as plain data (the trace's `rpn`). */
export interface RpnLevel {
  /** Feature size [h, w] of this level. */
  size: Size;
  /** Image pixels per feature cell (padded image size // feature size). */
  stride: [number, number];
  /** A = anchors per location. */
  numAnchors: number;
  /** h·w·A logits, order (y, x, a). */
  objectness: Float32Array;
  /** h·w·A·4 box deltas, order (y, x, a, [dx, dy, dw, dh]). */
  deltas: Float32Array;
  /** h·w·A·4 anchors [x1, y1, x2, y2] in padded-image pixels, order (y, x, a); empty until the anchors stage. */
  anchors: Float32Array;
}

/** A = anchor sizes per level × aspect ratios. */
export function anchorsPerLocation(cfg: Pick<MaskRcnnConfig, 'anchors'>): number {
  return (cfg.anchors.sizes[0]?.length ?? 0) * cfg.anchors.aspectRatios.length;
}

export function loadRpnHead(sd: StateDict, cfg: Pick<MaskRcnnConfig, 'fpn' | 'anchors'>): RpnHead {
  const C = cfg.fpn.outChannels;
  const A = anchorsPerLocation(cfg);
  const made: Conv2d[] = [];
  try {
    const conv = loadConv2d(sd, `${PREFIX}conv.0.0`, { inChannels: C, outChannels: C, kernel: 3, pad: 1 });
    made.push(conv);
    const clsLogits = loadConv2d(sd, `${PREFIX}cls_logits`, { inChannels: C, outChannels: A, kernel: 1 });
    made.push(clsLogits);
    const bboxPred = loadConv2d(sd, `${PREFIX}bbox_pred`, { inChannels: C, outChannels: 4 * A, kernel: 1 });
    made.push(bboxPred);
    return { conv, clsLogits, bboxPred, numAnchors: A, dispose: () => disposeLayers(made) };
  } catch (e) {
    disposeLayers(made);
    throw e;
  }
}

/**
 * The head's output read back per level, and its tensors disposed: [1, h, w, A] → (y, x, a);
 * [1, h, w, 4A] → (y, x, a, 4). `paddedSize` gives each level's stride.
 */
export async function readRpnLevels(out: RpnHeadOutput, paddedSize: Size): Promise<RpnLevel[]> {
  try {
    const levels: RpnLevel[] = [];
    for (const [i, o] of out.objectness.entries()) {
      levels.push({
        size: [o.shape[1], o.shape[2]],
        stride: [Math.floor(paddedSize[0] / o.shape[1]), Math.floor(paddedSize[1] / o.shape[2])],
        numAnchors: o.shape[3],
        objectness: (await o.data()) as Float32Array,
        deltas: (await out.deltas[i]!.data()) as Float32Array,
        anchors: new Float32Array(0),
      });
    }
    return levels;
  } finally {
    tf.dispose([...out.objectness, ...out.deltas]);
  }
}

/** Objectness logits and box deltas for every level. Returns new tensors (the caller disposes them). */
export function rpnHead(net: RpnHead, features: readonly tf.Tensor4D[]): RpnHeadOutput {
  const objectness: tf.Tensor4D[] = [];
  const deltas: tf.Tensor4D[] = [];
  for (const feature of features) {
    const [o, d] = tf.tidy(() => {
      const t = conv2d(net.conv, feature, 'relu');
      return [conv2d(net.clsLogits, t), conv2d(net.bboxPred, t)];
    });
    objectness.push(o!);
    deltas.push(d!);
  }
  return { objectness, deltas };
}
