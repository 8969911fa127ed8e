/**
 * Several models at once, beside the page's session (chapter 12). The session keeps its one model
 * (the status bar's); this runner holds the other pooler models, built with `createMaskRcnn` from
 * their state dicts on the backend the session made active, and runs them one at a time on the
 * page's scenes. A backend switch (the session's) is noticed before the next run: the models are
 * disposed and built again on the new backend. `dispose()` frees everything (the page leaving).
 *
 * Runs are serialized (one in flight; the rest wait their turn in order), and a run whose `signal`
 * was aborted while it waited is skipped, so a reader moving the seed fast does not pile up runs.
 *
 * Glossary
 *   weights     a model's plain-data state dict and spec (`LoadedWeights`), fetched once per page
 *   built       the tensors of a model on one backend (`MaskRcnn`)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Scene } from '../data/scenes.ts';
import { type MaskRcnn, type Trace, createMaskRcnn, runMaskRcnn } from '../model.ts';
import type { RgbImage } from '../types.ts';
import type { ScenePanel } from '../viz/ablation.ts';
import {
  type DetectionSet, type EvalReportData, LiveEvaluation, POOLER_NAMES, type PoolerModelEntry, detectionsOf, groundTruthOf, sceneOf, scoreScene,
  seedOfImageId,
} from './ablation_view.ts';
import type { LoadedWeights } from './models.ts';

export type ModelPhase = 'waiting' | 'loading' | 'ready' | 'error';

export interface ModelStatus {
  id: string;
  phase: ModelPhase;
  loaded?: number;
  total?: number;
  error?: string;
}

export interface RunnerOptions {
  /** Fetch a model's weights (the site: `loadIndexedModel` of its index entry), reporting bytes. */
  load: (id: string, onProgress: (loaded: number, total: number) => void) => Promise<LoadedWeights>;
  /** The backend runs must use (the session's, e.g. `() => tf.getBackend()`). */
  backend?: () => string;
  /** Resolves when the session is not switching backends (runs wait for it). */
  settled?: () => Promise<void>;
}

/** Resolves in a new task (after the browser has had a chance to paint and handle input). */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export class AbortedError extends Error {
  override name = 'AbortedError';
}

export class AblationRunner {
  private readonly weights = new Map<string, Promise<LoadedWeights>>();
  private readonly built = new Map<string, MaskRcnn>();
  private builtOn: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly status = new Map<string, ModelStatus>();
  private readonly listeners = new Set<(s: ModelStatus[]) => void>();
  private disposed = false;

  constructor(
    readonly entries: readonly PoolerModelEntry[],
    private readonly options: RunnerOptions,
  ) {
    for (const e of entries) this.status.set(e.id, { id: e.id, phase: 'waiting' });
  }

  /** Use weights the page already has (the session's model) instead of fetching them again. */
  offer(weights: LoadedWeights): void {
    if (this.entries.some((e) => e.id === weights.info.id) && !this.weights.has(weights.info.id)) {
      this.weights.set(weights.info.id, Promise.resolve(weights));
      this.setStatus({ id: weights.info.id, phase: 'ready' });
    }
  }

  /** Each model's loading state now and on every change; returns the unsubscribe. */
  onStatus(fn: (s: ModelStatus[]) => void): () => void {
    this.listeners.add(fn);
    fn([...this.status.values()]);
    return () => this.listeners.delete(fn);
  }

  private setStatus(s: ModelStatus): void {
    this.status.set(s.id, s);
    const all = [...this.status.values()];
    for (const fn of this.listeners) fn(all);
  }

  /** The weights of model `id` (fetched once). */
  loadWeights(id: string): Promise<LoadedWeights> {
    let w = this.weights.get(id);
    if (w === undefined) {
      this.setStatus({ id, phase: 'loading', loaded: 0, total: 1 });
      w = this.options.load(id, (loaded, total) => this.setStatus({ id, phase: 'loading', loaded, total })).then(
        (x) => {
          this.setStatus({ id, phase: 'ready' });
          return x;
        },
        (e: unknown) => {
          this.weights.delete(id);
          this.setStatus({ id, phase: 'error', error: (e as Error).message });
          throw e;
        },
      );
      this.weights.set(id, w);
    }
    return w;
  }

  private backend(): string {
    return this.options.backend?.() ?? tf.getBackend();
  }

  /** Model `id` built on the current backend (all rebuilt after a backend switch). */
  private async model(id: string): Promise<MaskRcnn> {
    const weights = await this.loadWeights(id);
    if (this.disposed) throw new AbortedError('the page left');
    const backend = this.backend();
    if (this.builtOn !== backend) this.disposeModels();
    let m = this.built.get(id);
    if (m === undefined) {
      m = createMaskRcnn(weights.stateDict, weights.spec);
      this.built.set(id, m);
      this.builtOn = backend;
    }
    return m;
  }

