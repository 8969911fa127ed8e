/**
 * Figures of the ablation chapter (chapter 12), each `(data, options) → element`:
 *
 *  - `scenePanelsFigure`: one validation scene, one panel per pooler model (its detections' masks and
 *    boxes) and optionally the ground truth. A detection takes the colour of the object it matched
 *    (mask IoU ≥ 0.5, COCO's rule), so the same object has the same colour in every panel; an
 *    unmatched detection is drawn grey with a dashed box. Text alternative: `sceneObjectsTable`.
 *  - `sceneScoresTable`: per model, objects found at IoU ≥ 0.5 and ≥ 0.75, mean mask and box IoU.
 *  - `objectIouFigure`: each object's best mask IoU under each model, objects by area (small left).
 *  - `apTable` and `apBarsFigure`: AP, AP50, AP75 per pooler for the paper (Table 2c) and our models.
 *  - `shiftIouFigure`: the IoU of a square with itself shifted by d pixels, for a few sizes and shifts.
 *
 * Colours: Okabe–Ito (colours.ts). Poolers as in chapter 7: RoIPool blue, RoIWarp orange, RoIAlign
 * bluish green, and each pooler also has its own marker shape (square, triangle, circle).
 */
import type { Pooler } from '../config.ts';
import type { MaskRegion } from '../stages/paste.ts';
import type { RgbImage } from '../types.ts';
import { type ApRow, type ApTriple, type DetectionSet, POOLER_NAMES, type SceneScore, alignGain } from '../site/ablation_view.ts';
import { CATEGORICAL, categorical, hexToRgb } from './colors.ts';
import { imageToDataUrl, rgbaToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

export const POOLER_COLORS: Readonly<Record<Pooler, string>> = { roiPool: CATEGORICAL[4], roiWarp: CATEGORICAL[0], roiAlign: CATEGORICAL[2] };
const GREY = '#6b6b6b';

/** A pooler's marker at (x, y), radius r: square (RoIPool), triangle (RoIWarp), circle (RoIAlign). */
export function poolerMarker(pooler: Pooler, x: number, y: number, r: number, attrs: Record<string, string | number> = {}): SVGElement {
  const fill = POOLER_COLORS[pooler];
  const common = { fill, stroke: '#000', 'stroke-width': 0.8, 'data-pooler': pooler, ...attrs };
  if (pooler === 'roiPool') return el('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r, ...common });
  if (pooler === 'roiWarp') return el('path', { d: `M${x},${y - r * 1.2} L${x + r * 1.1},${y + r * 0.8} L${x - r * 1.1},${y + r * 0.8} Z`, ...common });
  return el('circle', { cx: x, cy: y, r, ...common });
}

// ---------------------------------------------------------------------------------------------
// The scene, per model

export interface ScenePanel {
  /** Model id. */
  id: string;
  /** "RoIPool model" etc. */
  title: string;
  pooler: Pooler;
  /** Undefined while the model has not run (then `status` says why). */
  detections?: DetectionSet;
  score?: SceneScore;
  status?: string;
}

export interface ScenePanelsData {
  image: RgbImage;
  /** Ground-truth objects (label, mask H×W, tight box). */
  objects: ReadonlyArray<{ label: number; mask: Uint8Array; box: readonly number[]; area: number }>;
  panels: readonly ScenePanel[];
  classNames: readonly string[];
  /** Add a ground-truth panel. */
  showGroundTruth: boolean;
  /** The scene's seed, for titles. */
  seed: number;
  /** The session run the panels belong to, and whether every model has run (set as data-run / data-done on the SVG). */
  run?: number;
  done?: boolean;
}

function regionRgba(region: MaskRegion, threshold: number, color: string, alpha = 150): Uint8ClampedArray {
  const [r, g, b] = hexToRgb(color);
  const out = new Uint8ClampedArray(region.width * region.height * 4);
  for (let i = 0; i < region.data.length; i++) {
    if (region.data[i]! > threshold) {
      out[4 * i] = r;
      out[4 * i + 1] = g;
      out[4 * i + 2] = b;
      out[4 * i + 3] = alpha;
    }
  }
  return out;
}

function gtRgba(objects: ScenePanelsData['objects'], width: number, height: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  objects.forEach((o, g) => {
    const [r, gg, b] = hexToRgb(categorical(g));
    for (let i = 0; i < o.mask.length; i++) {
      if (o.mask[i]) {
        out[4 * i] = r;
        out[4 * i + 1] = gg;
        out[4 * i + 2] = b;
        out[4 * i + 3] = 150;
      }
    }
  });
  return out;
}

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '—');

/** One-line summary of a model on a scene: "4 of 6 objects at IoU ≥ 0.5, 2 at ≥ 0.75; mean mask IoU 0.71". */
export function scoreLine(score: SceneScore): string {
  return `${score.found50} of ${score.objects} at IoU ≥ 0.5, ${score.found75} at ≥ 0.75; mean mask IoU ${fmt(score.meanMaskIou)}`;
}

export function scenePanelsFigure(data: ScenePanelsData, options: { panel?: number; imageHref?: string } = {}): SVGSVGElement {
  const { image } = data;
  const side = options.panel ?? 256;
  const k = side / Math.max(image.width, image.height);
  const pw = image.width * k;
  const ph = image.height * k;
  const gap = 16;
  const head = 50;
  const columns = data.panels.length + (data.showGroundTruth ? 1 : 0);
  const width = Math.max(1, columns) * (pw + gap) - gap;
  const height = head + ph + 4;
  const svg = svgRoot(
    width,
    height,
    `Validation scene ${data.seed}: ${data.panels.map((p) => p.title).join(', ')}${data.showGroundTruth ? ', and the ground truth' : ''}`,
    'Each panel shows one model’s detections (masks and boxes) on the same scene; a detection has the colour of the ground-truth object it matched, grey with a dashed box if none.',
  );
  if (data.run !== undefined) svg.setAttribute('data-run', String(data.run));
  if (data.done !== undefined) svg.setAttribute('data-done', String(data.done));
  const href = options.imageHref ?? imageToDataUrl(image);
  let x = 0;
  const panelFrame = (title: string, lines: readonly string[], attrs: Record<string, string | number>) => {
    const g = el('g', { transform: `translate(${x},0)`, ...attrs });
    g.append(el('text', { x: 0, y: 14, 'font-weight': 700, 'font-size': 13 }, title));
    lines.forEach((line, i) => g.append(el('text', { x: 0, y: 29 + 13 * i, 'font-size': 11 }, line)));
    g.append(el('image', { href, x: 0, y: head, width: pw, height: ph, preserveAspectRatio: 'none' }));
    svg.append(g);
    x += pw + gap;
    return g;
  };
  const inner = (g: SVGGElement) => {
    const c = el('g', { transform: `translate(0,${head}) scale(${k})` });
    g.append(c);
    return c;
  };
  for (const p of data.panels) {
    const s = p.score;
    const lines = s ? [`found ${s.found50}/${s.objects} at IoU ≥ 0.5, ${s.found75}/${s.objects} at ≥ 0.75`, `mean mask IoU ${fmt(s.meanMaskIou)} (found objects)`] : [p.status ?? 'not run yet'];
    const g = panelFrame(p.title, lines, {
      'data-panel': 'model', 'data-model-id': p.id, 'data-pooler': p.pooler,
      'data-detections': p.detections ? p.detections.labels.length : -1,
      'data-mean-iou': s && Number.isFinite(s.meanMaskIou) ? s.meanMaskIou.toFixed(4) : '',
    });
    const marker = poolerMarker(p.pooler, pw - 8, 10, 6);
    marker.setAttribute('aria-hidden', 'true');
    g.append(marker);
    if (!p.detections) continue;
    const c = inner(g);
    const dets = p.detections;
    for (let d = dets.labels.length - 1; d >= 0; d--) {
      const matched = s?.match50.detections[d] ?? -1;
      const color = matched >= 0 ? categorical(matched) : GREY;
      const dg = el('g', { 'data-detection': d, 'data-object': matched });
      const m = dets.masks[d];
      if (m !== undefined && m.width > 0 && m.height > 0) {
        dg.append(el('image', { href: rgbaToDataUrl(regionRgba(m, dets.maskThreshold, color), m.width, m.height), x: m.x0, y: m.y0, width: m.width, height: m.height, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }));
      }
      const [x1, y1, x2, y2] = [dets.boxes[4 * d]!, dets.boxes[4 * d + 1]!, dets.boxes[4 * d + 2]!, dets.boxes[4 * d + 3]!];
      const box = { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), fill: 'none' };
      dg.append(
        el('rect', { ...box, stroke: '#000', 'stroke-opacity': 0.6, 'stroke-width': 2.5 / k + 1 }),
        el('rect', { ...box, stroke: color, 'stroke-width': 1.5 / k + 0.5, 'stroke-dasharray': matched >= 0 ? undefined : `${4 / k},${3 / k}` }),
      );
      c.append(dg);
    }
  }
  if (data.showGroundTruth) {
    const g = panelFrame('Ground truth', [`${data.objects.length} objects, numbered`], { 'data-panel': 'ground-truth' });
    const c = inner(g);
    c.append(el('image', { href: rgbaToDataUrl(gtRgba(data.objects, image.width, image.height), image.width, image.height), x: 0, y: 0, width: image.width, height: image.height, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }));
    data.objects.forEach((o, i) => {
      const [x1, y1, x2, y2] = o.box;
      c.append(
        el('rect', { x: x1!, y: y1!, width: x2! - x1!, height: y2! - y1!, fill: 'none', stroke: categorical(i), 'stroke-width': 1.5 / k + 0.5, 'data-object': i }),
        el('text', { x: x1! + 1, y: y1! + 9 / k, 'font-size': 9 / k, fill: 'white', stroke: '#000', 'stroke-width': 2.5 / k, 'paint-order': 'stroke', 'font-weight': 700 }, String(i + 1)),
      );
    });
  }
  return svg;
}

