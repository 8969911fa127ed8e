/**
 * One training step of Mask R-CNN (torchvision `MaskRCNN.forward` in training mode + an optimizer
 * step), on the engine's stage functions:
 *
 *   batch ─ backbone (BN) ─ fpn ─ rpnHead ┬ anchor targets (0.7/0.3, 256, ½ pos) ─ Lrpn_cls, Lrpn_box
 *                                anchors ──┤
 *                                          └ proposals (train top-n, NMS 0.7) + gt ─ RoI targets
 *                                            (0.5, 512, ¼ pos) ─ boxRoiPool ─ boxHead ─ Lcls, Lbox
 *                                                              ─ maskRoiPool ─ maskHead ─ Lmask
 *                                                              ─ keypointRoiPool ─ keypointHead ─ Lkeypoint
 *
 * Two passes, because choosing the RoIs needs the RPN's numbers on the host and `tf.variableGrads`
 * takes a synchronous function (reading tensor data inside it would need `dataSync`, which WebGPU
 * cannot do): pass 1 runs backbone → RPN head without a tape and reads objectness and deltas (await
 * data); every target is then computed on the host; pass 2 runs the whole forward under
 * `tf.variableGrads` with those targets fixed. Both passes use batch statistics, so pass 2 sees the
 * same RPN outputs the proposals came from (torchvision also detaches the proposals).
 *
 * Glossary: see forward.ts (B, N, T, R, P), targets.ts (matching, sampling), losses.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskRcnnConfig } from '../config.ts';
import { Rng } from '../data/random.ts';
import { BoxCoder, filterProposals, gridAnchors } from '../geometry/index.ts';
import type { Size } from '../types.ts';
import { type ImageTargets, prepareBatch, type TrainSample } from './data.ts';
import {
  type BnBatchStats, type LossName, type LossTargets, featuresForward, lossForward, lossNames, totalLoss,
} from './forward.ts';
import { keypointsToHeatmap } from '../geometry/keypoints.ts';
import { type Optimizer, learningRate, type OptimizerConfig } from './optimizer.ts';
import type { TrainableMaskRcnn } from './params.ts';
import { maskTargets, roiTargets, rpnTargets } from './targets.ts';

/** The RNG stream of a step's sampling (anchors and RoIs): a function of (seed, step) only, so resuming replays it. */
export function stepRng(seed: number, step: number): Rng {
  return new Rng(seed, 0x5eed0000 + step);
}

export interface StepOptions {
  /** 0-based index of this step */
  step: number;
  totalSteps: number;
  seed: number;
  optimizer: OptimizerConfig;
  /** torch BatchNorm momentum: running ← (1 − m)·running + m·batch (0.1) */
  bnMomentum: number;
}

export interface StepResult {
  step: number;
  /** the model's losses (`lossNames(config)`) */
  losses: Partial<Record<LossName, number>>;
  total: number;
  lr: number;
  gradNorm: number;
  /** sampled RoIs and positive RoIs in the batch */
  rois: number;
  positives: number;
  ms: number;
}

export class DivergedError extends Error {
  override name = 'DivergedError';
}

