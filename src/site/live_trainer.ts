/**
 * Live training in the reader's browser (chapter 11): one training session of src/train (trainable
 * parameters + AdamW state + step counter) stepped on the active tfjs backend, on generated training
 * scenes, with Start / Stop / Resume.
 *
 * Glossary
 *   source     where the weights start: a model of the site (its state dict and config, e.g. the
 *              shipped default model) or a seeded random initialization of a config
 *   session    what Start creates and Resume continues: the parameters, the optimizer's buffers, the
 *              step count and how many training scenes were used. Start always begins a new one
 *              (disposing the old); Resume keeps all of it and only takes the new learning rate,
 *              batch size and number of steps
 *   run        one Start or Resume: `steps` steps, or fewer when Stop is pressed. Stop takes effect
 *              between steps: the step in flight finishes (its update is applied) and no other starts
 *   snapshot   the session's weights run through the engine (createMaskRcnn + runMaskRcnn, the same
 *              code as every other chapter) on one fixed validation scene: at step 0 and after each run
 *   scene      training scene i of a session is the generated scene of seed SCENE_SPLITS.train.first + i;
 *              a step of batch B takes the next B scenes (no scene is used twice in a session)
 *
 * The learning rate is constant (no warm-up or decay: those belong to runs of thousands of steps); the
 * rest of the optimizer is the default recipe's (AdamW, weight decay 0.01, gradient norm clipped at 10).
 *
 * Tensors: the session owns the parameters and optimizer buffers; `reset()`/`dispose()` free them.
 * A backend switch makes them unusable (tfjs cannot move WebGPU tensors), so `backendChanging()`
 * drops the session, after the step in flight when there is one. Nothing here touches the DOM.
 */
import { latestValues } from './latest.ts';
import * as tf from '@tensorflow/tfjs-core';
import type { MaskRcnnConfig } from '../config.ts';
import { SCENE_CLASSES, SCENE_SPLITS, type Scene, type SceneOptions, generateScene } from '../data/scenes.ts';
import { createMaskRcnn, runMaskRcnn } from '../model.ts';
import type { MaskRegion } from '../stages/paste.ts';
import { sceneToSample } from '../train/data.ts';
import { registerTrainingKernels } from '../train/kernels.ts';
import { Optimizer, type OptimizerConfig } from '../train/optimizer.ts';
import { type TrainableMaskRcnn, createTrainableMaskRcnn, exportStateDict } from '../train/params.ts';
import { defaultRecipe } from '../train/recipe.ts';
import { DivergedError, type StepResult, trainStep } from '../train/trainer.ts';
import type { StateDict } from '../types.ts';
import type { LossPoint } from '../viz/loss_curves.ts';

export type TrainSource =
  | { kind: 'model'; id: string; label: string; config: MaskRcnnConfig; stateDict: StateDict }
  | { kind: 'random'; label: string; config: MaskRcnnConfig; seed: number };

export interface TrainSettings {
  /** constant learning rate */
  lr: number;
  /** images per step */
  batch: number;
  /** steps this Start or Resume runs (unless stopped) */
  steps: number;
}

export type TrainerPhase = 'idle' | 'preparing' | 'running' | 'stopping' | 'validating' | 'stopped' | 'error';

/** The engine's answer on the validation scene for the weights of one step. */
export interface Snapshot {
  step: number;
  boxes: Float32Array;
  labels: Int32Array;
  scores: Float32Array;
  masks: MaskRegion[];
}

/** One finished step, as the figures and the table need it. */
export type TrainPoint = LossPoint & { lr: number; ms: number; images: number; rois: number; positives: number; gradNorm: number };

export interface TrainerState {
  phase: TrainerPhase;
  /** One line for the page. */
  message: string;
  /** 1, 2, …: a new number at every Start (Resume keeps it); 0 before the first. */
  sessionId: number;
  hasSession: boolean;
  source?: { kind: TrainSource['kind']; label: string };
  /** The tfjs backend the session lives on. */
  backend?: string;
  /** Steps completed in this session. */
  step: number;
  /** The step this run stops at (= step when not running). */
  target: number;
  /** Training scenes used so far. */
  images: number;
  points: TrainPoint[];
  /** Images per second over the last few steps, null before the first. */
  imagesPerSecond: number | null;
  /** Time left in this run, from the last few steps; null when not running. */
  etaMs: number | null;
  /** The first scene of the step in flight, or of the last one (or the first to come). */
  scene: Scene;
  /** At step 0 of the session, then after each run (the latest last). */
  snapshots: Snapshot[];
  error?: string;
}

