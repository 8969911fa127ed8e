/**
 * The trainable parameter set: one tf.Variable per torchvision state-dict tensor, named like it,
 * stored in the layout the engine's stage functions consume (so a training forward calls the same
 * `conv2d`, `fpn`, `rpnHead`, `boxHead` and `maskHead` as inference), converted to torchvision's
 * layout on export. The exported state dict loads unchanged: `createMaskRcnn(stateDict, config)`.
 *
 * Glossary
 *   kind       how a tensor maps between torchvision's layout and ours:
 *              conv [O, I, kh, kw] ↔ HWIO [kh, kw, I, O]; convTranspose [I, O, kh, kw] ↔ [kh, kw, O, I];
 *              linear [out, in] ↔ [in, out]; fc6: linear whose input features are flattened C,H,W by
 *              torch and H,W,C by us (stages/box_head.ts), so its rows are permuted; vector: as is
 *   BN         the backbone's BatchNorm2d: weight γ and bias β are trained, running_mean/running_var
 *              are buffers updated by EMA from batch statistics (not trainable). The engine folds the
 *              four into its FrozenBN convs.
 *   decay      whether weight decay applies: conv/linear weights yes; biases and BN parameters no
 *   init       from scratch (no pretrained backbone offline): ResNet convs He-normal (fan_out, like
 *              torchvision), the last BN γ of each residual block 0 (zero-init residual: every block
 *              starts as the identity, which lets a BN ResNet train from scratch at a high rate); FPN
 *              and fc6/fc7 He-uniform a = 1 (torchvision FPN, detectron2 c2_xavier_fill); RPN head
 *              N(0, 0.01); cls_score N(0, 0.01), bbox_pred N(0, 0.001) (detectron2); mask and
 *              keypoint heads He-normal fan_out (torchvision `KeypointRCNNHeads`/`Predictor` too); biases 0
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskRcnnConfig } from '../config.ts';
import { Rng, detCos, detLog } from '../data/random.ts';
import type { Conv2d, ConvTranspose2d, Linear } from '../stages/layers.ts';
import type { Fpn } from '../stages/fpn.ts';
import type { RpnHead } from '../stages/rpn_head.ts';
import type { BoxHead } from '../stages/box_head.ts';
import type { MaskHead } from '../stages/mask_head.ts';
import { KPS_DECONV, type KeypointHead } from '../stages/keypoint_head.ts';
import { anchorsPerLocation } from '../stages/rpn_head.ts';
import type { StateDict } from '../types.ts';
import { canonicalizeStateDict, expectedShapes } from '../weights/index.ts';

export type ParamKind = 'conv' | 'convTranspose' | 'linear' | 'fc6' | 'vector';

export interface ParamEntry {
  /** torchvision state-dict name */
  name: string;
  /** shape in torchvision's layout */
  torchShape: number[];
  kind: ParamKind;
  variable: tf.Variable;
  /** false for BN running statistics */
  trainable: boolean;
  /** weight decay applies */
  decay: boolean;
}

export interface BatchNorm {
  gamma: tf.Variable;
  beta: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
}

/** A bias-free conv followed by BatchNorm (torchvision's conv + bn pairs of the ResNet body). */
export interface ConvBn {
  /** the conv with a constant zero bias (BN's β is the bias) */
  conv: Conv2d;
  bn: BatchNorm;
}

export interface TrainBlock {
  convs: ConvBn[];
  downsample: ConvBn | null;
}

export interface TrainBackbone {
  stem: ConvBn;
  stages: TrainBlock[][];
  eps: number;
}

export interface TrainableMaskRcnn {
  readonly config: MaskRcnnConfig;
  readonly backbone: TrainBackbone;
  readonly fpn: Fpn;
  readonly rpnHead: RpnHead;
  readonly boxHead: BoxHead;
  /** absent without a mask branch */
  readonly maskHead?: MaskHead;
  /** the keypoint branch's head and predictor, when the model has one */
  readonly keypointHead?: KeypointHead;
  /** every state-dict tensor, in torchvision's order */
  readonly params: Map<string, ParamEntry>;
  /** the trainable variables, in the same order */
  trainable(): tf.Variable[];
  dispose(): void;
}

