/**
 * `levelScatter(data, options) → <svg>`: which FPN level pools each RoI. x: the RoI's size √(wh) on
 * a log2 axis; y: the level the engine assigned (trace.boxRoiPool.levels), one dot per RoI, jittered
 * within its row; the dashed lines are where the rule k = ⌊k0 + log2(√(wh) / s0)⌋ steps to the next
 * level (s0·2^(k − k0): 112, 224, 448 px for s0 = 224, k0 = 4), the grey staircase the rule itself,
 * clamped to [kMin, kMax]. Counts per level at the right.
 */
import type { Boxes } from '../types.ts';
import { categorical } from './colors.ts';
import { scaleLog } from 'd3-scale';
import { axis } from './axis.ts';
import { el, svgRoot, table } from './svg.ts';

export interface LevelScatterData {
  /** RoIs, N × 4, in resized-image pixels (trace.proposals.boxes). */
  boxes: Boxes;
  /** 0-based level index per RoI (trace.boxRoiPool.levels; 0 = kMin). */
  levels: Int32Array;
  /** Lowest and highest level pooled (2 and 5 for P2–P5). */
  kMin: number;
  kMax: number;
  /** s0 (224) and k0 (4). */
  canonicalScale: number;
  canonicalLevel: number;
}

export interface LevelScatterOptions {
  /** Drawing width in CSS pixels (default 760). */
  width?: number;
}

/** √(w·h) of box i. */
export function boxScale(boxes: Boxes, i: number): number {
  return Math.sqrt(Math.max(0, boxes[4 * i + 2]! - boxes[4 * i]!) * Math.max(0, boxes[4 * i + 3]! - boxes[4 * i + 1]!));
}

/** The FPN paper's rule (eq. 1) in float64: clamp(⌊k0 + log2(s / s0) + 1e-6⌋, kMin, kMax). */
export function ruleLevel(s: number, canonicalScale: number, canonicalLevel: number, kMin: number, kMax: number): number {
  const k = Math.floor(canonicalLevel + Math.log2(s / canonicalScale) + 1e-6);
  return Math.min(kMax, Math.max(kMin, Number.isFinite(k) ? k : kMin));
}

/** Sizes where the rule moves from level k − 1 to k, for k = kMin + 1 … kMax: s0 · 2^(k − k0). */
export function levelBoundaries(canonicalScale: number, canonicalLevel: number, kMin: number, kMax: number): number[] {
  const out: number[] = [];
  for (let k = kMin + 1; k <= kMax; k++) out.push(canonicalScale * 2 ** (k - canonicalLevel));
  return out;
}

/** RoIs per level, index 0 = kMin. */
export function levelCounts(levels: Int32Array, kMin: number, kMax: number): number[] {
  const out = new Array<number>(kMax - kMin + 1).fill(0);
  for (const l of levels) if (l >= 0 && l < out.length) out[l]!++;
  return out;
}

