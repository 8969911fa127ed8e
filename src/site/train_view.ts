/**
 * Chapter 11's page logic around the live trainer (live_trainer.ts): the source of the weights (the
 * model in use, or a seeded random init), the learning-rate control, the Start / Stop / Resume / Reset
 * panel with its step, speed and ETA, the backend gate (WebGL has no gradients for the RoI kernels),
 * the shipped model's logged losses, and the figures' data (loss series, before/after snapshots).
 *
 * Nothing here imports the site's backend or app modules (they pull in the wasm binaries): the page
 * passes `site()` pieces in, so the same functions run in the unit tests' jsdom.
 */
import { latestValues } from './latest.ts';
import { toConfig } from '../config.ts';
import { SCENE_CLASSES, type Scene } from '../data/scenes.ts';
import { trainConfig } from '../train/recipe.ts';
import type { BackendChoice } from './backend.ts';
import type { LoadedWeights } from './models.ts';
import type { EngineSession, ImageInput } from './session.ts';
import { type LiveTrainer, type Snapshot, type TrainSettings, type TrainSource, type TrainerState, TrainerError, sceneCompatibility } from './live_trainer.ts';
import { getNumberParam, getParam, setParams } from './url_state.ts';
import { type LossLevel, type LossPoint, type LossSeries, finalLevels, parseLossLog } from '../viz/loss_curves.ts';
import type { GroundTruthData } from '../viz/ground_truth.ts';
import type { DetectionsData } from '../viz/detections.ts';
import { el, svgRoot } from '../viz/svg.ts';

export type InitChoice = 'model' | 'random';
export const INIT_CHOICES: readonly InitChoice[] = ['model', 'random'];
/** The seed of the random initialization (the recipe's). */
export const RANDOM_SEED = 0;

/** Backends that can train: WebGL has no backward kernels for RoIAlign/RoIPool (kernels/roi_grad.ts). */
export const TRAINING_BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;

const BACKEND_NAMES: Record<string, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WebAssembly (wasm)', cpu: 'plain JavaScript (cpu)' };

/** The starting learning rate for each choice: fine-tuning a trained model wants a smaller step than training from scratch. */
export function defaultLr(init: InitChoice): number {
  return init === 'model' ? 1e-4 : 1e-3;
}

/** Why training can't run on this backend, or null when it can. */
export function backendProblem(backend: string | undefined): string | null {
  if (backend === undefined) return 'the backend is still starting';
  if ((TRAINING_BACKENDS as readonly string[]).includes(backend)) return null;
  return `training needs WebGPU or WebAssembly: the ${BACKEND_NAMES[backend] ?? backend} backend in use has no gradient for the RoIAlign kernel`;
}

export interface SourceChoice {
  source?: TrainSource;
  /** Why the choice can't train (no model yet, the wrong classes). */
  problem?: string;
  /** Label index → name, for the figures. */
  classNames: readonly string[];
}

/** The weights training starts from: the model in use (if it fits the scenes) or a seeded random init of the recipe's model. */
export function trainSource(init: InitChoice, weights: LoadedWeights | null): SourceChoice {
  if (init === 'random') {
    return { source: { kind: 'random', label: `a random initialization (seed ${RANDOM_SEED})`, config: trainConfig(), seed: RANDOM_SEED }, classNames: SCENE_CLASSES };
  }
  if (weights === null) return { problem: 'no model is loaded yet (see the status bar)', classNames: SCENE_CLASSES };
  const config = toConfig(weights.spec);
  const problem = sceneCompatibility(config);
  if (problem !== null) {
    return { problem: `the model in use, ${weights.info.label}, cannot train on the scenes: ${problem}. Pick the default model in the status bar, or start from a random initialization.`, classNames: weights.info.classNames };
  }
  return { source: { kind: 'model', id: weights.info.id, label: weights.info.label, config, stateDict: weights.stateDict }, classNames: weights.info.classNames };
}

/** The requested weights now (null until the first) and every later model: a cell's value. */
export async function* weightsOrNull(session: EngineSession): AsyncGenerator<LoadedWeights | null> {
  yield null;
  yield* session.weightsChanges();
}

/** The backend the page's session runs on, now and whenever it changes (undefined while it starts). */
export function backendChanges(session: EngineSession): AsyncGenerator<BackendChoice | undefined> {
  return latestValues<BackendChoice | undefined>(
    (push) => session.onStatus((s) => push(s.phase === 'backend' ? undefined : s.backend)),
    () => session.state.backend,
    { same: (a, b) => a?.backend === b?.backend && a?.reason === b?.reason },
  );
}