export class ParamsError extends Error {
  override name = 'ParamsError';
}

const BLOCKS: Record<number, [number, number, number, number]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3] };

function kindOf(name: string, shape: number[]): ParamKind {
  if (shape.length === 1) return 'vector';
  if (name === 'roi_heads.mask_predictor.conv5_mask.weight' || name === 'roi_heads.keypoint_predictor.kps_score_lowres.weight') return 'convTranspose';
  if (name === 'roi_heads.box_head.fc6.weight') return 'fc6';
  if (shape.length === 2) return 'linear';
  if (shape.length === 4) return 'conv';
  throw new ParamsError(`parameter ${name} has shape [${shape.join(', ')}]; expected rank 1, 2 or 4`);
}

const isBnName = (name: string) => name.startsWith('backbone.body.') && /\.(bn\d|downsample\.1)\.(weight|bias|running_mean|running_var)$/.test(name);

/** Our layout's shape for a torchvision shape. */
export function tfjsShape(kind: ParamKind, s: number[]): number[] {
  switch (kind) {
    case 'conv': return [s[2]!, s[3]!, s[1]!, s[0]!];
    case 'convTranspose': return [s[2]!, s[3]!, s[1]!, s[0]!];
    case 'linear':
    case 'fc6': return [s[1]!, s[0]!];
    case 'vector': return s.slice();
  }
}

/**
 * Index maps between layouts: `ours[i] = torch[perm[i]]`. fc6 needs the box head's pooled size S
 * and channels C (our feature (y·S + x)·C + c is torch's column c·S² + y·S + x).
 */
export function layoutPermutation(kind: ParamKind, s: number[], pool?: { S: number; C: number }): Int32Array | null {
  const n = s.reduce((a, b) => a * b, 1);
  const perm = new Int32Array(n);
  switch (kind) {
    case 'vector':
      return null;
    case 'conv': {
      // torch w[o, i, y, x] at ((o·I + i)·K + y)·K + x → ours f[y, x, i, o] at ((y·KW + x)·I + i)·O + o
      const [O, I, KH, KW] = s as [number, number, number, number];
      for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let y = 0; y < KH; y++) for (let x = 0; x < KW; x++) {
        perm[((y * KW + x) * I + i) * O + o] = ((o * I + i) * KH + y) * KW + x;
      }
      return perm;
    }
    case 'convTranspose': {
      // torch w[i, o, y, x] at ((i·O + o)·K + y)·K + x → ours f[y, x, o, i] at ((y·KW + x)·O + o)·I + i
      const [I, O, KH, KW] = s as [number, number, number, number];
      for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) for (let y = 0; y < KH; y++) for (let x = 0; x < KW; x++) {
        perm[((y * KW + x) * O + o) * I + i] = ((i * O + o) * KH + y) * KW + x;
      }
      return perm;
    }
    case 'linear':
    case 'fc6': {
      // torch w[o, col] at o·IN + col → ours W[i, o] at i·OUT + o, col = torchColumn(i)
      const [OUT, IN] = s as [number, number];
      const col = (i: number) => {
        if (kind === 'linear') return i;
        const { S, C } = pool!;
        const c = i % C;
        return c * S * S + (i - c) / C;
      };
      for (let i = 0; i < IN; i++) {
        const ci = col(i);
        for (let o = 0; o < OUT; o++) perm[i * OUT + o] = o * IN + ci;
      }
      return perm;
    }
  }
}

/** torchvision layout → ours. */
export function toOurs(data: Float32Array, perm: Int32Array | null): Float32Array {
  if (perm === null) return Float32Array.from(data);
  const out = new Float32Array(data.length);
  for (let i = 0; i < perm.length; i++) out[i] = data[perm[i]!]!;
  return out;
}

/** ours → torchvision layout. */
export function toTorch(data: Float32Array, perm: Int32Array | null): Float32Array {
  if (perm === null) return Float32Array.from(data);
  const out = new Float32Array(data.length);
  for (let i = 0; i < perm.length; i++) out[perm[i]!] = data[i]!;
  return out;
}

