/**
 * Mask R-CNN, the orchestrator. Reads like the paper's figure (torchvision GeneralizedRCNN.forward):
 *
 *   transform → backbone → fpn → rpnHead ┬ proposals → boxRoiPool → boxHead → detections
 *                              anchors ──┘            → maskRoiPool → maskHead → paste
 *
 * `runMaskRcnn` returns a `Trace`: every stage's output as plain data (typed arrays), plus the few
 * tensors a later stage may need again (the input, C2–C5 and P2–P6), reference-counted so a trace and
 * the traces re-run from it can be disposed in any order. `rerunMaskRcnn(model, trace, changes)`
 * recomputes only the stages downstream of the first one the changed config fields affect.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type MaskRcnnConfig, type MaskRcnnSpec, ConfigError, changedPaths, mergeSpecs, toConfig } from './config.ts';
import { BoxCoder, filterProposals, gridAnchors, postprocessDetections } from './geometry/index.ts';
import type { DetectionResult, ProposalResult } from './geometry/index.ts';
import { type ResNet, loadResNet, resnetBody } from './stages/backbone.ts';
import { type Fpn, fpn, loadFpn } from './stages/fpn.ts';
import { type RpnHead, loadRpnHead, rpnHead } from './stages/rpn_head.ts';
import { poolRois } from './stages/roi_pool.ts';
import { type BoxHead, boxHead, loadBoxHead } from './stages/box_head.ts';
import { type MaskHead, loadMaskHead, maskHead } from './stages/mask_head.ts';
import { resizeBoxes, transformImage } from './stages/transform.ts';
import { type MaskRegion, type PasteOptions, pasteMaskRegion, pasteScale, regionsToPlanes } from './stages/paste.ts';
import { maskProbabilities } from './stages/mask_inference.ts';
import { canonicalizeStateDict, validateStateDict } from './weights/index.ts';
import type { Boxes, NdArray, RgbImage, Size, StateDict } from './types.ts';

/** The paper's stages in execution order. */
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
] as const;
export type StageName = (typeof STAGES)[number];

/** The dump names of DESIGN.md §4 (what `--dump-stages` writes), in order. */
export const DUMP_NAMES = [
  'input',
  'fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool',
  'rpn_objectness_0', 'rpn_objectness_1', 'rpn_objectness_2', 'rpn_objectness_3', 'rpn_objectness_4',
  'rpn_deltas_0', 'rpn_deltas_1', 'rpn_deltas_2', 'rpn_deltas_3', 'rpn_deltas_4',
  'proposals', 'class_logits', 'box_regression', 'mask_logits', 'boxes', 'labels', 'scores', 'masks',
] as const;
/** Extra dumps the site reads: the backbone's C2–C5. */
export const EXTRA_DUMP_NAMES = ['body_c2', 'body_c3', 'body_c4', 'body_c5'] as const;
export type DumpName = (typeof DUMP_NAMES)[number] | (typeof EXTRA_DUMP_NAMES)[number];

export interface MaskRcnn {
  readonly config: MaskRcnnConfig;
  readonly nets: { backbone: ResNet; fpn: Fpn; rpnHead: RpnHead; boxHead: BoxHead; maskHead: MaskHead };
  dispose(): void;
}

