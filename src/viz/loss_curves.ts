/**
 * `lossCurvesFigure(series, options) → <svg>`: training losses against the step, one small panel per
 * term of Mask R-CNN's multi-task loss (total, RPN objectness, RPN box, classification, box
 * regression, mask; optionally the learning rate), each with its own y scale from 0, so that a small
 * term (the RPN's box loss) is as readable as a large one.
 *
 * Glossary
 *   series    one run's points (the reader's live run, the shipped model's logged run); told apart by
 *             colour *and* dash (Okabe–Ito blue solid, vermillion dashed), so the figure reads in grey
 *   level     a constant drawn as a dotted horizontal line (the shipped model's loss at the end of its
 *             training, to compare a fine-tuning run with)
 *   smoothing exponential moving average with debiasing (TensorBoard's): s_t = β·s_{t−1} + (1 − β)·x_t,
 *             shown as s_t / (1 − β^t); raw values stay in the table
 *   thinning  a series with more points than a panel has room for is drawn as bucket means (each
 *             bucket a run of consecutive steps), never as a random subset
 *
 * `lossCurvesTable` is the text alternative; `parseLossLog` reads `public/models/NAME/losses.json`.
 */
import { CATEGORICAL } from './colors.ts';
import { ticks } from 'd3-array';
import { format } from 'd3-format';
import { el, svgRoot, table } from './svg.ts';

export const LOSS_TERMS = ['total', 'rpnObjectness', 'rpnBox', 'classifier', 'boxReg', 'mask'] as const;
export type LossTerm = (typeof LOSS_TERMS)[number];
/** What a panel can show: a loss term or the learning rate. */
export type CurveTerm = LossTerm | 'lr';

export const TERM_LABELS: Readonly<Record<CurveTerm, string>> = {
  total: 'Total loss L',
  rpnObjectness: 'RPN objectness',
  rpnBox: 'RPN box regression',
  classifier: 'Classification Lcls',
  boxReg: 'Box regression Lbox',
  mask: 'Mask Lmask',
  lr: 'Learning rate',
};

/** One logged step: its 0-based index and whichever terms were recorded. */
export type LossPoint = { step: number } & Partial<Record<CurveTerm, number>>;

export interface LossSeries {
  /** Stable id (`yours`, `shipped`): the path's `data-series`. */
  id: string;
  /** Legend and table text. */
  label: string;
  points: readonly LossPoint[];
  /** Okabe–Ito by default: blue for the first series, vermillion for the second. */
  color?: string;
  dashed?: boolean;
  /** EMA factor β in [0, 1) (default 0: raw values). */
  smooth?: number;
}

export interface LossLevel {
  id: string;
  label: string;
  values: Partial<Record<CurveTerm, number>>;
  color?: string;
}

export interface LossCurvesOptions {
  /** Panels, in order (default: the six loss terms). */
  terms?: readonly CurveTerm[];
  /** Width in CSS pixels (default 720). */
  width?: number;
  /** Panels per row (default 3). */
  columns?: number;
  /** Steps shown (default: the range of every series' points); points outside are left out. */
  xDomain?: [number, number];
  levels?: readonly LossLevel[];
  /** Most vertices per series and panel (default 400): more points are drawn as bucket means. */
  maxPoints?: number;
  /** Points of a series drawn as dots too, when it has at most this many in range (default 40). */
  dotsUpTo?: number;
  /** Accessible title. */
  title?: string;
}

const SERIES_COLORS = [CATEGORICAL[4], CATEGORICAL[5], CATEGORICAL[2], CATEGORICAL[6]] as const;
const LEVEL_COLOR = '#555';

/** About `count` round ticks in [lo, hi]: d3-array's `ticks` (steps 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  return ticks(lo, hi, Math.max(1, count));
}

const threeDigits = format('.3~r');
const smallExponent = format('.2~e');

/** Tick text (d3-format): 3 significant digits, exponent notation below 0.01 (learning rates), no trailing zeros. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) < 0.01 ? smallExponent(v) : threeDigits(v);
}

/** EMA with debiasing (see the glossary); non-finite values are skipped (they keep the average). */
export function emaSmooth(values: readonly number[], beta: number): number[] {
  if (!(beta > 0)) return values.slice();
  let s = 0;
  let n = 0;
  return values.map((x) => {
    if (!Number.isFinite(x)) return n === 0 ? x : s / (1 - beta ** n);
    s = beta * s + (1 - beta) * x;
    n++;
    return s / (1 - beta ** n);
  });
}