/** Per object: class, area and, per model, the detection it matched at IoU ≥ 0.5 and the best mask IoU. */
export function sceneObjectsTable(data: ScenePanelsData): HTMLTableElement {
  const head = ['object', 'class', 'area (px)'];
  for (const p of data.panels) head.push(`${p.title}: matched detection`, `${p.title}: best mask IoU`);
  const rows = data.objects.map((o, g) => {
    const row: Array<string | number> = [g + 1, data.classNames[o.label] ?? `class ${o.label}`, o.area];
    for (const p of data.panels) {
      const s = p.score;
      const m = s?.match50.objects[g];
      row.push(s === undefined ? '—' : m && m.detection >= 0 ? `#${m.detection + 1} (IoU ${m.iou.toFixed(2)})` : 'missed', s ? s.bestIou[g]!.toFixed(2) : '—');
    }
    return row;
  });
  return table(`Validation scene ${data.seed}: each ground-truth object under each model`, head, rows);
}

/** Per model: the scene's numbers. */
export function sceneScoresTable(panels: readonly ScenePanel[], caption = 'This scene, per model'): HTMLTableElement {
  const rows = panels.map((p) => {
    const s = p.score;
    if (s === undefined) return [p.title, POOLER_NAMES[p.pooler], p.status ?? 'not run yet', '', '', '', '', '', ''];
    return [p.title, POOLER_NAMES[p.pooler], s.detections, s.objects, `${s.found50}`, `${s.found75}`, fmt(s.meanMaskIou, 3), fmt(s.meanBoxIou, 3), s.falsePositives];
  });
  const t = table(caption, ['model', 'pooler', 'detections', 'objects', 'found, mask IoU ≥ 0.5', 'found, mask IoU ≥ 0.75', 'mean mask IoU (found)', 'mean box IoU (found)', 'unmatched detections'], rows);
  t.className = 'ablation-scores';
  return t;
}