/** The permutation of a parameter (cached per model: fc6 needs the config). */
export function permutationOf(entry: Pick<ParamEntry, 'kind' | 'torchShape'>, config: MaskRcnnConfig): Int32Array | null {
  return layoutPermutation(entry.kind, entry.torchShape, { S: config.roiHeads.boxRoiPool.outputSize, C: config.fpn.outChannels });
}

function initValues(name: string, shape: number[], kind: ParamKind, rand: Rng, zeroGamma: Set<string>): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const normal = () => Math.sqrt(-2 * detLog(1 - rand.next())) * detCos(6.283185307179586 * rand.next());
  const fill = (f: () => number) => {
    for (let i = 0; i < n; i++) out[i] = f();
    return out;
  };
  if (kind === 'vector') {
    if (name.endsWith('running_var')) return out.fill(1);
    if (isBnName(name) && name.endsWith('.weight')) return out.fill(zeroGamma.has(name) ? 0 : 1);
    return out; // biases, BN β, running means: 0
  }
  if (name.startsWith('backbone.body.') || name.startsWith('roi_heads.mask_') || name.startsWith('roi_heads.keypoint_')) {
    // He normal, fan_out (torch's fan_out is dim 0 × receptive field, also for ConvTranspose's [I, O, k, k])
    const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
    const std = Math.sqrt(2 / (shape[0]! * receptive));
    return fill(() => std * normal());
  }
  if (name.startsWith('rpn.head.')) return fill(() => 0.01 * normal());
  if (name === 'roi_heads.box_predictor.cls_score.weight') return fill(() => 0.01 * normal());
  if (name === 'roi_heads.box_predictor.bbox_pred.weight') return fill(() => 0.001 * normal());
  // FPN convs, fc6, fc7: He uniform with a = 1, bound √(3 / fan_in)
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const bound = Math.sqrt(3 / fanIn);
  return fill(() => bound * (2 * rand.next() - 1));
}

export interface CreateOptions {
  /** seed of the random initialization */
  seed?: number;
  /** start from these weights instead (torchvision names, either spelling); running stats included */
  stateDict?: StateDict;
  /** zero-init the last BN γ of every residual block (default true; ignored with stateDict) */
  zeroInitResidual?: boolean;
}

/** The last BN of every residual block (bn2 for basic blocks, bn3 for bottlenecks). */
function lastBnOfBlocks(config: MaskRcnnConfig): Set<string> {
  const out = new Set<string>();
  const blocks = BLOCKS[config.backbone.depth]!;
  const last = config.backbone.depth >= 50 ? 'bn3' : 'bn2';
  blocks.forEach((count, s) => {
    for (let b = 0; b < count; b++) out.add(`backbone.body.layer${s + 1}.${b}.${last}.weight`);
  });
  return out;
}

/** Build the parameter set for `config`: random init (seeded) or the given state dict. */
export function createTrainableMaskRcnn(config: MaskRcnnConfig, options: CreateOptions = {}): TrainableMaskRcnn {
  const shapes = expectedShapes(config);
  const sd = options.stateDict ? canonicalizeStateDict(options.stateDict) : undefined;
  const zeroGamma = options.zeroInitResidual === false ? new Set<string>() : lastBnOfBlocks(config);
  const params = new Map<string, ParamEntry>();
  const made: tf.Tensor[] = [];
  try {
    let index = 0;
    for (const [name, torchShape] of shapes) {
      const kind = kindOf(name, torchShape);
      const perm = layoutPermutation(kind, torchShape, { S: config.roiHeads.boxRoiPool.outputSize, C: config.fpn.outChannels });
      let torchData: Float32Array;
      if (sd) {
        const t = sd.get(name);
        if (t === undefined) throw new ParamsError(`state dict has no ${name} (shape [${torchShape.join(', ')}]); it does not match this config`);
        if (t.shape.length !== torchShape.length || t.shape.some((d, i) => d !== torchShape[i])) {
          throw new ParamsError(`state dict ${name} has shape [${t.shape.join(', ')}]; this config expects [${torchShape.join(', ')}]`);
        }
        torchData = t.data;
      } else {
        torchData = initValues(name, torchShape, kind, new Rng(options.seed ?? 0, index), zeroGamma);
      }
      index++;
      const trainable = !name.endsWith('running_mean') && !name.endsWith('running_var');
      const value = tf.tensor(toOurs(torchData, perm), tfjsShape(kind, torchShape), 'float32');
      const variable = tf.variable(value, trainable);
      value.dispose();
      made.push(variable);
      params.set(name, { name, torchShape, kind, variable, trainable, decay: kind !== 'vector' });
    }
  } catch (e) {
    tf.dispose(made);
    throw e;
  }
  return assemble(config, params);
}

