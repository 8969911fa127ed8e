/**
 * `axis(scale, options) → <g>`: a labelled axis for an SVG figure from a d3 scale — d3's tick choice
 * (`scale.ticks`, 1/2/5 × 10^k, or powers of the base for a log scale) and d3-format's labels
 * (`scale.tickFormat`, or a format specifier) — drawn with the project's small element helper (svg.ts)
 * instead of d3-selection. Optional grid lines across the plot.
 *
 *   const x = scaleLinear([0, 1], [left, left + w]);
 *   svg.append(axis(x, { orient: 'bottom', at: top + h, label: 'mask threshold t' }));
 */
import { format as d3Format } from 'd3-format';
import { el } from './svg.ts';

/** What this module needs of a d3 continuous scale (linear, log, …). */
export interface TickScale {
  (value: number): number;
  ticks(count?: number): number[];
  tickFormat(count?: number, specifier?: string): (value: number) => string;
  range(): number[];
}

export interface AxisOptions {
  /** Which side of the plot: the axis line runs along it and the labels sit outside. */
  orient: 'bottom' | 'left';
  /** The axis line's position across: y of a bottom axis, x of a left axis (px). */
  at: number;
  /** About this many ticks (d3's `count`, default 5). */
  ticks?: number;
  /** A d3-format specifier for the labels (default: the scale's own, e.g. '.1f', '~s'). */
  format?: string;
  /** Axis title, centred along the axis. */
  label?: string;
  /** Grid lines across the plot, this long (px) into it, at each tick. */
  grid?: number;
  /** Font size of the tick labels (default 10). */
  fontSize?: number;
}

/** The tick values and their labels, as the axis draws them (for tests and tables). */
export function axisTicks(scale: TickScale, count = 5, specifier?: string): { value: number; label: string }[] {
  const fmt = specifier !== undefined ? d3Format(specifier) : scale.tickFormat(count);
  return scale.ticks(count).map((value) => ({ value, label: fmt(value) }));
}

export function axis(scale: TickScale, options: AxisOptions): SVGGElement {
  const { orient, at } = options;
  const size = options.fontSize ?? 10;
  const [r0, r1] = scale.range() as [number, number];
  const g = el('g', { class: `axis axis-${orient}`, 'font-size': size });
  g.append(orient === 'bottom' ? el('line', { x1: r0, x2: r1, y1: at, y2: at, stroke: '#333' }) : el('line', { x1: at, x2: at, y1: r0, y2: r1, stroke: '#333' }));
  for (const { value, label } of axisTicks(scale, options.ticks ?? 5, options.format)) {
    const p = scale(value);
    if (orient === 'bottom') {
      if (options.grid) g.append(el('line', { x1: p, x2: p, y1: at, y2: at - options.grid, stroke: '#e3e3e3' }));
      g.append(el('line', { x1: p, x2: p, y1: at, y2: at + 4, stroke: '#333' }), el('text', { x: p, y: at + 4 + size + 1, 'text-anchor': 'middle', 'data-tick': value }, label));
    } else {
      if (options.grid) g.append(el('line', { x1: at, x2: at + options.grid, y1: p, y2: p, stroke: '#e3e3e3' }));
      g.append(el('line', { x1: at - 4, x2: at, y1: p, y2: p, stroke: '#333' }), el('text', { x: at - 6, y: p + size * 0.35, 'text-anchor': 'end', 'data-tick': value }, label));
    }
  }
  if (options.label) {
    const mid = (r0 + r1) / 2;
    g.append(
      orient === 'bottom'
        ? el('text', { x: mid, y: at + 2 * size + 12, 'text-anchor': 'middle', 'font-size': size + 1 }, options.label)
        : el('text', { x: at - 40, y: mid, 'text-anchor': 'middle', 'font-size': size + 1, transform: `rotate(-90 ${at - 40} ${mid})` }, options.label),
    );
  }
  return g;
}
