/**
 * Every tensor a Mask R-CNN config needs, by torchvision name and shape, and the check that a
 * state dict supplies exactly those.
 *
 * Glossary (shapes are torchvision's: conv [out, in, kh, kw], deconv [in, out, kh, kw], linear [out, in]):
 *  - w: `backbone.baseWidth`, channels of the stem; stage i ∈ 1..4 has `planes` = w·2^(i−1)
 *    (torchvision: 64, 128, 256, 512), expansion e = 1 (BasicBlock, depth 18/34) or 4 (Bottleneck,
 *    50/101/152); a stage's output has planes·e channels. Block 0 of a stage has a `downsample`
 *    (1×1 conv + FrozenBN) when its stride is 2 or its input width ≠ planes·e.
 *  - FrozenBN: buffers weight, bias, running_mean, running_var, each [channels].
 *  - C: `fpn.outChannels` (256); A: anchors per location = sizes per level × aspect ratios (3).
 *  - s: box RoI pool output size (7); R: box head representation size (1024); K: numClasses (91).
 */
import type { MaskRcnnConfig } from '../config.ts';
import type { StateDict } from '../types.ts';
import { CheckpointError } from './errors.ts';
import { isIgnorable } from './names.ts';

/** Blocks per stage (layer1..layer4) of torchvision's ResNets. */
const RESNET_BLOCKS: Readonly<Record<number, [number, number, number, number]>> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

/** Channels out of each ResNet stage (the FPN's inputs): planes·e for stages 1..4. */
export function resnetStageChannels(config: MaskRcnnConfig): [number, number, number, number] {
  const { depth, baseWidth: w } = config.backbone;
  const e = depth >= 50 ? 4 : 1;
  return [w * e, 2 * w * e, 4 * w * e, 8 * w * e];
}

/** Anchors per location A: sizes per level × aspect ratios. */
export function anchorsPerLocation(config: MaskRcnnConfig): number {
  return config.anchors.sizes[0]!.length * config.anchors.aspectRatios.length;
}

