/**
 * Mask R-CNN configuration: plain typed data, nested like the model (transform → backbone → fpn →
 * anchors → rpn → roiHeads), with torchvision `maskrcnn_resnet50_fpn` (v1) defaults.
 *
 * `Spec` is what a user writes (every field optional); `toConfig(spec)` fills the defaults without
 * mutating its input and validates every value, throwing a `ConfigError` that names the field, the
 * value found and what is allowed.
 */

export type Pooler = 'roiAlign' | 'roiPool' | 'roiWarp';

/** How masks go back into the image: src/stages/paste.ts explains both. */
export type PasteMode = 'torchvision' | 'exact';

/**
 * The mask branch's loss, and so how its K logits per pixel become a probability
 * (src/stages/mask_inference.ts; the paper's Table 2b):
 * - 'sigmoid': Mask R-CNN's per-class sigmoid, binary cross-entropy on the RoI's class channel
 *   only; classes do not compete (torchvision `maskrcnn_loss`, the default).
 * - 'softmax': the FCN-style multinomial alternative, a per-pixel softmax across the K channels
 *   (background = channel 0) with cross-entropy against the RoI's class inside the mask and
 *   background outside; at test time the predicted class's softmax probability is pasted.
 */
export type MaskLoss = 'sigmoid' | 'softmax';
export const MASK_LOSSES: readonly MaskLoss[] = ['sigmoid', 'softmax'];

export interface TransformConfig {
  /** Short side of the resized image (torchvision `min_size`, 800). */
  minSize: number;
  /** Upper bound on the long side (torchvision `max_size`, 1333). */
  maxSize: number;
  /** Per-channel mean on [0, 1] RGB (torchvision `image_mean`). */
  imageMean: [number, number, number];
  /** Per-channel std on [0, 1] RGB (torchvision `image_std`). */
  imageStd: [number, number, number];
  /** The padded batch is a multiple of this (torchvision `size_divisible`, 32). */
  sizeDivisible: number;
}

export interface BackboneConfig {
  /** ResNet depth: 18/34 use basic blocks, 50/101/152 bottlenecks. */
  depth: 18 | 34 | 50 | 101 | 152;
  /** Channels of the stem and of the first stage's 3×3 convs (64 in torchvision's ResNet). */
  baseWidth: number;
  /** FrozenBatchNorm2d epsilon: y = (x − mean)·w/√(var + eps) + b. */
  frozenBnEps: number;
}

export interface FpnConfig {
  /** Channels of every pyramid level P2–P6 (256). */
  outChannels: number;
}

export interface AnchorConfig {
  /** Anchor sizes per pyramid level (P2..P6); torchvision ((32,), (64,), (128,), (256,), (512,)). */
  sizes: number[][];
  /** Height/width ratios, the same on every level: (0.5, 1.0, 2.0). */
  aspectRatios: number[];
}

export interface RpnConfig {
  /** Top-k anchors per level before NMS, at test time (`rpn_pre_nms_top_n_test`, 1000). */
  preNmsTopN: number;
  /** Proposals kept after NMS over all levels, at test time (`rpn_post_nms_top_n_test`, 1000). */
  postNmsTopN: number;
  /** IoU above which a proposal is suppressed, per level (`rpn_nms_thresh`, 0.7). */
  nmsThresh: number;
  /** Proposals with objectness probability below this are dropped (`rpn_score_thresh`, 0.0). */
  scoreThresh: number;
  /** Proposals whose width or height is below this (pixels) are dropped (1e-3). */
  minSize: number;
  /** Box coder weights (wx, wy, ww, wh) of the RPN: (1, 1, 1, 1). */
  boxCoderWeights: [number, number, number, number];
  /** Clamp of dw, dh before exp: log(1000/16). */
  bboxXformClip: number;
  /** Training only: anchor matching and sampling (`rpn_fg_iou_thresh` …). */
  train: {
    fgIouThresh: number;
    bgIouThresh: number;
    batchSizePerImage: number;
    positiveFraction: number;
    preNmsTopN: number;
    postNmsTopN: number;
  };
}

