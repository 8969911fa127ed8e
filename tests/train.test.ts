/**
 * Training on a tiny ResNet-18-FPN and 64×64 hand-made scenes (seconds): a few steps overfit,
 * checkpoints resume to the same losses, the exported state dict loads in the engine and the engine
 * equals the training forward in eval mode, and `npm run train`'s command line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MaskRcnnSpec, toConfig } from '../src/config.ts';
import { createMaskRcnn, runMaskRcnn } from '../src/model.ts';
import { useBackend } from '../src/node/backend.ts';
import { main as trainMain } from '../src/cli/train.ts';
import { UsageError } from '../src/cli/args.ts';
import { loadWeightsFile } from '../src/cli/weights_file.ts';
import { type CheckpointFs, FILES, TrainCheckpointError, type TrainRecipe, loadTrainCheckpoint, saveCheckpoint } from '../src/train/checkpoint.ts';
import type { TrainSample } from '../src/train/data.ts';
import type { StateDict } from '../src/types.ts';
import { type LossTargets, featuresForward, lossForward, poolBatch, totalLoss } from '../src/train/forward.ts';
import { prepareBatch } from '../src/train/data.ts';
import { registerTrainingKernels } from '../src/train/kernels.ts';
import { defaultOptimizerConfig, learningRate } from '../src/train/optimizer.ts';
import { createTrainableMaskRcnn, exportStateDict, assignStateDict } from '../src/train/params.ts';
import { type TrainSession, createSession, restoreSession, runStep, sessionState } from '../src/train/recipe.ts';
import { batchLosses, computeTargets, rpnOutputs, stepRng } from '../src/train/trainer.ts';
import { boxHead } from '../src/stages/box_head.ts';
import { maskHead } from '../src/stages/mask_head.ts';
import { rng } from './support/random_weights.ts';
import { TINY_TRAIN } from './support/tiny.ts';
import type { RgbImage } from '../src/types.ts';

const config = toConfig(TINY_TRAIN);

/** A 64×64 scene: noisy background, a square (class 2), a ring (class 6) and a disc (class 1). */
function sample(seed: number): TrainSample {
  const rand = rng(seed);
  const w = 64;
  const h = 64;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = 90 + Math.floor(40 * rand());
  const shapes: { label: number; inside: (x: number, y: number) => boolean; color: number[] }[] = [];
  const sx = 4 + Math.floor(10 * rand());
  const sy = 4 + Math.floor(10 * rand());
  shapes.push({ label: 2, inside: (x, y) => x >= sx && x < sx + 18 && y >= sy && y < sy + 18, color: [220, 40, 40] });
  const rx = 40 + Math.floor(6 * rand());
  const ry = 38 + Math.floor(8 * rand());
  shapes.push({ label: 6, inside: (x, y) => { const r = Math.hypot(x + 0.5 - rx, y + 0.5 - ry); return r >= 5 && r <= 12; }, color: [40, 200, 60] });
  const cx = 12 + Math.floor(8 * rand());
  shapes.push({ label: 1, inside: (x, y) => Math.hypot(x + 0.5 - cx, y + 0.5 - 50) <= 7, color: [40, 60, 220] });
  const masks = new Uint8Array(shapes.length * w * h);
  const boxes: number[] = [];
  shapes.forEach((s, g) => {
    let x1 = w, y1 = h, x2 = 0, y2 = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!s.inside(x, y)) continue;
        masks[g * w * h + y * w + x] = 1;
        data.set(s.color, (y * w + x) * 3);
        x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x + 1); y2 = Math.max(y2, y + 1);
      }
    }
    boxes.push(x1, y1, x2, y2);
  });
  const image: RgbImage = { width: w, height: h, data };
  return { image, boxes: Float32Array.from(boxes), labels: Int32Array.from(shapes.map((s) => s.label)), masks: { count: shapes.length, height: h, width: w, data: masks } };
}

const recipe = (over: Partial<ReturnType<typeof baseRecipe>> = {}) => ({ ...baseRecipe(), ...over });
function baseRecipe() {
  return {
    steps: 20,
    batch: 2,
    seed: 3,
    optimizer: { ...defaultOptimizerConfig(), kind: 'adamw' as const, lr: 0.003, warmupSteps: 0, weightDecay: 0 },
    bnMomentum: 0.5,
    data: { firstSeed: 0, count: 1000, scene: { width: 64, height: 64 } },
  };
}

