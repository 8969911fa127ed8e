/**
 * Mask R-CNN (and Keypoint R-CNN), the orchestrator. Reads like the paper's figure (torchvision
 * GeneralizedRCNN.forward):
 *
 *   transform → backbone → fpn → rpnHead ┬ proposals → boxRoiPool → boxHead → detections ┬ maskRoiPool → maskHead → paste
 *                              anchors ──┘                                               └ keypointRoiPool → keypointHead → keypoints
 *
 * The mask branch (roiHeads.maskBranch) and the keypoint branch of §5 (roiHeads.keypointBranch) both
 * start from the detections; a model has one or both. Each stage function lives in its stage file
 * and returns plain data (it reads its tensors back and frees them); this file only wires them
 * together and owns the tensors that outlive a stage: the input, C2–C5 and P2–P6, reference-counted
 * so that a trace and the traces re-run from it can be disposed in any order, and the pooled
 * features handed from a pooling stage to its head. `rerunMaskRcnn(model, trace, changes)`
 * recomputes only the stages downstream (in the figure's graph) of those the changed fields affect.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type MaskRcnnConfig, type MaskRcnnSpec, type RoiPoolConfig, ConfigError, changedPaths, mergeSpecs, toConfig } from './config.ts';
import { BoxCoder, filterProposals, gridAnchors, postprocessDetections } from './geometry/index.ts';
import type { DetectionResult, ProposalResult } from './geometry/index.ts';
import { heatmapsToKeypoints, resizeKeypoints } from './geometry/keypoints.ts';
import { type ResNet, loadResNet, resnetBody } from './stages/backbone.ts';
import { type Fpn, fpn, loadFpn } from './stages/fpn.ts';
import { type RpnHead, type RpnLevel, loadRpnHead, readRpnLevels, rpnHead } from './stages/rpn_head.ts';
import { poolRoisSettled } from './stages/roi_pool.ts';
import { type BoxHead, type BoxHeadData, boxHeadData, loadBoxHead } from './stages/box_head.ts';
import { type MaskHead, type MaskHeadData, loadMaskHead, maskHeadData } from './stages/mask_head.ts';
import { type KeypointHead, type KeypointHeadData, keypointHeadData, loadKeypointHead } from './stages/keypoint_head.ts';
import { settle } from './stages/layers.ts';
import { resizeBoxes, transformImage } from './stages/transform.ts';
import { type MaskRegion, type PasteOptions, pasteMaskRegion, pasteScale, regionsToPlanes } from './stages/paste.ts';
import { maskProbabilities } from './stages/mask_inference.ts';
import { canonicalizeStateDict, validateStateDict } from './weights/index.ts';
import type { NdArray, RgbImage, Size, StateDict } from './types.ts';

export type { RpnLevel } from './stages/rpn_head.ts';

/** The paper's stages in execution order (a model runs those of its branches: `stagesOf`). */
export const STAGES = [
  'transform',
  'backbone',
  'fpn',
  'rpnHead',
  'anchors',
  'proposals',
  'boxRoiPool',
  'boxHead',
  'detections',
  'maskRoiPool',
  'maskHead',
  'paste',
  'keypointRoiPool',
  'keypointHead',
  'keypoints',
] as const;
export type StageName = (typeof STAGES)[number];

const MASK_STAGES: readonly StageName[] = ['maskRoiPool', 'maskHead', 'paste'];
const KEYPOINT_STAGES: readonly StageName[] = ['keypointRoiPool', 'keypointHead', 'keypoints'];

/** The stages a model with this config runs, in order: the mask and keypoint branches only when it has them. */
export function stagesOf(config: MaskRcnnConfig): StageName[] {
  return STAGES.filter(
    (s) => (config.roiHeads.maskBranch || !MASK_STAGES.includes(s)) && (config.roiHeads.keypointBranch || !KEYPOINT_STAGES.includes(s)),
  );
}

