/**
 * Hand-computed checks of the convolutional stages' conventions (no torchvision needed): nearest
 * upsampling indices, FrozenBN folding, ConvTranspose2d layout, the RPN head's channel order, fc6's
 * C,H,W column order, empty RoI batches, and the errors for missing or mis-shaped tensors.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { toConfig } from '../src/config.ts';
import { boxHead, loadBoxHead } from '../src/stages/box_head.ts';
import { nearestIndices, upsampleNearest } from '../src/stages/fpn.ts';
import { conv2d, convTranspose2d, loadConv2dFrozenBn, loadConvTranspose2d, StateDictError } from '../src/stages/layers.ts';
import { loadMaskHead, maskHead } from '../src/stages/mask_head.ts';
import { loadRpnHead, rpnHead } from '../src/stages/rpn_head.ts';
import type { StateDict } from '../src/types.ts';

const tensor = (shape: number[], values?: ArrayLike<number>) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, dtype: 'float32', data: values ? Float32Array.from(values) : new Float32Array(n) };
};

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('nearestIndices / upsampleNearest (torch F.interpolate mode="nearest")', () => {
  it('nearestIndices(3, 7) is ⌊d·3/7⌋ = [0, 0, 0, 1, 1, 2, 2]', () => {
    expect(Array.from(nearestIndices(3, 7))).toEqual([0, 0, 0, 1, 1, 2, 2]);
  });
  it('nearestIndices(4, 7) is ⌊d·4/7⌋ = [0, 0, 1, 1, 2, 2, 3]', () => {
    expect(Array.from(nearestIndices(4, 7))).toEqual([0, 0, 1, 1, 2, 2, 3]);
  });
  it('nearestIndices(4, 8) repeats each index twice and nearestIndices(5, 5) is the identity', () => {
    expect(Array.from(nearestIndices(4, 8))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(Array.from(nearestIndices(5, 5))).toEqual([0, 1, 2, 3, 4]);
  });
  it('upsampleNearest([[1, 2, 3], [4, 5, 6]], [3, 5]) picks rows [0, 0, 1] and columns [0, 0, 1, 1, 2]', async () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    const y = upsampleNearest(x, [3, 5]);
    expect(y.shape).toEqual([1, 3, 5, 1]);
    expect(Array.from(await y.data())).toEqual([1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6]);
    tf.dispose([x, y]);
  });
});

describe('layers', () => {
  it('loadConv2dFrozenBn folds BN: conv w=2, bn weight 3 bias 1 mean 0.5 var 3 eps 1 maps x=2 to (4 − 0.5)·3/√4 + 1 = 6.25', async () => {
    const sd: StateDict = new Map([
      ['c.weight', tensor([1, 1, 1, 1], [2])],
      ['bn.weight', tensor([1], [3])],
      ['bn.bias', tensor([1], [1])],
      ['bn.running_mean', tensor([1], [0.5])],
      ['bn.running_var', tensor([1], [3])],
    ]);
    const layer = loadConv2dFrozenBn(sd, 'c', 'bn', { inChannels: 1, outChannels: 1, kernel: 1 }, 1);
    const x = tf.tensor4d([2], [1, 1, 1, 1]);
    const y = conv2d(layer, x);
    expect(Array.from(await y.data())).toEqual([6.25]);
    tf.dispose([x, y, layer.filter, layer.bias]);
  });

  it('convTranspose2d with torch weight [[1, 2], [3, 4]], stride 2, bias 0.5 maps row [1, 10] to [[1, 2, 10, 20], [3, 4, 30, 40]] + 0.5 (no flip)', async () => {
    const sd: StateDict = new Map([
      ['d.weight', tensor([1, 1, 2, 2], [1, 2, 3, 4])],
      ['d.bias', tensor([1], [0.5])],
    ]);
    const layer = loadConvTranspose2d(sd, 'd', { inChannels: 1, outChannels: 1, kernel: 2, stride: 2 });
    const x = tf.tensor4d([1, 10], [1, 1, 2, 1]);
    const y = convTranspose2d(layer, x);
    expect(y.shape).toEqual([1, 2, 4, 1]);
    expect(Array.from(await y.data())).toEqual([1, 2, 10, 20, 3, 4, 30, 40].map((v) => v + 0.5));
    tf.dispose([x, y, layer.filter, layer.bias]);
  });
});

/** RPN head weights for C channels and A anchors: conv = identity at the centre tap, 1×1 weights 0, biases given. */
function rpnStateDict(C: number, A: number, clsBias: number[], boxBias: number[]): StateDict {
  const conv = new Float32Array(C * C * 9);
  for (let c = 0; c < C; c++) conv[((c * C + c) * 3 + 1) * 3 + 1] = 1;
  return new Map([
    ['rpn.head.conv.0.0.weight', tensor([C, C, 3, 3], conv)],
    ['rpn.head.conv.0.0.bias', tensor([C])],
    ['rpn.head.cls_logits.weight', tensor([A, C, 1, 1])],
    ['rpn.head.cls_logits.bias', tensor([A], clsBias)],
    ['rpn.head.bbox_pred.weight', tensor([4 * A, C, 1, 1])],
    ['rpn.head.bbox_pred.bias', tensor([4 * A], boxBias)],
  ]);
}

