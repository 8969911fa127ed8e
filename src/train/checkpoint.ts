/**
 * Resumable training checkpoints: a directory with
 *   model.safetensors      the torchvision state dict (running statistics included): what the engine
 *                          loads, `createMaskRcnn(readCheckpoint(bytes), config)`
 *   optimizer.safetensors  the optimizer buffers, `<param>.<buffer>` in torchvision's layout
 *   config.json            the model config (pass it to the engine with the weights)
 *   model.json + weights-*.bin  the same weights converted (src/weights/shards.ts) with the config
 *                          inside: `npm run infer|eval -- --weights DIR` needs no config flags
 *   state.json             step, model config, training recipe, elapsed time: the commit point
 *   loss.jsonl             one line of losses per step (written by the CLI)
 * Files are written to `*.tmp` and renamed, state.json last; both safetensors carry the step in their
 * metadata, so a save interrupted between renames is detected on load instead of mixing steps.
 *
 * Glossary
 *   recipe     everything besides the model config that determines a run: steps, batch, seed,
 *              optimizer, BN momentum, data (seed range and scene options). Resuming with another
 *              recipe or config would not continue the same run: it is refused, naming the field.
 */
import type { MaskRcnnConfig } from '../config.ts';
import type { SceneOptions } from '../data/scenes.ts';
import type { FiguresOptions } from '../data/figures.ts';
import type { NamedTensor, StateDict } from '../types.ts';
import { MANIFEST_FILE, readSafetensors, writeSafetensors, writeShards } from '../weights/index.ts';
import type { Optimizer, OptimizerConfig } from './optimizer.ts';
import { type TrainableMaskRcnn, exportStateDict, permutationOf, toOurs, toTorch } from './params.ts';
import * as tf from '@tensorflow/tfjs-core';

export const CHECKPOINT_FORMAT = 'mask-rcnn-lab/train-checkpoint';
export const CHECKPOINT_VERSION = 1;

export const FILES = {
  model: 'model.safetensors',
  optimizer: 'optimizer.safetensors',
  config: 'config.json',
  state: 'state.json',
  losses: 'loss.jsonl',
} as const;

/** The synthetic data sets a model trains on. */
export type DataKind = 'scenes' | 'figures';

export interface TrainRecipe {
  steps: number;
  batch: number;
  seed: number;
  optimizer: OptimizerConfig;
  bnMomentum: number;
  /**
   * The training images: `kind` 'scenes' (src/data/scenes.ts, the default when absent) or 'figures'
   * (src/data/figures.ts: stick people with keypoints, for a keypoint model), seeds firstSeed …
   * firstSeed + count − 1, generated with `scene` options.
   */
  data: { kind?: DataKind; firstSeed: number; count: number; scene: SceneOptions | FiguresOptions };
  /** Each `--resume --steps N` that changed the schedule's length: at which step, from and to. */
  scheduleChanges?: { atStep: number; fromSteps: number; toSteps: number }[];
}

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** steps completed: the next step to run */
  step: number;
  config: MaskRcnnConfig;
  recipe: TrainRecipe;
  /** training time so far, ms */
  elapsedMs: number;
}

export class TrainCheckpointError extends Error {
  override name = 'TrainCheckpointError';
}

/** Minimal file access, so that the checkpoint code does not depend on Node (Node's fs in the CLI and tests). */
export interface CheckpointFs {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  mkdir(path: string): Promise<void>;
}

const join = (dir: string, name: string) => `${dir.replace(/\/+$/, '')}/${name}`;