/** Each stage's inputs: the figure as a graph (a re-run recomputes what lies downstream of a change). */
const INPUTS: Readonly<Record<StageName, readonly StageName[]>> = {
  transform: [],
  backbone: ['transform'],
  fpn: ['backbone'],
  rpnHead: ['fpn'],
  anchors: ['rpnHead'],
  proposals: ['rpnHead', 'anchors'],
  boxRoiPool: ['fpn', 'proposals'],
  boxHead: ['boxRoiPool'],
  detections: ['boxHead', 'proposals'],
  maskRoiPool: ['fpn', 'detections'],
  maskHead: ['maskRoiPool'],
  paste: ['maskHead', 'detections'],
  keypointRoiPool: ['fpn', 'detections'],
  keypointHead: ['keypointRoiPool'],
  keypoints: ['keypointHead', 'detections'],
};

/** A head needs the pooled features its pooling stage hands over in the same call (they are not kept). */
const POOL_OF: Partial<Record<StageName, StageName>> = { boxHead: 'boxRoiPool', maskHead: 'maskRoiPool', keypointHead: 'keypointRoiPool' };

/** The dump names (what `--dump-stages` writes) of a Mask R-CNN, in order (README, "Command line"). */
export const DUMP_NAMES = [
  'input',
  'fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool',
  'rpn_objectness_0', 'rpn_objectness_1', 'rpn_objectness_2', 'rpn_objectness_3', 'rpn_objectness_4',
  'rpn_deltas_0', 'rpn_deltas_1', 'rpn_deltas_2', 'rpn_deltas_3', 'rpn_deltas_4',
  'proposals', 'class_logits', 'box_regression', 'mask_logits', 'boxes', 'labels', 'scores', 'masks',
] as const;
/** The keypoint branch's dumps (torchvision's `keypoints`, `keypoints_scores` and the head's logits). */
export const KEYPOINT_DUMP_NAMES = ['keypoint_logits', 'keypoints', 'keypoints_scores'] as const;
/** Extra dumps the site reads: the backbone's C2–C5. */
export const EXTRA_DUMP_NAMES = ['body_c2', 'body_c3', 'body_c4', 'body_c5'] as const;
export type DumpName = (typeof DUMP_NAMES)[number] | (typeof KEYPOINT_DUMP_NAMES)[number] | (typeof EXTRA_DUMP_NAMES)[number];

/**
 * The dumps of a model with this config, in order: a Mask R-CNN's, or for a Keypoint R-CNN the same
 * up to `box_regression`, then `keypoint_logits`, the detections, `keypoints` and `keypoints_scores`
 * (no mask dumps without a mask branch).
 */
export function dumpNamesOf(config: MaskRcnnConfig): DumpName[] {
  const { maskBranch, keypointBranch } = config.roiHeads;
  const names: DumpName[] = [];
  for (const name of DUMP_NAMES) {
    if ((name === 'mask_logits' || name === 'masks') && !maskBranch) continue;
    if (name === 'boxes' && keypointBranch) names.push('keypoint_logits');
    names.push(name);
  }
  if (keypointBranch) names.push('keypoints', 'keypoints_scores');
  return names;
}

export interface MaskRcnn {
  readonly config: MaskRcnnConfig;
  readonly nets: { backbone: ResNet; fpn: Fpn; rpnHead: RpnHead; boxHead: BoxHead; maskHead?: MaskHead; keypointHead?: KeypointHead };
  dispose(): void;
}

/** Build the model from a torchvision state dict (either name spelling). Validates names and shapes first. */
export function createMaskRcnn(stateDict: StateDict, spec: MaskRcnnSpec = {}): MaskRcnn {
  const config = toConfig(spec);
  const sd = canonicalizeStateDict(stateDict);
  validateStateDict(sd, config);
  const made: { dispose(): void }[] = [];
  const load = <T extends { dispose(): void }>(net: T): T => {
    made.push(net);
    return net;
  };
  try {
    const nets: MaskRcnn['nets'] = {
      backbone: load(loadResNet(sd, config.backbone)),
      fpn: load(loadFpn(sd, config)),
      rpnHead: load(loadRpnHead(sd, config)),
      boxHead: load(loadBoxHead(sd, config)),
      ...(config.roiHeads.maskBranch ? { maskHead: load(loadMaskHead(sd, config)) } : {}),
      ...(config.roiHeads.keypointBranch ? { keypointHead: load(loadKeypointHead(sd, config)) } : {}),
    };
    return { config, nets, dispose: () => made.forEach((n) => n.dispose()) };
  } catch (e) {
    made.forEach((n) => n.dispose());
    throw e;
  }
}

