/**
 * The architecture of a torchvision Mask R-CNN or Keypoint R-CNN checkpoint, read from its tensors'
 * names and shapes alone, so that the site and the CLIs can run a checkpoint without being told what
 * it is.
 *
 * Glossary (shapes are torchvision's: conv [out, in, kh, kw], deconv [in, out, kh, kw], linear [out, in]):
 *   depth     ResNet depth, from the blocks per stage (`layer{1..4}.{n}`) and the block type
 *             (a `conv3` in each block: Bottleneck, depth ≥ 50; else BasicBlock, depth 18/34)
 *   w         base width: the stem `conv1` has w output channels (torchvision: 64)
 *   C         FPN channels: the rows of the first lateral `inner_blocks.0.0` (256)
 *   A         anchors per location: the rows of the RPN's `cls_logits` (3 = 3 ratios × 1 size)
 *   K         classes incl. background: the rows of `cls_score` (91 for COCO)
 *   R         box head representation size: the rows of `fc6` (1024); its columns are C·s·s,
 *             s = the box RoI pooling output size (7)
 *   mask head the `mask_head.{i}.0` 3×3 convs (4 × 256) and the deconv's output channels (256);
 *             absent in a Keypoint R-CNN
 *   keypoint head  the `keypoint_head.{0,2,4,…}` 3×3 convs (8 × 512) and the keypoint count Kp: the
 *             columns of the deconv `kps_score_lowres` [512, Kp, 4, 4] (17 for COCO persons)
 *
 * Not in the shapes, so not inferred: the input size, the anchor sizes and ratios (only their count
 * A), the level mapper, the thresholds, the mask and keypoint pooling sizes and the FrozenBN eps. They keep
 * torchvision's defaults; the eps is 0 for a 91-class ResNet-50 and for a 2-class, 17-keypoint
 * ResNet-50 Keypoint R-CNN (torchvision loads its published COCO weights with
 * `overwrite_eps(model, 0.0)`) and torchvision's 1e-5 otherwise.
 */
import type { MaskRcnnSpec } from '../config.ts';
import { CheckpointError } from './errors.ts';

/** Tensor name (canonical torchvision spelling) → shape. */
export type ShapeMap = ReadonlyMap<string, readonly number[]>;

export interface InferredArchitecture {
  /** The shape-determining config fields (and the FrozenBN eps); everything else is torchvision's default. */
  spec: MaskRcnnSpec;
  /** One line for the page, e.g. "ResNet-18 (basic blocks, width 16), FPN 64, 7 classes, box head 256, mask head 4 × 64". */
  summary: string;
}

/** Blocks per stage (layer1..layer4) of torchvision's ResNets; depth ≥ 50 uses bottlenecks. */
const RESNET_BLOCKS: ReadonlyArray<[18 | 34 | 50 | 101 | 152, readonly number[]]> = [
  [18, [2, 2, 2, 2]],
  [34, [3, 4, 6, 3]],
  [50, [3, 4, 6, 3]],
  [101, [3, 4, 23, 3]],
  [152, [3, 8, 36, 3]],
];

/** torchvision's anchors per location: 1 size per level × 3 aspect ratios. */
const TORCHVISION_A = 3;

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** What kind of file a shape map that is not a Mask R-CNN looks like (for the error message). */
function notMaskRcnn(shapes: ShapeMap): string {
  const names = [...shapes.keys()];
  if (names.length === 0) return 'the checkpoint holds no tensors';
  if (shapes.has('fc.weight') && shapes.has('conv1.weight')) return 'this looks like an ImageNet ResNet classifier, not a Mask R-CNN checkpoint';
  if (names.some((n) => n.startsWith('backbone.body.features.'))) return 'this looks like a MobileNet backbone; this site runs ResNet-FPN Mask R-CNN checkpoints only';
  if (names.some((n) => n.startsWith('roi_heads.box_')) && !names.some((n) => n.startsWith('roi_heads.mask_') || n.startsWith('roi_heads.keypoint_'))) {
    return 'this looks like a Faster R-CNN checkpoint (no mask or keypoint branch); this engine runs Mask R-CNN (roi_heads.mask_head, roi_heads.mask_predictor) and Keypoint R-CNN (roi_heads.keypoint_head, roi_heads.keypoint_predictor)';
  }
  return `expected a torchvision Mask R-CNN or Keypoint R-CNN (ResNet-FPN) state dict; found names like ${names.slice(0, 3).join(', ')}`;
}

