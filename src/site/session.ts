/**
 * The engine session of a page: one backend, one model, one image, the parameters the reader set,
 * and the trace of the last run.
 *
 * Readers move sliders faster than a model runs, so requests are *desired state*, not a queue:
 * `request({...})` records what the page wants and wakes the runner, which first yields to the page
 * (requests of the same moment merge; the status paints). At most one run is in flight;
 * whatever was requested meanwhile is merged into one pending state, run next. A run that finishes
 * after a newer request is *superseded*: it is not shown, but it becomes the base the next run
 * re-runs from (its upstream tensors are shared, so nothing is recomputed twice), and the trace it
 * replaces is disposed. A parameter change calls `rerunMaskRcnn`, which recomputes only the stages
 * downstream of the first affected one; a new image, model or backend runs the whole model.
 *
 * Tensor lifetime: the session owns the model, the shown trace and the base trace, and disposes
 * each exactly once (a backend switch disposes them all first: tfjs cannot move WebGPU tensors).
 */
import { latestValues } from './latest.ts';
import { ConfigError, type MaskRcnnConfig, type MaskRcnnSpec, mergeSpecs, toConfig } from '../config.ts';
import { type MaskRcnn, type StageName, type Trace, createMaskRcnn, firstAffectedStage, rerunMaskRcnn, runMaskRcnn } from '../model.ts';
import type { RgbImage } from '../types.ts';
import type { BackendChoice, BackendRequest } from './backend.ts';
import type { LoadedWeights, ModelInfo } from './models.ts';

export interface ImageInput {
  /** Stable key (`sample:chelsea`, `file:cat.png`): a run is re-used only for the same key. */
  id: string;
  /** What the page calls it. */
  label: string;
  image: RgbImage;
}

/** What the page wants. */
export interface Desired {
  backend: BackendRequest;
  weights?: LoadedWeights;
  image?: ImageInput;
  /** Parameters relative to the model's base config (e.g. `{transform: {minSize: 640}}`). */
  spec: MaskRcnnSpec;
}

/** One shown run: what the figures draw. */
export interface RunView {
  trace: Trace;
  model: ModelInfo;
  backend: BackendChoice;
  image: ImageInput;
  /** Stages computed by this run, in order; the others were reused. */
  computed: StageName[];
  /** ms per computed stage. */
  timings: Partial<Record<StageName, number>>;
  /** Wall time of the run, including superseded runs folded into it. */
  totalMs: number;
  /** 1, 2, …: increases with every shown run. */
  seq: number;
}

export type Phase = 'starting' | 'backend' | 'loading' | 'building' | 'running' | 'idle' | 'error';

export interface SessionStatus {
  phase: Phase;
  /** One line for the status bar. */
  message: string;
  /** Bytes of weights loaded so far, while `phase === 'loading'`. */
  progress?: { loaded: number; total: number };
  backend?: BackendChoice;
  model?: ModelInfo;
  /** The last error, shown on the page until the next successful run. */
  error?: string;
  /** A run is in flight, or one is pending. */
  busy: boolean;
  last?: RunView;
  /** Runs started and runs superseded since the page loaded (for the curious, and the tests). */
  runs: number;
  superseded: number;
}

type Listener<T> = (value: T) => void;

interface Base {
  trace: Trace;
  weights: LoadedWeights;
  image: ImageInput;
}

export interface SessionOptions {
  /** Make a tfjs backend active for a request (the site's `chooseBackend`; tests pass their own). */
  chooseBackend: (request: BackendRequest) => Promise<BackendChoice>;
  /**
   * After a run failed on WebGPU: the reason its device was lost, if it is (or is within a moment:
   * a read from a lost device can fail before `device.lost` resolves), else undefined.
   */
  gpuLostReason?: () => Promise<string | undefined>;
}

const GPU_LABELS: Record<string, string> = { webgpu: 'WebGPU', webgl: 'WebGL' };

export class EngineSession {
  constructor(private readonly options: SessionOptions) {}