/**
 * At most `max` (step, value) pairs: the pairs themselves when they fit, else the means of `max`
 * buckets of consecutive pairs (each bucket's mean step and mean value).
 */
export function thinPairs(pairs: ReadonlyArray<readonly [number, number]>, max: number): Array<[number, number]> {
  if (pairs.length <= max) return pairs.map(([x, y]) => [x, y]);
  const out: Array<[number, number]> = [];
  for (let b = 0; b < max; b++) {
    const from = Math.floor((b * pairs.length) / max);
    const to = Math.floor(((b + 1) * pairs.length) / max);
    let sx = 0;
    let sy = 0;
    for (let i = from; i < to; i++) {
      sx += pairs[i]![0];
      sy += pairs[i]![1];
    }
    out.push([sx / (to - from), sy / (to - from)]);
  }
  return out;
}

/** Per term, the mean of the last `n` points that recorded it (the loss "at the end of training"). */
export function finalLevels(points: readonly LossPoint[], n = 100): Partial<Record<CurveTerm, number>> {
  const out: Partial<Record<CurveTerm, number>> = {};
  for (const term of [...LOSS_TERMS, 'lr'] as const) {
    const values = points.map((p) => p[term]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const tail = values.slice(-n);
    if (tail.length > 0) out[term] = tail.reduce((a, b) => a + b, 0) / tail.length;
  }
  return out;
}

/** A series' (step, value) pairs of one term inside [x0, x1], smoothed as the series asks. */
export function seriesPairs(series: LossSeries, term: CurveTerm, x0 = -Infinity, x1 = Infinity): Array<[number, number]> {
  const recorded = series.points.filter((p) => p[term] !== undefined);
  const ys = emaSmooth(recorded.map((p) => p[term]!), series.smooth ?? 0);
  const out: Array<[number, number]> = [];
  recorded.forEach((p, i) => {
    if (p.step >= x0 && p.step <= x1 && Number.isFinite(ys[i]!)) out.push([p.step, ys[i]!]);
  });
  return out;
}

const colorOf = (s: LossSeries, i: number) => s.color ?? SERIES_COLORS[i % SERIES_COLORS.length]!;
const dashOf = (s: LossSeries, i: number) => (s.dashed ?? i % 2 === 1) ? '6 4' : undefined;

export function lossCurvesFigure(series: readonly LossSeries[], options: LossCurvesOptions = {}): SVGSVGElement {
  const terms = options.terms ?? LOSS_TERMS;
  const levels = options.levels ?? [];
  const width = options.width ?? 720;
  const columns = Math.max(1, Math.min(options.columns ?? 3, terms.length));
  const rowsN = Math.ceil(terms.length / columns);
  const legendH = 26;
  const panelW = width / columns;
  const panelH = 150;
  const height = legendH + rowsN * panelH;
  const maxPoints = options.maxPoints ?? 400;
  const dotsUpTo = options.dotsUpTo ?? 40;

  const allSteps = series.flatMap((s) => s.points.map((p) => p.step));
  const [x0, x1] = options.xDomain ?? [allSteps.length ? Math.min(...allSteps) : 0, allSteps.length ? Math.max(...allSteps) : 1];
  const xHi = x1 > x0 ? x1 : x0 + 1;
  const counts = series.map((s) => `${s.label}: ${s.points.length} steps`).join('; ');
  const svg = svgRoot(
    width,
    height,
    options.title ?? `Training losses against the step, ${terms.length} panels`,
    `One panel per term (${terms.map((t) => TERM_LABELS[t]).join(', ')}), steps ${x0}–${xHi}. ${counts || 'No steps yet.'}`,
  );

  // Legend: line samples in each series' colour and dash, then the levels.
  const legend = el('g', { class: 'legend', transform: 'translate(8, 16)' });
  let lx = 0;
  series.forEach((s, i) => {
    const g = el('g', { transform: `translate(${lx}, 0)`, 'data-legend': s.id });
    g.append(
      el('line', { x1: 0, x2: 26, y1: -4, y2: -4, stroke: colorOf(s, i), 'stroke-width': 2.5, 'stroke-dasharray': dashOf(s, i) }),
      el('text', { x: 32, y: 0, 'font-size': 12 }, s.label),
    );
    legend.append(g);
    lx += 44 + 6.5 * s.label.length;
  });
  for (const lv of levels) {
    const g = el('g', { transform: `translate(${lx}, 0)`, 'data-legend': lv.id });
    g.append(
      el('line', { x1: 0, x2: 26, y1: -4, y2: -4, stroke: lv.color ?? LEVEL_COLOR, 'stroke-width': 2, 'stroke-dasharray': '2 3' }),
      el('text', { x: 32, y: 0, 'font-size': 12 }, lv.label),
    );
    legend.append(g);
    lx += 44 + 6.5 * lv.label.length;
  }
  svg.append(legend);

  terms.forEach((term, k) => {
    const px = (k % columns) * panelW;
    const py = legendH + Math.floor(k / columns) * panelH;
    const left = 46;
    const right = 10;
    const top = 20;
    const bottom = 26;
    const w = panelW - left - right;
    const h = panelH - top - bottom;
    const perSeries = series.map((s) => seriesPairs(s, term, x0, xHi));
    const levelValues = levels.map((lv) => lv.values[term]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const ymaxData = Math.max(0, ...perSeries.flatMap((p) => p.map(([, y]) => y)), ...levelValues);
    const yTicks = niceTicks(0, ymaxData > 0 ? ymaxData : 1, 3);
    const ymax = Math.max(yTicks[yTicks.length - 1]!, ymaxData > 0 ? ymaxData : 1);
    const X = (s: number) => left + ((s - x0) / (xHi - x0)) * w;
    const Y = (v: number) => top + h - (Math.max(0, v) / ymax) * h;
    const panel = el('g', { transform: `translate(${px.toFixed(1)}, ${py})`, 'data-term': term });
    panel.append(el('text', { x: left, y: 13, 'font-size': 12, 'font-weight': 600 }, TERM_LABELS[term]));
    for (const t of yTicks) {
      panel.append(
        el('line', { x1: left, x2: left + w, y1: Y(t), y2: Y(t), stroke: '#e3e3e3' }),
        el('text', { x: left - 4, y: Y(t) + 3.5, 'font-size': 10, 'text-anchor': 'end' }, formatTick(t)),
      );
    }
    for (const t of niceTicks(x0, xHi, Math.max(2, Math.floor(w / 60)))) {
      if (!Number.isInteger(t)) continue;
      panel.append(
        el('line', { x1: X(t), x2: X(t), y1: top + h, y2: top + h + 3, stroke: '#333' }),
        el('text', { x: X(t), y: top + h + 14, 'font-size': 10, 'text-anchor': 'middle' }, String(t)),
      );
    }
    panel.append(
      el('line', { x1: left, x2: left + w, y1: top + h, y2: top + h, stroke: '#333' }),
      el('line', { x1: left, x2: left, y1: top, y2: top + h, stroke: '#333' }),
    );
    if (k === terms.length - 1 || Math.floor(k / columns) === rowsN - 1) {
      panel.append(el('text', { x: left + w, y: top + h + 24, 'font-size': 10, 'text-anchor': 'end', fill: '#444' }, 'step'));
    }
    levels.forEach((lv) => {
      const v = lv.values[term];
      if (v === undefined || !Number.isFinite(v)) return;
      panel.append(el('line', { x1: left, x2: left + w, y1: Y(v), y2: Y(v), stroke: lv.color ?? LEVEL_COLOR, 'stroke-width': 1.5, 'stroke-dasharray': '2 3', 'data-level': lv.id, 'data-value': v }));
    });
    series.forEach((s, i) => {
      const pairs = perSeries[i]!;
      const drawn = thinPairs(pairs, maxPoints);
      const color = colorOf(s, i);
      const g = el('g', { 'data-series': s.id, 'data-points': pairs.length });
      if (drawn.length > 1) {
        g.append(el('path', { d: drawn.map(([x, y], j) => `${j ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dashOf(s, i), 'stroke-linejoin': 'round' }));
      }
      if (pairs.length <= dotsUpTo) for (const [x, y] of pairs) g.append(el('circle', { cx: X(x), cy: Y(y), r: 2.8, fill: color, 'data-step': x }));
      panel.append(g);
    });
    svg.append(panel);
  });
  return svg;
}

export interface LossTableOptions {
  terms?: readonly CurveTerm[];
  /** Most rows per series (default 200): longer series list every k-th step and the last. */
  maxRows?: number;
  levels?: readonly LossLevel[];
}

/** Row indices 0 … n−1 thinned to at most `max`: every k-th, and always the last. */
export function everyKth(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const k = Math.ceil((n - 1) / Math.max(1, max - 1));
  const out: number[] = [];
  for (let i = 0; i < n - 1; i += k) out.push(i);
  out.push(n - 1);
  return out;
}

/** The text alternative: per series and step, the raw value of each term (unsmoothed). */
export function lossCurvesTable(series: readonly LossSeries[], options: LossTableOptions = {}): HTMLTableElement {
  const terms = options.terms ?? LOSS_TERMS;
  const maxRows = options.maxRows ?? 200;
  const fmt = (v: number | undefined) => (v === undefined ? '—' : Number.isFinite(v) ? (Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(2) : v.toFixed(4)) : String(v));
  const rows: Array<Array<string | number>> = [];
  let thinned = false;
  for (const s of series) {
    const idx = everyKth(s.points.length, maxRows);
    if (idx.length < s.points.length) thinned = true;
    for (const i of idx) {
      const p = s.points[i]!;
      rows.push([s.label, p.step, ...terms.map((t) => fmt(p[t]))]);
    }
  }
  for (const lv of options.levels ?? []) rows.push([lv.label, '—', ...terms.map((t) => fmt(lv.values[t]))]);
  const caption = `Losses by step${thinned ? ` (long runs: every k-th step and the last, at most ${maxRows} rows per run)` : ''}`;
  return table(caption, ['run', 'step', ...terms.map((t) => TERM_LABELS[t])], rows);
}

/**
 * `public/models/NAME/losses.json` (written by `npm run ship`): `{"points": [{"step": 0, "total": …,
 * "rpnObjectness": …, "rpnBox": …, "classifier": …, "boxReg": …, "mask": …, "lr": …}, …]}` (a bare
 * array of points is accepted too). Throws an Error saying what was expected and what was found.
 */
export function parseLossLog(json: unknown): LossPoint[] {
  const list = Array.isArray(json) ? json : typeof json === 'object' && json !== null ? (json as { points?: unknown }).points : undefined;
  if (!Array.isArray(list)) {
    throw new Error(`losses.json: expected {"points": [{"step": 0, "total": …}, …]}, found ${json === null ? 'null' : typeof json === 'object' ? `an object with keys ${Object.keys(json as object).join(', ') || '(none)'}` : typeof json}; re-run npm run ship`);
  }
  return list.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || typeof (raw as { step?: unknown }).step !== 'number') {
      throw new Error(`losses.json: point ${i} should be an object with a numeric "step", found ${JSON.stringify(raw)?.slice(0, 80)}; re-run npm run ship`);
    }
    const r = raw as Record<string, unknown>;
    const p: LossPoint = { step: r['step'] as number };
    for (const t of [...LOSS_TERMS, 'lr'] as const) {
      const v = r[t];
      if (typeof v === 'number') p[t] = v;
      else if (v !== undefined && v !== null) throw new Error(`losses.json: point ${i} (step ${p.step}) has ${t} = ${JSON.stringify(v)}, expected a number`);
    }
    return p;
  });
}