function assemble(config: MaskRcnnConfig, params: Map<string, ParamEntry>): TrainableMaskRcnn {
  const v = (name: string): tf.Variable => {
    const p = params.get(name);
    if (p === undefined) throw new ParamsError(`internal: no parameter ${name}`);
    return p.variable;
  };
  const zeroBiases = new Map<number, tf.Tensor1D>();
  const zeroBias = (c: number) => {
    let z = zeroBiases.get(c);
    if (z === undefined) zeroBiases.set(c, (z = tf.zeros([c])));
    return z;
  };
  const conv = (name: string, stride: number, pad: number, bias: boolean, dilation = 1): Conv2d => {
    const filter = v(`${name}.weight`) as unknown as tf.Tensor4D;
    return { filter, bias: bias ? (v(`${name}.bias`) as unknown as tf.Tensor1D) : zeroBias(filter.shape[3]), stride, pad, dilation };
  };
  const bn = (name: string): BatchNorm => ({
    gamma: v(`${name}.weight`),
    beta: v(`${name}.bias`),
    runningMean: v(`${name}.running_mean`),
    runningVar: v(`${name}.running_var`),
  });
  const body = 'backbone.body.';
  const convBn = (c: string, b: string, stride: number, kernel: number): ConvBn => ({ conv: conv(body + c, stride, (kernel - 1) / 2, false), bn: bn(body + b) });
  const linear = (name: string): Linear => ({ weight: v(`${name}.weight`) as unknown as tf.Tensor2D, bias: v(`${name}.bias`) as unknown as tf.Tensor1D });

  const bottleneck = config.backbone.depth >= 50;
  const blocks = BLOCKS[config.backbone.depth]!;
  const stages: TrainBlock[][] = [];
  for (let s = 0; s < 4; s++) {
    const stage: TrainBlock[] = [];
    for (let b = 0; b < blocks[s]!; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const p = `layer${s + 1}.${b}.`;
      const convs = bottleneck
        ? [convBn(`${p}conv1`, `${p}bn1`, 1, 1), convBn(`${p}conv2`, `${p}bn2`, stride, 3), convBn(`${p}conv3`, `${p}bn3`, 1, 1)]
        : [convBn(`${p}conv1`, `${p}bn1`, stride, 3), convBn(`${p}conv2`, `${p}bn2`, 1, 3)];
      const downsample = params.has(`${body}${p}downsample.0.weight`) ? convBn(`${p}downsample.0`, `${p}downsample.1`, stride, 1) : null;
      stage.push({ convs, downsample });
    }
    stages.push(stage);
  }
  const backbone: TrainBackbone = { stem: convBn('conv1', 'bn1', 2, 7), stages, eps: config.backbone.frozenBnEps };

  const noop = () => {};
  const fpnNet: Fpn = {
    inner: [0, 1, 2, 3].map((i) => conv(`backbone.fpn.inner_blocks.${i}.0`, 1, 0, true)),
    layer: [0, 1, 2, 3].map((i) => conv(`backbone.fpn.layer_blocks.${i}.0`, 1, 1, true)),
    dispose: noop,
  };
  const rpnHeadNet: RpnHead = {
    conv: conv('rpn.head.conv.0.0', 1, 1, true),
    clsLogits: conv('rpn.head.cls_logits', 1, 0, true),
    bboxPred: conv('rpn.head.bbox_pred', 1, 0, true),
    numAnchors: anchorsPerLocation(config),
    dispose: noop,
  };
  const boxHeadNet: BoxHead = {
    fc6: linear('roi_heads.box_head.fc6'),
    fc7: linear('roi_heads.box_head.fc7'),
    clsScore: linear('roi_heads.box_predictor.cls_score'),
    bboxPred: linear('roi_heads.box_predictor.bbox_pred'),
    poolSize: config.roiHeads.boxRoiPool.outputSize,
    channels: config.fpn.outChannels,
    numClasses: config.numClasses,
    dispose: noop,
  };
  const deconv = (name: string, kernel: number, stride: number, pad: number): ConvTranspose2d => {
    const filter = v(`${name}.weight`) as unknown as tf.Tensor4D; // [k, k, out, in]
    return { filter, bias: v(`${name}.bias`) as unknown as tf.Tensor1D, kernel, stride, pad, outChannels: filter.shape[2] };
  };
  const { dilation } = config.roiHeads.maskHead;
  const maskHeadNet: MaskHead | undefined = config.roiHeads.maskBranch
    ? {
        fcn: config.roiHeads.maskHead.layers.map((_, i) => conv(`roi_heads.mask_head.${i}.0`, 1, dilation, true, dilation)),
        conv5Mask: deconv('roi_heads.mask_predictor.conv5_mask', 2, 2, 0),
        maskFcnLogits: conv('roi_heads.mask_predictor.mask_fcn_logits', 1, 0, true),
        poolSize: config.roiHeads.maskRoiPool.outputSize,
        channels: config.fpn.outChannels,
        numClasses: config.numClasses,
        dispose: noop,
      }
    : undefined;
  const keypointHeadNet: KeypointHead | undefined = config.roiHeads.keypointBranch
    ? {
        fcn: config.roiHeads.keypointHead.layers.map((_, i) => conv(`roi_heads.keypoint_head.${2 * i}`, 1, 1, true)),
        kpsScoreLowres: deconv('roi_heads.keypoint_predictor.kps_score_lowres', KPS_DECONV.kernel, KPS_DECONV.stride, KPS_DECONV.pad),
        poolSize: config.roiHeads.keypointRoiPool.outputSize,
        channels: config.fpn.outChannels,
        numKeypoints: config.roiHeads.keypointPredictor.numKeypoints,
        dispose: noop,
      }
    : undefined;
  let disposed = false;
  return {
    config,
    backbone,
    fpn: fpnNet,
    rpnHead: rpnHeadNet,
    boxHead: boxHeadNet,
    ...(maskHeadNet ? { maskHead: maskHeadNet } : {}),
    ...(keypointHeadNet ? { keypointHead: keypointHeadNet } : {}),
    params,
    trainable: () => [...params.values()].filter((p) => p.trainable).map((p) => p.variable),
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const p of params.values()) p.variable.dispose();
      for (const z of zeroBiases.values()) z.dispose();
    },
  };
}