export function levelScatter(data: LevelScatterData, options: LevelScatterOptions = {}): SVGSVGElement {
  const { kMin, kMax, canonicalScale: s0, canonicalLevel: k0 } = data;
  const n = data.levels.length;
  const W = options.width ?? 760;
  const left = 64;
  const right = 110;
  const top = 16;
  const rowH = 56;
  const rows = kMax - kMin + 1;
  const H = top + rows * rowH + 58;
  const sizes = Array.from({ length: n }, (_, i) => boxScale(data.boxes, i));
  const bounds = levelBoundaries(s0, k0, kMin, kMax);
  const finite = sizes.filter((s) => s > 0);
  const lo = Math.floor(Math.log2(Math.min(8, ...finite, ...bounds.map((b) => b / 2))));
  const hi = Math.ceil(Math.log2(Math.max(1024, ...finite, ...bounds.map((b) => b * 2))));
  const X = scaleLog([2 ** lo, 2 ** hi], [left, W - right]).base(2).clamp(true);
  const Y = (k: number) => top + (kMax - k) * rowH + rowH / 2;
  const counts = levelCounts(data.levels, kMin, kMax);
  const svg = svgRoot(
    W,
    H,
    `Level of each of the ${n} RoIs against its size √(wh)`,
    `Rule k = floor(${k0} + log2(√(wh)/${s0})) clamped to ${kMin}–${kMax}; steps at ${bounds.map((b) => b.toFixed(0)).join(', ')} px. Counts: ${counts.map((c, i) => `P${kMin + i} ${c}`).join(', ')}.`,
  );
  // Rows and axes.
  for (let k = kMin; k <= kMax; k++) {
    svg.append(
      el('rect', { x: left, y: Y(k) - rowH / 2 + 2, width: W - left - right, height: rowH - 4, fill: (k - kMin) % 2 ? '#f6f6f4' : '#fbfbfa' }),
      el('text', { x: left - 8, y: Y(k) + 4, 'text-anchor': 'end', 'font-weight': 600 }, `P${k}`),
      el('text', { x: W - right + 10, y: Y(k) + 4, 'data-count': `P${k}` }, `${counts[k - kMin]} RoI${counts[k - kMin] === 1 ? '' : 's'}`),
    );
  }
  const axisY = top + rows * rowH + 4;
  // Powers of two (d3's log-scale ticks in base 2), labelled as integers.
  svg.append(axis(X, { orient: 'bottom', at: axisY, ticks: hi - lo, format: 'd', label: '√(w·h) of the RoI in resized-image pixels (log scale)' }));
  // The rule: a staircase through the rows, and dashed boundaries.
  let d = `M${X(2 ** lo)},${Y(kMin)}`;
  bounds.forEach((b, j) => {
    d += ` H${X(b)} V${Y(kMin + j + 1)}`;
  });
  d += ` H${X(2 ** hi)}`;
  svg.append(el('path', { d, fill: 'none', stroke: '#777', 'stroke-width': 1.5 }));
  for (const b of bounds) {
    const x = X(b);
    svg.append(el('line', { x1: x, y1: top, x2: x, y2: axisY, stroke: '#000', 'stroke-dasharray': '4 3' }), el('text', { x: x + 3, y: top + 10, 'font-size': 10 }, `${b.toFixed(b < 10 ? 1 : 0)}`));
  }
  // The RoIs.
  const dots = el('g', { class: 'rois' });
  for (let i = 0; i < n; i++) {
    const k = kMin + data.levels[i]!;
    // A deterministic jitter from the index (golden-ratio sequence).
    const jitter = (((i * 0.618034) % 1) - 0.5) * (rowH - 16);
    dots.append(el('circle', { cx: X(sizes[i]!), cy: Y(k) + jitter, r: 2.6, fill: categorical(k - kMin), stroke: '#000', 'stroke-width': 0.4, 'fill-opacity': 0.85 }));
  }
  svg.append(dots);
  return svg;
}

/** The text alternative: per level, how many RoIs, their size range, and the rule's interval. */
export function levelTable(data: LevelScatterData): HTMLTableElement {
  const { kMin, kMax, canonicalScale: s0, canonicalLevel: k0 } = data;
  const counts = levelCounts(data.levels, kMin, kMax);
  const rows: (string | number)[][] = [];
  let agree = 0;
  for (let i = 0; i < data.levels.length; i++) if (ruleLevel(boxScale(data.boxes, i), s0, k0, kMin, kMax) === kMin + data.levels[i]!) agree++;
  for (let k = kMin; k <= kMax; k++) {
    const lo = k === kMin ? 0 : s0 * 2 ** (k - k0);
    const hi = k === kMax ? Infinity : s0 * 2 ** (k + 1 - k0);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < data.levels.length; i++) {
      if (kMin + data.levels[i]! !== k) continue;
      const s = boxScale(data.boxes, i);
      min = Math.min(min, s);
      max = Math.max(max, s);
    }
    rows.push([`P${k}`, `${lo.toFixed(0)} ≤ √(wh) < ${hi === Infinity ? '∞' : hi.toFixed(0)}`, counts[k - kMin]!, counts[k - kMin] ? `${min.toFixed(1)} – ${max.toFixed(1)}` : '—']);
  }
  rows.push(['all', '', data.levels.length, `${agree} of ${data.levels.length} match the rule computed here`]);
  return table(`RoIs per level (s0 = ${s0}, k0 = ${k0})`, ['level', 'rule', 'RoIs', '√(wh) range (px)'], rows);
}