/** Drop the trainer's session when the page's session switches backend; returns the unsubscribe. */
export function bindBackendSwitch(trainer: LiveTrainer, session: EngineSession): () => void {
  return session.onStatus((s) => {
    if (s.phase === 'backend') trainer.backendChanging();
  });
}

/** A validation scene as the engine session's image. */
export function sceneImage(scene: Scene, what = 'validation scene'): ImageInput {
  return { id: `scene:${scene.seed}`, label: `${what} ${scene.seed}`, image: scene.image };
}

export function sceneTruth(scene: Scene, classNames: readonly string[]): GroundTruthData {
  return { image: scene.image, instances: scene.instances, classNames };
}

export function snapshotDetections(snapshot: Snapshot, scene: Scene, classNames: readonly string[]): DetectionsData {
  return { image: scene.image, boxes: snapshot.boxes, labels: snapshot.labels, scores: snapshot.scores, masks: snapshot.masks, classNames };
}

/** Detections shown in a figure: score ≥ `minScore`, at most `max` (the engine's are sorted by score); `total` counts them all. */
export function confidentDetections(d: DetectionsData, minScore = 0.3, max = 20): DetectionsData & { total: number; minScore: number } {
  let n = 0;
  while (n < d.scores.length && n < max && d.scores[n]! >= minScore) n++;
  return { ...d, boxes: d.boxes.slice(0, 4 * n), labels: d.labels.slice(0, n), scores: d.scores.slice(0, n), masks: d.masks.slice(0, n), total: d.scores.length, minScore };
}

/** "3 detections with score ≥ 0.3 (of 100)" */
export function detectionCount(d: { labels: ArrayLike<number>; total: number; minScore: number }): string {
  return `${d.labels.length} detection${d.labels.length === 1 ? '' : 's'} with score ≥ ${d.minScore} (of ${d.total})`;
}

/** Which image of training the scene figure shows, in words. */
export function sceneRole(s: Pick<TrainerState, 'phase' | 'hasSession'>): string {
  if (s.phase === 'running' || s.phase === 'stopping') return 'the first image of the step being computed';
  return s.hasSession ? 'the first image of the last step' : 'the first image the first step will see';
}

// ---- controls ----------------------------------------------------------------------------------

export interface NumberParamElement extends HTMLFormElement {
  value: number;
}

/**
 * A labelled number box bound to `?key=` (like controls.ts's rangeParam): its value changes, with an
 * `input` event, only on a valid entry in [min, max]; an invalid one leaves the value and says why.
 */