/** Every leaf of a plain object as a dotted path (arrays are leaves). */
export function leaves(v: unknown, prefix = ''): string[] {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    return Object.entries(v).flatMap(([k, x]) => leaves(x, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

/** The value at a dotted path of a plain object. */
export function valueAt(v: unknown, path: string): unknown {
  let node = v;
  for (const key of path.split('.')) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

/** Write every file of a checkpoint at `state.step` (atomic per file; state.json last). */
export async function saveCheckpoint(fs: CheckpointFs, dir: string, model: TrainableMaskRcnn, optimizer: Optimizer, state: CheckpointState): Promise<void> {
  await fs.mkdir(dir);
  const meta = { format: CHECKPOINT_FORMAT, step: String(state.step) };
  const stateDict = await exportStateDict(model);
  const buffers: StateDict = new Map();
  for (const [name, perParam] of optimizer.state) {
    const p = model.params.get(name);
    if (p === undefined) throw new TrainCheckpointError(`internal: optimizer state for unknown parameter ${name}`);
    const perm = permutationOf(p, model.config);
    for (const [buffer, v] of perParam) {
      buffers.set(`${name}.${buffer}`, { shape: p.torchShape.slice(), dtype: 'float32', data: toTorch((await v.data()) as Float32Array, perm) });
    }
  }
  const converted = writeShards(stateDict, { config: state.config });
  const files: [string, Uint8Array | string][] = [
    [FILES.model, writeSafetensors(stateDict, meta)],
    ...converted.shards.map((bytes, i) => [converted.manifest.shards[i]!.file, bytes] as [string, Uint8Array]),
    [MANIFEST_FILE, `${JSON.stringify(converted.manifest)}\n`],
    [FILES.optimizer, writeSafetensors(buffers, { ...meta, kind: optimizer.cfg.kind })],
    [FILES.config, `${JSON.stringify(state.config, null, 2)}\n`],
    [FILES.state, `${JSON.stringify(state, null, 2)}\n`],
  ];
  for (const [name, data] of files) await fs.writeFile(join(dir, `${name}.tmp`), data);
  for (const [name] of files) await fs.rename(join(dir, `${name}.tmp`), join(dir, name));
}

export interface LoadedTrainCheckpoint {
  state: CheckpointState;
  stateDict: StateDict;
  /** `<param>.<buffer>` → tensor, torchvision layout */
  optimizer: StateDict;
}

/** True when `dir` holds a checkpoint (its state.json). */
export async function hasCheckpoint(fs: CheckpointFs, dir: string): Promise<boolean> {
  return fs.exists(join(dir, FILES.state));
}

function parseState(text: string, path: string): CheckpointState {
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new TrainCheckpointError(`${path} is not valid JSON (${(e as Error).message}); the checkpoint is corrupt: delete the directory to start over`);
  }
  const st = s as Partial<CheckpointState>;
  if (st.format !== CHECKPOINT_FORMAT || typeof st.step !== 'number' || !Number.isInteger(st.step) || st.step < 0 || typeof st.config !== 'object' || typeof st.recipe !== 'object') {
    throw new TrainCheckpointError(`${path} is not a ${CHECKPOINT_FORMAT} state (expected format, step, config, recipe); the checkpoint is corrupt or from another tool`);
  }
  if (st.version !== CHECKPOINT_VERSION) {
    throw new TrainCheckpointError(`${path} has version ${st.version}; this trainer reads version ${CHECKPOINT_VERSION}`);
  }
  return st as CheckpointState;
}

/** Read a checkpoint directory; every inconsistency is a TrainCheckpointError that says what to do. */
export async function loadTrainCheckpoint(fs: CheckpointFs, dir: string): Promise<LoadedTrainCheckpoint> {
  const statePath = join(dir, FILES.state);
  const state = parseState(new TextDecoder().decode(await fs.readFile(statePath)), statePath);
  const read = async (name: string) => {
    const path = join(dir, name);
    if (!(await fs.exists(path))) throw new TrainCheckpointError(`${path} is missing; the checkpoint at step ${state.step} is incomplete: delete ${dir} to start over`);
    let file;
    try {
      file = readSafetensors(await fs.readFile(path));
    } catch (e) {
      throw new TrainCheckpointError(`${path} is unreadable: ${(e as Error).message}; the checkpoint is corrupt: delete ${dir} to start over`);
    }
    const step = Number(file.metadata?.['step']);
    if (step !== state.step) {
      throw new TrainCheckpointError(
        `${path} is from step ${file.metadata?.['step'] ?? '?'} but ${FILES.state} says step ${state.step}: the last save was interrupted; delete ${dir} to start over`,
      );
    }
    return file.stateDict;
  };
  return { state, stateDict: await read(FILES.model), optimizer: await read(FILES.optimizer) };
}

/** Put saved optimizer buffers into an optimizer built for the same parameters. */
export function restoreOptimizer(optimizer: Optimizer, model: TrainableMaskRcnn, saved: StateDict): void {
  for (const [name, perParam] of optimizer.state) {
    const p = model.params.get(name)!;
    const perm = permutationOf(p, model.config);
    for (const [buffer, v] of perParam) {
      const key = `${name}.${buffer}`;
      const t: NamedTensor | undefined = saved.get(key);
      if (t === undefined) throw new TrainCheckpointError(`optimizer state has no ${key}; it was saved by another optimizer or model`);
      if (t.data.length !== v.size) throw new TrainCheckpointError(`optimizer state ${key} holds ${t.data.length} values; expected ${v.size}`);
      tf.tidy(() => v.assign(tf.tensor(toOurs(t.data, perm), v.shape, 'float32')));
    }
  }
}