describe('rpnHead', () => {
  const cfg = toConfig({ fpn: { outChannels: 2 } });

  it('rpnHead keeps torch channel order: objectness channel a = bias a, deltas channel a·4 + k = bias a·4 + k', async () => {
    const A = 3;
    const boxBias = Array.from({ length: 4 * A }, (_, j) => 10 * Math.floor(j / 4) + (j % 4));
    const net = loadRpnHead(rpnStateDict(2, A, [0, 1, 2], boxBias), cfg);
    const feature = tf.ones([1, 2, 3, 2]) as tf.Tensor4D;
    const { objectness, deltas } = rpnHead(net, [feature]);
    expect(objectness[0]!.shape).toEqual([1, 2, 3, A]);
    expect(deltas[0]!.shape).toEqual([1, 2, 3, 4 * A]);
    const o = await objectness[0]!.data();
    const d = await deltas[0]!.data();
    expect(Array.from(o.subarray(0, A))).toEqual([0, 1, 2]);
    expect(Array.from(d.subarray(4 * A * 5))).toEqual([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
    tf.dispose([feature, ...objectness, ...deltas]);
    net.dispose();
  });

  it('loadRpnHead without rpn.head.cls_logits.weight throws an error naming the tensor and its expected shape', () => {
    const sd = rpnStateDict(2, 3, [0, 0, 0], new Array<number>(12).fill(0));
    sd.delete('rpn.head.cls_logits.weight');
    expect(() => loadRpnHead(sd, cfg)).toThrow(StateDictError);
    expect(() => loadRpnHead(sd, cfg)).toThrow(/rpn\.head\.cls_logits\.weight.*\[3, 2, 1, 1\]/);
  });

  it('loadRpnHead with bbox_pred.bias of shape [8] for 3 anchors throws naming found [8] and expected [12]', () => {
    const sd = rpnStateDict(2, 3, [0, 0, 0], new Array<number>(12).fill(0));
    sd.set('rpn.head.bbox_pred.bias', tensor([8]));
    expect(() => loadRpnHead(sd, cfg)).toThrow(/rpn\.head\.bbox_pred\.bias has shape \[8\]; this config expects \[12\]/);
  });
});

describe('boxHead and maskHead', () => {
  // C = 2, S = 2 (box), R = 3, 4 classes; mask: S = 3, one 3×3 layer of 2, dimReduced 2.
  const cfg = toConfig({
    numClasses: 4,
    fpn: { outChannels: 2 },
    roiHeads: {
      boxRoiPool: { outputSize: 2 },
      boxHead: { representationSize: 3 },
      maskRoiPool: { outputSize: 3 },
      maskHead: { layers: [2] },
      maskPredictor: { dimReduced: 2 },
    },
  });

  it('boxHead flattens like torch (column c·S² + y·S + x): fc6 row 0 = one-hot at torch column 1·4 + 1·2 + 0 reads pooled[k, y=1, x=0, c=1]', async () => {
    const fc6 = new Float32Array(3 * 8);
    fc6[0 * 8 + (1 * 4 + 1 * 2 + 0)] = 1; // fc6 output 0 ← torch feature (c=1, y=1, x=0)
    const eye3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const sd: StateDict = new Map([
      ['roi_heads.box_head.fc6.weight', tensor([3, 8], fc6)],
      ['roi_heads.box_head.fc6.bias', tensor([3])],
      ['roi_heads.box_head.fc7.weight', tensor([3, 3], eye3)],
      ['roi_heads.box_head.fc7.bias', tensor([3])],
      ['roi_heads.box_predictor.cls_score.weight', tensor([4, 3], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
      ['roi_heads.box_predictor.cls_score.bias', tensor([4])],
      ['roi_heads.box_predictor.bbox_pred.weight', tensor([16, 3])],
      ['roi_heads.box_predictor.bbox_pred.bias', tensor([16], Array.from({ length: 16 }, (_, i) => i))],
    ]);
    const net = loadBoxHead(sd, cfg);
    // pooled NHWC [1, 2, 2, 2]: value = 100·y + 10·x + c → the one read is 100·1 + 10·0 + 1 = 101.
    const values = [];
    for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) for (let c = 0; c < 2; c++) values.push(100 * y + 10 * x + c);
    const pooled = tf.tensor4d(values, [1, 2, 2, 2]);
    const { classLogits, boxRegression } = boxHead(net, pooled);
    expect(Array.from(await classLogits.data())).toEqual([101, 0, 0, 0]);
    expect(Array.from(await boxRegression.data())).toEqual(Array.from({ length: 16 }, (_, i) => i));
    tf.dispose([pooled, classLogits, boxRegression]);
    net.dispose();
  });

  it('boxHead and maskHead on K = 0 RoIs return [0, numClasses], [0, 4·numClasses] and [0, 2S, 2S, numClasses] without leaking', () => {
    const zeros = (shape: number[]) => tensor(shape);
    const sd: StateDict = new Map([
      ['roi_heads.box_head.fc6.weight', zeros([3, 8])],
      ['roi_heads.box_head.fc6.bias', zeros([3])],
      ['roi_heads.box_head.fc7.weight', zeros([3, 3])],
      ['roi_heads.box_head.fc7.bias', zeros([3])],
      ['roi_heads.box_predictor.cls_score.weight', zeros([4, 3])],
      ['roi_heads.box_predictor.cls_score.bias', zeros([4])],
      ['roi_heads.box_predictor.bbox_pred.weight', zeros([16, 3])],
      ['roi_heads.box_predictor.bbox_pred.bias', zeros([16])],
      ['roi_heads.mask_head.0.0.weight', zeros([2, 2, 3, 3])],
      ['roi_heads.mask_head.0.0.bias', zeros([2])],
      ['roi_heads.mask_predictor.conv5_mask.weight', zeros([2, 2, 2, 2])],
      ['roi_heads.mask_predictor.conv5_mask.bias', zeros([2])],
      ['roi_heads.mask_predictor.mask_fcn_logits.weight', zeros([4, 2, 1, 1])],
      ['roi_heads.mask_predictor.mask_fcn_logits.bias', zeros([4])],
    ]);
    const box = loadBoxHead(sd, cfg);
    const mask = loadMaskHead(sd, cfg);
    const boxPooled = tf.zeros([0, 2, 2, 2]) as tf.Tensor4D;
    const maskPooled = tf.zeros([0, 3, 3, 2]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const b = boxHead(box, boxPooled);
    const m = maskHead(mask, maskPooled);
    expect(b.classLogits.shape).toEqual([0, 4]);
    expect(b.boxRegression.shape).toEqual([0, 16]);
    expect(m.shape).toEqual([0, 6, 6, 4]);
    tf.dispose([b.classLogits, b.boxRegression, m]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([boxPooled, maskPooled]);
    box.dispose();
    mask.dispose();
  });
});