// ---------------------------------------------------------------------------------------------
// Each object's mask IoU under each model

export interface ObjectIouData {
  objects: ReadonlyArray<{ label: number; area: number }>;
  series: ReadonlyArray<{ pooler: Pooler; title: string; bestIou: readonly number[] }>;
  classNames: readonly string[];
}

export function objectIouFigure(data: ObjectIouData, options: { width?: number } = {}): SVGSVGElement {
  const n = data.objects.length;
  const width = options.width ?? Math.max(360, 80 + n * 46);
  const height = 230;
  const left = 44;
  const right = 10;
  const top = 34;
  const bottom = 44;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const svg = svgRoot(width, height, 'Mask IoU of each object under each model', 'Objects from smallest to largest; for each, the best mask IoU any detection of its class reached, one marker per model; dashed lines at IoU 0.5 and 0.75.');
  const order = data.objects.map((_, g) => g).sort((a, b) => data.objects[a]!.area - data.objects[b]!.area);
  const xOf = (i: number) => left + ((i + 0.5) / Math.max(1, n)) * plotW;
  const yOf = (v: number) => top + (1 - v) * plotH;
  svg.append(el('line', { x1: left, x2: left, y1: top, y2: top + plotH, stroke: '#333' }), el('line', { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, stroke: '#333' }));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(el('text', { x: left - 4, y: yOf(v) + 4, 'text-anchor': 'end', 'font-size': 10 }, v.toFixed(2)));
    if (v === 0.5 || v === 0.75) svg.append(el('line', { x1: left, x2: left + plotW, y1: yOf(v), y2: yOf(v), stroke: '#555', 'stroke-dasharray': '4,3', 'data-threshold': v }));
  }
  svg.append(el('text', { x: 0, y: 12, 'font-weight': 700 }, 'best mask IoU per object'));
  // Legend.
  let lx = left + 170;
  for (const s of data.series) {
    svg.append(poolerMarker(s.pooler, lx, 8, 5), el('text', { x: lx + 9, y: 12, 'font-size': 11 }, s.title));
    lx += 20 + s.title.length * 6.2;
  }
  order.forEach((g, i) => {
    const o = data.objects[g]!;
    svg.append(
      el('text', { x: xOf(i), y: top + plotH + 14, 'text-anchor': 'middle', 'font-size': 10 }, `#${g + 1}`),
      el('text', { x: xOf(i), y: top + plotH + 26, 'text-anchor': 'middle', 'font-size': 9 }, `${o.area} px`),
    );
    data.series.forEach((s, j) => {
      const dx = (j - (data.series.length - 1) / 2) * 9;
      svg.append(poolerMarker(s.pooler, xOf(i) + dx, yOf(s.bestIou[g] ?? 0), 4, { 'data-object': g, 'data-iou': (s.bestIou[g] ?? 0).toFixed(4) }));
    });
  });
  svg.append(el('text', { x: left + plotW / 2, y: height - 4, 'text-anchor': 'middle', 'font-size': 11 }, 'objects, smallest (left) to largest, area in pixels'));
  return svg;
}