  private desired: Desired = { backend: 'auto', spec: {} };
  private dirty = false;
  private running = false;
  private backend?: BackendChoice;
  /** Set when a GPU backend failed during a run: the reason the status bar gives for the fallback. */
  private fallbackNote?: string;
  /** Set when the GPU device was lost while a run was in flight: that run is not shown, the loop falls back. */
  private lostNote?: string;
  /** The GPU backend the session fell back from (until the reader picks a backend). */
  private fellBackFrom?: 'webgpu' | 'webgl';
  private weights?: LoadedWeights;
  private model?: MaskRcnn;
  private shown?: RunView;
  private base?: Base;
  private seq = 0;
  private status: SessionStatus = { phase: 'starting', message: 'starting', busy: false, runs: 0, superseded: 0 };
  private readonly statusListeners = new Set<Listener<SessionStatus>>();
  private readonly runListeners = new Set<Listener<RunView>>();
  private idleWaiters: Array<() => void> = [];

  private readonly weightsListeners = new Set<Listener<LoadedWeights>>();

  /** Record what the page wants; runs (once) what is needed to get there. */
  request(changes: Partial<Desired>): void {
    const newWeights = changes.weights !== undefined && changes.weights !== this.desired.weights;
    if (changes.backend !== undefined) {
      this.fallbackNote = undefined;
      this.fellBackFrom = undefined;
    }
    this.desired = { ...this.desired, ...changes };
    if (newWeights) for (const fn of this.weightsListeners) fn(changes.weights!);
    this.dirty = true;
    if (!this.running) void this.loop();
    else this.setStatus({ busy: true });
  }

  /** Set the parameters of one part of the page (merged with the other parts' by key). */
  private parts = new Map<string, MaskRcnnSpec>();
  setParams(part: string, spec: MaskRcnnSpec): void {
    this.parts.set(part, spec);
    let all: MaskRcnnSpec = {};
    for (const s of this.parts.values()) all = mergeSpecs(all, s);
    this.request({ spec: all });
  }

  get current(): RunView | undefined {
    return this.shown;
  }

  get state(): SessionStatus {
    return this.status;
  }

  /** The model's base config merged with the page's parameters (throws ConfigError on a bad value). */
  configFor(desired: Desired = this.desired): MaskRcnnConfig | undefined {
    return desired.weights ? toConfig(mergeSpecs(desired.weights.spec, desired.spec)) : undefined;
  }

  onStatus(fn: Listener<SessionStatus>): () => void {
    this.statusListeners.add(fn);
    fn(this.status);
    return () => this.statusListeners.delete(fn);
  }

  onRun(fn: Listener<RunView>): () => void {
    this.runListeners.add(fn);
    if (this.shown) fn(this.shown);
    return () => this.runListeners.delete(fn);
  }

  /** The shown run now (if any) and every later one: an Observable cell's value. */
  runs(): AsyncGenerator<RunView> {
    return latestValues<RunView | undefined>((push) => this.onRun(push), () => this.shown, { ready: (v) => v !== undefined }) as AsyncGenerator<RunView>;
  }


  /** The requested weights now (if any) and each time a different model is requested: a cell's value. */
  weightsChanges(): AsyncGenerator<LoadedWeights> {
    const subscribe = (push: (w: LoadedWeights) => void) => {
      this.weightsListeners.add(push);
      return () => this.weightsListeners.delete(push);
    };
    return latestValues<LoadedWeights | undefined>(subscribe, () => this.desired.weights, { ready: (w) => w !== undefined }) as AsyncGenerator<LoadedWeights>;
  }


  /** Resolves when nothing is running or pending. */
  idle(): Promise<void> {
    if (!this.running && !this.dirty) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private setStatus(patch: Partial<SessionStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.statusListeners) fn(this.status);
  }