/** A tensor (or list) shared by several traces; freed when the last one lets go. */
class Shared<T extends tf.Tensor | tf.Tensor[]> {
  private refs = 1;
  constructor(readonly value: T) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) tf.dispose(this.value);
  }
}

export interface PyramidLevel {
  /** Dump name (`fpn_0` … `fpn_pool`, `body_c2` …). */
  name: string;
  /** [C, h, w] */
  shape: [number, number, number];
  /** Image pixels per feature cell (padded image size // feature size). */
  stride: [number, number];
}

export interface PooledStage {
  /** FPN level index per RoI (0 = P2). */
  levels: Int32Array;
  scales: number[];
}

export interface Result {
  /** D×4 boxes in original-image pixels. */
  boxes: Float32Array;
  labels: Int32Array;
  scores: Float32Array;
  /**
   * Per detection, its predicted class's mask probabilities pasted into the original image, stored as
   * the region the paste writes (zero elsewhere): memory grows with the boxes, not with the image.
   * `trace.dump('masks')` expands them to D×1×H0×W0. Empty without a mask branch.
   */
  masks: MaskRegion[];
  /** D×28×28 probabilities of the predicted class (sigmoid, or softmax across classes: roiHeads.maskLoss) before paste-back. */
  roiMasks: Float32Array;
  /** D×Kp×3 keypoints [x, y, 1] in original-image pixels (torchvision's `keypoints`); empty without a keypoint branch. */
  keypoints: Float32Array;
  /** D×Kp keypoint scores (the upsampled logit at each keypoint, torchvision's `keypoints_scores`). */
  keypointScores: Float32Array;
}

export interface Trace {
  readonly config: MaskRcnnConfig;
  readonly image: RgbImage;
  readonly sizes: { original: Size; resized: Size; padded: Size; scale: number };
  readonly body: PyramidLevel[];
  readonly fpn: PyramidLevel[];
  readonly rpn: RpnLevel[];
  readonly proposals: ProposalResult;
  readonly boxRoiPool: PooledStage;
  readonly boxHead: BoxHeadData;
  /** Detections in resized-image coordinates (the roi_heads output). */
  readonly detections: DetectionResult;
  /** Empty (no levels) without a mask branch. */
  readonly maskRoiPool: PooledStage;
  /** D×28×28×K mask logits (NHWC; the dump `mask_logits` is D×K×28×28); empty without a mask branch. */
  readonly maskHead: MaskHeadData;
  /** Empty (no levels) without a keypoint branch. */
  readonly keypointRoiPool: PooledStage;
  /** D×56×56×Kp keypoint logits (NHWC; the dump `keypoint_logits` is D×Kp×56×56); empty without a keypoint branch. */
  readonly keypointHead: KeypointHeadData;
  readonly result: Result;
  /** Milliseconds per stage in this call; stages reused from an earlier trace are absent. */
  readonly timings: Partial<Record<StageName, number>>;
  /** The stages this call computed, in order (the rest came from the trace it was re-run from). */
  readonly computed: StageName[];
  /** A stage tensor as CHW float32 data (labels as exact integers); see `dumpNamesOf`. */
  dump(name: DumpName): Promise<NdArray>;
  dispose(): void;
}

export interface RunOptions {
  /** Called after each computed stage with its time (the CLI prints a progress line). */
  onStage?: (stage: StageName, ms: number) => void;
}