const memFs = (): CheckpointFs & { files: Map<string, Uint8Array | string> } => {
  const files = new Map<string, Uint8Array | string>();
  return {
    files,
    readFile: async (p) => {
      const f = files.get(p);
      if (f === undefined) throw new Error(`no file ${p}`);
      return typeof f === 'string' ? new TextEncoder().encode(f) : f;
    },
    writeFile: async (p, d) => void files.set(p, d),
    rename: async (a, b) => {
      files.set(b, files.get(a)!);
      files.delete(a);
    },
    exists: async (p) => files.has(p),
    mkdir: async () => {},
  };
};

const batch = [sample(1), sample(2)];

beforeAll(async () => {
  await useBackend('wasm');
  registerTrainingKernels();
});

describe('training steps', () => {
  it('runStep × 12 on two scenes decreases their loss (overfit), and leaks no tensor', async () => {
    const session = createSession(config, recipe());
    try {
      const before = await batchLosses(session.model, batch, 99, 0);
      const tensors = tf.memory().numTensors;
      const totals: number[] = [];
      for (let s = 0; s < 12; s++) totals.push((await runStep(session, batch)).total);
      expect(tf.memory().numTensors).toBe(tensors);
      const after = await batchLosses(session.model, batch, 99, 0);
      expect(after.total).toBeLessThan(0.7 * before.total);
      expect(totals.slice(-3).reduce((a, b) => a + b) / 3).toBeLessThan(totals.slice(0, 3).reduce((a, b) => a + b) / 3);
      for (const name of ['rpnObjectness', 'classifier', 'mask'] as const) expect(after[name], name).toBeLessThan(before[name]!);
    } finally {
      session.dispose();
    }
  }, 120_000);

  it('a step reports finite losses, the lr of the schedule and the RoI counts', async () => {
    const session = createSession(config, recipe({ optimizer: { ...baseRecipe().optimizer, warmupSteps: 10 } }));
    try {
      const r = await runStep(session, batch);
      expect(r.step).toBe(0);
      expect(r.lr).toBeCloseTo(0.003 * 0.001, 9);
      expect(Object.values(r.losses).every(Number.isFinite)).toBe(true);
      expect(r.positives).toBeGreaterThan(0);
      expect(r.rois).toBeLessThanOrEqual(2 * 64);
      expect(session.step).toBe(1);
    } finally {
      session.dispose();
    }
  }, 60_000);
});

describe('training on webgpu (Dawn + SwiftShader in Node)', () => {
  it('the gradients of every parameter on webgpu equal wasm’s for the same weights, batch and targets (≤ 1e-4 of the largest)', async () => {
    const grads = async (backend: 'wasm' | 'webgpu', sd: StateDict, targets: LossTargets) => {
      await useBackend(backend);
      registerTrainingKernels();
      const model = createTrainableMaskRcnn(config, { stateDict: sd });
      const prepared = prepareBatch(batch, config.transform);
      const input = tf.tensor4d(prepared.pixels, prepared.shape);
      try {
        const tensors = tf.memory().numTensors;
        const { value, grads: g } = tf.variableGrads(() => totalLoss(lossForward(model, input, prepared.imageSizes, targets, { mode: 'train' })), model.trainable());
        const out = new Map<string, Float32Array>();
        for (const p of model.params.values()) if (p.trainable) out.set(p.name, (await g[p.variable.name]!.data()) as Float32Array);
        const loss = (await value.data())[0]!;
        tf.dispose([value, ...Object.values(g)]);
        expect(tf.memory().numTensors, backend).toBe(tensors);
        return { out, loss };
      } finally {
        input.dispose();
        model.dispose();
      }
    };
    // Targets from wasm (they depend on the RPN's outputs through the proposals), then the same on both.
    const init = createTrainableMaskRcnn(config, { seed: 11 });
    const sd = await exportStateDict(init);
    const prepared = prepareBatch(batch, config.transform);
    const input = tf.tensor4d(prepared.pixels, prepared.shape);
    const targets = computeTargets(config, [prepared.shape[1], prepared.shape[2]], prepared.imageSizes, prepared.gt, await rpnOutputs(init, input), stepRng(0, 0));
    input.dispose();
    init.dispose();
    try {
      const w = await grads('wasm', sd, targets);
      const g = await grads('webgpu', sd, targets);
      expect(g.loss).toBeCloseTo(w.loss, 4);
      let worst = 0;
      for (const [name, a] of w.out) {
        const b = g.out.get(name)!;
        const scale = Math.max(1e-6, ...Array.from(a, Math.abs));
        let diff = 0;
        for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        worst = Math.max(worst, diff / scale);
        expect(diff / scale, name).toBeLessThan(1e-4);
      }
      expect(worst).toBeLessThan(1e-4); // measured 2.7e-6
    } finally {
      await useBackend('wasm');
    }
  }, 300_000);
});