export function objectIouTable(data: ObjectIouData): HTMLTableElement {
  const order = data.objects.map((_, g) => g).sort((a, b) => data.objects[a]!.area - data.objects[b]!.area);
  return table(
    'Best mask IoU per object, smallest first',
    ['object', 'class', 'area (px)', ...data.series.map((s) => s.title)],
    order.map((g) => [g + 1, data.classNames[data.objects[g]!.label] ?? `class ${data.objects[g]!.label}`, data.objects[g]!.area, ...data.series.map((s) => (s.bestIou[g] ?? 0).toFixed(3))]),
  );
}

// ---------------------------------------------------------------------------------------------
// AP

const SOURCE_LABELS = { paper: 'paper, Table 2c (COCO)', shipped: 'our model, eval.json', live: 'our model, in this browser' } as const;
const AGG = { max: 'max', avg: 'average' } as const;
const ap1 = (v: number | undefined) => (v === undefined ? '—' : v < 0 ? 'n/a' : v.toFixed(1));

/** The AP table: one row per (source, pooler[, aggregate]); AP in percent. */
export function apTable(rows: readonly ApRow[], caption = 'AP per pooler: the paper’s Table 2c and our models'): HTMLTableElement {
  const t = table(
    caption,
    ['source', 'pooler', 'bin', 'mask AP', 'mask AP50', 'mask AP75', 'box AP', 'box AP50', 'box AP75', 'scenes'],
    rows.map((r) => [
      SOURCE_LABELS[r.source] + (r.modelId ? ` (${r.modelId})` : ''),
      POOLER_NAMES[r.pooler],
      r.aggregate ? AGG[r.aggregate] : '',
      ap1(r.mask.AP), ap1(r.mask.AP50), ap1(r.mask.AP75),
      ap1(r.box?.AP), ap1(r.box?.AP50), ap1(r.box?.AP75),
      r.images ?? (r.source === 'paper' ? 'COCO minival' : ''),
    ]),
  );
  t.className = 'ablation-ap';
  t.querySelectorAll('tbody tr').forEach((tr, i) => {
    const r = rows[i]!;
    (tr as HTMLElement).dataset['source'] = r.source;
    (tr as HTMLElement).dataset['pooler'] = r.pooler;
  });
  return t;
}