/** Which stage a changed config field affects first: a stage, 'none' (training only) or 'architecture'. */
function firstStageOf(path: string): StageName | 'architecture' | 'none' {
  if (path.startsWith('transform.')) return 'transform';
  if (path.startsWith('anchors.')) return 'anchors';
  if (path.startsWith('rpn.train.') || path.startsWith('roiHeads.train.')) return 'none';
  if (path.startsWith('rpn.')) return 'proposals';
  if (/^roiHeads\.(box|mask|keypoint)RoiPool\.outputSize$/.test(path)) return 'architecture';
  if (path.startsWith('roiHeads.boxRoiPool.')) return 'boxRoiPool';
  if (path.startsWith('roiHeads.boxCoderWeights') || path === 'roiHeads.bboxXformClip' || path.startsWith('roiHeads.postprocess.')) return 'detections';
  if (path.startsWith('roiHeads.maskRoiPool.')) return 'maskRoiPool';
  if (path === 'roiHeads.maskThreshold' || path === 'roiHeads.maskPaste' || path === 'roiHeads.maskLoss') return 'paste';
  if (path.startsWith('roiHeads.keypointRoiPool.')) return 'keypointRoiPool';
  return 'architecture';
}

/**
 * The stages to recompute when going from config `a` to `b`: those the changed fields affect and
 * everything downstream of them in the figure's graph, in order (a head brings its pooling stage).
 * Throws a ConfigError for a field that changes the network's shapes or weights.
 */
export function affectedStages(a: MaskRcnnConfig, b: MaskRcnnConfig): StageName[] {
  const todo = new Set<StageName>();
  for (const path of changedPaths(a, b)) {
    const stage = firstStageOf(path);
    if (stage === 'none') continue;
    if (stage === 'architecture') {
      throw new ConfigError(
        `config field ${path} changes the network's shape or weights, so a trace cannot be re-run with it; ` +
          'create a new model with createMaskRcnn(weights, config) instead',
      );
    }
    todo.add(stage);
  }
  for (const s of STAGES) if (INPUTS[s].some((input) => todo.has(input))) todo.add(s);
  for (const [head, pool] of Object.entries(POOL_OF)) if (todo.has(head as StageName)) todo.add(pool);
  const run = stagesOf(b);
  return run.filter((s) => todo.has(s));
}

/** The first stage to recompute when going from config `a` to `b`, or `null` when nothing changes. */
export function firstAffectedStage(a: MaskRcnnConfig, b: MaskRcnnConfig): StageName | null {
  return affectedStages(a, b)[0] ?? null;
}

/** NHWC [1, h, w, C] (or [h, w, C] data) → CHW data. */
function hwcToChw(data: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (y * w + x) * c;
      for (let k = 0; k < c; k++) out[k * h * w + y * w + x] = data[src + k]!;
    }
  }
  return out;
}

/** R × m × m × C (per-RoI NHWC) → R × C × m × m. */
function roisHwcToChw(data: Float32Array, r: number, m: number, c: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < r; i++) out.set(hwcToChw(data.subarray(i * m * m * c, (i + 1) * m * m * c), m, m, c), i * m * m * c);
  return out;
}

async function tensorToChw(t: tf.Tensor4D): Promise<NdArray> {
  const [, h, w, c] = t.shape;
  return { shape: [c, h, w], data: hwcToChw((await t.data()) as Float32Array, h, w, c) };
}

/** Each stage's output, by stage. The tensors kept across stages are `Shared`. */
interface State {
  transform: { input: Shared<tf.Tensor4D>; sizes: Trace['sizes'] };
  backbone: { body: Shared<tf.Tensor4D[]>; levels: PyramidLevel[] };
  fpn: { maps: Shared<tf.Tensor4D[]>; levels: PyramidLevel[] };
  rpnHead: RpnLevel[];
  anchors: Float32Array[];
  proposals: ProposalResult;
  boxRoiPool: PooledStage;
  boxHead: BoxHeadData;
  detections: DetectionResult;
  maskRoiPool: PooledStage;
  maskHead: MaskHeadData;
  paste: Pick<Result, 'masks' | 'roiMasks'>;
  keypointRoiPool: PooledStage;
  keypointHead: KeypointHeadData;
  keypoints: Pick<Result, 'keypoints' | 'keypointScores'>;
}
/** The outputs a trace holds: every stage of its model's branches, once it is built. */
type StageOutputs = Partial<State>;

