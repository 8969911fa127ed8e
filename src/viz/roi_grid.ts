/**
 * `roiGridFigure(data, options) → <svg>`: one RoI on the feature grid under one pooler, drawn from
 * the kernels' instrumentation (kernels/roi_instrument.ts): the cells of one channel (blue–white–
 * orange), the box on the map (dotted), the RoI as the kernel places it (dashed), and
 *   RoIPool:  the rounded RoI as whole cells, its integer bins, and the cell each bin's max came from;
 *   RoIWarp:  the rounded RoI, its bins and sampling points;
 *   RoIAlign: the float bins and sampling points;
 * and, for a chosen bin, each sampling point's four neighbour cells with their bilinear weights.
 *
 * Drawing frame: cell (row i, col j) is the unit square [j, j+1] × [i, i+1]. The kernels put a cell's
 * value at x = j (see roi_instrument.ts), so their coordinates are drawn at +½; the box itself is at
 * x·scale — with `aligned = false` the kernel's RoI sits half a cell right of and below it.
 */
import type { CellBin, FeatureMapView, PooledRoiGeometry, Rect, SampledRoiGeometry } from '../../kernels/roi_instrument.ts';
import type { CellWindow } from '../site/roi_lens.ts';
import { el, svgRoot, table } from './svg.ts';
import { type ValueScale, valueScale } from './value_scale.ts';

export interface RoiGridData {
  /** One pooler's geometry of one RoI, instrumented with the plane's values (bins carry outputs). */
  geometry: PooledRoiGeometry | SampledRoiGeometry;
  /** The channel the geometry was instrumented on: an H×W one-channel map. */
  plane: FeatureMapView;
  /** The cells to draw (the same for the poolers compared side by side). */
  window: CellWindow;
}

export interface RoiGridOptions {
  /** The bin [ph, pw] whose neighbours and weights (RoIAlign/RoIWarp) or argmax (RoIPool) are drawn. */
  chosenBin?: [number, number];
  /** The colour scale of the cells (default: `valueScale` of the window's values); pass one scale to panels compared side by side. */
  scale?: ValueScale;
  /** Largest drawing width of the grid, CSS pixels (default 640). */
  width?: number;
  /** Largest drawing height of the grid, CSS pixels (default 420). */
  height?: number;
  /** Title above the grid (default: the pooler's name). */
  title?: string;
  /** Make bins clickable: called with the bin a reader clicks (or presses Enter on). */
  onBinClick?: (ph: number, pw: number) => void;
  /** Write values in cells and weights on the neighbour lines when a cell is at least this many pixels (default 34). */
  labelsFrom?: number;
}

const NAMES = { roiPool: 'RoIPool', roiWarp: 'RoIWarp', roiAlign: 'RoIAlign' } as const;
const ROI = '#0072B2';
const PICK = '#D55E00';
const HALF = 0.5;

/** The values of a one-channel plane inside a window, row by row. */
export function* windowValues(plane: FeatureMapView, w: CellWindow): Generator<number> {
  if (plane.values === undefined) return;
  for (let r = w.row0; r < w.row1; r++) for (let c = w.col0; c < w.col1; c++) yield plane.values[r * plane.width + c]!;
}