/** Every tensor the model needs, in torchvision's state-dict order: name → shape. */
export function expectedShapes(config: MaskRcnnConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const conv = (name: string, shape: number[], bias = false) => {
    out.set(`${name}.weight`, shape);
    if (bias) out.set(`${name}.bias`, [shape[0]!]);
  };
  const frozenBn = (name: string, c: number) => {
    for (const buffer of ['weight', 'bias', 'running_mean', 'running_var']) out.set(`${name}.${buffer}`, [c]);
  };

  // Backbone: ResNet body.
  const { depth, baseWidth: w } = config.backbone;
  const blocks = RESNET_BLOCKS[depth];
  if (!blocks) throw new CheckpointError(`backbone.depth ${depth}: expected 18, 34, 50, 101 or 152`);
  const bottleneck = depth >= 50;
  const e = bottleneck ? 4 : 1;
  conv('backbone.body.conv1', [w, 3, 7, 7]);
  frozenBn('backbone.body.bn1', w);
  let inplanes = w;
  for (let stage = 0; stage < 4; stage++) {
    const planes = w * 2 ** stage;
    const stride = stage === 0 ? 1 : 2;
    for (let b = 0; b < blocks[stage]!; b++) {
      const p = `backbone.body.layer${stage + 1}.${b}`;
      if (bottleneck) {
        conv(`${p}.conv1`, [planes, inplanes, 1, 1]);
        frozenBn(`${p}.bn1`, planes);
        conv(`${p}.conv2`, [planes, planes, 3, 3]);
        frozenBn(`${p}.bn2`, planes);
        conv(`${p}.conv3`, [planes * e, planes, 1, 1]);
        frozenBn(`${p}.bn3`, planes * e);
      } else {
        conv(`${p}.conv1`, [planes, inplanes, 3, 3]);
        frozenBn(`${p}.bn1`, planes);
        conv(`${p}.conv2`, [planes, planes, 3, 3]);
        frozenBn(`${p}.bn2`, planes);
      }
      if (b === 0 && (stride !== 1 || inplanes !== planes * e)) {
        conv(`${p}.downsample.0`, [planes * e, inplanes, 1, 1]);
        frozenBn(`${p}.downsample.1`, planes * e);
      }
      inplanes = planes * e;
    }
  }

  // FPN: 1×1 laterals (inner) then 3×3 outputs (layer), one per stage C2..C5.
  const C = config.fpn.outChannels;
  const stageChannels = resnetStageChannels(config);
  stageChannels.forEach((c, i) => conv(`backbone.fpn.inner_blocks.${i}.0`, [C, c, 1, 1], true));
  stageChannels.forEach((_, i) => conv(`backbone.fpn.layer_blocks.${i}.0`, [C, C, 3, 3], true));

  // RPN head, shared by all levels.
  const A = anchorsPerLocation(config);
  conv('rpn.head.conv.0.0', [C, C, 3, 3], true);
  conv('rpn.head.cls_logits', [A, C, 1, 1], true);
  conv('rpn.head.bbox_pred', [4 * A, C, 1, 1], true);

  // Box head (TwoMLPHead) and predictor.
  const s = config.roiHeads.boxRoiPool.outputSize;
  const R = config.roiHeads.boxHead.representationSize;
  const K = config.numClasses;
  conv('roi_heads.box_head.fc6', [R, C * s * s], true);
  conv('roi_heads.box_head.fc7', [R, R], true);
  conv('roi_heads.box_predictor.cls_score', [K, R], true);
  conv('roi_heads.box_predictor.bbox_pred', [4 * K, R], true);

  // Mask head (3×3 convs) and predictor (2×2 stride-2 deconv, 1×1 conv to K masks).
  if (config.roiHeads.maskBranch) {
    let prev = C;
    config.roiHeads.maskHead.layers.forEach((channels, i) => {
      conv(`roi_heads.mask_head.${i}.0`, [channels, prev, 3, 3], true);
      prev = channels;
    });
    const d = config.roiHeads.maskPredictor.dimReduced;
    out.set('roi_heads.mask_predictor.conv5_mask.weight', [prev, d, 2, 2]);
    out.set('roi_heads.mask_predictor.conv5_mask.bias', [d]);
    conv('roi_heads.mask_predictor.mask_fcn_logits', [K, d, 1, 1], true);
  }

  // Keypoint head (3×3 convs, an nn.Sequential with a ReLU after each: indices 0, 2, 4, …) and
  // predictor (4×4 stride-2 deconv to the Kp keypoint maps).
  if (config.roiHeads.keypointBranch) {
    let prev = C;
    config.roiHeads.keypointHead.layers.forEach((channels, i) => {
      conv(`roi_heads.keypoint_head.${2 * i}`, [channels, prev, 3, 3], true);
      prev = channels;
    });
    const kp = config.roiHeads.keypointPredictor.numKeypoints;
    out.set('roi_heads.keypoint_predictor.kps_score_lowres.weight', [prev, kp, 4, 4]);
    out.set('roi_heads.keypoint_predictor.kps_score_lowres.bias', [kp]);
  }
  return out;
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** The ResNet depth a state dict's `backbone.body` looks like (blocks per stage, basic or bottleneck), if any. */
export function guessResnetDepth(stateDict: StateDict): number | undefined {
  const blocks = [1, 2, 3, 4].map((stage) => {
    let n = 0;
    while (stateDict.has(`backbone.body.layer${stage}.${n}.conv1.weight`)) n++;
    return n;
  });
  const bottleneck = stateDict.has('backbone.body.layer1.0.conv3.weight');
  for (const [depth, expected] of Object.entries(RESNET_BLOCKS)) {
    if ((Number(depth) >= 50) === bottleneck && expected.every((n, i) => n === blocks[i])) return Number(depth);
  }
  return undefined;
}

/** What to do about a tensor whose shape differs: which config field decides it. */
function shapeAdvice(name: string, found: number[], config: MaskRcnnConfig, stateDict: StateDict): string {
  const K = config.numClasses;
  let ckptClasses: number | undefined;
  if (/^roi_heads\.box_predictor\.cls_score\./.test(name) || /^roi_heads\.mask_predictor\.mask_fcn_logits\./.test(name)) {
    ckptClasses = found[0];
  } else if (/^roi_heads\.box_predictor\.bbox_pred\./.test(name) && found[0] !== undefined && found[0] % 4 === 0) {
    ckptClasses = found[0] / 4;
  }
  if (ckptClasses !== undefined && ckptClasses !== K) {
    return `pick the matching config (numClasses: ${ckptClasses}) or a ${K}-class checkpoint`;
  }
  if (/^rpn\.head\.(cls_logits|bbox_pred)\./.test(name)) {
    return `the RPN predicts A = ${anchorsPerLocation(config)} anchors per location (anchors.sizes per level × anchors.aspectRatios); set them to the checkpoint's`;
  }
  if (name.startsWith('backbone.body.')) {
    const depth = guessResnetDepth(stateDict);
    const looks = depth !== undefined && depth !== config.backbone.depth ? `; the checkpoint looks like ResNet-${depth}: set backbone.depth: ${depth}` : '';
    return `this model's backbone is ResNet-${config.backbone.depth} with baseWidth ${config.backbone.baseWidth}${looks || "; pick the checkpoint's backbone.depth / backbone.baseWidth"}`;
  }
  if (name === 'roi_heads.box_head.fc6.weight') {
    return 'fc6 takes fpn.outChannels · s · s inputs (s = roiHeads.boxRoiPool.outputSize) and gives roiHeads.boxHead.representationSize outputs; set them to the checkpoint\'s';
  }
  if (name.startsWith('roi_heads.box_')) return 'set roiHeads.boxHead.representationSize to the checkpoint\'s';
  if (name.startsWith('roi_heads.mask_')) {
    return 'set roiHeads.maskHead.layers / roiHeads.maskPredictor.dimReduced (and fpn.outChannels) to the checkpoint\'s';
  }
  if (name.startsWith('roi_heads.keypoint_predictor.') && found.length === 4 && found[1] !== config.roiHeads.keypointPredictor.numKeypoints) {
    return `the checkpoint predicts ${found[1]} keypoints: set roiHeads.keypointPredictor.numKeypoints (num_keypoints) to ${found[1]}, or pick a ${config.roiHeads.keypointPredictor.numKeypoints}-keypoint checkpoint`;
  }
  if (name.startsWith('roi_heads.keypoint_')) {
    return 'set roiHeads.keypointHead.layers (and fpn.outChannels) to the checkpoint\'s';
  }
  if (name.startsWith('backbone.fpn.') || name.startsWith('rpn.head.conv')) return 'set fpn.outChannels to the checkpoint\'s';
  return 'pick the config this checkpoint was trained with';
}

/** Advice for a checkpoint that lacks a tensor: what kind of file it looks like. */
function missingAdvice(name: string, stateDict: StateDict, extras: string[], config: MaskRcnnConfig): string {
  const keys = [...stateDict.keys()];
  if (stateDict.has('fc.weight') && stateDict.has('conv1.weight')) {
    return 'this looks like an ImageNet ResNet classifier, not a Mask R-CNN checkpoint';
  }
  if (name.startsWith('roi_heads.mask_') && !keys.some((k) => k.startsWith('roi_heads.mask_'))) {
    return keys.some((k) => k.startsWith('roi_heads.keypoint_'))
      ? 'this looks like a Keypoint R-CNN checkpoint (a keypoint branch, no mask branch): set roiHeads.maskBranch: false and roiHeads.keypointBranch: true'
      : 'this looks like a Faster R-CNN checkpoint (no mask branch); Mask R-CNN needs roi_heads.mask_head and roi_heads.mask_predictor';
  }
  if (name.startsWith('roi_heads.keypoint_') && !keys.some((k) => k.startsWith('roi_heads.keypoint_'))) {
    return 'this checkpoint has no keypoint branch (roi_heads.keypoint_head, roi_heads.keypoint_predictor): set roiHeads.keypointBranch: false, or pick a Keypoint R-CNN checkpoint';
  }
  const depth = guessResnetDepth(stateDict);
  if (name.startsWith('backbone.body.') && depth !== undefined && depth !== config.backbone.depth) {
    return `this model's backbone is ResNet-${config.backbone.depth}; the checkpoint looks like ResNet-${depth}: set backbone.depth: ${depth}`;
  }
  if (extras.length > 0) {
    return `the checkpoint also has ${extras.length} tensor(s) this model does not use (${extras.slice(0, 3).join(', ')}${extras.length > 3 ? ', …' : ''}): it was made for a different architecture or config (backbone.depth?)`;
  }
  return 'the checkpoint is incomplete or for a different architecture';
}

/**
 * Check that `stateDict` (canonical names, see names.ts) has exactly the tensors `config` needs,
 * with the right shapes and finite values. Throws `CheckpointError` naming the first missing
 * tensor, the first wrong shape (both shapes and the config field to change), unexpected extra
 * tensors (a few listed), or the first tensor holding NaN/Inf.
 */
export function validateStateDict(stateDict: StateDict, config: MaskRcnnConfig): void {
  const expected = expectedShapes(config);
  const extras = [...stateDict.keys()].filter((k) => !expected.has(k) && !isIgnorable(k));
  for (const [name, shape] of expected) {
    const t = stateDict.get(name);
    if (!t) {
      throw new CheckpointError(`checkpoint has no ${name} (shape ${fmt(shape)}), which this model needs; ${missingAdvice(name, stateDict, extras, config)}`);
    }
    const same = t.shape.length === shape.length && t.shape.every((v, i) => v === shape[i]);
    if (!same) {
      throw new CheckpointError(`checkpoint has ${name} of shape ${fmt(t.shape)}; this model expects ${fmt(shape)}; ${shapeAdvice(name, t.shape, config, stateDict)}`);
    }
    const numel = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) {
      throw new CheckpointError(`checkpoint tensor ${name} of shape ${fmt(shape)} holds ${t.data.length} values instead of ${numel}; the file is corrupt`);
    }
  }
  if (extras.length > 0) {
    const depth = guessResnetDepth(stateDict);
    throw new CheckpointError(
      `checkpoint has ${extras.length} tensor(s) this model does not have: ${extras.slice(0, 5).join(', ')}${extras.length > 5 ? ', …' : ''}; ` +
        (depth !== undefined && depth !== config.backbone.depth
          ? `the checkpoint looks like ResNet-${depth}: set backbone.depth: ${depth}`
          : !config.roiHeads.keypointBranch && extras.some((k) => k.startsWith('roi_heads.keypoint_'))
            ? 'the checkpoint has a keypoint branch: set roiHeads.keypointBranch: true (and num_keypoints) to run it'
            : 'it was made for a different architecture or config (e.g. backbone.depth, roiHeads.maskHead.layers)'),
    );
  }
  for (const name of expected.keys()) {
    const data = stateDict.get(name)!.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new CheckpointError(
          `checkpoint tensor ${name} holds ${data[i]} at index ${i}: weights must be finite; the training diverged or the file is corrupt`,
        );
      }
    }
  }
}