/** Run the whole model on one image. */
export async function runMaskRcnn(model: MaskRcnn, image: RgbImage, options: RunOptions = {}): Promise<Trace> {
  return execute(model, image, model.config, stagesOf(model.config), {}, options);
}

/**
 * Re-run `trace` with some config fields changed (a spec relative to the trace's config); only the
 * stages downstream of the affected ones are computed. The old trace stays valid; dispose both.
 */
export async function rerunMaskRcnn(model: MaskRcnn, trace: Trace, changes: MaskRcnnSpec, options: RunOptions = {}): Promise<Trace> {
  const config = toConfig(mergeSpecs(trace.config as MaskRcnnSpec, changes));
  const todo = affectedStages(trace.config, config);
  const prev = (trace as TraceImpl).state;
  const state: StageOutputs = { ...prev };
  // Tensors carried over are shared: take a reference on each (a stage that re-runs makes its own).
  if (!todo.includes('transform')) state.transform = { ...prev.transform!, input: prev.transform!.input.retain() };
  if (!todo.includes('backbone')) state.backbone = { ...prev.backbone!, body: prev.backbone!.body.retain() };
  if (!todo.includes('fpn')) state.fpn = { ...prev.fpn!, maps: prev.fpn!.maps.retain() };
  return execute(model, trace.image, config, todo, state, options);
}

/** A stage's output from this call or the trace it re-runs; a missing one is a bug in the graph above. */
function need<K extends keyof State>(state: StageOutputs, stage: K): State[K] {
  const v = state[stage];
  if (v === undefined) throw new Error(`internal: stage ${stage} has no output to read (STAGES/INPUTS out of step)`);
  return v as State[K];
}

async function execute(model: MaskRcnn, image: RgbImage, config: MaskRcnnConfig, todo: readonly StageName[], state: StageOutputs, options: RunOptions): Promise<Trace> {
  const { nets } = model;
  const h = config.roiHeads;
  const run = new StageRun(todo, state, options);
  const sizes = () => run.need('transform').sizes;
  try {
    await run.stage('transform', () => transformStage(image, config));
    await run.stage('backbone', () => bodyStage(nets.backbone, run.need('transform')));
    await run.stage('fpn', () => fpnStage(nets.fpn, run.need('backbone'), sizes().padded));
    await run.stage('rpnHead', () => readRpnLevels(rpnHead(nets.rpnHead, run.need('fpn').maps.value), sizes().padded));
    await run.stage('anchors', () => gridAnchors(sizes().padded, run.need('rpnHead').map((l) => l.size), config.anchors).anchors);
    await run.stage('proposals', () => proposalsStage(run.need('rpnHead'), run.need('anchors'), sizes().resized, config));
    await run.stage('boxRoiPool', () => run.pool(run.need('proposals').boxes, h.boxRoiPool));
    await run.stage('boxHead', () => run.onPooled((p) => boxHeadData(nets.boxHead, p)));
    await run.stage('detections', () => detectionsStage(run.need('boxHead'), run.need('proposals'), sizes().resized, config));
    await run.stage('maskRoiPool', () => run.pool(run.need('detections').boxes, h.maskRoiPool));
    await run.stage('maskHead', () => run.onPooled((p) => maskHeadData(nets.maskHead!, p)));
    await run.stage('paste', () => paste(run.need('detections'), run.need('maskHead'), sizes(), config));
    await run.stage('keypointRoiPool', () => run.pool(run.need('detections').boxes, h.keypointRoiPool));
    await run.stage('keypointHead', () => run.onPooled((p) => keypointHeadData(nets.keypointHead!, p)));
    await run.stage('keypoints', () => keypoints(run.need('detections'), run.need('keypointHead'), sizes()));
  } catch (e) {
    run.release(); // nothing this call created outlives a failure
    throw e;
  } finally {
    run.freeHanded();
  }
  return new TraceImpl(config, image, state, run.timings, run.computed);
}

