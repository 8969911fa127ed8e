/**
 * `nmsPlayer(data, options) → <div>`: greedy non-maximum suppression, step by step, on the boxes of
 * one pyramid level. Step s (0 … K, K = boxes kept) shows the first s kept boxes (blue), the boxes
 * they suppressed (dashed vermillion, faded), and the rest still undecided (white); the s-th kept box
 * is drawn thick orange with the IoU of each box it suppresses at that step. Buttons (reset, back,
 * play/pause, step) and a labelled range input drive it from the keyboard; a live region says what
 * happened. The steps come from `nmsSteps` (src/geometry/nms.ts): the figure only replays them.
 *
 * Glossary: greedy step = take the best box not yet suppressed, keep it, suppress every later box
 * whose IoU with it is > the threshold.
 */
import type { NmsTrace } from '../geometry/nms.ts';
import type { Boxes, RgbImage, Size } from '../types.ts';
import { figure } from './figure.ts';
import { imageToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

export interface NmsPlayerData {
  image: RgbImage;
  resized: Size;
  /** The boxes NMS runs on (resized-image pixels), N × 4. */
  boxes: Boxes;
  scores: Float32Array;
  /** `nmsSteps(boxes, scores, threshold)`. */
  steps: NmsTrace;
  threshold: number;
  /** What the boxes are, for captions: e.g. 'the 30 best P3 candidates'. */
  label: string;
}

export interface NmsPlayerOptions {
  /** The step shown first (clamped to 0 … K; default 0). */
  step?: number;
  /** Milliseconds between steps while playing (default 900). */
  intervalMs?: number;
  /** Drawing width in CSS pixels (default 520). */
  width?: number;
  /** Called with the step shown after every change (e.g. to put it in the URL). */
  onStep?: (step: number) => void;
  /** Base name of saved files. */
  fileName?: string;
}

export interface NmsPlayerElement extends HTMLDivElement {
  /** The step shown. */
  readonly step: number;
  /** Show step `s` (clamped). */
  setStep(s: number): void;
  /** Stop playing (call when the element goes away). */
  stop(): void;
}

/** The state of every box after `step` greedy steps: 'kept', 'suppressed' or 'open'. */
export function nmsStateAt(steps: NmsTrace, step: number): Array<'kept' | 'suppressed' | 'open'> {
  const n = steps.suppressedBy.length;
  const s = Math.max(0, Math.min(steps.keep.length, step));
  const keptAt = new Map<number, number>();
  steps.keep.forEach((i, k) => keptAt.set(i, k));
  return Array.from({ length: n }, (_, i) => {
    const k = keptAt.get(i);
    if (k !== undefined) return k < s ? 'kept' : 'open';
    const by = keptAt.get(steps.suppressedBy[i]!);
    return by !== undefined && by < s ? 'suppressed' : 'open';
  });
}

/** Boxes suppressed at step s (1-based: by the s-th kept box), in visiting order. */
export function suppressedAtStep(steps: NmsTrace, step: number): number[] {
  const by = steps.keep[step - 1];
  if (by === undefined) return [];
  return Array.from(steps.order).filter((i) => steps.suppressedBy[i] === by);
}

/** The `count` best candidates of one level (indices into the candidates, by decreasing score) and their boxes and scores. */
export function levelCandidates(candidates: { boxes: Boxes; scores: Float32Array; levels: Int32Array }, level: number, count: number): { index: Int32Array; boxes: Float32Array; scores: Float32Array } {
  const idx: number[] = [];
  for (let i = 0; i < candidates.levels.length; i++) if (candidates.levels[i] === level) idx.push(i);
  idx.sort((a, b) => candidates.scores[b]! - candidates.scores[a]! || a - b);
  const index = Int32Array.from(idx.slice(0, Math.max(0, count)));
  const boxes = new Float32Array(index.length * 4);
  index.forEach((c, k) => boxes.set(candidates.boxes.subarray(4 * c, 4 * c + 4), 4 * k));
  return { index, boxes, scores: Float32Array.from(index, (c) => candidates.scores[c]!) };
}

const COLORS = { kept: '#0072B2', suppressed: '#D55E00', open: '#FFFFFF', current: '#E69F00' } as const;

export function nmsPlayer(data: NmsPlayerData, options: NmsPlayerOptions = {}): NmsPlayerElement {
  const K = data.steps.keep.length;
  const n = data.scores.length;
  const [rh, rw] = data.resized;
  const W = options.width ?? 520;
  const k = W / rw;
  const H = rh * k + 34;
  const root = document.createElement('div') as unknown as NmsPlayerElement;
  root.className = 'nms-player';
  const bar = root.appendChild(document.createElement('div'));
  bar.className = 'nms-player__controls';
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', 'NMS animation controls');
  bar.style.cssText = 'display:flex;flex-wrap:wrap;gap:0.4rem;align-items:center;margin:0.3rem 0';
  const button = (text: string, label: string, action: () => void) => {
    const b = bar.appendChild(document.createElement('button'));
    b.type = 'button';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.dataset['action'] = label.split(' ')[0]!.toLowerCase();
    b.addEventListener('click', action);
    return b;
  };
  const id = `nms-step-${Math.random().toString(36).slice(2, 8)}`;
  const reset = button('Reset', 'Reset to step 0', () => (stopPlaying(), show(0)));
  const back = button('◀ Back', 'Back one step', () => (stopPlaying(), show(current - 1)));
  const play = button('▶ Play', 'Play the steps', () => (timer === undefined ? startPlaying() : stopPlaying()));
  const next = button('Step ▶', 'Step forward', () => (stopPlaying(), show(current + 1)));
  const label = bar.appendChild(document.createElement('label'));
  label.htmlFor = id;
  label.textContent = 'Step';
  const range = bar.appendChild(document.createElement('input'));
  range.type = 'range';
  range.id = id;
  range.min = '0';
  range.max = String(K);
  range.step = '1';
  const count = bar.appendChild(document.createElement('output'));
  count.htmlFor.add(id);
  range.addEventListener('input', () => (stopPlaying(), show(Number(range.value))));
  // Keep range `input` events inside the player (the cell's view() is not this element).
  range.addEventListener('input', (e) => e.stopPropagation());
  const status = root.appendChild(document.createElement('p'));
  status.className = 'nms-player__status';
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  status.style.margin = '0.2rem 0';

  const svg = svgRoot(W, H, `NMS on ${data.label}`, '');
  const title = svg.querySelector('title')!;
  const desc = svg.querySelector('desc') ?? svg.appendChild(el('desc'));
  const href = imageToDataUrl(data.image);
  const steps = data.steps;
  const alternative = table(
    `NMS on ${data.label}, IoU threshold ${data.threshold}`,
    ['step', 'kept box (score)', 'suppressed now (IoU with the kept box)'],
    Array.from(steps.keep, (i, s) => [s + 1, `#${i} (${data.scores[i]!.toFixed(3)})`, suppressedAtStep(steps, s + 1).map((j) => `#${j} (${steps.suppressionIou[j]!.toFixed(2)})`).join(', ') || 'none']),
  );
  const fig = figure(svg, {
    caption: `Greedy NMS on ${data.label} (${n} boxes), IoU threshold ${data.threshold}: ${K} kept, ${n - K} suppressed.`,
    fileName: options.fileName ?? 'nms-steps',
    alternative,
    alternativeLabel: 'Table of every step',
  });
  root.append(fig);

  let current = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const box = (i: number, attrs: Record<string, string | number | undefined>) => {
    const [x1, y1, x2, y2] = [data.boxes[4 * i]!, data.boxes[4 * i + 1]!, data.boxes[4 * i + 2]!, data.boxes[4 * i + 3]!];
    return el('rect', { x: x1 * k, y: y1 * k, width: Math.max(0, x2 - x1) * k, height: Math.max(0, y2 - y1) * k, fill: 'none', ...attrs });
  };
  function render(s: number): void {
    for (const c of [...svg.childNodes]) if (c !== title && c !== desc) c.remove();
    svg.append(el('image', { href, x: 0, y: 0, width: rw * k, height: rh * k, preserveAspectRatio: 'none', opacity: 0.85 }));
    const state = nmsStateAt(steps, s);
    const now = suppressedAtStep(steps, s);
    const cur = s > 0 ? steps.keep[s - 1]! : -1;
    const layer = el('g', { class: 'nms-boxes' });
    // Draw weakest first: undecided, then suppressed, then kept, then this step's boxes.
    const order = Array.from(steps.order).reverse();
    for (const i of order) if (state[i] === 'open') layer.append(box(i, { 'data-state': 'open', stroke: COLORS.open, 'stroke-opacity': 0.8, 'stroke-width': 1 }));
    for (const i of order) if (state[i] === 'suppressed' && !now.includes(i)) layer.append(box(i, { 'data-state': 'suppressed', stroke: COLORS.suppressed, 'stroke-opacity': 0.45, 'stroke-dasharray': '3 3', 'stroke-width': 1 }));
    for (const i of order) if (state[i] === 'kept' && i !== cur) layer.append(box(i, { 'data-state': 'kept', stroke: COLORS.kept, 'stroke-width': 1.8 }));
    for (const i of now) {
      layer.append(box(i, { 'data-state': 'suppressed', 'data-now': 1, stroke: COLORS.suppressed, 'stroke-width': 2, 'stroke-dasharray': '5 3' }));
      layer.append(el('text', { x: data.boxes[4 * i + 2]! * k - 2, y: data.boxes[4 * i + 3]! * k - 3, 'text-anchor': 'end', 'font-size': 10, fill: '#fff', stroke: '#000', 'stroke-width': 2.5, 'paint-order': 'stroke' }, steps.suppressionIou[i]!.toFixed(2)));
    }
    if (cur >= 0) layer.append(box(cur, { 'data-state': 'kept', 'data-now': 1, stroke: COLORS.current, 'stroke-width': 3.2 }));
    svg.append(layer);
    const kept = state.filter((x) => x === 'kept').length;
    const sup = state.filter((x) => x === 'suppressed').length;
    const ly = rh * k + 14;
    let lx = 0;
    for (const [c, t, dash] of [[COLORS.current, 'kept now', ''], [COLORS.kept, `kept ${kept}`, ''], [COLORS.suppressed, `suppressed ${sup}`, '5 3'], ['#888', `undecided ${n - kept - sup}`, '']] as const) {
      svg.append(el('rect', { x: lx, y: ly - 9, width: 14, height: 10, fill: 'none', stroke: c, 'stroke-width': 2.5, 'stroke-dasharray': dash || undefined }), el('text', { x: lx + 18, y: ly, 'font-size': 11 }, t));
      lx += 120;
    }
    svg.append(el('text', { x: 0, y: H - 4, 'font-size': 11 }, `step ${s} of ${K}; IoU > ${data.threshold} suppresses`));
    title.textContent = `NMS on ${data.label}: step ${s} of ${K}`;
    const text = s === 0
      ? `Step 0 of ${K}: ${n} boxes, none decided. Each step keeps the best undecided box and suppresses the boxes overlapping it by IoU > ${data.threshold}.`
      : `Step ${s} of ${K}: kept box #${cur} (score ${data.scores[cur]!.toFixed(3)}); suppressed ${now.length}${now.length ? `: ${now.map((j) => `#${j} (IoU ${steps.suppressionIou[j]!.toFixed(2)})`).join(', ')}` : ''}. ${kept} kept, ${sup} suppressed, ${n - kept - sup} undecided.`;
    desc.textContent = text;
    status.textContent = text;
  }
  function show(s: number): void {
    const v = Math.max(0, Math.min(K, Math.round(Number.isFinite(s) ? s : 0)));
    current = v;
    range.value = String(v);
    count.textContent = `${v} of ${K}`;
    root.dataset['step'] = String(v);
    back.disabled = v === 0;
    reset.disabled = v === 0;
    next.disabled = v >= K;
    render(v);
    options.onStep?.(v);
  }
  function startPlaying(): void {
    if (current >= K) show(0);
    play.textContent = '⏸ Pause';
    play.setAttribute('aria-label', 'Pause');
    play.setAttribute('aria-pressed', 'true');
    timer = setInterval(() => {
      if (current >= K) stopPlaying();
      else show(current + 1);
    }, options.intervalMs ?? 900);
  }
  function stopPlaying(): void {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    play.textContent = '▶ Play';
    play.setAttribute('aria-label', 'Play the steps');
    play.setAttribute('aria-pressed', 'false');
  }
  Object.defineProperty(root, 'step', { get: () => current });
  root.setStep = (s: number) => show(s);
  root.stop = stopPlaying;
  stopPlaying();
  show(options.step ?? 0);
  return root;
}