describe('checkpoints', () => {
  it('save after 2 steps, resume: the next 2 steps give identical losses', async () => {
    const fs = memFs();
    const a = createSession(config, recipe());
    let b: TrainSession | undefined;
    try {
      await runStep(a, [sample(1), sample(2)]);
      await runStep(a, [sample(3), sample(4)]);
      await saveCheckpoint(fs, '/ckpt', a.model, a.optimizer, sessionState(a));
      const next = [[sample(5), sample(6)], [sample(7), sample(8)]];
      const la = [await runStep(a, next[0]), await runStep(a, next[1])];
      b = restoreSession(await loadTrainCheckpoint(fs, '/ckpt'));
      expect(b.step).toBe(2);
      const lb = [await runStep(b, next[0]), await runStep(b, next[1])];
      expect(lb.map((r) => r.losses)).toEqual(la.map((r) => r.losses));
      expect(lb.map((r) => r.total)).toEqual(la.map((r) => r.total));
    } finally {
      a.dispose();
      b?.dispose();
    }
  }, 120_000);

  it('loadTrainCheckpoint on a truncated model file says the checkpoint is corrupt', async () => {
    const fs = memFs();
    const s = createSession(config, recipe());
    try {
      await saveCheckpoint(fs, '/c', s.model, s.optimizer, sessionState(s));
    } finally {
      s.dispose();
    }
    const model = fs.files.get(`/c/${FILES.model}`) as Uint8Array;
    fs.files.set(`/c/${FILES.model}`, model.subarray(0, model.length - 100));
    await expect(loadTrainCheckpoint(fs, '/c')).rejects.toThrow(/model\.safetensors is unreadable: .*corrupt/);
  });

  it('loadTrainCheckpoint on files of different steps says the last save was interrupted', async () => {
    const fs = memFs();
    const s = createSession(config, recipe());
    try {
      await saveCheckpoint(fs, '/c', s.model, s.optimizer, sessionState(s));
      const stateText = fs.files.get(`/c/${FILES.state}`) as string;
      fs.files.set(`/c/${FILES.state}`, stateText.replace('"step": 0', '"step": 5'));
    } finally {
      s.dispose();
    }
    await expect(loadTrainCheckpoint(fs, '/c')).rejects.toThrow(TrainCheckpointError);
    await expect(loadTrainCheckpoint(fs, '/c')).rejects.toThrow(/from step 0 but state\.json says step 5: the last save was interrupted/);
  });
});