/**
 * One call of `execute`: which stages it computes (`todo`), their outputs (`state`, shared with the
 * trace it re-runs), their times, and the pooled features a pooling stage hands to its head (the
 * only tensors that live between two stages without being kept: freed by the head, or on a failure).
 */
class StageRun {
  readonly timings: Partial<Record<StageName, number>> = {};
  readonly computed: StageName[] = [];
  private readonly handed: tf.Tensor4D[] = [];

  constructor(
    private readonly todo: readonly StageName[],
    private readonly state: StageOutputs,
    private readonly options: RunOptions,
  ) {}

  /** Run `name` if this call computes it; store its output and its time. */
  async stage<K extends keyof State>(name: K, fn: () => Promise<State[K]> | State[K]): Promise<void> {
    if (!this.todo.includes(name)) return;
    const t0 = performance.now();
    this.state[name] = await fn();
    this.timings[name] = performance.now() - t0;
    this.computed.push(name);
    this.options.onStage?.(name, this.timings[name]);
  }

  /** A stage's output from this call or the trace re-run. */
  need<K extends keyof State>(stage: K): State[K] {
    return need(this.state, stage);
  }

  /** A pooling stage: pool `boxes` from P2–P5 and hand the features to the next stage (its head). */
  async pool(boxes: Float32Array, cfg: RoiPoolConfig): Promise<PooledStage> {
    const p = await poolRoisSettled(this.need('fpn').maps.value.slice(0, 4), boxes, this.need('transform').sizes.resized, cfg);
    this.handed.push(p.pooled);
    return { levels: p.levels, scales: p.scales };
  }

  /** A head on the features its pooling stage just handed over, freed as soon as the head has run. */
  async onPooled<T>(head: (pooled: tf.Tensor4D) => Promise<T>): Promise<T> {
    const p = this.handed.pop()!;
    try {
      return await head(p);
    } finally {
      p.dispose();
    }
  }

  freeHanded(): void {
    tf.dispose(this.handed.splice(0));
  }

  /** Let go of the shared tensors this call holds (after a failure). */
  release(): void {
    this.state.transform?.input.release();
    this.state.backbone?.body.release();
    this.state.fpn?.maps.release();
  }
}

/** torchvision GeneralizedRCNNTransform: the padded input tensor (kept, shared) and the sizes. */
async function transformStage(image: RgbImage, config: MaskRcnnConfig): Promise<State['transform']> {
  const t = transformImage(image, config.transform);
  await settle(t.input);
  const [, hp, wp] = t.input.shape;
  return { input: new Shared(t.input), sizes: { original: t.originalSize, resized: t.imageSize, padded: [hp, wp], scale: t.scale } };
}

/** The ResNet body: C2–C5 (kept, shared: chapter 3 reads them). */
async function bodyStage(net: ResNet, input: State['transform']): Promise<State['backbone']> {
  const c = resnetBody(net, input.input.value);
  await settle(c.c5);
  const maps = [c.c2, c.c3, c.c4, c.c5];
  return { body: new Shared(maps), levels: pyramidLevels(maps, input.sizes.padded, (i) => `body_c${i + 2}`) };
}

/** The FPN: P2–P6 (kept, shared: the heads pool from them, re-runs reuse them). */
async function fpnStage(net: Fpn, body: State['backbone'], padded: Size): Promise<State['fpn']> {
  const [c2, c3, c4, c5] = body.body.value as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const maps = fpn(net, { c2, c3, c4, c5 });
  await settle(maps[4]);
  return { maps: new Shared(maps), levels: pyramidLevels(maps, padded, (i) => (i < 4 ? `fpn_${i}` : 'fpn_pool')) };
}

/** The RPN's proposals: top-k per level, decode, clip, small-box and score filters, NMS per level. */
function proposalsStage(levels: RpnLevel[], anchors: Float32Array[], resized: Size, config: MaskRcnnConfig): ProposalResult {
  return filterProposals(levels.map((l) => l.objectness), levels.map((l) => l.deltas), anchors, resized, config.rpn);
}