/**
 * The config spec a checkpoint's shapes imply. Throws a `CheckpointError` that says which tensor is
 * missing or inconsistent, what was expected, and what kind of file this looks like. The spec is
 * not a full validation: check the state dict against `toConfig(spec)` with `validateStateDict`.
 */
export function inferArchitecture(shapes: ShapeMap): InferredArchitecture {
  const need = (name: string, rank: number): readonly number[] => {
    const s = shapes.get(name);
    if (s === undefined) throw new CheckpointError(`checkpoint has no ${name}: ${notMaskRcnn(shapes)}`);
    if (s.length !== rank) throw new CheckpointError(`checkpoint has ${name} of shape ${fmt(s)}; expected ${rank} dimensions: it is not a torchvision Mask R-CNN checkpoint`);
    return s;
  };

  // Backbone: blocks per stage and block type give the depth; the stem gives the width.
  const blocks = [1, 2, 3, 4].map((stage) => {
    let n = 0;
    while (shapes.has(`backbone.body.layer${stage}.${n}.conv1.weight`)) n++;
    return n;
  });
  const w = need('backbone.body.conv1.weight', 4)[0]!;
  const bottleneck = shapes.has('backbone.body.layer1.0.conv3.weight');
  const match = RESNET_BLOCKS.find(([depth, counts]) => depth >= 50 === bottleneck && counts.every((n, i) => n === blocks[i]));
  if (match === undefined) {
    if (blocks[0] === 0) need('backbone.body.layer1.0.conv1.weight', 4);
    throw new CheckpointError(
      `checkpoint's ResNet has ${blocks.join(', ')} ${bottleneck ? 'bottleneck' : 'basic'} blocks per stage; ` +
        `expected torchvision's ResNet-18/34 (2 2 2 2 / 3 4 6 3 basic) or ResNet-50/101/152 (3 4 6 3 / 3 4 23 3 / 3 8 36 3 bottleneck)`,
    );
  }
  const depth = match[0];
  const e = bottleneck ? 4 : 1;

  // FPN: every lateral maps a stage's channels to C.
  const C = need('backbone.fpn.inner_blocks.0.0.weight', 4)[0]!;
  const stageIn = need('backbone.fpn.inner_blocks.0.0.weight', 4)[1]!;
  if (stageIn !== w * e) {
    throw new CheckpointError(
      `checkpoint's first FPN lateral takes ${stageIn} channels, but its ResNet-${depth} stem of width ${w} gives layer1 ${w * e}: the backbone and FPN do not fit together (a truncated or edited file?)`,
    );
  }

  // RPN: anchors per location.
  const A = need('rpn.head.cls_logits.weight', 4)[0]!;
  if (A !== TORCHVISION_A) {
    throw new CheckpointError(
      `checkpoint's RPN predicts ${A} anchors per location (rpn.head.cls_logits has ${A} rows); this site's anchors are torchvision's 3 (1 size per level × 3 aspect ratios), and the sizes of other anchor sets cannot be read from a checkpoint`,
    );
  }

  // Box head and predictor.
  const K = need('roi_heads.box_predictor.cls_score.weight', 2)[0]!;
  const [R, fc6In] = need('roi_heads.box_head.fc6.weight', 2) as [number, number];
  const s = Math.round(Math.sqrt(fc6In / C));
  if (s * s * C !== fc6In) {
    throw new CheckpointError(
      `checkpoint's fc6 takes ${fc6In} inputs; expected C·s·s with C = ${C} FPN channels and s the box pooling size (7 in torchvision: ${C * 49}); the box head does not fit the FPN`,
    );
  }

  // Mask head (3×3 convs, then the deconv) and keypoint head (3×3 convs at even indices, then the
  // deconv to Kp maps): at least one of them.
  const maskBranch = shapes.has('roi_heads.mask_head.0.0.weight') || shapes.has('roi_heads.mask_predictor.conv5_mask.weight');
  const keypointBranch = shapes.has('roi_heads.keypoint_head.0.weight') || shapes.has('roi_heads.keypoint_predictor.kps_score_lowres.weight');
  if (!maskBranch && !keypointBranch) need('roi_heads.mask_head.0.0.weight', 4);
  const layers: number[] = [];
  let dimReduced = 0;
  if (maskBranch) {
    while (shapes.has(`roi_heads.mask_head.${layers.length}.0.weight`)) layers.push(shapes.get(`roi_heads.mask_head.${layers.length}.0.weight`)![0]!);
    if (layers.length === 0) need('roi_heads.mask_head.0.0.weight', 4);
    dimReduced = need('roi_heads.mask_predictor.conv5_mask.weight', 4)[1]!;
  }
  const kpLayers: number[] = [];
  let numKeypoints = 0;
  if (keypointBranch) {
    while (shapes.has(`roi_heads.keypoint_head.${2 * kpLayers.length}.weight`)) kpLayers.push(shapes.get(`roi_heads.keypoint_head.${2 * kpLayers.length}.weight`)![0]!);
    if (kpLayers.length === 0) need('roi_heads.keypoint_head.0.weight', 4);
    const deconv = need('roi_heads.keypoint_predictor.kps_score_lowres.weight', 4);
    if (deconv[0] !== kpLayers[kpLayers.length - 1]) {
      throw new CheckpointError(
        `checkpoint's keypoint predictor takes ${deconv[0]} channels, but its last keypoint-head conv gives ${kpLayers[kpLayers.length - 1]}: the keypoint head and predictor do not fit together`,
      );
    }
    numKeypoints = deconv[1]!;
  }

  const coco = depth === 50 && (K === 91 || (keypointBranch && K === 2 && numKeypoints === 17));
  const spec: MaskRcnnSpec = {
    numClasses: K,
    backbone: { depth, baseWidth: w, frozenBnEps: coco ? 0 : 1e-5 },
    fpn: { outChannels: C },
    roiHeads: {
      boxRoiPool: { outputSize: s },
      boxHead: { representationSize: R },
      ...(maskBranch ? { maskHead: { layers }, maskPredictor: { dimReduced } } : { maskBranch: false }),
      ...(keypointBranch ? { keypointBranch: true, keypointHead: { layers: kpLayers }, keypointPredictor: { numKeypoints } } : {}),
    },
  };
  const widths = (l: number[]) => (l.every((c) => c === l[0]) ? `${l.length} × ${l[0]}` : l.join('-'));
  const summary =
    `ResNet-${depth} (${bottleneck ? 'bottleneck' : 'basic'} blocks, width ${w}), FPN ${C}, ${K} classes, ` +
    `box head ${R}${s !== 7 ? ` on ${s}×${s}` : ''}` +
    (maskBranch ? `, mask head ${widths(layers)}${dimReduced !== layers[layers.length - 1] ? `, deconv ${dimReduced}` : ''}` : '') +
    (keypointBranch ? `, keypoint head ${widths(kpLayers)} → ${numKeypoints} keypoints` : '') +
    `, FrozenBN eps ${coco ? '0 (torchvision COCO)' : '1e-5'}`;
  return { spec, summary };
}

/** The shape map of a state dict (or of anything with `shape`s by name). */
export function shapesOf(stateDict: ReadonlyMap<string, { shape: readonly number[] }>): ShapeMap {
  return new Map([...stateDict].map(([name, t]) => [name, t.shape]));
}