export interface RoiPoolConfig {
  /** Which pooler: RoIAlign (Mask R-CNN), RoIPool (Fast R-CNN) or RoIWarp (MNC). */
  pooler: Pooler;
  /** Output is outputSize × outputSize per RoI. */
  outputSize: number;
  /** Sampling points per bin side; ≤ 0 means adaptive ⌈roi_size / output_size⌉. */
  samplingRatio: number;
  /** RoIAlign `aligned` (subtract half a pixel); torchvision's default model uses false. */
  aligned: boolean;
  /** Level mapper: k = ⌊k0 + log2(√(wh)/s0)⌋, s0 = canonicalScale, k0 = canonicalLevel. */
  canonicalScale: number;
  canonicalLevel: number;
}

export interface RoiHeadsConfig {
  boxRoiPool: RoiPoolConfig;
  /** fc6/fc7 width (`representation_size`, 1024). */
  boxHead: { representationSize: number };
  /** Box coder weights of the box head: (10, 10, 5, 5). */
  boxCoderWeights: [number, number, number, number];
  bboxXformClip: number;
  /** Detection postprocessing. */
  postprocess: {
    /** `box_score_thresh`, 0.05 (strictly greater is kept). */
    scoreThresh: number;
    /** `box_nms_thresh`, 0.5, per class. */
    nmsThresh: number;
    /** `box_detections_per_img`, 100. */
    detectionsPerImg: number;
    /** Boxes smaller than this (pixels) are dropped, 1e-2. */
    minSize: number;
  };
  maskRoiPool: RoiPoolConfig;
  /** Mask head: 3×3 conv widths (4 × 256) and dilation. */
  maskHead: { layers: number[]; dilation: number };
  /** Mask predictor: the 2×2 stride-2 deconv's channels (256). */
  maskPredictor: { dimReduced: number };
  /** Probability threshold applied when a binary mask is wanted (RLE, IoU): 0.5. */
  maskThreshold: number;
  /**
   * How masks go back into the image (src/stages/paste.ts): 'torchvision' (`paste_masks_in_image`,
   * integer boxes; the reference) or 'exact' (each pixel samples the mask where the targets put it).
   */
  maskPaste: PasteMode;
  /** The mask loss the weights were trained with, which sets how logits become probabilities ('sigmoid'). */
  maskLoss: MaskLoss;
  /** The mask branch (Mask R-CNN, true); false for a Keypoint R-CNN without masks. */
  maskBranch: boolean;
  /**
   * The keypoint branch of the paper's §5 (torchvision `keypointrcnn_resnet50_fpn`, false): K one-hot
   * m × m keypoint masks per RoI. A model may have both branches (the paper's variant).
   */
  keypointBranch: boolean;
  /** Keypoint RoI pooling: torchvision's MultiScaleRoIAlign 14 × 14, sampling ratio 2. */
  keypointRoiPool: RoiPoolConfig;
  /** Keypoint head: 3×3 conv + ReLU widths (torchvision 8 × 512, `KeypointRCNNHeads`). */
  keypointHead: { layers: number[] };
  /**
   * Keypoint predictor (`KeypointRCNNPredictor`): a 4×4 stride-2 ConvTranspose to K maps, then a 2×
   * bilinear upsampling: 4·outputSize logits per side (56). `numKeypoints` K (torchvision `num_keypoints`, 17).
   */
  keypointPredictor: { numKeypoints: number };
  /** Training only: proposal matching and sampling. */
  train: {
    fgIouThresh: number;
    bgIouThresh: number;
    batchSizePerImage: number;
    positiveFraction: number;
  };
}

export interface MaskRcnnConfig {
  /** Classes including background (COCO: 91). */
  numClasses: number;
  transform: TransformConfig;
  backbone: BackboneConfig;
  fpn: FpnConfig;
  anchors: AnchorConfig;
  rpn: RpnConfig;
  roiHeads: RoiHeadsConfig;
}