/** The parameters as a torchvision state dict (running statistics included), in torchvision's order. */
export async function exportStateDict(model: TrainableMaskRcnn): Promise<StateDict> {
  const sd: StateDict = new Map();
  for (const p of model.params.values()) {
    const data = (await p.variable.data()) as Float32Array;
    sd.set(p.name, { shape: p.torchShape.slice(), dtype: 'float32', data: toTorch(data, permutationOf(p, model.config)) });
  }
  return sd;
}

/** Overwrite every parameter from a torchvision state dict (shapes checked). */
export function assignStateDict(model: TrainableMaskRcnn, stateDict: StateDict): void {
  const sd = canonicalizeStateDict(stateDict);
  for (const p of model.params.values()) {
    const t = sd.get(p.name);
    if (t === undefined) throw new ParamsError(`state dict has no ${p.name}; it does not match this config`);
    if (t.shape.length !== p.torchShape.length || t.shape.some((d, i) => d !== p.torchShape[i])) {
      throw new ParamsError(`state dict ${p.name} has shape [${t.shape.join(', ')}]; this config expects [${p.torchShape.join(', ')}]`);
    }
  }
  for (const p of model.params.values()) {
    const t = sd.get(p.name)!;
    tf.tidy(() => p.variable.assign(tf.tensor(toOurs(t.data, permutationOf(p, model.config)), p.variable.shape, 'float32')));
  }
}