/** The box head's postprocessing: softmax, per-class boxes, score threshold, per-class NMS, top-N. */
function detectionsStage(head: BoxHeadData, proposals: ProposalResult, resized: Size, config: MaskRcnnConfig): DetectionResult {
  const h = config.roiHeads;
  return postprocessDetections(head.classLogits, head.boxRegression, proposals.boxes, resized, config.numClasses, h.postprocess, new BoxCoder(h.boxCoderWeights, h.bboxXformClip));
}

/** Name, CHW shape and stride of each pyramid level. */
function pyramidLevels(maps: readonly tf.Tensor4D[], padded: Size, name: (i: number) => string): PyramidLevel[] {
  return maps.map((t, i) => ({
    name: name(i),
    shape: [t.shape[3], t.shape[1], t.shape[2]],
    stride: [Math.floor(padded[0] / t.shape[1]), Math.floor(padded[1] / t.shape[2])],
  }));
}

/** The predicted class's mask probabilities, pasted into the original image (torchvision paste_masks_in_image, or the exact paste). */
function paste(det: DetectionResult, head: MaskHeadData, sizes: Trace['sizes'], config: MaskRcnnConfig): State['paste'] {
  const count = det.labels.length;
  const m = head.size;
  // maskLogits: [D, m, m, K] → probabilities (sigmoid or softmax) → the label's channel, [D, m, m]
  const roiMasks = maskProbabilities(head.maskLogits, det.labels, m, config.numClasses, config.roiHeads.maskLoss);
  const boxes = resizeBoxes(det.boxes, sizes.resized, sizes.original);
  const options: PasteOptions = { mode: config.roiHeads.maskPaste, scale: pasteScale(sizes) };
  const masks = Array.from({ length: count }, (_, d) => pasteMaskRegion(roiMasks, d * m * m, m, boxes.subarray(4 * d, 4 * d + 4), sizes.original, options));
  return { masks, roiMasks };
}

/** torchvision `keypointrcnn_inference` on the detections (resized image), then `resize_keypoints` to the original image. */
function keypoints(det: DetectionResult, head: KeypointHeadData, sizes: Trace['sizes']): State['keypoints'] {
  const decoded = heatmapsToKeypoints(head.logits, det.boxes, head.size, head.numKeypoints);
  return { keypoints: resizeKeypoints(decoded.keypoints, sizes.resized, sizes.original), keypointScores: decoded.scores };
}

const NO_POOL: PooledStage = { levels: new Int32Array(0), scales: [] };

class TraceImpl implements Trace {
  readonly sizes: Trace['sizes'];
  readonly body: PyramidLevel[];
  readonly fpn: PyramidLevel[];
  readonly rpn: RpnLevel[];
  readonly proposals: ProposalResult;
  readonly boxRoiPool: PooledStage;
  readonly boxHead: BoxHeadData;
  readonly detections: DetectionResult;
  readonly maskRoiPool: PooledStage;
  readonly maskHead: MaskHeadData;
  readonly keypointRoiPool: PooledStage;
  readonly keypointHead: KeypointHeadData;
  readonly result: Result;
  private disposed = false;

  constructor(
    readonly config: MaskRcnnConfig,
    readonly image: RgbImage,
    readonly state: StageOutputs,
    readonly timings: Partial<Record<StageName, number>>,
    readonly computed: StageName[],
  ) {
    this.sizes = need(state, 'transform').sizes;
    this.body = need(state, 'backbone').levels;
    this.fpn = need(state, 'fpn').levels;
    const anchors = need(state, 'anchors');
    this.rpn = need(state, 'rpnHead').map((l, i) => ({ ...l, anchors: anchors[i]! }));
    this.proposals = need(state, 'proposals');
    this.boxRoiPool = need(state, 'boxRoiPool');
    this.boxHead = need(state, 'boxHead');
    this.detections = need(state, 'detections');
    const { maskBranch, keypointBranch } = config.roiHeads;
    this.maskRoiPool = maskBranch ? need(state, 'maskRoiPool') : NO_POOL;
    this.maskHead = maskBranch ? need(state, 'maskHead') : { maskLogits: new Float32Array(0), size: 0 };
    this.keypointRoiPool = keypointBranch ? need(state, 'keypointRoiPool') : NO_POOL;
    this.keypointHead = keypointBranch ? need(state, 'keypointHead') : { logits: new Float32Array(0), size: 0, numKeypoints: 0 };
    const det = this.detections;
    this.result = {
      boxes: resizeBoxes(det.boxes, this.sizes.resized, this.sizes.original),
      labels: det.labels,
      scores: det.scores,
      ...(maskBranch ? need(state, 'paste') : { masks: [], roiMasks: new Float32Array(0) }),
      ...(keypointBranch ? need(state, 'keypoints') : { keypoints: new Float32Array(0), keypointScores: new Float32Array(0) }),
    };
  }

