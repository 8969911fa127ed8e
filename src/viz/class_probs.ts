/**
 * `classProbsFigure(data, options) → <svg>`: the box head's verdict on one RoI — a horizontal bar per
 * class for its softmax probability (the most likely classes first, background in grey), each labelled
 * with the probability and the logit it came from.
 */
import { CATEGORICAL } from './colors.ts';
import { el, svgRoot, table } from './svg.ts';

export interface ClassProbsData {
  /** K logits of the RoI (class 0 = background). */
  logits: Float32Array;
  /** K softmax probabilities of the RoI. */
  probs: Float32Array;
  classNames: readonly string[];
}

export interface ClassProbsOptions {
  /** Classes shown, the most likely first (default 10); the rest are summed in one line. */
  top?: number;
  /** Width in CSS pixels (default 560). */
  width?: number;
  /** A score threshold to draw as a vertical line (the detections' `box_score_thresh`). */
  threshold?: number;
}

const name = (names: readonly string[], c: number) => names[c] ?? `class ${c}`;

/** Class indices, most probable first (ties: lower index first). */
export function byProbability(probs: Float32Array): number[] {
  return Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]! || a - b);
}

export function classProbsFigure(data: ClassProbsData, options: ClassProbsOptions = {}): SVGSVGElement {
  const order = byProbability(data.probs);
  const shown = order.slice(0, options.top ?? 10);
  const rest = order.slice(shown.length);
  const restSum = rest.reduce((s, c) => s + data.probs[c]!, 0);
  const width = options.width ?? 560;
  const left = 130;
  const right = 150;
  const barW = width - left - right;
  const rowH = 20;
  const top = 22;
  const rows = shown.length + (rest.length > 0 ? 1 : 0);
  const height = top + rows * rowH + 24;
  const svg = svgRoot(width, height, 'Class probabilities of the RoI', `The ${shown.length} most likely of ${data.probs.length} classes; softmax of the box head's logits.`);
  svg.append(el('text', { x: 0, y: 14, 'font-weight': 700 }, 'class'), el('text', { x: left, y: 14, 'font-weight': 700 }, 'probability (softmax)'), el('text', { x: width - right + 8, y: 14, 'font-weight': 700 }, 'p, logit'));
  shown.forEach((c, i) => {
    const y = top + i * rowH;
    const p = data.probs[c]!;
    svg.append(
      el('text', { x: left - 6, y: y + 14, 'text-anchor': 'end' }, name(data.classNames, c)),
      el('rect', { x: left, y: y + 3, width: barW, height: rowH - 6, fill: '#f1f1f1' }),
      el('rect', { x: left, y: y + 3, width: Math.max(p * barW, 0.5), height: rowH - 6, fill: c === 0 ? '#999' : CATEGORICAL[4], 'data-class': c }),
      el('text', { x: width - right + 8, y: y + 14 }, `${p.toFixed(3)}, ${data.logits[c]!.toFixed(2)}`),
    );
  });
  if (rest.length > 0) {
    const y = top + shown.length * rowH;
    svg.append(
      el('text', { x: left - 6, y: y + 14, 'text-anchor': 'end', fill: '#555' }, `${rest.length} others`),
      el('rect', { x: left, y: y + 3, width: Math.max(restSum * barW, 0.5), height: rowH - 6, fill: '#ccc' }),
      el('text', { x: width - right + 8, y: y + 14, fill: '#555' }, `${restSum.toFixed(3)} in all`),
    );
  }
  const axisY = top + rows * rowH + 4;
  svg.append(
    el('line', { x1: left, x2: left + barW, y1: axisY, y2: axisY, stroke: '#333' }),
    el('text', { x: left, y: axisY + 14, 'font-size': 10 }, '0'),
    el('text', { x: left + barW, y: axisY + 14, 'font-size': 10, 'text-anchor': 'end' }, '1'),
  );
  if (options.threshold !== undefined) {
    const x = left + options.threshold * barW;
    svg.append(
      el('line', { x1: x, x2: x, y1: top, y2: axisY, stroke: CATEGORICAL[5], 'stroke-width': 1.5, 'stroke-dasharray': '4 2' }),
      el('text', { x: x + 3, y: axisY + 14, 'font-size': 10, fill: '#8a3300' }, `score threshold ${options.threshold}`),
    );
  }
  return svg;
}

/** The text alternative: every class's logit and probability, most likely first. */
export function classProbsTable(data: ClassProbsData): HTMLTableElement {
  return table('Class logits and probabilities of the RoI', ['class', 'logit', 'probability'],
    byProbability(data.probs).map((c) => [name(data.classNames, c), data.logits[c]!.toFixed(3), data.probs[c]!.toFixed(4)]));
}
