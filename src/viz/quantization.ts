/**
 * `quantizationFigure(data, options) → <svg>`: how far each pooler moved the RoI's four edges, in
 * image pixels (bars, from the instrumentation's `quantization.driftPixels`), with the area it added
 * and lost. RoIAlign moves nothing (its bars are empty); RoIPool and RoIWarp round each edge to a
 * cell, up to half a stride (2 px on P2, 16 px on P5).
 */
import type { QuantizationError } from '../../kernels/roi_instrument.ts';
import { CATEGORICAL } from './colors.ts';
import { el, svgRoot, table } from './svg.ts';

export interface QuantizationData {
  rows: ReadonlyArray<{ label: string; quantization: QuantizationError }>;
  /** Image pixels per feature cell (the level's stride), for the axis and the caption. */
  stride: number;
}

export interface QuantizationOptions {
  /** Width in CSS pixels (default 560). */
  width?: number;
}

const EDGES = ['x1', 'y1', 'x2', 'y2'] as const;
const EDGE_NAMES = { x1: 'left x1', y1: 'top y1', x2: 'right x2', y2: 'bottom y2' } as const;

export function quantizationFigure(data: QuantizationData, options: QuantizationOptions = {}): SVGSVGElement {
  const width = options.width ?? 560;
  const rowH = 16;
  const groupGap = 14;
  const left = 74;
  const mid = left + (width - left - 150) / 2;
  const half = (width - left - 150) / 2;
  // The axis spans ± half a stride at least (the most rounding can move an edge), more if needed.
  let reach = data.stride / 2;
  for (const r of data.rows) for (const e of EDGES) reach = Math.max(reach, Math.abs(r.quantization.driftPixels[e]));
  const top = 30;
  const height = top + EDGES.length * (data.rows.length * rowH + groupGap) + 20;
  const svg = svgRoot(width, height, 'How far each pooler moves the RoI edges, in image pixels', `Edge drift (pooled − true) per pooler; a stride is ${data.stride} px.`);
  svg.append(
    el('text', { x: 0, y: 14, 'font-weight': 700 }, 'edge drift, image pixels'),
    el('line', { x1: mid, x2: mid, y1: top - 6, y2: height - 18, stroke: '#333' }),
    el('text', { x: mid - half, y: height - 4, 'font-size': 10, 'text-anchor': 'start' }, `−${reach.toFixed(1)}`),
    el('text', { x: mid, y: height - 4, 'font-size': 10, 'text-anchor': 'middle' }, '0'),
    el('text', { x: mid + half, y: height - 4, 'font-size': 10, 'text-anchor': 'end' }, `+${reach.toFixed(1)}`),
  );
  let y = top;
  for (const e of EDGES) {
    svg.append(el('text', { x: 0, y: y + (data.rows.length * rowH) / 2 + 4, 'font-weight': 600 }, EDGE_NAMES[e]));
    data.rows.forEach((r, i) => {
      const d = r.quantization.driftPixels[e];
      const len = (Math.abs(d) / reach) * half;
      const colour = CATEGORICAL[[4, 0, 2][i % 3]!]!;
      svg.append(
        el('rect', { x: d < 0 ? mid - len : mid, y: y + 2, width: Math.max(len, 0.5), height: rowH - 4, fill: colour, 'data-edge': e, 'data-pooler': r.label }),
        el('rect', { x: mid + half + 8, y: y + 3, width: 10, height: 10, fill: colour }),
        el('text', { x: mid + half + 22, y: y + rowH - 4, 'font-size': 11 }, `${r.label} ${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)} px`),
      );
      y += rowH;
    });
    y += groupGap;
  }
  return svg;
}

/** The text alternative: per pooler, the drift of every edge in feature cells and image pixels, and the area added and lost. */
export function quantizationTable(data: QuantizationData): HTMLTableElement {
  const f = (v: number) => v.toFixed(3);
  return table(`Quantization of the RoI (a cell is ${data.stride} image pixels)`, ['pooler', 'drift x1, y1, x2, y2 (cells)', 'drift (image px)', 'area added / lost (cells²)', 'area added / lost (px²)'],
    data.rows.map(({ label, quantization: q }) => [
      label,
      EDGES.map((e) => f(q.drift[e])).join(', '),
      EDGES.map((e) => f(q.driftPixels[e])).join(', '),
      `${f(q.areaAdded)} / ${f(q.areaLost)}`,
      `${q.areaAddedPixels.toFixed(1)} / ${q.areaLostPixels.toFixed(1)}`,
    ]));
}