export function roiGridFigure(data: RoiGridData, options: RoiGridOptions = {}): SVGSVGElement {
  const { geometry: g, plane, window: w } = data;
  if (plane.values === undefined) throw new Error('roiGridFigure: the plane has no values; pass the channel the geometry was instrumented on');
  const cols = w.col1 - w.col0;
  const rows = w.row1 - w.row0;
  const c = Math.min((options.width ?? 640) / cols, (options.height ?? 420) / rows, 56);
  const top = 26;
  const left = 4;
  const gridW = cols * c;
  const gridH = rows * c;
  const legendH = 62;
  const svg = svgRoot(Math.max(gridW + 2 * left, 300), top + gridH + legendH, options.title ?? `${NAMES[g.pooler]} on the feature grid`,
    `${rows}×${cols} cells of the ${g.featureSize[0]}×${g.featureSize[1]} map around the RoI; ${g.outputSize[0]}×${g.outputSize[1]} bins.`);
  svg.setAttribute('data-pooler', g.pooler);
  if (options.onBinClick) {
    // Its bins are buttons: a group, not an image (an image's content is not operable).
    svg.setAttribute('role', 'group');
    svg.setAttribute('aria-label', `${options.title ?? NAMES[g.pooler]} on the feature grid; the bins are buttons`);
  }
  const X = (u: number) => left + (u - w.col0) * c;
  const Y = (v: number) => top + (v - w.row0) * c;
  const colours = options.scale ?? valueScale(windowValues(plane, w));
  const labels = c >= (options.labelsFrom ?? 34);
  svg.append(el('text', { x: left, y: 16, 'font-weight': 700 }, options.title ?? NAMES[g.pooler]));
  svg.append(el('defs', {}, el('clipPath', { id: `clip-${g.pooler}` }, el('rect', { x: left, y: top, width: gridW, height: gridH }))));

  // The cells of one channel.
  const cells = el('g', { class: 'cells' });
  for (let r = w.row0; r < w.row1; r++) {
    for (let j = w.col0; j < w.col1; j++) {
      const v = plane.values[r * plane.width + j]!;
      const [R, G, B] = colours.color(v);
      cells.append(el('rect', { x: X(j), y: Y(r), width: c, height: c, fill: `rgb(${R},${G},${B})`, stroke: '#bbb', 'stroke-width': 0.5 }));
      if (labels) cells.append(el('text', { x: X(j) + c / 2, y: Y(r) + c - 4, 'text-anchor': 'middle', 'font-size': 8, fill: '#444' }, v.toFixed(2)));
    }
  }
  svg.append(cells);
  const marks = el('g', { 'clip-path': `url(#clip-${g.pooler})` });
  svg.append(marks);
  const rect = (x1: number, y1: number, x2: number, y2: number, attrs: Record<string, string | number | undefined>) =>
    el('rect', { x: X(x1), y: Y(y1), width: Math.max(0, (x2 - x1) * c), height: Math.max(0, (y2 - y1) * c), fill: 'none', ...attrs });
  /** A kernel-frame rectangle (values at integer coordinates) in the drawing frame. */
  const kernelRect = (q: Rect, attrs: Record<string, string | number | undefined>) => rect(q.x1 + HALF, q.y1 + HALF, q.x2 + HALF, q.y2 + HALF, attrs);

  const chosen = options.chosenBin;
  const isChosen = (ph: number, pw: number) => chosen !== undefined && chosen[0] === ph && chosen[1] === pw;
  const binTarget = (ph: number, pw: number, r: SVGRectElement) => {
    if (!options.onBinClick) return r;
    const a = el('g', { 'data-bin': `${ph},${pw}`, tabindex: 0, role: 'button', 'aria-label': `bin ${ph}, ${pw}`, cursor: 'pointer' });
    r.setAttribute('fill', 'transparent');
    a.append(r);
    const go = () => options.onBinClick!(ph, pw);
    a.addEventListener('click', go);
    a.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        go();
      }
    });
    return a;
  };

  // Where the box is (x·scale) and where the kernel puts it (x·scale − o, values at integers).
  const s = g.scale;
  marks.append(rect(g.box[0] * s, g.box[1] * s, g.box[2] * s, g.box[3] * s, { stroke: '#222', 'stroke-width': 1.5, 'stroke-dasharray': '1.5 3' }));

  if (g.pooler === 'roiPool') {
    const p = g.pooledRoi;
    // RoIPool reads whole cells: those whose value points lie in the rounded RoI.
    marks.append(rect(p.x1, p.y1, p.x2 + 1, p.y2 + 1, { stroke: ROI, 'stroke-width': 3 }));
    for (const bin of g.bins) marks.append(binTarget(bin.ph, bin.pw, rect(bin.colStart, bin.rowStart, bin.colEnd, bin.rowEnd, { stroke: ROI, 'stroke-width': 1, 'stroke-opacity': 0.8 })));
    for (const bin of g.bins) drawArgmax(bin, isChosen(bin.ph, bin.pw));
    marks.append(kernelRect(g.trueRoi, { stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '6 3' }));
  } else {
    marks.append(kernelRect(g.pooledRoi, { stroke: ROI, 'stroke-width': 3 }));
    for (const bin of g.bins) {
      marks.append(binTarget(bin.ph, bin.pw, kernelRect(bin.rect, { stroke: ROI, 'stroke-width': 1, 'stroke-opacity': 0.8 })));
    }
    if (g.pooler === 'roiWarp') marks.append(kernelRect(g.trueRoi, { stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '6 3' }));
    const pointR = Math.max(1.6, Math.min(4, c / 9));
    for (const bin of g.bins) {
      const hot = isChosen(bin.ph, bin.pw);
      if (hot) marks.append(kernelRect(bin.rect, { fill: PICK, 'fill-opacity': 0.18, stroke: PICK, 'stroke-width': 2.5, 'pointer-events': 'none' }));
      for (const pt of bin.points) {
        const px = X(pt.x + HALF);
        const py = Y(pt.y + HALF);
        if (hot) {
          for (const t of pt.taps) {
            const tx = X(t.col + HALF);
            const ty = Y(t.row + HALF);
            marks.append(
              el('rect', { x: X(t.col) + 1.5, y: Y(t.row) + 1.5, width: c - 3, height: c - 3, fill: 'none', stroke: PICK, 'stroke-width': 1.5, 'pointer-events': 'none' }),
              el('line', { x1: px, y1: py, x2: tx, y2: ty, stroke: PICK, 'stroke-width': 0.6 + 3 * t.weight, 'stroke-opacity': 0.85, 'pointer-events': 'none' }),
            );
            if (labels && t.weight > 0) {
              marks.append(el('text', { x: px + 0.55 * (tx - px), y: py + 0.55 * (ty - py) + 3, 'text-anchor': 'middle', 'font-size': 9, fill: '#000', stroke: '#fff', 'stroke-width': 2.5, 'paint-order': 'stroke', 'pointer-events': 'none' }, t.weight.toFixed(2)));
            }
          }
        }
        marks.append(el('circle', { cx: px, cy: py, r: hot ? pointR * 1.3 : pointR, fill: pt.inside ? '#000' : '#fff', stroke: pt.inside ? '#fff' : '#000', 'stroke-width': 1, 'pointer-events': 'none' }));
      }
    }
    if (g.pooler === 'roiAlign') marks.append(kernelRect(g.trueRoi, { stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '6 3', 'pointer-events': 'none' }));
  }

  function drawArgmax(bin: CellBin, hot: boolean): void {
    const cell = bin.argmaxCell?.[0];
    if (cell === undefined || cell < 0) return;
    const r = Math.floor(cell / plane.width);
    const j = cell % plane.width;
    if (hot) marks.append(rect(bin.colStart, bin.rowStart, bin.colEnd, bin.rowEnd, { fill: PICK, 'fill-opacity': 0.18, stroke: PICK, 'stroke-width': 2.5, 'pointer-events': 'none' }));
    marks.append(el('circle', { cx: X(j + HALF), cy: Y(r + HALF), r: Math.max(2.5, Math.min(7, c / 5)), fill: 'none', stroke: hot ? PICK : '#000', 'stroke-width': hot ? 3 : 1.5, 'pointer-events': 'none' }));
  }

  // Legend, three short lines.
  const ly = top + gridH + 14;
  const item = (x: number, y: number, mark: SVGElement, text: string) => {
    svg.append(el('g', { transform: `translate(${x},${y})` }, mark, el('text', { x: 24, y: 4, 'font-size': 10 }, text)));
  };
  const line = (attrs: Record<string, string | number>) => el('line', { x1: 0, y1: 0, x2: 18, y2: 0, ...attrs });
  item(left, ly, line({ stroke: '#222', 'stroke-width': 1.5, 'stroke-dasharray': '1.5 3' }), 'box × scale');
  item(left + 110, ly, line({ stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '6 3' }), 'RoI in the kernel’s frame');
  item(left, ly + 15, line({ stroke: ROI, 'stroke-width': 3 }), g.pooler === 'roiPool' ? 'rounded RoI (cells read), bins' : g.pooler === 'roiWarp' ? 'rounded RoI, bins' : 'RoI, float bins');
  item(left + 180, ly + 15, g.pooler === 'roiPool'
    ? el('circle', { cx: 9, cy: 0, r: 4, fill: 'none', stroke: '#000', 'stroke-width': 1.5 })
    : el('circle', { cx: 9, cy: 0, r: 3, fill: '#000' }), g.pooler === 'roiPool' ? 'argmax cell' : 'sampling point');
  svg.append(
    el('text', { x: left, y: ly + 32, 'font-size': 10, fill: '#333' }, `${g.featureSize[1]}×${g.featureSize[0]} map, 1 cell = ${Math.round(1 / g.scale)} px; ${g.outputSize[0]}×${g.outputSize[1]} bins`),
    el('text', { x: left, y: ly + 45, 'font-size': 10, fill: '#333' }, `colour: ${colours.label}`),
  );
  return svg;
}