export interface ApBarsGroup {
  /** Panel title: "Paper (COCO, ResNet-50-C4)". */
  title: string;
  rows: readonly ApRow[];
  kind: 'mask' | 'box';
}

const METRICS = ['AP', 'AP50', 'AP75'] as const;
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;

/**
 * Grouped bars: per panel (a source), per metric (AP, AP50, AP75), one bar per pooler row, and above
 * each metric RoIAlign's gain over RoIPool. Rows of the paper with max-pooling RoIWarp/RoIAlign are
 * left out (ours average, like the paper's default).
 */
export function apBarsFigure(groups: readonly ApBarsGroup[], options: { panelWidth?: number } = {}): SVGSVGElement {
  const pwidth = options.panelWidth ?? 300;
  const height = 250;
  const top = 56;
  const bottom = 40;
  const left = 34;
  const plotH = height - top - bottom;
  const width = Math.max(1, groups.length) * pwidth;
  const svg = svgRoot(width, height, 'AP, AP50 and AP75 per pooler', 'For each source, bars per pooler at each metric, with RoIAlign’s gain over RoIPool above each metric.');
  groups.forEach((grp, gi) => {
    const x0 = gi * pwidth;
    const rows = grp.rows.filter((r) => r.source !== 'paper' || r.pooler === 'roiPool' || r.aggregate === 'avg');
    const max = Math.max(10, ...rows.flatMap((r) => METRICS.map((m) => (grp.kind === 'mask' ? r.mask : r.box ?? r.mask)[m])));
    const scaleMax = Math.ceil(max / 10) * 10;
    const yOf = (v: number) => top + plotH * (1 - Math.max(0, v) / scaleMax);
    const g = el('g', { 'data-source': rows[0]?.source ?? '', 'data-kind': grp.kind });
    g.append(el('text', { x: x0 + 4, y: 14, 'font-weight': 700 }, grp.title));
    g.append(el('line', { x1: x0 + left, x2: x0 + left, y1: top, y2: top + plotH, stroke: '#333' }), el('line', { x1: x0 + left, x2: x0 + pwidth - 10, y1: top + plotH, y2: top + plotH, stroke: '#333' }));
    for (const v of [0, scaleMax / 2, scaleMax]) g.append(el('text', { x: x0 + left - 4, y: yOf(v) + 4, 'text-anchor': 'end', 'font-size': 10 }, String(v)));
    const groupW = (pwidth - left - 20) / METRICS.length;
    const barW = Math.min(22, (groupW - 12) / Math.max(1, rows.length));
    const gain = alignGain(rows, grp.kind);
    METRICS.forEach((m, mi) => {
      const gx = x0 + left + 8 + mi * groupW;
      rows.forEach((r, ri) => {
        const triple: ApTriple | null = grp.kind === 'mask' ? r.mask : r.box;
        if (triple === null) return;
        const v = triple[m];
        const bx = gx + ri * barW;
        g.append(
          el('rect', { x: bx, y: yOf(v), width: barW - 2, height: top + plotH - yOf(v), fill: POOLER_COLORS[r.pooler], stroke: '#000', 'stroke-width': 0.6, 'data-pooler': r.pooler, 'data-metric': m, 'data-value': v.toFixed(2) }),
          el('text', { x: bx + (barW - 2) / 2, y: yOf(v) - 3, 'text-anchor': 'middle', 'font-size': 8 }, v.toFixed(1)),
        );
      });
      g.append(el('text', { x: gx + (rows.length * barW) / 2, y: top + plotH + 14, 'text-anchor': 'middle', 'font-size': 11 }, m));
      if (gain) g.append(el('text', { x: gx + (rows.length * barW) / 2, y: top - 14, 'text-anchor': 'middle', 'font-size': 11, 'font-weight': 700, 'data-gain': m }, signed(gain[m])));
    });
    if (gain) g.append(el('text', { x: x0 + 4, y: 30, 'font-size': 10 }, `bold: RoIAlign − RoIPool, ${grp.kind} AP points`));
    // Legend.
    let lx = x0 + left;
    for (const r of rows) {
      g.append(el('rect', { x: lx, y: height - 14, width: 10, height: 10, fill: POOLER_COLORS[r.pooler], stroke: '#000', 'stroke-width': 0.6 }), el('text', { x: lx + 13, y: height - 5, 'font-size': 10 }, POOLER_NAMES[r.pooler]));
      lx += 74;
    }
    svg.append(g);
  });
  return svg;
}

