/**
 * `anchorsFigure(data, options) → <svg>`: the anchors of one feature cell of one pyramid level,
 * drawn in padded-image pixels over the reader's (resized) image: one box per aspect ratio (and
 * size), coloured by ratio, all centred on the cell's anchor point (x·stride, y·stride) — torchvision
 * puts it on the cell's top-left corner, not its centre. The level's grid of cells is drawn faintly
 * and the chosen cell filled. Clicking the image (or the arrow keys, with the figure focused) picks
 * another cell through `options.onSelect`.
 *
 * Glossary: A = anchors per cell = sizes × ratios; anchors of a level are h·w·A × 4 flat, order
 * (y, x, a), [x1, y1, x2, y2]; ratio r = height / width.
 */
import type { RgbImage, Size } from '../types.ts';
import { categorical } from './colors.ts';
import { imageToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

/** What a figure needs of an RPN level (trace.rpn[i] has all of it). */
export interface AnchorLevel {
  size: Size;
  stride: [number, number];
  numAnchors: number;
  /** h·w·A × 4, order (y, x, a). */
  anchors: Float32Array;
}

export interface AnchorsData {
  image: RgbImage;
  resized: Size;
  padded: Size;
  level: AnchorLevel;
  /** Paper name of the level, e.g. 'P3'. */
  label: string;
  /** The chosen cell [y, x] (clamped to the grid). */
  cell: [number, number];
  /** Aspect ratios (height / width) in anchor order (config.anchors.aspectRatios). */
  ratios: readonly number[];
  /** Anchor sizes of this level (config.anchors.sizes[level]). */
  sizes: readonly number[];
}

export interface AnchorsOptions {
  /** Drawing width in CSS pixels (default 640). */
  width?: number;
  /** Called with the cell [y, x] the reader clicked or moved to with the arrow keys. */
  onSelect?: (cell: [number, number]) => void;
}

/** The A anchors of cell [y, x] of a level: A × 4 (a copy). */
export function cellAnchors(level: AnchorLevel, cell: [number, number]): Float32Array {
  const [h, w] = level.size;
  const [y, x] = cell;
  if (!(y >= 0 && y < h && x >= 0 && x < w)) throw new Error(`cellAnchors: expected a cell inside the ${h}×${w} grid, found [${y}, ${x}]`);
  const a = level.numAnchors;
  const start = (y * w + x) * a * 4;
  return level.anchors.slice(start, start + a * 4);
}

/** Clamp a cell into a level's grid. */
export function clampCell(level: { size: Size }, cell: readonly [number, number]): [number, number] {
  const [h, w] = level.size;
  const c = (v: number, n: number) => Math.max(0, Math.min(n - 1, Math.round(Number.isFinite(v) ? v : 0)));
  return [c(cell[0], h), c(cell[1], w)];
}

export function anchorsFigure(data: AnchorsData, options: AnchorsOptions = {}): SVGSVGElement {
  const { level } = data;
  const cell = clampCell(level, data.cell);
  const [sy, sx] = level.stride;
  const boxes = cellAnchors(level, cell);
  const A = level.numAnchors;
  const [ph, pw] = data.padded;
  // The view: the padded image and every anchor of the cell, with a margin.
  let x0 = 0;
  let y0 = 0;
  let x1 = pw;
  let y1 = ph;
  for (let a = 0; a < A; a++) {
    x0 = Math.min(x0, boxes[4 * a]!);
    y0 = Math.min(y0, boxes[4 * a + 1]!);
    x1 = Math.max(x1, boxes[4 * a + 2]!);
    y1 = Math.max(y1, boxes[4 * a + 3]!);
  }
  const margin = 0.04 * Math.max(x1 - x0, y1 - y0);
  x0 -= margin;
  y0 -= margin;
  x1 += margin;
  y1 += margin;
  const W = options.width ?? 640;
  const k = W / (x1 - x0);
  const legendH = 22 * Math.min(A, 6) + 30;
  const H = (y1 - y0) * k + legendH;
  const svg = svgRoot(
    W,
    H,
    `The ${A} anchors of ${data.label} cell (x ${cell[1]}, y ${cell[0]})`,
    `Level ${data.label}: ${level.size[1]}×${level.size[0]} cells of ${sx}×${sy} px. Anchors of cell (${cell[1]}, ${cell[0]}), centred at (${cell[1] * sx}, ${cell[0] * sy}) px.`,
  );
  const X = (v: number) => (v - x0) * k;
  const Y = (v: number) => (v - y0) * k;
  const [rh, rw] = data.resized;
  svg.append(
    el('rect', { x: X(0), y: Y(0), width: pw * k, height: ph * k, fill: '#ddd' }),
    el('image', { href: imageToDataUrl(data.image), x: X(0), y: Y(0), width: rw * k, height: rh * k, preserveAspectRatio: 'none' }),
  );
  // The level's grid, when its cells are at least 4 px on screen.
  const grid = el('g', { stroke: '#fff', 'stroke-opacity': 0.55, 'stroke-width': 0.6 });
  const [h, w] = level.size;
  if (sx * k >= 4) for (let i = 0; i <= w; i++) grid.append(el('line', { x1: X(i * sx), y1: Y(0), x2: X(i * sx), y2: Y(h * sy) }));
  if (sy * k >= 4) for (let j = 0; j <= h; j++) grid.append(el('line', { x1: X(0), y1: Y(j * sy), x2: X(w * sx), y2: Y(j * sy) }));
  svg.append(grid);
  const [cy, cx] = cell;
  svg.append(el('rect', { 'data-cell': `${cy},${cx}`, x: X(cx * sx), y: Y(cy * sy), width: sx * k, height: sy * k, fill: '#fff', 'fill-opacity': 0.35, stroke: '#000', 'stroke-width': 1.5 }));
  const perSize = Math.max(1, data.sizes.length);
  const layer = el('g', { class: 'anchors' });
  for (let a = 0; a < A; a++) {
    const r = Math.floor(a / perSize);
    const color = categorical(r);
    const [ax1, ay1, ax2, ay2] = [boxes[4 * a]!, boxes[4 * a + 1]!, boxes[4 * a + 2]!, boxes[4 * a + 3]!];
    const dash = a % perSize === 0 ? undefined : '6 3';
    layer.append(
      el('rect', { x: X(ax1), y: Y(ay1), width: (ax2 - ax1) * k, height: (ay2 - ay1) * k, fill: 'none', stroke: '#000', 'stroke-width': 4, 'stroke-opacity': 0.5 }),
      el('rect', { 'data-anchor': a, x: X(ax1), y: Y(ay1), width: (ax2 - ax1) * k, height: (ay2 - ay1) * k, fill: 'none', stroke: color, 'stroke-width': 2.2, 'stroke-dasharray': dash }),
    );
  }
  svg.append(layer);
  svg.append(el('circle', { cx: X(cx * sx), cy: Y(cy * sy), r: 4, fill: '#000', stroke: '#fff', 'stroke-width': 1.5 }));
  const ly = (y1 - y0) * k + 18;
  for (let a = 0; a < Math.min(A, 6); a++) {
    const r = Math.floor(a / perSize);
    const [ax1, ay1, ax2, ay2] = [boxes[4 * a]!, boxes[4 * a + 1]!, boxes[4 * a + 2]!, boxes[4 * a + 3]!];
    svg.append(
      el('rect', { x: 4, y: ly + 22 * a - 10, width: 22, height: 12, fill: 'none', stroke: categorical(r), 'stroke-width': 2.5, 'stroke-dasharray': a % perSize === 0 ? undefined : '6 3' }),
      el('text', { x: 34, y: ly + 22 * a }, `ratio h/w ${data.ratios[r] ?? '?'}, size ${data.sizes[a % perSize] ?? '?'}: ${fmt(ax2 - ax1)} × ${fmt(ay2 - ay1)} px, [${fmt(ax1)}, ${fmt(ay1)}, ${fmt(ax2)}, ${fmt(ay2)}]`),
    );
  }
  svg.append(el('text', { x: 4, y: H - 8, 'font-size': 11 }, `${data.label}: ${w}×${h} cells of ${sx}×${sy} px; the dot is the anchors' centre (${cx * sx}, ${cy * sy}); grey: padding.`));
  if (options.onSelect) {
    const onSelect = options.onSelect;
    svg.setAttribute('tabindex', '0');
    svg.setAttribute('aria-keyshortcuts', 'ArrowLeft ArrowRight ArrowUp ArrowDown');
    svg.style.cursor = 'crosshair';
    svg.addEventListener('click', (e) => {
      const rect = svg.getBoundingClientRect();
      if (!(rect.width > 0)) return;
      const s = W / rect.width;
      const px = (e.clientX - rect.left) * s / k + x0;
      const py = (e.clientY - rect.top) * s / k + y0;
      onSelect(clampCell(level, [Math.floor(py / sy), Math.floor(px / sx)]));
    });
    svg.addEventListener('keydown', (e) => {
      const move: Record<string, [number, number]> = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
      const d = move[e.key];
      if (!d) return;
      e.preventDefault();
      onSelect(clampCell(level, [cy + d[0], cx + d[1]]));
    });
  }
  return svg;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** The anchors of one cell as a table (the figure's text alternative). */
export function anchorsTable(data: AnchorsData): HTMLTableElement {
  const cell = clampCell(data.level, data.cell);
  const boxes = cellAnchors(data.level, cell);
  const perSize = Math.max(1, data.sizes.length);
  const rows = Array.from({ length: data.level.numAnchors }, (_, a) => {
    const [x1, y1, x2, y2] = [boxes[4 * a]!, boxes[4 * a + 1]!, boxes[4 * a + 2]!, boxes[4 * a + 3]!];
    return [a, data.ratios[Math.floor(a / perSize)] ?? '?', data.sizes[a % perSize] ?? '?', fmt(x2 - x1), fmt(y2 - y1), `[${fmt(x1)}, ${fmt(y1)}, ${fmt(x2)}, ${fmt(y2)}]`];
  });
  return table(`Anchors of ${data.label} cell (x ${cell[1]}, y ${cell[0]})`, ['anchor', 'ratio h/w', 'size', 'width', 'height', '[x1, y1, x2, y2] (px)'], rows);
}