export interface LiveTrainerOptions {
  /** Training scene options (default: the recipe's 256×256 scenes). */
  scene?: SceneOptions;
  /** Seed of the validation scene (default: the first of the validation split). */
  valSeed?: number;
  /** Run the validation snapshots (default true). */
  validate?: boolean;
  /** The active tfjs backend (default tf.getBackend()). */
  backend?: () => string;
  /** Steps whose timings give the speed and ETA (default 5). */
  window?: number;
}

export class TrainerError extends Error {
  override name = 'TrainerError';
}

interface Session {
  id: number;
  source: TrainSource;
  config: MaskRcnnConfig;
  model: TrainableMaskRcnn;
  optimizer: Optimizer;
  optimizerConfig: OptimizerConfig;
  backend: string;
  seed: number;
  step: number;
  images: number;
}

/** Whether a config can train on the scenes: its classes must be the scenes' (background + 6 shapes). */
export function sceneCompatibility(config: MaskRcnnConfig): string | null {
  if (config.numClasses !== SCENE_CLASSES.length) {
    return `it has ${config.numClasses} classes and the training scenes have ${SCENE_CLASSES.length} (background and ${SCENE_CLASSES.length - 1} shapes)`;
  }
  return null;
}

/** The optimizer of a live run: the default recipe's AdamW with a constant learning rate. */
export function liveOptimizerConfig(lr: number): OptimizerConfig {
  return { ...defaultRecipe().optimizer, lr, warmupSteps: 0, schedule: 'step', milestones: [] };
}

/** Check the settings a page passes; throws a TrainerError naming the field. */
export function checkSettings(s: TrainSettings): void {
  if (!(Number.isFinite(s.lr) && s.lr > 0 && s.lr <= 1)) throw new TrainerError(`learning rate ${s.lr}: expected a number in (0, 1], e.g. 0.001`);
  if (!(Number.isInteger(s.batch) && s.batch >= 1 && s.batch <= 16)) throw new TrainerError(`batch size ${s.batch}: expected a whole number from 1 to 16`);
  if (!(Number.isInteger(s.steps) && s.steps >= 1)) throw new TrainerError(`steps ${s.steps}: expected a whole number ≥ 1`);
}

type Listener = (s: TrainerState) => void;

export class LiveTrainer {
  private readonly sceneOptions: SceneOptions;
  private readonly valScene: Scene;
  private readonly validate: boolean;
  private readonly backendName: () => string;
  private readonly window: number;
  private session?: Session;
  private nextId = 1;
  private stopRequested = false;
  /** Drop the session once the step in flight ends (backend switch, reset, dispose during a step). */
  private dropAfterStep?: string;
  private inStep = false;
  private disposed = false;
  /** Start/Resume/snapshots run one after another. */
  private queue: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<Listener>();
  private current: TrainerState;

  constructor(options: LiveTrainerOptions = {}) {
    this.sceneOptions = options.scene ?? defaultRecipe().data.scene;
    this.valScene = generateScene(options.valSeed ?? SCENE_SPLITS.val.first, this.sceneOptions);
    this.validate = options.validate ?? true;
    this.backendName = options.backend ?? (() => tf.getBackend());
    this.window = options.window ?? 5;
    this.current = this.emptyState('idle', 'press Start to train');
  }

  /** The validation scene the snapshots run on. */
  get validationScene(): Scene {
    return this.valScene;
  }

  get state(): TrainerState {
    return this.current;
  }

  /** Training scene `index` of a session (seeds from the start of the training split). */
  trainingScene(index: number): Scene {
    return generateScene(SCENE_SPLITS.train.first + index, this.sceneOptions);
  }

  onChange(fn: Listener): () => void {
    this.listeners.add(fn);
    fn(this.current);
    return () => this.listeners.delete(fn);
  }

  /**
   * The state now and after every change, as an Observable cell's value (latest wins); with `select`,
   * only the selected part, yielded when `same` says it changed (default: `Object.is`), so a figure of
   * the snapshots is not redrawn at every step.
   */
  updates(): AsyncGenerator<TrainerState>;
  updates<T>(select: (s: TrainerState) => T, same?: (a: T, b: T) => boolean): AsyncGenerator<T>;
  updates<T>(select: (s: TrainerState) => T = (s) => s as unknown as T, same: (a: T, b: T) => boolean = Object.is): AsyncGenerator<T> {
    return latestValues((push) => this.onChange((s) => push(select(s))), () => select(this.current), { same });
  }