  async dump(name: DumpName): Promise<NdArray> {
    if (this.disposed) throw new Error(`trace.dump('${name}'): this trace was disposed; keep it until you have read its dumps`);
    const known = [...dumpNamesOf(this.config), ...EXTRA_DUMP_NAMES] as string[];
    if (!known.includes(name)) {
      const why = [...DUMP_NAMES, ...KEYPOINT_DUMP_NAMES].includes(name as never) ? 'this model has no such branch; its dumps are' : 'known';
      throw new Error(`trace.dump: unknown stage '${name}'; ${why}: ${known.join(', ')}`);
    }
    const s = this.state;
    const rpnMatch = /^rpn_(objectness|deltas)_(\d)$/.exec(name);
    if (name === 'input') return tensorToChw(need(s, 'transform').input.value);
    if (name.startsWith('body_c')) return tensorToChw(need(s, 'backbone').body.value[Number(name.slice(6)) - 2]!);
    if (name.startsWith('fpn_')) return tensorToChw(need(s, 'fpn').maps.value[name === 'fpn_pool' ? 4 : Number(name.slice(4))]!);
    if (rpnMatch) {
      const level = this.rpn[Number(rpnMatch[2])]!;
      const [h, w] = level.size;
      const a = level.numAnchors;
      return rpnMatch[1] === 'objectness'
        ? { shape: [a, h, w], data: hwcToChw(level.objectness, h, w, a) }
        : { shape: [4 * a, h, w], data: hwcToChw(level.deltas, h, w, 4 * a) };
    }
    const k = this.config.numClasses;
    const d = this.result.labels.length;
    const kp = this.keypointHead.numKeypoints;
    switch (name) {
      case 'proposals': return { shape: [this.proposals.boxes.length / 4, 4], data: this.proposals.boxes };
      case 'class_logits': return { shape: [this.boxHead.numRois, k], data: this.boxHead.classLogits };
      case 'box_regression': return { shape: [this.boxHead.numRois, 4 * k], data: this.boxHead.boxRegression };
      case 'mask_logits': {
        const m = this.maskHead.size;
        return { shape: [d, k, m, m], data: roisHwcToChw(this.maskHead.maskLogits, d, m, k) }; // [D, m, m, K] → [D, K, m, m]
      }
      case 'keypoint_logits': {
        const m = this.keypointHead.size;
        return { shape: [d, kp, m, m], data: roisHwcToChw(this.keypointHead.logits, d, m, kp) }; // [D, m, m, Kp] → [D, Kp, m, m]
      }
      case 'boxes': return { shape: [d, 4], data: this.result.boxes };
      case 'labels': return { shape: [d], data: Float32Array.from(this.result.labels) };
      case 'scores': return { shape: [d], data: this.result.scores };
      case 'masks': return { shape: [d, 1, this.sizes.original[0], this.sizes.original[1]], data: regionsToPlanes(this.result.masks, this.sizes.original) };
      case 'keypoints': return { shape: [d, kp, 3], data: this.result.keypoints };
      case 'keypoints_scores': return { shape: [d, kp], data: this.result.keypointScores };
    }
    throw new Error(`trace.dump: unknown stage '${name}'`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state.transform?.input.release();
    this.state.backbone?.body.release();
    this.state.fpn?.maps.release();
  }
}