describe('the trained model in the engine', () => {
  it('exportStateDict loads with createMaskRcnn, and the engine equals the training forward in eval mode', async () => {
    const session = createSession(config, recipe());
    try {
      for (let s = 0; s < 3; s++) await runStep(session, batch);
      const sd = await exportStateDict(session.model);
      // Detections at any score, so the mask head has RoIs to compare.
      const engine = createMaskRcnn(sd, { ...TINY_TRAIN, roiHeads: { ...TINY_TRAIN.roiHeads, postprocess: { detectionsPerImg: 20, scoreThresh: 0 } } });
      const trace = await runMaskRcnn(engine, batch[0]!.image);
      try {
        const input = tf.tensor4d(Float32Array.from((await trace.dump('input')).data), [1, 3, 64, 64]);
        const nhwc = tf.transpose(input, [0, 2, 3, 1]) as tf.Tensor4D;
        const f = featuresForward(session.model, nhwc, { mode: 'eval' });
        const close = async (ours: tf.Tensor, theirs: Float32Array, what: string) => {
          const a = (await ours.data()) as Float32Array;
          expect(a.length, what).toBe(theirs.length);
          let diff = 0;
          let scale = 1e-6;
          for (let i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i]! - theirs[i]!));
            scale = Math.max(scale, Math.abs(theirs[i]!));
          }
          expect(diff / scale, what).toBeLessThan(5e-6); // measured ≤ 7.8e-7 (FrozenBN folding rounds differently)
        };
        for (let l = 0; l < 5; l++) {
          const chw = await trace.dump(l < 4 ? (`fpn_${l}` as 'fpn_0') : 'fpn_pool');
          const ours = tf.transpose(f.maps[l]!, [0, 3, 1, 2]);
          await close(ours, chw.data, `fpn level ${l}`);
          ours.dispose();
          await close(f.objectness[l]!, trace.rpn[l]!.objectness, `rpn objectness ${l}`);
          await close(f.deltas[l]!, trace.rpn[l]!.deltas, `rpn deltas ${l}`);
        }
        const size: [number, number] = trace.sizes.resized;
        const pooled = poolBatch(f.maps, [trace.proposals.boxes], [size], session.config.roiHeads.boxRoiPool);
        const box = boxHead(session.model.boxHead, pooled);
        await close(box.classLogits, trace.boxHead.classLogits, 'class logits');
        await close(box.boxRegression, trace.boxHead.boxRegression, 'box regression');
        expect(trace.detections.boxes.length).toBeGreaterThan(0);
        const maskPooled = poolBatch(f.maps, [trace.detections.boxes], [size], session.config.roiHeads.maskRoiPool);
        const masks = maskHead(session.model.maskHead!, maskPooled);
        await close(masks, trace.maskHead.maskLogits, 'mask logits');
        tf.dispose([input, nhwc, ...f.maps, ...f.objectness, ...f.deltas, pooled, box.classLogits, box.boxRegression, maskPooled, masks]);
      } finally {
        trace.dispose();
        engine.dispose();
      }
    } finally {
      session.dispose();
    }
  }, 120_000);

  it('exportStateDict then assignStateDict round-trips every tensor exactly (layout permutations invert)', async () => {
    const a = createTrainableMaskRcnn(config, { seed: 5 });
    const b = createTrainableMaskRcnn(config, { seed: 6 });
    try {
      const sd = await exportStateDict(a);
      assignStateDict(b, sd);
      const again = await exportStateDict(b);
      for (const [name, t] of sd) expect(Array.from(again.get(name)!.data), name).toEqual(Array.from(t.data));
      // torchvision layout: conv weight [out, in, kh, kw], fc6 [R, C·S·S]
      expect(sd.get('backbone.body.conv1.weight')!.shape).toEqual([8, 3, 7, 7]);
      expect(sd.get('roi_heads.box_head.fc6.weight')!.shape).toEqual([32, 16 * 7 * 7]);
      expect(sd.get('roi_heads.mask_predictor.conv5_mask.weight')!.shape).toEqual([16, 16, 2, 2]);
      // zero-init residual: the last BN γ of each block starts at 0, the others at 1
      expect(Array.from(sd.get('backbone.body.layer1.0.bn2.weight')!.data).every((v) => v === 0)).toBe(true);
      expect(Array.from(sd.get('backbone.body.layer1.0.bn1.weight')!.data).every((v) => v === 1)).toBe(true);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('npm run train (src/cli/train.ts)', () => {
  let dir: string;
  const tinyArgs = [
    '--image-size', '64', '--batch', '1', '--backbone.base-width', '8', '--fpn.out-channels', '16',
    '--roi-heads.box-head.representation-size', '32', '--roi-heads.mask-head.layers', '[16,16]', '--roi-heads.mask-predictor.dim-reduced', '16',
    '--rpn-pre-nms-top-n-train', '200', '--rpn-post-nms-top-n-train', '100', '--box-batch-size-per-image', '32', '--quiet',
  ];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'train-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('main(--out DIR --steps 2 …) trains, writes the checkpoint files and a loss line per step', async () => {
    expect(await trainMain(['--out', dir, '--steps', '2', '--save-every', '1', ...tinyArgs])).toBe(0);
    for (const f of Object.values(FILES)) expect(existsSync(join(dir, f)), f).toBe(true);
    const lines = readFileSync(join(dir, FILES.losses), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; total: number });
    expect(lines.map((l) => l.step)).toEqual([0, 1]);
    const saved = JSON.parse(readFileSync(join(dir, FILES.config), 'utf8')) as { backbone: { baseWidth: number }; numClasses: number };
    expect(saved.backbone.baseWidth).toBe(8);
    expect(saved.numClasses).toBe(7);
    // DIR is also a converted model with its config: the engine loads it with no config flags
    const loaded = await loadWeightsFile(dir);
    expect(loaded.spec).toEqual(JSON.parse(readFileSync(join(dir, FILES.config), 'utf8')));
    createMaskRcnn(loaded.stateDict, loaded.spec).dispose();
  }, 120_000);

  it('main without --resume on a directory with a checkpoint refuses, naming --resume', async () => {
    await expect(trainMain(['--out', dir, '--steps', '2', ...tinyArgs])).rejects.toThrow(/already holds a training checkpoint; pass --resume/);
  });

  it('main --resume with a changed config field or recipe flag refuses, naming the field', async () => {
    await expect(trainMain(['--out', dir, '--resume', '--fpn.out-channels', '32'])).rejects.toThrow(/config field fpn\.outChannels is 16 in the checkpoint, 32 now/);
    await expect(trainMain(['--out', dir, '--resume', '--lr', '0.5'])).rejects.toThrow(/training field optimizer\.lr is 0\.001 in the checkpoint, 0\.5 now/);
    await expect(trainMain(['--out', dir, '--resume', '--lr', '0.5'])).rejects.toThrow(UsageError);
  });

  it('main --resume --steps N changes the schedule length from the current step on, and records it; N ≤ steps done is refused', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'train-cli-steps-'));
    try {
      for (const f of Object.values(FILES)) writeFileSync(join(copy, f), readFileSync(join(dir, f)));
      await expect(trainMain(['--out', copy, '--resume', '--steps', '1', '--quiet'])).rejects.toThrow(/has already done 2 steps; give more than 2/);
      expect(await trainMain(['--out', copy, '--resume', '--steps', '3', '--quiet'])).toBe(0);
      const state = JSON.parse(readFileSync(join(copy, FILES.state), 'utf8')) as { step: number; recipe: { steps: number; scheduleChanges: unknown } };
      expect(state.step).toBe(3);
      expect(state.recipe.steps).toBe(3);
      expect(state.recipe.scheduleChanges).toEqual([{ atStep: 2, fromSteps: 2, toSteps: 3 }]);
      const lines = readFileSync(join(copy, FILES.losses), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; lr: number });
      expect(lines.map((l) => l.step)).toEqual([0, 1, 2]);
      // step 2's rate is the 3-step schedule's, not the old 2-step one's
      const recipe = state.recipe as unknown as TrainRecipe;
      expect(lines[2]!.lr).toBeCloseTo(learningRate(recipe.optimizer, 2, 3), 12);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);

  it('main --resume --stop-after N stops and saves at step N with the schedule unchanged', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'train-cli-stop-'));
    try {
      for (const f of Object.values(FILES)) writeFileSync(join(copy, f), readFileSync(join(dir, f)));
      expect(await trainMain(['--out', copy, '--resume', '--steps', '5', '--stop-after', '3', '--quiet'])).toBe(0);
      const state = JSON.parse(readFileSync(join(copy, FILES.state), 'utf8')) as { step: number; recipe: { steps: number } };
      expect(state.step).toBe(3);
      expect(state.recipe.steps).toBe(5);
      expect(await trainMain(['--out', copy, '--resume', '--stop-after', '3', '--quiet'])).toBe(0);
      expect((JSON.parse(readFileSync(join(copy, FILES.state), 'utf8')) as { step: number }).step).toBe(3);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);

  it('main --resume on a corrupt checkpoint says which file is corrupt', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'train-cli-corrupt-'));
    try {
      for (const f of Object.values(FILES)) writeFileSync(join(copy, f), readFileSync(join(dir, f)));
      writeFileSync(join(copy, FILES.optimizer), readFileSync(join(dir, FILES.optimizer)).subarray(0, 50));
      await expect(trainMain(['--out', copy, '--resume', '--quiet'])).rejects.toThrow(/optimizer\.safetensors is unreadable: .*corrupt/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('main with a bad flag value is a usage error that says what is expected', async () => {
    await expect(trainMain(['--out', dir, '--steps', '0'])).rejects.toThrow(/--steps 0: expected an integer ≥ 1/);
    await expect(trainMain(['--out', dir, '--pooler', 'roiMagic'])).rejects.toThrow(/--pooler roiMagic: expected roiAlign, roiPool or roiWarp/);
    await expect(trainMain(['--steps', '2'])).rejects.toThrow(/--out DIR is required/);
  });
});