export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** What a user writes: any subset of the config. */
export type MaskRcnnSpec = DeepPartial<MaskRcnnConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const roiPoolDefaults = (outputSize: number): RoiPoolConfig => ({
  pooler: 'roiAlign',
  outputSize,
  samplingRatio: 2,
  aligned: false,
  canonicalScale: 224,
  canonicalLevel: 4,
});

/** torchvision `maskrcnn_resnet50_fpn` defaults, written out. */
export function defaultConfig(): MaskRcnnConfig {
  return {
    numClasses: 91,
    transform: {
      minSize: 800,
      maxSize: 1333,
      imageMean: [0.485, 0.456, 0.406],
      imageStd: [0.229, 0.224, 0.225],
      sizeDivisible: 32,
    },
    backbone: { depth: 50, baseWidth: 64, frozenBnEps: 1e-5 },
    fpn: { outChannels: 256 },
    anchors: { sizes: [[32], [64], [128], [256], [512]], aspectRatios: [0.5, 1.0, 2.0] },
    rpn: {
      preNmsTopN: 1000,
      postNmsTopN: 1000,
      nmsThresh: 0.7,
      scoreThresh: 0.0,
      minSize: 1e-3,
      boxCoderWeights: [1, 1, 1, 1],
      bboxXformClip: Math.log(1000 / 16),
      train: {
        fgIouThresh: 0.7,
        bgIouThresh: 0.3,
        batchSizePerImage: 256,
        positiveFraction: 0.5,
        preNmsTopN: 2000,
        postNmsTopN: 2000,
      },
    },
    roiHeads: {
      boxRoiPool: roiPoolDefaults(7),
      boxHead: { representationSize: 1024 },
      boxCoderWeights: [10, 10, 5, 5],
      bboxXformClip: Math.log(1000 / 16),
      postprocess: { scoreThresh: 0.05, nmsThresh: 0.5, detectionsPerImg: 100, minSize: 1e-2 },
      maskRoiPool: roiPoolDefaults(14),
      maskHead: { layers: [256, 256, 256, 256], dilation: 1 },
      maskPredictor: { dimReduced: 256 },
      maskThreshold: 0.5,
      maskPaste: 'torchvision',
      maskLoss: 'sigmoid',
      maskBranch: true,
      keypointBranch: false,
      keypointRoiPool: roiPoolDefaults(14),
      keypointHead: { layers: [512, 512, 512, 512, 512, 512, 512, 512] },
      keypointPredictor: { numKeypoints: 17 },
      train: { fgIouThresh: 0.5, bgIouThresh: 0.5, batchSizePerImage: 512, positiveFraction: 0.25 },
    },
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep-merge `spec` over `base`; unknown keys are an error naming the path. Neither is mutated. */
function merge(base: unknown, spec: unknown, path: string): unknown {
  if (spec === undefined) return structuredClone(base);
  if (isPlainObject(base)) {
    if (!isPlainObject(spec)) {
      throw new ConfigError(`config field ${path || '(root)'}: expected an object, found ${JSON.stringify(spec)}`);
    }
    for (const key of Object.keys(spec)) {
      if (!(key in base)) {
        const known = Object.keys(base).join(', ');
        throw new ConfigError(`unknown config field ${path ? `${path}.` : ''}${key}; known fields here: ${known}`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(base)) out[key] = merge(base[key], spec[key], path ? `${path}.${key}` : key);
    return out;
  }
  if (Array.isArray(base) && !Array.isArray(spec)) {
    throw new ConfigError(`config field ${path}: expected an array, found ${JSON.stringify(spec)}`);
  }
  if (typeof base !== typeof spec) {
    throw new ConfigError(`config field ${path}: expected a ${typeof base}, found ${JSON.stringify(spec)}`);
  }
  return structuredClone(spec);
}

function check(ok: boolean, path: string, value: unknown, expected: string): void {
  if (!ok) throw new ConfigError(`config field ${path} = ${JSON.stringify(value)}: expected ${expected}`);
}

const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;
const isFiniteNum = (v: number) => typeof v === 'number' && Number.isFinite(v);
const in01 = (v: number) => isFiniteNum(v) && v >= 0 && v <= 1;

function validateRoiPool(c: RoiPoolConfig, path: string): void {
  check(['roiAlign', 'roiPool', 'roiWarp'].includes(c.pooler), `${path}.pooler`, c.pooler, "'roiAlign', 'roiPool' or 'roiWarp'");
  check(isInt(c.outputSize, 1), `${path}.outputSize`, c.outputSize, 'an integer ≥ 1');
  check(Number.isInteger(c.samplingRatio), `${path}.samplingRatio`, c.samplingRatio, 'an integer (≤ 0 means adaptive)');
  check(isFiniteNum(c.canonicalScale) && c.canonicalScale > 0, `${path}.canonicalScale`, c.canonicalScale, 'a positive number');
  check(isInt(c.canonicalLevel, 0), `${path}.canonicalLevel`, c.canonicalLevel, 'an integer ≥ 0');
}

/** Every value of a full config checked; throws ConfigError naming the first bad field. */
export function validateConfig(c: MaskRcnnConfig): void {
  check(isInt(c.numClasses, 2), 'numClasses', c.numClasses, 'an integer ≥ 2 (background + at least one class)');
  const t = c.transform;
  check(isInt(t.minSize, 1), 'transform.minSize', t.minSize, 'an integer ≥ 1');
  check(isInt(t.maxSize, t.minSize), 'transform.maxSize', t.maxSize, `an integer ≥ transform.minSize (${t.minSize})`);
  check(t.imageMean.length === 3 && t.imageMean.every(isFiniteNum), 'transform.imageMean', t.imageMean, 'three finite numbers');
  check(t.imageStd.length === 3 && t.imageStd.every((v) => isFiniteNum(v) && v > 0), 'transform.imageStd', t.imageStd, 'three positive numbers');
  check(isInt(t.sizeDivisible, 1), 'transform.sizeDivisible', t.sizeDivisible, 'an integer ≥ 1');
  check([18, 34, 50, 101, 152].includes(c.backbone.depth), 'backbone.depth', c.backbone.depth, '18, 34, 50, 101 or 152');
  check(isInt(c.backbone.baseWidth, 1), 'backbone.baseWidth', c.backbone.baseWidth, 'an integer ≥ 1');
  check(isFiniteNum(c.backbone.frozenBnEps) && c.backbone.frozenBnEps >= 0, 'backbone.frozenBnEps', c.backbone.frozenBnEps, 'a number ≥ 0');
  check(isInt(c.fpn.outChannels, 1), 'fpn.outChannels', c.fpn.outChannels, 'an integer ≥ 1');
  const a = c.anchors;
  check(a.sizes.length === 5, 'anchors.sizes', a.sizes, 'one list of sizes per pyramid level P2–P6 (5 lists)');
  const perLevel = a.sizes[0]!.length;
  for (const [i, s] of a.sizes.entries()) {
    check(s.length === perLevel && s.length > 0 && s.every((v) => isFiniteNum(v) && v > 0), `anchors.sizes[${i}]`, s, `${perLevel} positive sizes (the same count on every level)`);
  }
  check(a.aspectRatios.length > 0 && a.aspectRatios.every((v) => isFiniteNum(v) && v > 0), 'anchors.aspectRatios', a.aspectRatios, 'positive numbers');
  const r = c.rpn;
  check(isInt(r.preNmsTopN, 1), 'rpn.preNmsTopN', r.preNmsTopN, 'an integer ≥ 1');
  check(isInt(r.postNmsTopN, 1), 'rpn.postNmsTopN', r.postNmsTopN, 'an integer ≥ 1');
  check(in01(r.nmsThresh), 'rpn.nmsThresh', r.nmsThresh, 'a number in [0, 1]');
  check(in01(r.scoreThresh), 'rpn.scoreThresh', r.scoreThresh, 'a number in [0, 1]');
  check(isFiniteNum(r.minSize) && r.minSize >= 0, 'rpn.minSize', r.minSize, 'a number ≥ 0');
  check(r.boxCoderWeights.length === 4 && r.boxCoderWeights.every((v) => isFiniteNum(v) && v > 0), 'rpn.boxCoderWeights', r.boxCoderWeights, 'four positive numbers');
  const h = c.roiHeads;
  validateRoiPool(h.boxRoiPool, 'roiHeads.boxRoiPool');
  validateRoiPool(h.maskRoiPool, 'roiHeads.maskRoiPool');
  check(isInt(h.boxHead.representationSize, 1), 'roiHeads.boxHead.representationSize', h.boxHead.representationSize, 'an integer ≥ 1');
  check(h.boxCoderWeights.length === 4 && h.boxCoderWeights.every((v) => isFiniteNum(v) && v > 0), 'roiHeads.boxCoderWeights', h.boxCoderWeights, 'four positive numbers');
  check(in01(h.postprocess.scoreThresh), 'roiHeads.postprocess.scoreThresh', h.postprocess.scoreThresh, 'a number in [0, 1]');
  check(in01(h.postprocess.nmsThresh), 'roiHeads.postprocess.nmsThresh', h.postprocess.nmsThresh, 'a number in [0, 1]');
  check(isInt(h.postprocess.detectionsPerImg, 0), 'roiHeads.postprocess.detectionsPerImg', h.postprocess.detectionsPerImg, 'an integer ≥ 0');
  check(isFiniteNum(h.postprocess.minSize) && h.postprocess.minSize >= 0, 'roiHeads.postprocess.minSize', h.postprocess.minSize, 'a number ≥ 0');
  check(h.maskHead.layers.length > 0 && h.maskHead.layers.every((v) => isInt(v, 1)), 'roiHeads.maskHead.layers', h.maskHead.layers, 'a non-empty list of positive integers');
  check(isInt(h.maskHead.dilation, 1), 'roiHeads.maskHead.dilation', h.maskHead.dilation, 'an integer ≥ 1');
  check(isInt(h.maskPredictor.dimReduced, 1), 'roiHeads.maskPredictor.dimReduced', h.maskPredictor.dimReduced, 'an integer ≥ 1');
  check(in01(h.maskThreshold), 'roiHeads.maskThreshold', h.maskThreshold, 'a number in [0, 1]');
  check(h.maskPaste === 'torchvision' || h.maskPaste === 'exact', 'roiHeads.maskPaste', h.maskPaste, "'torchvision' or 'exact'");
  check(typeof h.maskBranch === 'boolean', 'roiHeads.maskBranch', h.maskBranch, 'true or false');
  check(typeof h.keypointBranch === 'boolean', 'roiHeads.keypointBranch', h.keypointBranch, 'true or false');
  check(h.maskBranch || h.keypointBranch, 'roiHeads.maskBranch', h.maskBranch, 'a mask branch or a keypoint branch (roiHeads.keypointBranch: true): this engine runs Mask R-CNN and Keypoint R-CNN');
  validateRoiPool(h.keypointRoiPool, 'roiHeads.keypointRoiPool');
  check(h.keypointHead.layers.length > 0 && h.keypointHead.layers.every((v) => isInt(v, 1)), 'roiHeads.keypointHead.layers', h.keypointHead.layers, 'a non-empty list of positive integers');
  check(isInt(h.keypointPredictor.numKeypoints, 1), 'roiHeads.keypointPredictor.numKeypoints', h.keypointPredictor.numKeypoints, 'an integer ≥ 1');
  check(MASK_LOSSES.includes(h.maskLoss), 'roiHeads.maskLoss', h.maskLoss, "'sigmoid' (per-class, Mask R-CNN) or 'softmax' (per-pixel across classes)");
}

/**
 * `over` laid on `base` (neither mutated): nested plain objects merge field by field; arrays and
 * other values in `over` replace those in `base`; an undefined `over` (or field) keeps `base`'s.
 * The one deep merge of the project (specs, training recipes, the site's session parts).
 */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value !== undefined) out[key] = deepMerge(out[key], value);
  }
  return out;
}

/** `over` laid on `base` (`deepMerge`, typed for config specs). */
export function mergeSpecs(base: MaskRcnnSpec, over: MaskRcnnSpec): MaskRcnnSpec {
  return deepMerge(base, over) as MaskRcnnSpec;
}

/**
 * Leaf paths where two plain-data values differ (`optimizer.lr`, `roiHeads.boxRoiPool.pooler`):
 * objects are compared field by field, anything else (arrays included) as JSON; `(root)` when
 * the values themselves differ and are not both objects.
 */
export function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '(root)'];
}

