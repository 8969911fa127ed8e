/**
 * `npm run train -- --out DIR [--steps N] [--batch B] [--lr X] [--seed S] [--resume]
 *                   [--pooler roiAlign|roiPool|roiWarp] [--backend wasm|cpu] [config fields]`
 *
 * Trains the small Mask R-CNN (src/train/recipe.ts) on synthetic scenes generated on the fly from
 * the train seed range, and keeps a resumable checkpoint in DIR (model.safetensors is a torchvision
 * state dict the engine loads with DIR/config.json; DIR/model.json is the same model converted, with
 * its config: `npm run eval -- --weights DIR …`). Progress goes to stderr: one line rewritten in
 * place on a terminal, else a line every --log-every steps; every step's losses go to DIR/loss.jsonl.
 * Ctrl-C finishes the current step, saves, and exits with status 130.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type MaskRcnnSpec, type Pooler, deepMerge, mergeSpecs } from '../config.ts';
import { parseSeedRange } from '../data/scenes.ts';
import { type Backend, useBackend } from '../node/backend.ts';
import {
  type CheckpointFs, type DataKind, FILES, type TrainRecipe, hasCheckpoint, leaves, loadTrainCheckpoint, saveCheckpoint, valueAt,
} from '../train/checkpoint.ts';
import type { LossName } from '../train/forward.ts';
import { registerTrainingKernels } from '../train/kernels.ts';
import { type TrainSession, createSession, defaultRecipe, restoreSession, runStep, sessionState, trainConfig } from '../train/recipe.ts';
import type { StepResult } from '../train/trainer.ts';
import { UsageError, parseArgs } from './args.ts';

const USAGE = `usage: npm run train -- --out DIR [--steps N] [--batch B] [--lr X] [--seed S] [--resume]
                     [--optimizer sgd|adamw] [--pooler roiAlign|roiPool|roiWarp] [--data scenes|figures] [--backend wasm|cpu]
                     [--image-size 256] [--train-seeds A-B] [--warmup N] [--weight-decay X] [--clip-norm X]
                     [--save-every N] [--log-every N] [--stop-after N] [config fields]
  --out DIR          checkpoint directory (model.safetensors, optimizer.safetensors, config.json, state.json, loss.jsonl)
  --steps N          optimizer steps (default 3000)        --batch B   images per step (default 2)
  --optimizer NAME   adamw (default: lr 0.001, weight decay 0.01) or sgd (momentum 0.9: lr 0.02, weight decay 1e-4)
  --lr X             peak learning rate
  --seed S           weight init and sampling seed (default 0)
  --resume           continue the checkpoint in DIR (flags given must match it; --steps N may change
                     the schedule's length from the current step on, recorded in state.json)
  --stop-after N     save and stop after step N, schedule unchanged (continue later with --resume)
  --pooler NAME      RoI pooler of every head: roiAlign (default), roiPool or roiWarp
  --data NAME        scenes (default: shapes, a Mask R-CNN) or figures (stick people with 14 keypoints:
                     a Mask R-CNN with the keypoint branch of the paper's section 5, src/train/recipe.ts)
  --backend NAME     tfjs backend: wasm (default) or cpu
  --image-size N     scene width and height, and the transform's min/max size (default 256)
  --train-seeds A-B  scene seed range (default the whole train split 0-999999, see src/data/scenes.ts)
config fields: torchvision keywords or dotted config paths over the small model of src/train/recipe.ts
(e.g. --backbone.base-width 32 --fpn.out-channels 96)`;

const OWN_FLAGS = {
  out: true, steps: true, batch: true, lr: true, seed: true, resume: false, optimizer: true, pooler: true, data: true, backend: true,
  imageSize: true, trainSeeds: true, warmup: true, weightDecay: true, clipNorm: true, saveEvery: true, logEvery: true, stopAfter: true,
  quiet: false, help: false,
};

const nodeFs: CheckpointFs = {
  readFile: async (p) => new Uint8Array(readFileSync(p)),
  writeFile: async (p, d) => writeFileSync(p, d),
  rename: async (a, b) => renameSync(a, b),
  exists: async (p) => existsSync(p),
  mkdir: async (p) => void mkdirSync(p, { recursive: true }),
};

function number(flags: Map<string, string>, name: string, check: (v: number) => boolean, expected: string): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!check(v)) throw new UsageError(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${raw}: expected ${expected}`);
  return v;
}
const positiveInt = (v: number) => Number.isInteger(v) && v >= 1;
const nonNegative = (v: number) => Number.isFinite(v) && v >= 0;

/** The recipe fields and config spec the command line asks for (only what was given). */
function requested(flags: Map<string, string>, spec: MaskRcnnSpec): { recipe: Record<string, unknown>; spec: MaskRcnnSpec; imageSize: number | undefined; data: DataKind } {
  const recipe: Record<string, unknown> = {};
  const set = (path: string, v: unknown) => {
    if (v === undefined) return;
    const keys = path.split('.');
    let node = recipe;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]!] = v;
  };
  set('steps', number(flags, 'steps', positiveInt, 'an integer ≥ 1'));
  set('batch', number(flags, 'batch', positiveInt, 'an integer ≥ 1'));
  set('seed', number(flags, 'seed', (v) => Number.isSafeInteger(v) && v >= 0, 'an integer ≥ 0'));
  set('optimizer.lr', number(flags, 'lr', (v) => Number.isFinite(v) && v > 0, 'a number > 0'));
  set('optimizer.warmupSteps', number(flags, 'warmup', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'));
  set('optimizer.weightDecay', number(flags, 'weightDecay', nonNegative, 'a number ≥ 0'));
  set('optimizer.clipNorm', number(flags, 'clipNorm', nonNegative, 'a number ≥ 0 (0 = off)'));
  const opt = flags.get('optimizer');
  if (opt !== undefined && opt !== 'sgd' && opt !== 'adamw') throw new UsageError(`--optimizer ${opt}: expected sgd or adamw`);
  set('optimizer.kind', opt);
  const seeds = flags.get('trainSeeds');
  if (seeds !== undefined) {
    let r;
    try {
      r = parseSeedRange(seeds);
    } catch (e) {
      throw new UsageError(`--train-seeds: ${(e as Error).message}`);
    }
    set('data.firstSeed', r.first);
    set('data.count', r.last - r.first + 1);
  }
  const imageSize = number(flags, 'imageSize', (v) => Number.isInteger(v) && v >= 32, 'an integer ≥ 32');
  if (imageSize !== undefined) set('data.scene', { width: imageSize, height: imageSize });
  const data = flags.get('data');
  if (data !== undefined && data !== 'scenes' && data !== 'figures') throw new UsageError(`--data ${data}: expected scenes or figures`);
  if (data === 'figures') set('data.kind', 'figures');
  let out = spec;
  const pooler = flags.get('pooler');
  if (pooler !== undefined) {
    if (!['roiAlign', 'roiPool', 'roiWarp'].includes(pooler)) throw new UsageError(`--pooler ${pooler}: expected roiAlign, roiPool or roiWarp`);
    const p = { pooler: pooler as Pooler };
    out = mergeSpecs(out, { roiHeads: { boxRoiPool: p, maskRoiPool: p, ...(data === 'figures' ? { keypointRoiPool: p } : {}) } });
  }
  if (imageSize !== undefined) out = mergeSpecs({ transform: { minSize: imageSize, maxSize: imageSize } }, out);
  return { recipe, spec: out, imageSize, data: data === 'figures' ? 'figures' : 'scenes' };
}

/**
 * The session with a new total step count (`--steps N` on `--resume`): the schedule (warm-up, cosine
 * or step decay) is recomputed for N from the current step on; steps already done keep the
 * learning rates they had. Each change is recorded in the recipe's `scheduleChanges`.
 */
function withScheduleLength(session: TrainSession, steps: number, dir: string): TrainSession {
  if (steps <= session.step) {
    session.dispose();
    throw new UsageError(`--resume --steps ${steps}: ${dir} has already done ${session.step} steps; give more than ${session.step}, or drop --steps to keep ${session.recipe.steps}`);
  }
  const changes = [...(session.recipe.scheduleChanges ?? []), { atStep: session.step, fromSteps: session.recipe.steps, toSteps: steps }];
  return Object.assign(session, { recipe: { ...session.recipe, steps, scheduleChanges: changes } });
}

/** Refuse a resume whose command line asks for another config or recipe than the checkpoint's. */
function checkResume(dir: string, saved: { config: object; recipe: TrainRecipe }, want: { recipe: Record<string, unknown>; spec: MaskRcnnSpec }): void {
  const changed: string[] = [];
  for (const path of leaves(want.spec)) {
    const now = valueAt(want.spec, path);
    const was = valueAt(saved.config, path);
    if (JSON.stringify(now) !== JSON.stringify(was)) changed.push(`config field ${path} is ${JSON.stringify(was)} in the checkpoint, ${JSON.stringify(now)} now`);
  }
  for (const path of leaves(want.recipe)) {
    if (path === 'steps') continue; // a new schedule length is allowed (resumeSteps)
    const now = valueAt(want.recipe, path);
    const was = valueAt(saved.recipe, path);
    if (JSON.stringify(now) !== JSON.stringify(was)) changed.push(`training field ${path} is ${JSON.stringify(was)} in the checkpoint, ${JSON.stringify(now)} now`);
  }
  if (changed.length > 0) {
    throw new UsageError(
      `--resume: ${changed.join('; ')}. A resumed run keeps the checkpoint's settings: drop ${changed.length > 1 ? 'those flags' : 'that flag'} to continue ${dir}, or train into a new --out`,
    );
  }
}

const fmtTime = (ms: number) => {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/** The progress line: step, mean losses over the window, lr, speed, ETA. */
export function progressLine(window: readonly StepResult[], step: number, steps: number, batch: number): string {
  const mean = (f: (r: StepResult) => number) => window.reduce((s, r) => s + f(r), 0) / Math.max(window.length, 1);
  const ms = mean((r) => r.ms);
  const l = (n: LossName) => mean((r) => r.losses[n] ?? 0).toFixed(3);
  const has = (n: LossName) => window.length > 0 && window[0]!.losses[n] !== undefined;
  const last = window[window.length - 1];
  return (
    `step ${step}/${steps}  loss ${mean((r) => r.total).toFixed(3)} ` +
    `(rpn ${l('rpnObjectness')}+${l('rpnBox')} cls ${l('classifier')} box ${l('boxReg')}${has('mask') ? ` mask ${l('mask')}` : ''}${has('keypoint') ? ` kp ${l('keypoint')}` : ''})  ` +
    `lr ${last ? last.lr.toPrecision(3) : '-'}  ${((1000 * batch) / ms).toFixed(2)} img/s  ETA ${fmtTime((steps - step) * ms)}`
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  const { flags, spec } = parseArgs(argv, OWN_FLAGS);
  if (flags.has('help')) {
    console.log(USAGE);
    return 0;
  }
  const dir = flags.get('out');
  if (!dir) throw new UsageError(`--out DIR is required\n${USAGE}`);
  const backend = (flags.get('backend') ?? 'wasm') as Backend;
  if (!['wasm', 'cpu'].includes(backend)) throw new UsageError(`--backend ${backend}: expected wasm or cpu (WebGPU training runs in the browser)`);
  const saveEvery = number(flags, 'saveEvery', positiveInt, 'an integer ≥ 1') ?? 100;
  const logEvery = number(flags, 'logEvery', positiveInt, 'an integer ≥ 1') ?? 10;
  const stopAfter = number(flags, 'stopAfter', positiveInt, 'an integer ≥ 1');
  const quiet = flags.has('quiet');
  const want = requested(flags, spec);
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };

  const exists = await hasCheckpoint(nodeFs, dir);
  if (exists && !flags.has('resume')) {
    throw new UsageError(`${dir} already holds a training checkpoint; pass --resume to continue it, or choose another --out`);
  }
  await useBackend(backend);
  registerTrainingKernels();

  let session: TrainSession;
  if (exists) {
    const saved = await loadTrainCheckpoint(nodeFs, dir);
    checkResume(dir, saved.state, want);
    session = restoreSession(saved);
    const steps = want.recipe['steps'] as number | undefined;
    if (steps !== undefined && steps !== session.recipe.steps) {
      session = withScheduleLength(session, steps, dir);
      log(`[train] --steps ${steps}: the schedule was ${saved.state.recipe.steps} steps; the learning rate follows the ${steps}-step schedule from step ${session.step} on (recorded in state.json as scheduleChanges)`);
    }
    log(`[train] resuming ${dir} at step ${session.step}/${session.recipe.steps}`);
    // Steps logged after the checkpoint are redone (identically): drop their lines.
    const lossPath = join(dir, FILES.losses);
    if (existsSync(lossPath)) {
      const kept = readFileSync(lossPath, 'utf8').split('\n').filter((line) => line.trim() !== '' && (JSON.parse(line) as { step: number }).step < session.step);
      writeFileSync(lossPath, kept.map((l) => `${l}\n`).join(''));
    }
  } else {
    if (flags.has('resume')) log(`[train] --resume: no checkpoint in ${dir} yet, starting from step 0`);
    let config;
    try {
      config = trainConfig(want.spec, want.imageSize, want.data);
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
    const base = defaultRecipe(want.imageSize, (want.recipe['optimizer'] as { kind?: 'sgd' | 'adamw' } | undefined)?.kind, want.data);
    const recipe = deepMerge(base, want.recipe) as TrainRecipe;
    session = createSession(config, recipe);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, FILES.losses), '');
    log(`[train] new run in ${dir}: ${recipe.steps} steps × ${recipe.batch} images, ${recipe.optimizer.kind} lr ${recipe.optimizer.lr}, ` +
      `ResNet-${config.backbone.depth} width ${config.backbone.baseWidth}, FPN ${config.fpn.outChannels}, ${config.roiHeads.boxRoiPool.pooler}` +
      `${config.roiHeads.keypointBranch ? `, keypoint head ${config.roiHeads.keypointHead.layers.length} × ${config.roiHeads.keypointHead.layers[0]} → ${config.roiHeads.keypointPredictor.numKeypoints} keypoints` : ''}, ${want.data}`);
  }
  log(`[train] backend ${tf.getBackend()}; checkpoint every ${saveEvery} steps; Ctrl-C saves and stops`);

  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('\n[train] stopping after this step (Ctrl-C again to abort without saving)\n');
  };
  process.on('SIGINT', onSigint);
  const tty = process.stderr.isTTY === true && !quiet;
  const window: StepResult[] = [];
  const save = async () => {
    await saveCheckpoint(nodeFs, dir, session.model, session.optimizer, sessionState(session));
  };
  try {
    const { steps, batch } = session.recipe;
    const last = Math.min(steps, stopAfter ?? steps);
    if (stopAfter !== undefined && stopAfter <= session.step) log(`[train] --stop-after ${stopAfter}: already at step ${session.step}, nothing to do`);
    while (session.step < last && !stopping) {
      const r = await runStep(session);
      appendFileSync(join(dir, FILES.losses), `${JSON.stringify({ step: r.step, ...r.losses, total: r.total, lr: r.lr, gradNorm: r.gradNorm, rois: r.rois, positives: r.positives, ms: Math.round(r.ms) })}\n`);
      window.push(r);
      if (window.length > logEvery) window.shift();
      const line = progressLine(window, session.step, steps, batch);
      if (tty) process.stderr.write(`\r${line}\x1b[K`);
      else if (session.step % logEvery === 0 || session.step === steps) log(line);
      if (session.step % saveEvery === 0 || session.step === last) await save();
    }
    if (stopping && session.step % saveEvery !== 0) await save();
    if (tty) process.stderr.write('\n');
    log(`[train] ${stopping ? 'stopped' : session.step < steps ? `paused (--stop-after ${stopAfter})` : 'done'} at step ${session.step}; weights in ${join(dir, FILES.model)} (config ${join(dir, FILES.config)}); ` +
      `evaluate with: npm run eval -- --weights ${dir} --seeds 1000000-1000499`);
    return stopping ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    session.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const err = e as Error;
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