/** Host-side targets of a batch from its RPN outputs (pass 1). */
export function computeTargets(
  config: MaskRcnnConfig,
  paddedSize: Size,
  imageSizes: readonly Size[],
  gt: readonly ImageTargets[],
  rpnOut: { sizes: Size[]; objectness: Float32Array[]; deltas: Float32Array[] },
  rand: Rng,
): LossTargets {
  const b = imageSizes.length;
  const levelAnchors = gridAnchors(paddedSize, rpnOut.sizes, config.anchors).anchors;
  const n = levelAnchors.reduce((s, a) => s + a.length / 4, 0);
  const allAnchors = new Float32Array(4 * n);
  let o = 0;
  for (const a of levelAnchors) {
    allAnchors.set(a, o);
    o += a.length;
  }
  const rpnCoder = new BoxCoder(config.rpn.boxCoderWeights, config.rpn.bboxXformClip);
  const boxCoder = new BoxCoder(config.roiHeads.boxCoderWeights, config.roiHeads.bboxXformClip);
  const m = 2 * config.roiHeads.maskRoiPool.outputSize;
  const t: LossTargets = {
    rpnLabels: new Float32Array(b * n),
    rpnRegression: new Float32Array(4 * b * n),
    rpnSampled: new Float32Array(b * n),
    rpnPositive: new Float32Array(b * n),
    rois: [],
    roiLabels: new Int32Array(0),
    roiRegression: new Float32Array(0),
    maskRois: [],
    maskLabels: new Int32Array(0),
    maskTargets: new Float32Array(0),
    keypointIndex: new Int32Array(0),
    keypointValid: new Float32Array(0),
  };
  const kpIndex: Int32Array[] = [];
  const kpValid: Float32Array[] = [];
  const { maskBranch, keypointBranch } = config.roiHeads;
  const kpCount = config.roiHeads.keypointPredictor.numKeypoints;
  const kpMap = 4 * config.roiHeads.keypointRoiPool.outputSize;
  const roiLabels: Int32Array[] = [];
  const roiRegression: Float32Array[] = [];
  const maskLabels: Int32Array[] = [];
  const maskTargetList: Float32Array[] = [];
  const proposalCfg = { ...config.rpn, preNmsTopN: config.rpn.train.preNmsTopN, postNmsTopN: config.rpn.train.postNmsTopN };
  for (let i = 0; i < b; i++) {
    const g = gt[i]!;
    const rpn = rpnTargets(allAnchors, g.boxes, config.rpn.train, rpnCoder, rand);
    t.rpnLabels.set(rpn.labels, i * n);
    t.rpnRegression.set(rpn.regression, 4 * i * n);
    for (const j of rpn.sampled.positive) {
      t.rpnSampled[i * n + j] = 1;
      t.rpnPositive[i * n + j] = 1;
    }
    for (const j of rpn.sampled.negative) t.rpnSampled[i * n + j] = 1;

    // This image's slice of each level: [B, h, w, A] → image i's h·w·A logits (and ·4 deltas).
    const objectness = rpnOut.objectness.map((lv, l) => {
      const per = levelAnchors[l]!.length / 4;
      return lv.subarray(i * per, (i + 1) * per);
    });
    const deltas = rpnOut.deltas.map((lv, l) => {
      const per = levelAnchors[l]!.length;
      return lv.subarray(i * per, (i + 1) * per);
    });
    const proposals = filterProposals(objectness, deltas, levelAnchors, imageSizes[i]!, proposalCfg);
    const roi = roiTargets(proposals.boxes, g.boxes, g.labels, config.roiHeads.train, boxCoder, rand);
    t.rois.push(roi.rois);
    roiLabels.push(roi.labels);
    roiRegression.push(roi.regression);

    const pos = [...roi.labels.keys()].filter((k) => roi.labels[k]! > 0);
    const posRois = new Float32Array(4 * pos.length);
    const posGt = new Int32Array(pos.length);
    const posLabels = new Int32Array(pos.length);
    pos.forEach((k, q) => {
      posRois.set(roi.rois.subarray(4 * k, 4 * k + 4), 4 * q);
      posGt[q] = roi.matchedGt[k]!;
      posLabels[q] = roi.labels[k]!;
    });
    t.maskRois.push(posRois);
    maskLabels.push(posLabels);
    if (maskBranch) maskTargetList.push(maskTargets(g.masks, posRois, posGt, m));
    if (keypointBranch) {
      if (g.keypoints === undefined || g.keypoints.length !== g.labels.length * kpCount * 3) {
        throw new Error(
          `image ${i} of the batch has ${g.keypoints === undefined ? 'no keypoints' : `${g.keypoints.length / 3} keypoint values`}; a keypoint model ` +
            `needs ${kpCount} keypoints per object (train it on the figures data: --data figures)`,
        );
      }
      // The matched gt's keypoints for each positive: P × K × 3 (torchvision gt_keypoints[matched_idxs]).
      const kp = new Float32Array(pos.length * kpCount * 3);
      posGt.forEach((gi, q) => kp.set(g.keypoints!.subarray(gi * kpCount * 3, (gi + 1) * kpCount * 3), q * kpCount * 3));
      const heat = keypointsToHeatmap(kp, posRois, kpMap);
      kpIndex.push(heat.index);
      kpValid.push(Float32Array.from(heat.valid));
    }
  }
  const cat = <T extends Float32Array | Int32Array>(parts: T[], make: (n: number) => T): T => {
    const out = make(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  t.roiLabels = cat(roiLabels, (k) => new Int32Array(k));
  t.roiRegression = cat(roiRegression, (k) => new Float32Array(k));
  t.maskLabels = cat(maskLabels, (k) => new Int32Array(k));
  t.maskTargets = cat(maskTargetList, (k) => new Float32Array(k));
  t.keypointIndex = cat(kpIndex, (k) => new Int32Array(k));
  t.keypointValid = cat(kpValid, (k) => new Float32Array(k));
  return t;
}

/** Pass 1: backbone → RPN head without a tape; the numbers the targets need. */
export async function rpnOutputs(model: TrainableMaskRcnn, input: tf.Tensor4D): Promise<{ sizes: Size[]; objectness: Float32Array[]; deltas: Float32Array[] }> {
  const f = featuresForward(model, input, { mode: 'train' });
  try {
    return {
      sizes: f.objectness.map((t) => [t.shape[1], t.shape[2]] as Size),
      objectness: await Promise.all(f.objectness.map(async (t) => (await t.data()) as Float32Array)),
      deltas: await Promise.all(f.deltas.map(async (t) => (await t.data()) as Float32Array)),
    };
  } finally {
    tf.dispose([...f.maps, ...f.objectness, ...f.deltas]);
  }
}

/** running ← (1 − m)·running + m·batch, with the unbiased batch variance (torch BatchNorm2d). */
export function updateRunningStats(stats: readonly BnBatchStats[], momentum: number): void {
  for (const s of stats) {
    tf.tidy(() => {
      const unbias = s.count > 1 ? s.count / (s.count - 1) : 1;
      s.bn.runningMean.assign(tf.add(tf.mul(s.bn.runningMean, 1 - momentum), tf.mul(s.mean, momentum)));
      s.bn.runningVar.assign(tf.add(tf.mul(s.bn.runningVar, 1 - momentum), tf.mul(s.variance, momentum * unbias)));
    });
  }
}

/** One optimizer step on a batch of samples. Throws DivergedError (weights untouched) when a loss or the gradient is not finite. */
export async function trainStep(model: TrainableMaskRcnn, optimizer: Optimizer, samples: readonly TrainSample[], options: StepOptions): Promise<StepResult> {
  const t0 = performance.now();
  const config = model.config;
  const batch = prepareBatch(samples, config.transform);
  const input = tf.tensor4d(batch.pixels, batch.shape);
  const stats: BnBatchStats[] = [];
  let grads: tf.NamedTensorMap = {};
  const parts: tf.Scalar[] = [];
  try {
    const rpnOut = await rpnOutputs(model, input);
    const targets = computeTargets(config, [batch.shape[1], batch.shape[2]], batch.imageSizes, batch.gt, rpnOut, stepRng(options.seed, options.step));
    const names = lossNames(config);
    const result = tf.variableGrads(() => {
      const losses = lossForward(model, input, batch.imageSizes, targets, { mode: 'train', stats });
      for (const name of names) parts.push(tf.keep(losses[name]!));
      return totalLoss(losses);
    }, model.trainable());
    grads = result.grads;
    const values = await Promise.all(parts.map(async (p) => (await p.data())[0]!));
    const total = (await result.value.data())[0]!;
    result.value.dispose();
    const losses = Object.fromEntries(names.map((n, i) => [n, values[i]!])) as Partial<Record<LossName, number>>;
    if (!Number.isFinite(total)) {
      throw new DivergedError(`step ${options.step}: the loss is ${total} (${JSON.stringify(losses)}); training diverged; lower --lr or raise the warm-up`);
    }
    const lr = learningRate(options.optimizer, options.step, options.totalSteps);
    const gradNorm = await optimizer.apply(grads, lr, options.step + 1);
    if (!Number.isFinite(gradNorm)) {
      throw new DivergedError(`step ${options.step}: the gradient norm is ${gradNorm}; training diverged; lower --lr or raise the warm-up`);
    }
    updateRunningStats(stats, options.bnMomentum);
    return {
      step: options.step,
      losses,
      total,
      lr,
      gradNorm,
      rois: targets.roiLabels.length,
      positives: targets.maskLabels.length,
      ms: performance.now() - t0,
    };
  } finally {
    input.dispose();
    tf.dispose(Object.values(grads));
    tf.dispose(parts);
    for (const s of stats) tf.dispose([s.mean, s.variance]);
  }
}

/**
 * The losses of a batch without training (BN in training mode, as in a step; no statistics
 * updated): the same targets and sampling as step `step` of a run seeded `seed`.
 */
export async function batchLosses(model: TrainableMaskRcnn, samples: readonly TrainSample[], seed: number, step: number): Promise<Partial<Record<LossName, number>> & { total: number }> {
  const config = model.config;
  const batch = prepareBatch(samples, config.transform);
  const input = tf.tensor4d(batch.pixels, batch.shape);
  try {
    const rpnOut = await rpnOutputs(model, input);
    const targets = computeTargets(config, [batch.shape[1], batch.shape[2]], batch.imageSizes, batch.gt, rpnOut, stepRng(seed, step));
    const losses = lossForward(model, input, batch.imageSizes, targets, { mode: 'train' });
    const total = totalLoss(losses);
    const names = lossNames(config);
    const values = await Promise.all(names.map(async (n) => (await losses[n]!.data())[0]!));
    const out = Object.fromEntries(names.map((n, i) => [n, values[i]!])) as Partial<Record<LossName, number>>;
    const t = (await total.data())[0]!;
    tf.dispose([...Object.values(losses), total]);
    return { ...out, total: t };
  } finally {
    input.dispose();
  }
}
