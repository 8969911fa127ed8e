/**
 * `thresholdSweepFigure(data, options) → <svg>`: how the area of a pasted mask depends on the mask
 * threshold — pixels with p > t for t from 0 to 1 — with the current threshold marked. A sharp mask
 * (probabilities near 0 or 1) gives a flat curve: the threshold hardly matters; a soft one a slope.
 */
import { areaAbove } from '../site/paste_view.ts';
import { CATEGORICAL } from './colors.ts';
import { scaleLinear } from 'd3-scale';
import { axis } from './axis.ts';
import { el, svgRoot, table } from './svg.ts';

export interface ThresholdSweepData {
  /** The pasted probabilities of one detection (its image region). */
  values: Float32Array;
  threshold: number;
  /** The detection box's area in pixels, for reference (a dashed line). */
  boxArea?: number;
}

export interface ThresholdSweepOptions {
  /** Width in CSS pixels (default 480). */
  width?: number;
  /** Thresholds evaluated (default 0, 0.01, …, 1). */
  steps?: number;
}

export function sweepThresholds(steps = 100): number[] {
  return Array.from({ length: steps + 1 }, (_, i) => i / steps);
}

export function thresholdSweepFigure(data: ThresholdSweepData, options: ThresholdSweepOptions = {}): SVGSVGElement {
  const ts = sweepThresholds(options.steps ?? 100);
  const areas = areaAbove(data.values, ts);
  const [current] = areaAbove(data.values, [data.threshold]);
  const width = options.width ?? 480;
  const height = 224;
  const left = 54;
  const bottom = 38;
  const top = 14;
  const w = width - left - 12;
  const h = height - top - bottom;
  const X = scaleLinear([0, 1], [left, left + w]);
  const Y = scaleLinear([0, Math.max(1, areas[0] ?? 0, data.boxArea ?? 0)], [top + h, top]).nice();
  const svg = svgRoot(width, height, 'Mask area against the mask threshold', `Pixels with probability above t, for t from 0 to 1; at ${data.threshold}: ${current} pixels.`);
  svg.append(
    axis(X, { orient: 'bottom', at: top + h, ticks: 5, label: 'mask threshold t' }),
    axis(Y, { orient: 'left', at: left, ticks: 4, format: ',', grid: w }),
    el('text', { x: 12, y: top + h / 2, 'font-size': 11, transform: `rotate(-90 12 ${top + h / 2})`, 'text-anchor': 'middle' }, 'pixels with p > t'),
  );
  if (data.boxArea !== undefined) {
    svg.append(
      el('line', { x1: left, x2: left + w, y1: Y(data.boxArea), y2: Y(data.boxArea), stroke: '#777', 'stroke-dasharray': '4 3' }),
      el('text', { x: left + w - 2, y: Y(data.boxArea) - 3, 'font-size': 10, 'text-anchor': 'end', fill: '#555' }, 'box area'),
    );
  }
  svg.append(el('path', { d: ts.map((t, i) => `${i ? 'L' : 'M'}${X(t).toFixed(1)},${Y(areas[i]!).toFixed(1)}`).join(' '), fill: 'none', stroke: CATEGORICAL[4], 'stroke-width': 2 }));
  svg.append(
    el('line', { x1: X(data.threshold), x2: X(data.threshold), y1: top, y2: top + h, stroke: CATEGORICAL[5], 'stroke-dasharray': '4 2' }),
    el('circle', { cx: X(data.threshold), cy: Y(current!), r: 4, fill: CATEGORICAL[5], 'data-area': current }),
    el('text', { x: X(data.threshold) + 6, y: Math.max(top + 10, Y(current!) - 6), 'font-size': 11 }, `t = ${data.threshold}: ${current} px`),
  );
  return svg;
}

/** The text alternative: the area at thresholds 0, 0.1, …, 1 and at the current one. */
export function thresholdSweepTable(data: ThresholdSweepData): HTMLTableElement {
  const ts = sweepThresholds(10);
  const areas = areaAbove(data.values, [...ts, data.threshold]);
  return table('Mask area (pixels with p > t) by threshold', ['threshold t', 'pixels'], [
    ...ts.map((t, i) => [t.toFixed(1), areas[i]!]),
    [`${data.threshold} (current)`, areas[ts.length]!],
  ]);
}