export function numberParam(key: string, extent: [number, number], options: { label: string; value: number; help?: string }): NumberParamElement {
  const form = document.createElement('form') as unknown as NumberParamElement;
  form.className = 'number-param';
  form.addEventListener('submit', (e) => e.preventDefault());
  const id = `number-${key}-${Math.random().toString(36).slice(2, 8)}`;
  const label = form.appendChild(document.createElement('label'));
  label.htmlFor = id;
  label.textContent = options.label;
  const input = form.appendChild(document.createElement('input'));
  input.id = id;
  input.type = 'number';
  input.name = key;
  input.min = String(extent[0]);
  input.max = String(extent[1]);
  input.step = 'any';
  input.dataset['param'] = key;
  const message = form.appendChild(document.createElement('div'));
  message.className = 'control-help';
  message.id = `${id}-help`;
  input.setAttribute('aria-describedby', message.id);
  const help = options.help ?? '';
  message.textContent = help;
  form.value = getNumberParam(key, extent[0], extent[1], options.value);
  input.value = String(form.value);
  // The inner input's own events would reach view() before the value is checked.
  input.addEventListener('input', (e) => {
    e.stopPropagation();
    const v = input.value.trim() === '' ? Number.NaN : Number(input.value);
    if (!(Number.isFinite(v) && v >= extent[0] && v <= extent[1])) {
      message.textContent = `expected a number from ${extent[0]} to ${extent[1]}; still using ${form.value}`;
      message.classList.add('error');
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    message.textContent = help;
    message.classList.remove('error');
    input.removeAttribute('aria-invalid');
    if (v === form.value) return;
    form.value = v;
    setParams({ [key]: v === options.value ? null : v });
    form.dispatchEvent(new Event('input', { bubbles: true }));
  });
  return form;
}

/** The init choice from `?init=` (model or random). */
export function initFromUrl(): InitChoice {
  const v = getParam('init');
  return v === 'random' ? 'random' : 'model';
}

// ---- the panel ---------------------------------------------------------------------------------

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** "step 12 · 1.3 images/s · about 40 s left" */
export function progressLine(s: TrainerState): string {
  const parts = [`step ${s.step}`];
  if (s.imagesPerSecond !== null) parts.push(`${s.imagesPerSecond.toFixed(s.imagesPerSecond < 10 ? 2 : 1)} images/s`);
  if (s.etaMs !== null && (s.phase === 'running' || s.phase === 'stopping')) parts.push(`about ${formatDuration(s.etaMs)} left of ${s.target} steps`);
  const last = s.points[s.points.length - 1];
  if (last !== undefined && last.total !== undefined) parts.push(`last loss ${last.total.toFixed(3)}`);
  return parts.join(' · ');
}

export interface PanelOptions {
  trainer: LiveTrainer;
  choice: SourceChoice;
  settings: TrainSettings;
  /** The backend in use (undefined while it starts). */
  backend: string | undefined;
  /** Switch the page's backend (the status bar's switch). */
  useBackend: (backend: 'webgpu' | 'wasm') => void;
}

export interface TrainPanel extends HTMLElement {
  /** Stop listening to the trainer (the cell is recomputed or the page goes away). */
  dispose(): void;
}

/** Start / Stop / Resume / Reset, the step, speed and ETA, and why training can't run when it can't. */
export function trainPanel(options: PanelOptions): TrainPanel {
  const { trainer, choice, settings, backend } = options;
  const root = document.createElement('div') as unknown as TrainPanel;
  root.className = 'train-panel';
  const gate = backendProblem(backend);
  const problem = gate ?? choice.problem ?? null;

  if (gate !== null && backend !== undefined) {
    const note = root.appendChild(document.createElement('p'));
    note.className = 'train-gate';
    note.setAttribute('role', 'alert');
    note.textContent = `${gate[0]!.toUpperCase()}${gate.slice(1)}: its backward pass is written for WebGPU and the CPU (wasm) only. Switch the backend to train here:`;
    const row = root.appendChild(document.createElement('div'));
    row.className = 'train-buttons';
    for (const b of ['webgpu', 'wasm'] as const) {
      const btn = row.appendChild(document.createElement('button'));
      btn.type = 'button';
      btn.textContent = `Use ${BACKEND_NAMES[b]}`;
      btn.dataset['useBackend'] = b;
      btn.addEventListener('click', () => options.useBackend(b));
    }
  }

  const buttons = root.appendChild(document.createElement('div'));
  buttons.className = 'train-buttons';
  buttons.setAttribute('role', 'group');
  buttons.setAttribute('aria-label', 'Training');
  const button = (text: string, action: string, onClick: () => void) => {
    const b = buttons.appendChild(document.createElement('button'));
    b.type = 'button';
    b.textContent = text;
    b.dataset['action'] = action;
    b.addEventListener('click', onClick);
    return b;
  };
  const status = root.appendChild(document.createElement('p'));
  status.className = 'train-status';
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  const progress = root.appendChild(document.createElement('p'));
  progress.className = 'train-progress';
  const error = root.appendChild(document.createElement('p'));
  error.className = 'train-error';
  error.setAttribute('role', 'alert');
  error.hidden = true;

  const fail = (e: unknown) => {
    error.hidden = false;
    error.textContent = (e as Error).message ?? String(e);
  };
  const guard = (f: () => Promise<void>) => () => {
    error.hidden = true;
    try {
      f().catch(fail);
    } catch (e) {
      fail(e);
    }
  };
  const start = button('Start', 'start', guard(() => (choice.source ? trainer.start(choice.source, settings) : Promise.reject(new TrainerError(problem ?? 'nothing to train')))));
  const stop = button('Stop', 'stop', () => trainer.stop());
  const resume = button('Resume', 'resume', guard(() => trainer.resume(settings)));
  const reset = button('Reset', 'reset', () => trainer.reset());
  start.title = 'A new training session from the chosen weights (the current one, if any, is discarded)';
  resume.title = 'Continue this session: same weights, optimizer state and step count';
  reset.title = 'Discard the training session and free its memory';

  let lastPhase = '';
  const off = trainer.onChange((s) => {
    const busy = s.phase === 'running' || s.phase === 'stopping' || s.phase === 'preparing' || s.phase === 'validating';
    start.disabled = problem !== null || busy;
    start.textContent = s.hasSession ? 'Start over' : 'Start';
    stop.disabled = !(s.phase === 'running' || s.phase === 'preparing');
    resume.disabled = gate !== null || !s.hasSession || busy;
    reset.disabled = !s.hasSession;
    root.dataset['phase'] = s.phase;
    root.dataset['step'] = String(s.step);
    root.dataset['session'] = String(s.sessionId);
    const from = s.source ? ` (from ${s.source.label}, on ${BACKEND_NAMES[s.backend ?? ''] ?? s.backend})` : '';
    const text = problem !== null && !s.hasSession ? `Can't train: ${problem}.` : `${s.message}${from}`;
    // Announce phase changes, not every step.
    if (s.phase !== lastPhase || status.textContent === '') status.textContent = text;
    lastPhase = s.phase;
    progress.textContent = s.hasSession ? progressLine(s) : '';
    if (s.error) {
      error.hidden = false;
      error.textContent = s.error;
    } else if (s.phase !== 'error') error.hidden = true;
  });
  root.dispose = off;
  return root;
}

// ---- figure data -------------------------------------------------------------------------------

/** The shipped models' logged losses the page may fetch: `{id: path}` from the build (training.astro). */
export function readCurveIndex(doc: Document = document): Record<string, string> {
  const node = doc.getElementById('training-curves');
  if (node === null) return {};
  try {
    const v = JSON.parse(node.textContent ?? '{}') as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

export interface ShippedCurve {
  id: string;
  points: LossPoint[];
}

/**
 * The logged losses of the shipped model `preferred` (else `default`, else the first listed), fetched
 * only when the build listed it (no request for a file that isn't there); null when none.
 */
export async function loadShippedCurve(base: string, index: Record<string, string>, preferred?: string): Promise<ShippedCurve | null> {
  const id = [preferred, 'default', ...Object.keys(index)].find((k): k is string => k !== undefined && index[k] !== undefined);
  if (id === undefined) return null;
  const url = new URL(index[id]!, new URL(base, location.href)).href;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url} gave HTTP ${res.status}; rebuild the site after npm run ship`);
  return { id, points: parseLossLog(await res.json()) };
}

export interface LiveCurves {
  series: LossSeries[];
  levels: LossLevel[];
  xDomain: [number, number];
  /** One sentence on what the shipped curve shows (empty without one). */
  note: string;
}

/**
 * The reader's run against the shipped model's log. From a random init the two runs start alike, so
 * the shipped curve's first steps are drawn on the same axis; from the shipped model the reader
 * continues where it ended, so its end-of-training level is drawn instead (mean of its last 100 steps).
 */
export function liveCurves(state: TrainerState, shipped: ShippedCurve | null, init: InitChoice, minSteps = 10): LiveCurves {
  const xMax = Math.max(minSteps, state.step, state.target);
  const series: LossSeries[] = [{ id: 'yours', label: 'your run', points: state.points }];
  const levels: LossLevel[] = [];
  let note = '';
  if (shipped !== null && shipped.points.length > 0) {
    if ((state.source?.kind ?? init) === 'random') {
      series.push({ id: 'shipped', label: `shipped ${shipped.id} model, its first steps`, points: shipped.points.filter((p) => p.step <= xMax), dashed: true });
      note = `The dashed curve is the shipped ${shipped.id} model's own run over its first ${xMax} steps (batch 2, with warm-up).`;
    } else {
      levels.push({ id: 'shipped-end', label: `shipped ${shipped.id} model, end of training`, values: finalLevels(shipped.points, 100) });
      note = `The dotted line is where the shipped ${shipped.id} model's losses ended (the mean of its last 100 steps).`;
    }
  }
  return { series, levels, xDomain: [0, xMax], note };
}