  /** Run `fn` after every run queued before it (one at a time). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Model `id` on `image`: its detections as plain data (the trace is disposed). Throws AbortedError
   * when `signal` was aborted before the run's turn came.
   */
  run(id: string, image: RgbImage, signal?: AbortSignal): Promise<DetectionSet> {
    return this.serial(async () => {
      if (signal?.aborted || this.disposed) throw new AbortedError('superseded');
      // On wasm and cpu a run is one long chain of microtasks: give the browser a turn before each, or the page
      // would not paint (progress, "running…") nor handle a click (Cancel) until a whole evaluation is over.
      await nextTask();
      await this.options.settled?.();
      if (signal?.aborted || this.disposed) throw new AbortedError('superseded');
      const backend = this.backend();
      try {
        return await this.runOnce(id, image);
      } catch (e) {
        // The session switched backends in the middle of the run: build again and retry once.
        if (this.backend() === backend || e instanceof AbortedError) throw e;
        await this.options.settled?.();
        return this.runOnce(id, image);
      }
    });
  }

  private async runOnce(id: string, image: RgbImage): Promise<DetectionSet> {
    const model = await this.model(id);
    const trace = await runMaskRcnn(model, image);
    try {
      return detectionsOf(trace);
    } finally {
      trace.dispose();
    }
  }

  /**
   * Box and mask AP of each model on the scenes of `seeds`, computed here with src/eval. `onProgress`
   * gets (runs done, runs in all) after each run; an aborted `signal` stops between runs (AbortedError).
   */
  async evaluate(ids: readonly string[], seeds: readonly number[], options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<Map<string, EvalReportData>> {
    const live = new LiveEvaluation();
    const total = ids.length * seeds.length;
    let done = 0;
    options.onProgress?.(0, total);
    for (const seed of seeds) {
      const scene = sceneOf(seed);
      live.addScene(scene);
      for (const id of ids) {
        if (options.signal?.aborted) throw new AbortedError('cancelled');
        const dets = await this.run(id, scene.image, options.signal);
        live.addDetections(id, seed, dets, scene.image.height, scene.image.width);
        options.onProgress?.(++done, total);
      }
    }
    return new Map(ids.map((id) => [id, live.evaluate(id)]));
  }

  private disposeModels(): void {
    for (const m of this.built.values()) m.dispose();
    this.built.clear();
    this.builtOn = undefined;
  }

  /** Free every tensor this runner made, once the run in flight (if any) is over; no run starts after this. */
  dispose(): Promise<void> {
    this.disposed = true;
    this.listeners.clear();
    return this.queue.then(() => this.disposeModels());
  }
}

/** What the scene panels need of a session run (a `RunView`). */
export interface SessionRun {
  trace: Trace;
  model: { id: string };
  image: { id: string };
  /** The session's run number (RunView.seq), passed through to the state. */
  seq?: number;
}

/** The scene of a session run and every pooler model's detections on it, as far as they have run. */
export interface ScenePanelsState {
  seed: number;
  /** The session run this state belongs to (its `seq`; 0 when not given). */
  seq: number;
  scene: Scene;
  panels: ScenePanel[];
  /** All models have run (or failed). */
  done: boolean;
}

/**
 * The panels of the scene the session just ran: the session's own model (when it is one of
 * `entries`) from its trace, the others run by `runner`, one after the other. Yields the state after
 * each model (the first yield before any runner run), so the page can draw as results come in.
 */
export async function* scenePanelsFor(
  run: SessionRun, entries: readonly PoolerModelEntry[], runner: Pick<AblationRunner, 'run'>, signal?: AbortSignal,
): AsyncGenerator<ScenePanelsState> {
  const seed = seedOfImageId(run.image.id);
  if (seed === null) throw new Error(`the session ran ${run.image.id}, not a validation scene; reload the page`);
  const scene = sceneOf(seed);
  const gt = groundTruthOf(scene);
  const panels: ScenePanel[] = entries.map((e) => ({ id: e.id, title: `${POOLER_NAMES[e.pooler]} model`, pooler: e.pooler, status: 'waiting to run…' }));
  const fill = (i: number, detections: DetectionSet) => {
    panels[i] = { ...panels[i]!, detections, score: scoreScene(detections, gt), status: undefined };
  };
  entries.forEach((e, i) => {
    if (e.id === run.model.id) fill(i, detectionsOf(run.trace));
  });
  const state = (): ScenePanelsState => ({ seed, seq: run.seq ?? 0, scene, panels: [...panels], done: panels.every((p) => p.status === undefined || p.status.startsWith('failed')) });
  yield state();
  for (const [i, e] of entries.entries()) {
    if (panels[i]!.detections !== undefined) continue;
    panels[i] = { ...panels[i]!, status: 'running…' };
    yield state();
    try {
      fill(i, await runner.run(e.id, scene.image, signal));
    } catch (err) {
      if (err instanceof AbortedError) return;
      panels[i] = { ...panels[i]!, status: `failed: ${(err as Error).message}` };
    }
    yield state();
  }
}