/** Fill torchvision's defaults under `spec` (not mutated) and validate the result. */
export function toConfig(spec: MaskRcnnSpec = {}): MaskRcnnConfig {
  const config = merge(defaultConfig(), spec, '') as MaskRcnnConfig;
  validateConfig(config);
  return config;
}

/**
 * torchvision's `MaskRCNN(...)` keyword names → our nested paths, so a user (and the CLI, as
 * `--box-score-thresh`) can speak torchvision.
 */
export const TORCHVISION_KEYWORDS: Readonly<Record<string, string>> = {
  num_classes: 'numClasses',
  min_size: 'transform.minSize',
  max_size: 'transform.maxSize',
  image_mean: 'transform.imageMean',
  image_std: 'transform.imageStd',
  size_divisible: 'transform.sizeDivisible',
  rpn_pre_nms_top_n_test: 'rpn.preNmsTopN',
  rpn_post_nms_top_n_test: 'rpn.postNmsTopN',
  rpn_pre_nms_top_n_train: 'rpn.train.preNmsTopN',
  rpn_post_nms_top_n_train: 'rpn.train.postNmsTopN',
  rpn_nms_thresh: 'rpn.nmsThresh',
  rpn_score_thresh: 'rpn.scoreThresh',
  rpn_fg_iou_thresh: 'rpn.train.fgIouThresh',
  rpn_bg_iou_thresh: 'rpn.train.bgIouThresh',
  rpn_batch_size_per_image: 'rpn.train.batchSizePerImage',
  rpn_positive_fraction: 'rpn.train.positiveFraction',
  box_score_thresh: 'roiHeads.postprocess.scoreThresh',
  box_nms_thresh: 'roiHeads.postprocess.nmsThresh',
  box_detections_per_img: 'roiHeads.postprocess.detectionsPerImg',
  box_fg_iou_thresh: 'roiHeads.train.fgIouThresh',
  box_bg_iou_thresh: 'roiHeads.train.bgIouThresh',
  box_batch_size_per_image: 'roiHeads.train.batchSizePerImage',
  box_positive_fraction: 'roiHeads.train.positiveFraction',
  num_keypoints: 'roiHeads.keypointPredictor.numKeypoints',
};

/** Set a dotted path (`roiHeads.postprocess.nmsThresh`) or a torchvision keyword in a spec; returns a new spec. */
export function withField(spec: MaskRcnnSpec, pathOrKeyword: string, value: unknown): MaskRcnnSpec {
  const path = TORCHVISION_KEYWORDS[pathOrKeyword] ?? pathOrKeyword;
  const keys = path.split('.');
  const out = structuredClone(spec) as Record<string, unknown>;
  let node = out;
  let template: unknown = defaultConfig();
  for (const [i, key] of keys.entries()) {
    if (!isPlainObject(template) || !(key in template)) {
      throw new ConfigError(`unknown config field ${keys.slice(0, i + 1).join('.')} (from '${pathOrKeyword}')`);
    }
    template = template[key];
    if (i === keys.length - 1) node[key] = value;
    else {
      if (!isPlainObject(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
  }
  return out as MaskRcnnSpec;
}

/** The default value at a dotted path, or undefined when the path does not exist. */
export function defaultAt(path: string): unknown {
  let node: unknown = defaultConfig();
  for (const key of path.split('.')) {
    if (!isPlainObject(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}