/** Panels side by side in one SVG (each an <svg> of its own), with a title above each. */
export function sideBySide(panels: ReadonlyArray<{ title: string; svg: SVGSVGElement }>, options: { title: string; description?: string; panelWidth?: number; gap?: number }): SVGSVGElement {
  const pw = options.panelWidth ?? 256;
  const gap = options.gap ?? 12;
  const heights = panels.map(({ svg }) => {
    const vb = (svg.getAttribute('viewBox') ?? '0 0 1 1').split(/\s+/).map(Number);
    return (pw * vb[3]!) / vb[2]!;
  });
  const titleH = 20;
  const height = titleH + Math.max(1, ...heights);
  const width = panels.length * pw + Math.max(0, panels.length - 1) * gap;
  const root = svgRoot(width, height, options.title, options.description ?? '');
  panels.forEach(({ title, svg }, i) => {
    const x = i * (pw + gap);
    const g = el('g', { 'data-panel': i });
    g.append(el('text', { x: x + pw / 2, y: 14, 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 600 }, title));
    // The panel keeps its own viewBox; its title and desc become the group's (one accessible name for the figure).
    svg.querySelector(':scope > title')?.remove();
    svg.querySelector(':scope > desc')?.remove();
    svg.removeAttribute('role');
    svg.setAttribute('x', String(x));
    svg.setAttribute('y', String(titleH));
    svg.setAttribute('width', String(pw));
    svg.setAttribute('height', String(heights[i]!));
    g.append(svg);
    root.append(g);
  });
  return root;
}