// ---------------------------------------------------------------------------------------------
// A shifted square

export interface ShiftIouData {
  /** Object sizes (square side, pixels). */
  sizes: readonly number[];
  /** Shifts along x and along y, pixels. */
  shifts: readonly number[];
  iou: (size: number, shift: number) => number;
}

/** A grid: rows = object size, columns = shift; each cell its IoU, marked by the COCO thresholds it still passes. */
export function shiftIouFigure(data: ShiftIouData): SVGSVGElement {
  const cw = 70;
  const ch = 30;
  const left = 96;
  const top = 44;
  const width = left + data.shifts.length * cw + 4;
  const height = top + data.sizes.length * ch + 64;
  const svg = svgRoot(width, height, 'IoU of an object with itself shifted by a few pixels', 'Rows: object size; columns: shift along both axes; each cell gives the IoU and whether it passes 0.75 and 0.5.');
  svg.append(el('text', { x: 2, y: 14, 'font-weight': 700 }, 'IoU after a shift of d px in x and in y'));
  data.shifts.forEach((d, j) => svg.append(el('text', { x: left + j * cw + cw / 2, y: top - 8, 'text-anchor': 'middle', 'font-size': 11 }, `d = ${d} px`)));
  const fills = { pass75: '#cfe6f5', pass50: '#f7dca0', fail: '#e9a27c' } as const;
  data.sizes.forEach((s, i) => {
    svg.append(el('text', { x: left - 8, y: top + i * ch + ch / 2 + 4, 'text-anchor': 'end', 'font-size': 11 }, `${s}×${s} px`));
    data.shifts.forEach((d, j) => {
      const v = data.iou(s, d);
      const band = v >= 0.75 ? 'pass75' : v >= 0.5 ? 'pass50' : 'fail';
      svg.append(
        el('rect', { x: left + j * cw, y: top + i * ch, width: cw - 2, height: ch - 2, fill: fills[band], stroke: '#333', 'stroke-width': 0.5, 'data-size': s, 'data-shift': d, 'data-band': band }),
        el('text', { x: left + j * cw + cw / 2, y: top + i * ch + ch / 2 + 4, 'text-anchor': 'middle', 'font-size': 11 }, `${v.toFixed(2)} ${band === 'pass75' ? '✓✓' : band === 'pass50' ? '✓' : '✗'}`),
      );
    });
  });
  let ly = top + data.sizes.length * ch + 8;
  for (const [band, text] of [['pass75', '✓✓ IoU ≥ 0.75: a match for AP75 (and AP50)'], ['pass50', '✓ 0.5 ≤ IoU < 0.75: a match for AP50 only'], ['fail', '✗ IoU < 0.5: a miss']] as const) {
    svg.append(el('rect', { x: left, y: ly, width: 12, height: 12, fill: fills[band], stroke: '#333', 'stroke-width': 0.5 }), el('text', { x: left + 16, y: ly + 10, 'font-size': 10 }, text));
    ly += 18;
  }
  return svg;
}

export function shiftIouTable(data: ShiftIouData): HTMLTableElement {
  return table(
    'IoU of an s×s object with itself shifted by d px in x and in y',
    ['object', ...data.shifts.map((d) => `d = ${d} px`)],
    data.sizes.map((s) => [`${s}×${s} px`, ...data.shifts.map((d) => data.iou(s, d).toFixed(3))]),
  );
}