/**
 * The text alternative: for RoIPool, each bin's cells, argmax cell and output; for RoIWarp/RoIAlign,
 * the chosen bin's sampling points, their four neighbours with weights and values, and its output.
 */
export function roiGridTable(data: RoiGridData, chosenBin: [number, number] = [0, 0]): HTMLTableElement {
  const { geometry: g, plane } = data;
  const v = (row: number, col: number) => plane.values![row * plane.width + col]!;
  const f = (x: number) => x.toFixed(3);
  if (g.pooler === 'roiPool') {
    return table(`RoIPool bins of the RoI (rows × columns of cells, the cell each max came from)`, ['bin', 'rows', 'columns', 'argmax cell (row, col)', 'output'],
      g.bins.map((b) => {
        const cell = b.argmaxCell?.[0] ?? -1;
        return [`${b.ph}, ${b.pw}`, `${b.rowStart}…${b.rowEnd - 1}`, `${b.colStart}…${b.colEnd - 1}`, cell < 0 ? 'empty bin (0)' : `${Math.floor(cell / plane.width)}, ${cell % plane.width}`, b.output ? f(b.output[0]!) : ''];
      }));
  }
  const bin = g.bins.find((b) => b.ph === chosenBin[0] && b.pw === chosenBin[1]) ?? g.bins[0]!;
  const rows: Array<Array<string | number>> = [];
  bin.points.forEach((p, i) => {
    if (!p.inside) rows.push([i + 1, `${f(p.y)}, ${f(p.x)}`, 'outside the map: reads 0', '', '']);
    for (const t of p.taps) rows.push([i + 1, `${f(p.y)}, ${f(p.x)}`, `${t.row}, ${t.col}`, f(t.weight), f(v(t.row, t.col))]);
  });
  rows.push(['output', `${g.mode === 'avg' ? `sum of points ÷ ${g.count}` : 'max of points'}`, '', '', bin.output ? f(bin.output[0]!) : '']);
  return table(`${NAMES[g.pooler]} bin ${bin.ph}, ${bin.pw}: sampling points (y, x in kernel coordinates), their neighbour cells and bilinear weights`, ['point', 'y, x', 'neighbour (row, col)', 'weight', 'value'], rows);
}