  private async loop(): Promise<void> {
    this.running = true;
    let foldedMs = 0;
    try {
      while (this.dirty) {
        // Yield to the page first: it paints the status, and requests already queued (a slider's
        // events, held back by a run on wasm that kept the thread) merge into this run.
        await new Promise((r) => setTimeout(r, 0));
        this.dirty = false;
        const want = this.desired;
        const t0 = performance.now();
        try {
          const run = await this.step(want);
          if (this.lostNote !== undefined) {
            // The device went away under this run: whatever it computed is not to be trusted.
            this.fallBack(this.lostNote);
            continue;
          }
          const ms = performance.now() - t0;
          // A step that went through clears the error of an earlier one.
          if (this.status.phase === 'error') this.setStatus({ phase: 'idle', error: undefined, message: this.idleMessage() });
          if (run === undefined) continue;
          if (this.dirty) {
            // Superseded: keep it as the base for the next run, don't show it.
            foldedMs += ms;
            this.setStatus({ superseded: this.status.superseded + 1 });
            continue;
          }
          this.publish(run, want, foldedMs + ms);
          foldedMs = 0;
        } catch (e) {
          await this.handleFailure(e, want);
        }
      }
    } finally {
      this.running = false;
      if (this.status.phase !== 'error') this.setStatus({ phase: 'idle', busy: false, message: this.idleMessage() });
      else this.setStatus({ busy: false });
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private idleMessage(): string {
    const last = this.shown;
    if (!this.desired.weights) return 'no model loaded';
    if (!last) return this.desired.image ? 'ready' : 'pick an image';
    return `ran in ${Math.round(last.totalMs)} ms`;
  }

  private async handleFailure(e: unknown, want: Desired): Promise<void> {
    const message = (e as Error).message ?? String(e);
    const backend = this.backend?.backend;
    if (!(e instanceof ConfigError) && (backend === 'webgpu' || backend === 'webgl') && this.desired.weights && this.desired.image) {
      // A GPU backend failed mid-run (device lost, out of memory, a driver bug): fall back to wasm and say so.
      const lost = backend === 'webgpu' && this.lostNote === undefined ? await this.options.gpuLostReason?.() : undefined;
      const failed = `${GPU_LABELS[backend]} failed during a run (${message}); fell back to wasm`;
      this.fallBack(this.lostNote ?? (lost !== undefined ? this.lostMessage(backend, lost) : failed));
      return;
    }
    void want;
    this.setStatus({ phase: 'error', error: message, message: 'stopped by an error (below)' });
  }

  private lostMessage(backend: 'webgpu' | 'webgl', reason: string, duringRun = true): string {
    return `the ${GPU_LABELS[backend]} device was lost${duringRun ? ' during a run' : ''} (${reason}); fell back to wasm`;
  }

  /** Drop everything on the GPU backend and go on on wasm; `note` is the reason the status bar gives. */
  private fallBack(note: string): void {
    const from = this.backend?.backend;
    this.fellBackFrom = from === 'webgpu' || from === 'webgl' ? from : undefined;
    this.fallbackNote = note;
    this.lostNote = undefined;
    console.warn(`[session] ${note}`);
    this.disposeAll();
    this.desired = { ...this.desired, backend: 'wasm' };
    this.dirty = true;
  }

  /**
   * The GPU device of the backend in use is lost (its `device.lost` resolved). A run in flight is
   * not shown (it may fail, or finish with what a dead device gave); either way the session falls
   * back to wasm, re-runs what was shown, and says why. When idle, it falls back at once.
   */
  gpuLost(reason: string): void {
    if (this.fellBackFrom !== undefined && this.desired.backend === 'wasm') {
      // A failed run got there first (a read from a lost device fails before `device.lost` resolves,
      // the more so while the GPU is busy): the fallback stands; give the real reason.
      this.fallbackNote = this.lostMessage(this.fellBackFrom, reason);
      if (this.backend?.requested === 'wasm') {
        this.backend = { ...this.backend, reason: this.fallbackNote };
        this.setStatus({ backend: this.backend });
      }
      return;
    }
    const backend = this.backend?.backend;
    if (backend !== 'webgpu' && backend !== 'webgl') return;
    const note = this.lostMessage(backend, reason, this.running);
    if (this.running) {
      this.lostNote = note;
      return;
    }
    this.fallBack(note);
    void this.loop();
  }

  /** Bring backend, model and trace to `want`; returns the new trace's base, or undefined when nothing ran. */
  private async step(want: Desired): Promise<Base | undefined> {
    if (this.backend === undefined || this.backend.requested !== want.backend) {
      this.disposeAll();
      this.setStatus({ phase: 'backend', message: 'starting the backend', busy: true });
      const choice = await this.options.chooseBackend(want.backend);
      if (this.fallbackNote && want.backend === 'wasm') choice.reason = this.fallbackNote;
      this.backend = choice;
      this.setStatus({ backend: choice });
    }
    if (want.weights === undefined) return undefined;
    if (this.model === undefined || this.weights !== want.weights) {
      this.disposeAll();
      this.setStatus({ phase: 'building', message: `uploading ${want.weights.info.label} to ${this.backend.backend}`, busy: true, model: want.weights.info });
      this.model = createMaskRcnn(want.weights.stateDict, want.weights.spec);
      this.weights = want.weights;
    }
    if (want.image === undefined) return undefined;
    const model = this.model;
    const config = toConfig(mergeSpecs(want.weights.spec, want.spec));
    // Throws a ConfigError when a parameter would change the network's shape (not a re-run).
    firstAffectedStage(model.config, config);
    const base = this.base;
    const sameInput = base !== undefined && base.weights === want.weights && base.image.id === want.image.id;
    if (sameInput && firstAffectedStage(base.trace.config, config) === null) {
      // Nothing changed since the base: show it (it may be a superseded run's).
      return base === this.shownBase() ? undefined : base;
    }
    this.setStatus({ phase: 'running', message: sameInput ? 're-running' : 'running', busy: true, error: undefined, runs: this.status.runs + 1 });
    const trace = sameInput
      ? await rerunMaskRcnn(model, base.trace, config)
      : await runMaskRcnn({ config, nets: model.nets, dispose: () => {} }, want.image.image);
    const next: Base = { trace, weights: want.weights, image: want.image };
    // The old base is no longer needed unless it is on screen.
    if (base !== undefined && base.trace !== this.shown?.trace) base.trace.dispose();
    this.base = next;
    return next;
  }

  private shownBase(): Base | undefined {
    return this.shown && this.base?.trace === this.shown.trace ? this.base : undefined;
  }

  private publish(run: Base, want: Desired, totalMs: number): void {
    const old = this.shown;
    const view: RunView = {
      trace: run.trace,
      model: run.weights.info,
      backend: this.backend!,
      image: run.image,
      computed: [...run.trace.computed],
      timings: { ...run.trace.timings },
      totalMs,
      seq: ++this.seq,
    };
    this.shown = view;
    if (old !== undefined && old.trace !== run.trace && old.trace !== this.base?.trace) old.trace.dispose();
    void want;
    this.setStatus({ phase: 'idle', busy: this.dirty, error: undefined, last: view, message: `ran in ${Math.round(totalMs)} ms` });
    for (const fn of this.runListeners) fn(view);
  }

  /** Dispose every tensor the session owns (before a backend switch or a new model). */
  private disposeAll(): void {
    const traces = new Set<Trace>();
    if (this.shown) traces.add(this.shown.trace);
    if (this.base) traces.add(this.base.trace);
    for (const t of traces) t.dispose();
    this.shown = undefined;
    this.base = undefined;
    this.model?.dispose();
    this.model = undefined;
    this.weights = undefined;
  }

  /** Dispose everything (page unload, tests). */
  dispose(): void {
    this.disposeAll();
  }

  /** Report loading progress (the page loads weights; the session shows it). */
  reportLoading(message: string, progress?: { loaded: number; total: number }): void {
    this.setStatus({ phase: 'loading', message, progress, busy: true });
  }

  reportError(message: string): void {
    this.setStatus({ phase: 'error', error: message, message: 'stopped by an error (below)', busy: this.running });
  }
}
