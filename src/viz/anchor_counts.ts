/**
 * `anchorCountsFigure(levels, options) → <svg>`: how many anchors the RPN scores on each level,
 * h · w · A, as bars (each level has a quarter of the cells of the one below it), with the total.
 */
import type { Size } from '../types.ts';
import { categorical } from './colors.ts';
import { el, svgRoot, table } from './svg.ts';

export interface AnchorCountLevel {
  /** 'P2' … 'P6'. */
  label: string;
  /** Feature size [h, w]. */
  size: Size;
  stride: [number, number];
  /** A: anchors per cell. */
  numAnchors: number;
}

export interface AnchorCountsOptions {
  /** Drawing width in CSS pixels (default 640). */
  width?: number;
}

/** h · w · A of each level. */
export function anchorCounts(levels: readonly AnchorCountLevel[]): number[] {
  return levels.map((l) => l.size[0] * l.size[1] * l.numAnchors);
}

const fmt = (n: number) => n.toLocaleString('en-US');

export function anchorCountsFigure(levels: readonly AnchorCountLevel[], options: AnchorCountsOptions = {}): SVGSVGElement {
  const counts = anchorCounts(levels);
  const total = counts.reduce((a, b) => a + b, 0);
  const W = options.width ?? 640;
  const left = 54;
  const barMax = W - left - 230;
  const rowH = 26;
  const H = levels.length * rowH + 40;
  const max = Math.max(1, ...counts);
  const svg = svgRoot(W, H, `Anchors per level: ${fmt(total)} in total`, levels.map((l, i) => `${l.label}: ${l.size[0]}·${l.size[1]}·${l.numAnchors} = ${counts[i]}`).join('; '));
  levels.forEach((l, i) => {
    const y = 8 + i * rowH;
    const w = (counts[i]! / max) * barMax;
    svg.append(
      el('text', { x: left - 8, y: y + 14, 'text-anchor': 'end', 'font-weight': 600 }, l.label),
      el('rect', { 'data-level': l.label, x: left, y, width: Math.max(1, w), height: rowH - 8, fill: categorical(i), stroke: '#000', 'stroke-width': 0.5 }),
      el('text', { x: left + w + 6, y: y + 14 }, `${l.size[0]} · ${l.size[1]} · ${l.numAnchors} = ${fmt(counts[i]!)}`),
    );
  });
  svg.append(el('text', { x: left, y: H - 8, 'font-weight': 600 }, `total: ${fmt(total)} anchors, each with an objectness score and 4 box deltas`));
  return svg;
}

/** The text alternative: per level h × w × A, and the total. */
export function anchorCountsTable(levels: readonly AnchorCountLevel[]): HTMLTableElement {
  const counts = anchorCounts(levels);
  const rows: (string | number)[][] = levels.map((l, i) => [l.label, `${l.size[0]} × ${l.size[1]}`, `${l.stride[0]} × ${l.stride[1]}`, l.numAnchors, fmt(counts[i]!)]);
  rows.push(['all levels', '', '', '', fmt(counts.reduce((a, b) => a + b, 0))]);
  return table('Anchors per level (h · w · A) and in total', ['level', 'cells h × w', 'stride (px)', 'A per cell', 'anchors'], rows);
}
