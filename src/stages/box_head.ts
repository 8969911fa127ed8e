/**
 * Box head (torchvision `TwoMLPHead` + `FastRCNNPredictor`).
 *
 * Glossary
 *   K        RoIs
 *   S        pooled size (cfg.roiHeads.boxRoiPool.outputSize, 7)
 *   C        channels of the pooled features (cfg.fpn.outChannels, 256)
 *   R        representation size of fc6/fc7 (cfg.roiHeads.boxHead.representationSize, 1024)
 *   fc6, fc7 two fully connected layers + ReLU on the flattened RoI features
 *   classLogits     `cls_score`: [K, numClasses] (index 0 = background)
 *   boxRegression   `bbox_pred`: [K, 4·numClasses], column c·4 + k = (dx, dy, dw, dh)[k] of class c
 *
 * torch flattens pooled [K, C, S, S] as column c·S² + y·S + x; we flatten NHWC [K, S, S, C] as
 * (y·S + x)·C + c, so fc6's columns are permuted once at load time and activations need no transpose.
 *
 * State dict names: `roi_heads.box_head.fc6/fc7.*`, `roi_heads.box_predictor.cls_score/bbox_pred.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskRcnnConfig } from '../config.ts';
import type { StateDict } from '../types.ts';
import { disposeLayers, linear, loadLinear, type Linear } from './layers.ts';

export interface BoxHead {
  fc6: Linear;
  fc7: Linear;
  clsScore: Linear;
  bboxPred: Linear;
  /** S, C, numClasses */
  poolSize: number;
  channels: number;
  numClasses: number;
  dispose(): void;
}

export interface BoxHeadOutput {
  /** [K, numClasses] */
  classLogits: tf.Tensor2D;
  /** [K, 4·numClasses] */
  boxRegression: tf.Tensor2D;
}

type BoxHeadConfigPart = Pick<MaskRcnnConfig, 'numClasses' | 'fpn' | 'roiHeads'>;

export function loadBoxHead(sd: StateDict, cfg: BoxHeadConfigPart): BoxHead {
  const S = cfg.roiHeads.boxRoiPool.outputSize;
  const C = cfg.fpn.outChannels;
  const R = cfg.roiHeads.boxHead.representationSize;
  const N = cfg.numClasses;
  // Our feature i = (y·S + x)·C + c  ↦  torch column c·S² + y·S + x.
  const torchColumn = (i: number) => {
    const c = i % C;
    const yx = (i - c) / C;
    return c * S * S + yx;
  };
  const made: Linear[] = [];
  const take = (l: Linear) => (made.push(l), l);
  try {
    const fc6 = take(loadLinear(sd, 'roi_heads.box_head.fc6', C * S * S, R, torchColumn));
    const fc7 = take(loadLinear(sd, 'roi_heads.box_head.fc7', R, R));
    const clsScore = take(loadLinear(sd, 'roi_heads.box_predictor.cls_score', R, N));
    const bboxPred = take(loadLinear(sd, 'roi_heads.box_predictor.bbox_pred', R, 4 * N));
    return { fc6, fc7, clsScore, bboxPred, poolSize: S, channels: C, numClasses: N, dispose: () => disposeLayers(made) };
  } catch (e) {
    disposeLayers(made);
    throw e;
  }
}

/** The box head's output as plain data (the trace's `boxHead`). */
export interface BoxHeadData {
  numRois: number;
  /** K × numClasses */
  classLogits: Float32Array;
  /** K × 4·numClasses */
  boxRegression: Float32Array;
}

/** The box head on pooled features, read back; its tensors are disposed. */
export async function boxHeadData(net: BoxHead, pooled: tf.Tensor4D): Promise<BoxHeadData> {
  const out = boxHead(net, pooled);
  try {
    return {
      numRois: out.classLogits.shape[0],
      classLogits: (await out.classLogits.data()) as Float32Array,
      boxRegression: (await out.boxRegression.data()) as Float32Array,
    };
  } finally {
    tf.dispose([out.classLogits, out.boxRegression]);
  }
}

/** Class logits and per-class box deltas for pooled RoI features [K, S, S, C]. Returns new tensors. */
export function boxHead(net: BoxHead, pooled: tf.Tensor4D): BoxHeadOutput {
  const { poolSize: S, channels: C, numClasses: N } = net;
  const [K, h, w, c] = pooled.shape;
  if (h !== S || w !== S || c !== C) {
    throw new Error(`boxHead: expected pooled features [K, ${S}, ${S}, ${C}], found [${pooled.shape.join(', ')}]`);
  }
  if (K === 0) return { classLogits: tf.zeros([0, N]), boxRegression: tf.zeros([0, 4 * N]) };
  const [classLogits, boxRegression] = tf.tidy(() => {
    const x = tf.reshape(pooled, [K, S * S * C]) as tf.Tensor2D; // [K, S, S, C] → [K, S·S·C] (NHWC order, fc6 permuted to match)
    const h7 = linear(net.fc7, linear(net.fc6, x, 'relu'), 'relu'); // [K, R]
    return [linear(net.clsScore, h7), linear(net.bboxPred, h7)];
  });
  return { classLogits: classLogits!, boxRegression: boxRegression! };
}