/** Build the model from a torchvision state dict (either name spelling). Validates names and shapes first. */
export function createMaskRcnn(stateDict: StateDict, spec: MaskRcnnSpec = {}): MaskRcnn {
  const config = toConfig(spec);
  const sd = canonicalizeStateDict(stateDict);
  validateStateDict(sd, config);
  const nets = {
    backbone: loadResNet(sd, config.backbone),
    fpn: loadFpn(sd, config),
    rpnHead: loadRpnHead(sd, config),
    boxHead: loadBoxHead(sd, config),
    maskHead: loadMaskHead(sd, config),
  };
  return {
    config,
    nets,
    dispose() {
      for (const net of Object.values(nets)) net.dispose();
    },
  };
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

export interface RpnLevel {
  /** Feature size [h, w] of this level. */
  size: Size;
  stride: [number, number];
  /** A = anchors per location. */
  numAnchors: number;
  /** h·w·A logits, order (y, x, a). */
  objectness: Float32Array;
  /** h·w·A·4 box deltas, order (y, x, a, [dx, dy, dw, dh]). */
  deltas: Float32Array;
  /** h·w·A·4 anchors [x1, y1, x2, y2] in padded-image pixels, order (y, x, a). */
  anchors: Float32Array;
}

export interface PooledStage {
  /** FPN level index per RoI (0 = P2). */
  levels: Int32Array;
  scales: number[];
}

export interface Result {
  /** D×4 boxes in original-image pixels. */
  boxes: Boxes;
  labels: Int32Array;
  scores: Float32Array;
  /**
   * Per detection, its predicted class's mask probabilities pasted into the original image, stored as
   * the region the paste writes (zero elsewhere): memory grows with the boxes, not with the image.
   * `trace.dump('masks')` expands them to D×1×H0×W0.
   */
  masks: MaskRegion[];
  /** D×28×28 probabilities of the predicted class (sigmoid, or softmax across classes: roiHeads.maskLoss) before paste-back. */
  roiMasks: Float32Array;
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
  readonly boxHead: { numRois: number; classLogits: Float32Array; boxRegression: Float32Array };
  /** Detections in resized-image coordinates (the roi_heads output). */
  readonly detections: DetectionResult;
  readonly maskRoiPool: PooledStage;
  /** D×28×28×K mask logits (NHWC; the dump `mask_logits` is D×K×28×28). */
  readonly maskHead: { maskLogits: Float32Array; size: number };
  readonly result: Result;
  /** Milliseconds per stage in this call; stages reused from an earlier trace are absent. */
  readonly timings: Partial<Record<StageName, number>>;
  /** The stages this call computed, in order (the rest came from the trace it was re-run from). */
  readonly computed: StageName[];
  /** A stage tensor of DESIGN.md §4 as CHW float32 data (labels as exact integers). */
  dump(name: DumpName): Promise<NdArray>;
  dispose(): void;
}

export interface RunOptions {
  /** Called after each computed stage with its time (the CLI prints a progress line). */
  onStage?: (stage: StageName, ms: number) => void;
}

/** Which stage a changed config field invalidates first; `null` when the field changes the architecture. */
function firstStageOf(path: string): StageName | 'architecture' | 'none' {
  if (path.startsWith('transform.')) return 'transform';
  if (path.startsWith('anchors.')) return 'anchors';
  if (path.startsWith('rpn.train.') || path.startsWith('roiHeads.train.')) return 'none';
  if (path.startsWith('rpn.')) return 'proposals';
  if (path === 'roiHeads.boxRoiPool.outputSize' || path === 'roiHeads.maskRoiPool.outputSize') return 'architecture';
  if (path.startsWith('roiHeads.boxRoiPool.')) return 'boxRoiPool';
  if (path.startsWith('roiHeads.boxCoderWeights') || path === 'roiHeads.bboxXformClip' || path.startsWith('roiHeads.postprocess.')) return 'detections';
  if (path.startsWith('roiHeads.maskRoiPool.')) return 'maskRoiPool';
  if (path === 'roiHeads.maskThreshold' || path === 'roiHeads.maskPaste' || path === 'roiHeads.maskLoss') return 'paste';
  if (path === 'backbone.frozenBnEps') return 'architecture';
  return 'architecture';
}

/** The first stage to recompute when going from config `a` to `b`, or `null` when nothing changes. */
export function firstAffectedStage(a: MaskRcnnConfig, b: MaskRcnnConfig): StageName | null {
  let first: number = STAGES.length;
  for (const path of changedPaths(a, b)) {
    const stage = firstStageOf(path);
    if (stage === 'none') continue;
    if (stage === 'architecture') {
      throw new ConfigError(
        `config field ${path} changes the network's shape or weights, so a trace cannot be re-run with it; ` +
          'create a new model with createMaskRcnn(weights, config) instead',
      );
    }
    first = Math.min(first, STAGES.indexOf(stage));
  }
  return first === STAGES.length ? null : STAGES[first]!;
}

/** Wait until `t` is computed (on GPU backends too) by reading one value of it. */
async function settle(t: tf.Tensor): Promise<void> {
  if (t.size === 0) return;
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  one.dispose();
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

async function tensorToChw(t: tf.Tensor4D): Promise<NdArray> {
  const [, h, w, c] = t.shape;
  return { shape: [c, h, w], data: hwcToChw((await t.data()) as Float32Array, h, w, c) };
}

interface State {
  sizes?: Trace['sizes'];
  input?: Shared<tf.Tensor4D>;
  body?: Shared<tf.Tensor4D[]>;
  fpnMaps?: Shared<tf.Tensor4D[]>;
  bodyLevels?: PyramidLevel[];
  fpnLevels?: PyramidLevel[];
  rpn?: RpnLevel[];
  proposals?: ProposalResult;
  boxRoiPool?: PooledStage;
  boxHead?: Trace['boxHead'];
  detections?: DetectionResult;
  maskRoiPool?: PooledStage;
  maskHead?: Trace['maskHead'];
  result?: Result;
}

/** Run the whole model on one image. */
export async function runMaskRcnn(model: MaskRcnn, image: RgbImage, options: RunOptions = {}): Promise<Trace> {
  return execute(model, image, model.config, 0, {}, options);
}

/**
 * Re-run `trace` with some config fields changed (a spec relative to the trace's config); only the
 * stages from the first affected one on are computed. The old trace stays valid; dispose both.
 */
export async function rerunMaskRcnn(model: MaskRcnn, trace: Trace, changes: MaskRcnnSpec, options: RunOptions = {}): Promise<Trace> {
  const config = toConfig(mergeSpecs(trace.config as MaskRcnnSpec, changes));
  const first = firstAffectedStage(trace.config, config);
  const from = first === null ? STAGES.length : STAGES.indexOf(first);
  const prev = (trace as TraceImpl).state;
  const state: State = { ...prev };
  // Tensors carried over are shared: take a reference on each.
  state.input = from > 0 ? prev.input?.retain() : undefined;
  state.body = from > 1 ? prev.body?.retain() : undefined;
  state.fpnMaps = from > 2 ? prev.fpnMaps?.retain() : undefined;
  return execute(model, trace.image, config, from, state, options);
}

async function execute(model: MaskRcnn, image: RgbImage, config: MaskRcnnConfig, from: number, state: State, options: RunOptions): Promise<Trace> {
  const { nets } = model;
  const timings: Partial<Record<StageName, number>> = {};
  const computed: StageName[] = [];
  const timed = async <T>(stage: StageName, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const out = await fn();
    const ms = performance.now() - t0;
    timings[stage] = ms;
    computed.push(stage);
    options.onStage?.(stage, ms);
    return out;
  };
  const at = (stage: StageName) => STAGES.indexOf(stage) >= from;
  try {
    if (at('transform')) {
      await timed('transform', async () => {
        const t = transformImage(image, config.transform);
        state.input = new Shared(t.input);
        const [, hp, wp] = t.input.shape;
        state.sizes = { original: t.originalSize, resized: t.imageSize, padded: [hp, wp], scale: t.scale };
        await settle(t.input);
      });
    }
    const sizes = state.sizes!;
    const stride = (t: tf.Tensor4D): [number, number] => [Math.floor(sizes.padded[0] / t.shape[1]), Math.floor(sizes.padded[1] / t.shape[2])];
    const describe = (t: tf.Tensor4D, name: string): PyramidLevel => ({ name, shape: [t.shape[3], t.shape[1], t.shape[2]], stride: stride(t) });

    if (at('backbone')) {
      await timed('backbone', async () => {
        const c = resnetBody(nets.backbone, state.input!.value);
        state.body = new Shared([c.c2, c.c3, c.c4, c.c5]);
        state.bodyLevels = state.body.value.map((t, i) => describe(t, `body_c${i + 2}`));
        await settle(c.c5);
      });
    }
    if (at('fpn')) {
      await timed('fpn', async () => {
        const [c2, c3, c4, c5] = state.body!.value as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const maps = fpn(nets.fpn, { c2, c3, c4, c5 });
        state.fpnMaps = new Shared(maps);
        state.fpnLevels = maps.map((t, i) => describe(t, i < 4 ? `fpn_${i}` : 'fpn_pool'));
        await settle(maps[maps.length - 1]!);
      });
    }
    const maps = state.fpnMaps!.value;
    if (at('rpnHead')) {
      await timed('rpnHead', async () => {
        const head = rpnHead(nets.rpnHead, maps);
        try {
          const levels: RpnLevel[] = [];
          for (const [i, o] of head.objectness.entries()) {
            const d = head.deltas[i]!;
            levels.push({
              size: [o.shape[1], o.shape[2]],
              stride: stride(o),
              numAnchors: o.shape[3],
              // [1, h, w, A] → (y, x, a); [1, h, w, 4A] → (y, x, a, 4)
              objectness: (await o.data()) as Float32Array,
              deltas: (await d.data()) as Float32Array,
              anchors: new Float32Array(0),
            });
          }
          state.rpn = levels;
        } finally {
          tf.dispose([...head.objectness, ...head.deltas]);
        }
      });
    }
    if (at('anchors')) {
      await timed('anchors', () => {
        const { anchors } = gridAnchors(sizes.padded, state.rpn!.map((l) => l.size), config.anchors);
        state.rpn = state.rpn!.map((l, i) => ({ ...l, anchors: anchors[i]! }));
      });
    }
    const rpn = state.rpn!;
    if (at('proposals')) {
      await timed('proposals', () => {
        state.proposals = filterProposals(
          rpn.map((l) => l.objectness),
          rpn.map((l) => l.deltas),
          rpn.map((l) => l.anchors),
          sizes.resized,
          config.rpn,
        );
      });
    }
    const headMaps = maps.slice(0, 4);
    let boxPooled: tf.Tensor4D | undefined;
    try {
      if (at('boxRoiPool')) {
        await timed('boxRoiPool', async () => {
          const p = poolRois(headMaps, state.proposals!.boxes, sizes.resized, config.roiHeads.boxRoiPool);
          boxPooled = p.pooled;
          state.boxRoiPool = { levels: p.levels, scales: p.scales };
          await settle(p.pooled);
        });
      }
      if (at('boxHead')) {
        // boxRoiPool ran in this call too (a box head never re-runs alone).
        await timed('boxHead', async () => {
          const out = boxHead(nets.boxHead, boxPooled!);
          try {
            state.boxHead = {
              numRois: out.classLogits.shape[0],
              classLogits: (await out.classLogits.data()) as Float32Array,
              boxRegression: (await out.boxRegression.data()) as Float32Array,
            };
          } finally {
            tf.dispose([out.classLogits, out.boxRegression]);
          }
        });
      }
    } finally {
      boxPooled?.dispose();
    }
    if (at('detections')) {
      await timed('detections', () => {
        const h = config.roiHeads;
        state.detections = postprocessDetections(
          state.boxHead!.classLogits,
          state.boxHead!.boxRegression,
          state.proposals!.boxes,
          sizes.resized,
          config.numClasses,
          h.postprocess,
          new BoxCoder(h.boxCoderWeights, h.bboxXformClip),
        );
      });
    }
    let maskPooled: tf.Tensor4D | undefined;
    try {
      if (at('maskRoiPool')) {
        await timed('maskRoiPool', async () => {
          const p = poolRois(headMaps, state.detections!.boxes, sizes.resized, config.roiHeads.maskRoiPool);
          maskPooled = p.pooled;
          state.maskRoiPool = { levels: p.levels, scales: p.scales };
          await settle(p.pooled);
        });
      }
      if (at('maskHead')) {
        await timed('maskHead', async () => {
          const logits = maskHead(nets.maskHead, maskPooled!);
          try {
            state.maskHead = { maskLogits: (await logits.data()) as Float32Array, size: logits.shape[1] };
          } finally {
            logits.dispose();
          }
        });
      }
    } finally {
      maskPooled?.dispose();
    }
    if (at('paste')) {
      await timed('paste', () => {
        state.result = paste(state.detections!, state.maskHead!, sizes, config);
      });
    }
  } catch (e) {
    // Nothing this call created outlives a failure.
    state.input?.release();
    state.body?.release();
    state.fpnMaps?.release();
    throw e;
  }
  return new TraceImpl(config, image, state, timings, computed);
}

/** The predicted class's mask probabilities, pasted into the original image (torchvision paste_masks_in_image, or the exact paste). */
function paste(det: DetectionResult, head: Trace['maskHead'], sizes: Trace['sizes'], config: MaskRcnnConfig): Result {
  const count = det.labels.length;
  const m = head.size;
  // maskLogits: [D, m, m, K] → probabilities (sigmoid or softmax) → the label's channel, [D, m, m]
  const roiMasks = maskProbabilities(head.maskLogits, det.labels, m, config.numClasses, config.roiHeads.maskLoss);
  const boxes = resizeBoxes(det.boxes, sizes.resized, sizes.original);
  const options: PasteOptions = { mode: config.roiHeads.maskPaste, scale: pasteScale(sizes) };
  const masks = Array.from({ length: count }, (_, d) => pasteMaskRegion(roiMasks, d * m * m, m, boxes.subarray(4 * d, 4 * d + 4), sizes.original, options));
  return { boxes, labels: det.labels, scores: det.scores, masks, roiMasks };
}

class TraceImpl implements Trace {
  readonly sizes: Trace['sizes'];
  readonly body: PyramidLevel[];
  readonly fpn: PyramidLevel[];
  readonly rpn: RpnLevel[];
  readonly proposals: ProposalResult;
  readonly boxRoiPool: PooledStage;
  readonly boxHead: Trace['boxHead'];
  readonly detections: DetectionResult;
  readonly maskRoiPool: PooledStage;
  readonly maskHead: Trace['maskHead'];
  readonly result: Result;
  private disposed = false;

  constructor(
    readonly config: MaskRcnnConfig,
    readonly image: RgbImage,
    readonly state: State,
    readonly timings: Partial<Record<StageName, number>>,
    readonly computed: StageName[],
  ) {
    this.sizes = state.sizes!;
    this.body = state.bodyLevels!;
    this.fpn = state.fpnLevels!;
    this.rpn = state.rpn!;
    this.proposals = state.proposals!;
    this.boxRoiPool = state.boxRoiPool!;
    this.boxHead = state.boxHead!;
    this.detections = state.detections!;
    this.maskRoiPool = state.maskRoiPool!;
    this.maskHead = state.maskHead!;
    this.result = state.result!;
  }

  async dump(name: DumpName): Promise<NdArray> {
    if (this.disposed) throw new Error(`trace.dump('${name}'): this trace was disposed; keep it until you have read its dumps`);
    const s = this.state;
    const rpnMatch = /^rpn_(objectness|deltas)_(\d)$/.exec(name);
    if (name === 'input') return tensorToChw(s.input!.value);
    if (name.startsWith('body_c')) return tensorToChw(s.body!.value[Number(name.slice(6)) - 2]!);
    if (name.startsWith('fpn_')) return tensorToChw(s.fpnMaps!.value[name === 'fpn_pool' ? 4 : Number(name.slice(4))]!);
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
    switch (name) {
      case 'proposals': return { shape: [this.proposals.boxes.length / 4, 4], data: this.proposals.boxes };
      case 'class_logits': return { shape: [this.boxHead.numRois, k], data: this.boxHead.classLogits };
      case 'box_regression': return { shape: [this.boxHead.numRois, 4 * k], data: this.boxHead.boxRegression };
      case 'mask_logits': {
        const m = this.maskHead.size;
        // [D, m, m, K] → [D, K, m, m]
        const out = new Float32Array(this.maskHead.maskLogits.length);
        for (let i = 0; i < d; i++) out.set(hwcToChw(this.maskHead.maskLogits.subarray(i * m * m * k, (i + 1) * m * m * k), m, m, k), i * m * m * k);
        return { shape: [d, k, m, m], data: out };
      }
      case 'boxes': return { shape: [d, 4], data: this.result.boxes };
      case 'labels': return { shape: [d], data: Float32Array.from(this.result.labels) };
      case 'scores': return { shape: [d], data: this.result.scores };
      case 'masks': return { shape: [d, 1, this.sizes.original[0], this.sizes.original[1]], data: regionsToPlanes(this.result.masks, this.sizes.original) };
    }
    throw new Error(`trace.dump: unknown stage '${name}'; known: ${[...DUMP_NAMES, ...EXTRA_DUMP_NAMES].join(', ')}`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state.input?.release();
    this.state.body?.release();
    this.state.fpnMaps?.release();
  }
}
