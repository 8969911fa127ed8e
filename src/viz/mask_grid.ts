/**
 * `maskGridFigure(data, options) → <svg>`: the mask head's K per-class M×M masks of one or more
 * detections, as sigmoid probabilities on the cividis scale (dark blue 0 … yellow 1), K panels per
 * detection wrapped into rows, each labelled with its class; the class the box head predicted — the
 * only mask the engine pastes — framed in orange.
 */
import { classPlane as plane } from '../site/mask_head_view.ts';
import { rgbaToDataUrl } from './raster.ts';
import { sequentialRgba } from './sequential.ts';
import { el, svgRoot, table } from './svg.ts';

export interface MaskGridDetection {
  /** Heading of the detection's block, e.g. "detection 2: cat 0.93". */
  title: string;
  /** K sigmoid probabilities planes, M×M×K with the class innermost (the trace's layout). */
  probs: Float32Array;
  /** The predicted class. */
  predicted: number;
}

export interface MaskGridData {
  detections: readonly MaskGridDetection[];
  /** M (28) */
  size: number;
  numClasses: number;
  classNames: readonly string[];
}

export interface MaskGridOptions {
  /** Panels per row (default min(K, 10)). */
  columns?: number;
  /** Side of a panel, CSS pixels (default: 600 px shared by the columns, 40 to 110 each). */
  panel?: number;
  /** Leave out the background class's mask (default false: all K are drawn). */
  skipBackground?: boolean;
}

const name = (names: readonly string[], c: number) => names[c] ?? `class ${c}`;

export function maskGridFigure(data: MaskGridData, options: MaskGridOptions = {}): SVGSVGElement {
  const k = data.numClasses;
  const m = data.size;
  const classes = Array.from({ length: k }, (_, c) => c).filter((c) => !(options.skipBackground && c === 0));
  const columns = Math.max(1, Math.min(options.columns ?? 10, classes.length));
  const side = options.panel ?? Math.max(40, Math.min(110, Math.floor(600 / columns) - 8));
  const gap = 8;
  const labelH = 14;
  const cellW = side + gap;
  const cellH = side + labelH + gap;
  const rowsPer = Math.ceil(classes.length / columns);
  const headH = 20;
  const blockH = headH + rowsPer * cellH + 6;
  const width = Math.max(columns * cellW, 480);
  const height = data.detections.length * blockH + 16;
  const svg = svgRoot(width, height, 'Per-class masks of the mask head', `${data.detections.length} detection(s) × ${classes.length} classes of ${m}×${m} masks; the predicted class is framed.`);
  data.detections.forEach((det, i) => {
    const y0 = i * blockH;
    const block = el('g', { 'data-detection': i });
    block.append(el('text', { x: 0, y: y0 + 14, 'font-weight': 700 }, det.title));
    classes.forEach((c, j) => {
      const x = (j % columns) * cellW;
      const y = y0 + headH + Math.floor(j / columns) * cellH;
      const hot = c === det.predicted;
      block.append(
        el('image', { href: rgbaToDataUrl(sequentialRgba(plane(det.probs, k, c)), m, m), x, y, width: side, height: side, preserveAspectRatio: 'none', style: 'image-rendering: pixelated', 'data-class': c }),
        el('rect', { x, y, width: side, height: side, fill: 'none', stroke: hot ? '#E69F00' : '#999', 'stroke-width': hot ? 4 : 1, 'data-predicted': hot ? 'true' : undefined }),
        el('text', { x, y: y + side + 11, 'font-size': 10, 'font-weight': hot ? 700 : 400, fill: '#222' }, `${name(data.classNames, c)}${hot ? ' ◀' : ''}`.slice(0, Math.max(6, Math.floor(side / 5.5)))),
      );
    });
    svg.append(block);
  });
  svg.append(el('text', { x: 0, y: height - 4, 'font-size': 10, fill: '#333' }, 'probability: dark blue 0 … yellow 1; orange frame: the class the box head predicted'));
  return svg;
}

/** The text alternative: per detection and class, the mean probability and the pixels above ½. */
export function maskGridTable(data: MaskGridData): HTMLTableElement {
  const k = data.numClasses;
  const rows: Array<Array<string | number>> = [];
  for (const det of data.detections) {
    for (let c = 0; c < k; c++) {
      const p = plane(det.probs, k, c);
      let sum = 0;
      let above = 0;
      for (const v of p) {
        sum += v;
        if (v > 0.5) above++;
      }
      rows.push([det.title, `${name(data.classNames, c)}${c === det.predicted ? ' (predicted)' : ''}`, (sum / p.length).toFixed(3), above]);
    }
  }
  return table(`Per-class ${data.size}×${data.size} masks: mean probability and pixels above 0.5`, ['detection', 'class', 'mean probability', `pixels > 0.5 (of ${data.size * data.size})`], rows);
}