  /** A new session from `source`, then `settings.steps` steps. Resolves when the run ends (or is stopped). */
  start(source: TrainSource, settings: TrainSettings): Promise<void> {
    checkSettings(settings);
    const problem = sceneCompatibility(source.config);
    if (problem !== null) throw new TrainerError(`cannot train ${source.label} on the scenes: ${problem}`);
    this.stopRequested = true; // a run in flight ends after its step; this one starts after it
    return this.enqueue(async () => {
      this.stopRequested = false;
      this.dropSession();
      this.patch({ phase: 'preparing', message: `building ${source.label} on ${this.backendName()}`, error: undefined });
      await nextTask();
      registerTrainingKernels();
      const backend = this.backendName();
      const model = source.kind === 'model' ? createTrainableMaskRcnn(source.config, { stateDict: source.stateDict }) : createTrainableMaskRcnn(source.config, { seed: source.seed });
      const optimizerConfig = liveOptimizerConfig(settings.lr);
      const optimizer = new Optimizer(optimizerConfig, [...model.params.values()].filter((p) => p.trainable));
      const s: Session = { id: this.nextId++, source, config: source.config, model, optimizer, optimizerConfig, backend, seed: source.kind === 'random' ? source.seed : 0, step: 0, images: 0 };
      this.session = s;
      this.current = { ...this.emptyState('preparing', 'validation scene at step 0'), sessionId: s.id, hasSession: true, source: { kind: source.kind, label: source.label }, backend };
      this.emit();
      if (!(await this.snapshot(s))) return;
      await this.run(s, settings);
    });
  }

  /** Continue the session (same parameters, optimizer state and step count) for `settings.steps` steps. */
  resume(settings: TrainSettings): Promise<void> {
    checkSettings(settings);
    if (this.session === undefined) throw new TrainerError('there is no training session to resume: press Start');
    return this.enqueue(async () => {
      const s = this.session;
      if (s === undefined) return;
      this.stopRequested = false;
      await this.run(s, settings);
    });
  }

  /** Stop after the step in flight (no effect when not running). */
  stop(): void {
    if (this.current.phase !== 'running' && this.current.phase !== 'preparing') return;
    this.stopRequested = true;
    this.patch({ phase: 'stopping', message: `stopping after step ${this.current.step + 1}` });
  }

  /**
   * The backend is about to change (the page's engine session said so): the session's tensors
   * cannot follow, so it is dropped, after the step in flight if there is one.
   */
  backendChanging(): void {
    if (this.session === undefined) return;
    const why = 'the backend changed, so the training session was disposed (its tensors cannot move to another backend); press Start';
    this.stopRequested = true;
    if (this.inStep) this.dropAfterStep = why;
    else this.dropSession(why);
  }

  /** Dispose the session (its tensors) and forget its curve; after the step in flight when one is running. */
  reset(message = 'press Start to train'): void {
    this.stopRequested = true;
    if (this.inStep) this.dropAfterStep = message;
    else this.dropSession(message);
  }

