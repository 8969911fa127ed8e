/**
 * `proposalsFigure(data, options) → <svg>`: boxes over the reader's image, in resized-image pixels
 * (where the RPN and the RoI heads work): the `top` highest-scoring ones, drawn weakest first so the
 * best lie on top, coloured by pyramid level (Okabe–Ito) with a legend and counts.
 */
import type { Boxes, RgbImage, Size } from '../types.ts';
import { categorical } from './colors.ts';
import { imageToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

export interface ProposalsData {
  image: RgbImage;
  /** The resized image size [h, w]: the image is drawn at this size. */
  resized: Size;
  /** N × 4 [x1, y1, x2, y2] in resized-image pixels. */
  boxes: Boxes;
  scores: Float32Array;
  /** 0-based pyramid level of each box (P2 = 0). */
  levels: Int32Array;
}

export interface ProposalsOptions {
  /** How many boxes to draw, best first (default 50). */
  top?: number;
  /** Level names (default P2, P3, …). */
  levelNames?: readonly string[];
  /** Drawing width in CSS pixels (default 420). */
  width?: number;
  /** Accessible title. */
  title?: string;
}

/** Box indices by decreasing score (ties by index), the first `top`. */
export function topByScore(scores: Float32Array, top: number): number[] {
  const idx = Array.from(scores.keys());
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, Math.max(0, top));
}

const levelName = (names: readonly string[] | undefined, l: number) => names?.[l] ?? `P${l + 2}`;

export function proposalsFigure(data: ProposalsData, options: ProposalsOptions = {}): SVGSVGElement {
  const [rh, rw] = data.resized;
  const W = options.width ?? 420;
  const k = W / rw;
  const n = data.scores.length;
  const shown = topByScore(data.scores, options.top ?? 50);
  const usedLevels = [...new Set(Array.from(data.levels))].sort((a, b) => a - b);
  const legendH = 22;
  const H = rh * k + legendH + 20;
  const svg = svgRoot(W, H, options.title ?? `The ${shown.length} best of ${n} boxes`, `${shown.length} highest-scoring of ${n} boxes, coloured by pyramid level.`);
  svg.append(el('image', { href: imageToDataUrl(data.image), x: 0, y: 0, width: rw * k, height: rh * k, preserveAspectRatio: 'none' }));
  const layer = el('g', { class: 'proposals', fill: 'none' });
  for (let r = shown.length - 1; r >= 0; r--) {
    const i = shown[r]!;
    const [x1, y1, x2, y2] = [data.boxes[4 * i]!, data.boxes[4 * i + 1]!, data.boxes[4 * i + 2]!, data.boxes[4 * i + 3]!];
    const attrs = { x: x1 * k, y: y1 * k, width: Math.max(0, x2 - x1) * k, height: Math.max(0, y2 - y1) * k };
    layer.append(
      el('rect', { ...attrs, stroke: '#000', 'stroke-opacity': 0.45, 'stroke-width': 2.6 }),
      el('rect', { ...attrs, 'data-box': i, 'data-rank': r, stroke: categorical(data.levels[i]!), 'stroke-width': r < 5 ? 2 : 1.2 }),
    );
  }
  svg.append(layer);
  let lx = 0;
  const ly = rh * k + 16;
  for (const l of usedLevels) {
    let count = 0;
    for (const i of shown) if (data.levels[i] === l) count++;
    svg.append(el('rect', { x: lx, y: ly - 9, width: 14, height: 10, fill: 'none', stroke: categorical(l), 'stroke-width': 2.5 }), el('text', { x: lx + 18, y: ly, 'font-size': 11 }, `${levelName(options.levelNames, l)} ${count}`));
    lx += 64;
  }
  svg.append(el('text', { x: 0, y: H - 2, 'font-size': 11 }, `${shown.length} of ${n} shown (best first; the 5 best drawn thicker)`));
  return svg;
}

/** The text alternative: the drawn boxes, best first. */
export function proposalsTable(data: ProposalsData, options: Pick<ProposalsOptions, 'top' | 'levelNames'> = {}, caption = 'Boxes, best first'): HTMLTableElement {
  const rows = topByScore(data.scores, options.top ?? 50).map((i, r) => [
    r + 1,
    data.scores[i]!.toFixed(4),
    levelName(options.levelNames, data.levels[i]!),
    Array.from(data.boxes.subarray(4 * i, 4 * i + 4), (v) => v.toFixed(1)).join(', '),
  ]);
  return table(caption, ['rank', 'score', 'level', 'x1, y1, x2, y2 (resized px)'], rows);
}