  /** Reset and stop listening: the page is going away. */
  dispose(): void {
    this.reset('disposed');
    this.disposed = true;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => {});
    return next;
  }

  private emptyState(phase: TrainerPhase, message: string): TrainerState {
    return {
      phase,
      message,
      sessionId: 0,
      hasSession: false,
      step: 0,
      target: 0,
      images: 0,
      points: [],
      imagesPerSecond: null,
      etaMs: null,
      scene: this.trainingScene(0),
      snapshots: [],
    };
  }

  private patch(p: Partial<TrainerState>): void {
    this.current = { ...this.current, ...p };
    this.emit();
  }

  private emit(): void {
    if (this.disposed) return;
    for (const fn of this.listeners) fn(this.current);
  }

  private dropSession(message?: string): void {
    const s = this.session;
    this.session = undefined;
    this.dropAfterStep = undefined;
    if (s !== undefined) {
      s.optimizer.dispose();
      s.model.dispose();
    }
    if (message !== undefined) this.current = this.emptyState('idle', message);
    if (s !== undefined || message !== undefined) this.emit();
  }

  /** Speed and ETA from the last few steps. */
  private speed(points: readonly TrainPoint[], target: number, step: number): { imagesPerSecond: number | null; etaMs: number | null } {
    const recent = points.slice(-this.window);
    if (recent.length === 0) return { imagesPerSecond: null, etaMs: null };
    const ms = recent.reduce((a, p) => a + p.ms, 0);
    const images = recent.reduce((a, p) => a + p.images, 0);
    return { imagesPerSecond: ms > 0 ? (1000 * images) / ms : null, etaMs: Math.max(0, target - step) * (ms / recent.length) };
  }

  private async run(s: Session, settings: TrainSettings): Promise<void> {
    const target = s.step + settings.steps;
    const first = s.step;
    const optimizer = { ...s.optimizerConfig, lr: settings.lr };
    this.patch({ phase: 'running', message: `training: step ${s.step + 1} of ${target}`, target, error: undefined, etaMs: this.speed(this.current.points, target, s.step).etaMs });
    try {
      while (s.step < target) {
        if (this.stopRequested || this.session !== s || this.disposed) break;
        if (this.backendName() !== s.backend) {
          this.dropSession('the backend changed, so the training session was disposed (its tensors cannot move to another backend); press Start');
          return;
        }
        const t0 = performance.now();
        const scenes = Array.from({ length: settings.batch }, (_, j) => this.trainingScene(s.images + j));
        this.patch({ scene: scenes[0]!, message: `training: step ${s.step + 1} of ${target}` });
        let r: StepResult;
        this.inStep = true;
        try {
          r = await trainStep(s.model, s.optimizer, scenes.map(sceneToSample), { step: s.step, totalSteps: target, seed: s.seed, optimizer, bnMomentum: defaultRecipe().bnMomentum });
        } finally {
          this.inStep = false;
        }
        if (this.dropAfterStep !== undefined) {
          this.dropSession(this.dropAfterStep);
          return;
        }
        s.step++;
        s.images += settings.batch;
        const point: TrainPoint = { step: r.step, ...r.losses, total: r.total, lr: r.lr, ms: performance.now() - t0, images: settings.batch, rois: r.rois, positives: r.positives, gradNorm: r.gradNorm };
        const points = [...this.current.points, point];
        this.patch({ step: s.step, images: s.images, points, ...this.speed(points, target, s.step), message: s.step < target && !this.stopRequested ? `training: step ${s.step + 1} of ${target}` : `step ${s.step} done` });
        await nextTask(); // let the page paint between steps
      }
    } catch (e) {
      if (this.dropAfterStep !== undefined) {
        this.dropSession(this.dropAfterStep);
        return;
      }
      if (this.session !== s) return;
      const message = (e as Error).message ?? String(e);
      const hint = e instanceof DivergedError ? ' The weights were not changed: lower the learning rate and press Resume.' : '';
      this.patch({ phase: 'error', error: `${message}${hint}`, message: `stopped by an error at step ${s.step + 1}`, target: s.step, etaMs: null });
      return;
    }
    if (this.session !== s) return;
    if (s.step === first) {
      this.patch({ phase: 'stopped', message: `stopped at step ${s.step}: press Resume to continue this session, or Start for a new one`, target: s.step, etaMs: null });
      return;
    }
    this.patch({ phase: 'validating', message: `step ${s.step}: validation scene`, target: s.step, etaMs: null });
    if (!(await this.snapshot(s))) return;
    this.patch({ phase: 'stopped', message: `${this.stopRequested ? 'stopped' : 'done'} at step ${s.step}: press Resume to continue this session, or Start for a new one` });
  }

  /** Run the session's weights on the validation scene; false when the session went away meanwhile. */
  private async snapshot(s: Session): Promise<boolean> {
    if (!this.validate) return this.session === s;
    let out: Snapshot | undefined;
    try {
      const stateDict = await exportStateDict(s.model);
      if (this.session !== s) return false;
      const model = createMaskRcnn(stateDict, s.config);
      try {
        const trace = await runMaskRcnn(model, this.valScene.image);
        const r = trace.result;
        out = { step: s.step, boxes: r.boxes.slice(), labels: r.labels.slice(), scores: r.scores.slice(), masks: r.masks.map((m) => ({ ...m, data: m.data.slice() })) };
        trace.dispose();
      } finally {
        model.dispose();
      }
    } catch (e) {
      if (this.session !== s) return false;
      this.patch({ phase: 'error', error: `the validation run failed: ${(e as Error).message}`, message: 'stopped by an error' });
      return false;
    }
    if (this.session !== s) return false;
    const snapshots = this.current.snapshots.filter((x) => x.step !== out!.step);
    this.patch({ snapshots: [...snapshots, out] });
    return true;
  }
}

/** Yield to the event loop (a macrotask: the page paints and handles clicks). */
function nextTask(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
