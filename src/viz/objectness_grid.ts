/**
 * `objectnessFigure(data, options) → <svg>`: the RPN's objectness as heatmaps, one per pyramid level
 * (columns, P2 … P6) and anchor (rows, one per aspect ratio × size): the probability
 * sigmoid(logit) that the anchor at each cell covers an object. Every panel spans the padded image,
 * so the levels line up; colour is viridis over [0, 1] (or over the range of all panels).
 *
 * Glossary: objectness of a level is h·w·A logits, order (y, x, a) (trace.rpn[i].objectness).
 */
import type { Size } from '../types.ts';
import { strideText } from './feature_maps.ts';
import { rgbaToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';
import { viridisLegend, viridisRgba } from './viridis.ts';

export interface ObjectnessLevel {
  /** 'P2' … 'P6'. */
  label: string;
  size: Size;
  stride: [number, number];
  numAnchors: number;
  /** h·w·A logits, order (y, x, a). */
  objectness: Float32Array;
}

export interface ObjectnessData {
  levels: readonly ObjectnessLevel[];
  padded: Size;
  /** A name per anchor index (e.g. 'h/w 0.5'), for the rows. */
  anchorNames: readonly string[];
}

export interface ObjectnessOptions {
  /** 'unit': colours span probabilities 0–1 (default); 'range': the min–max over all panels. */
  scale?: 'unit' | 'range';
  /** Width of each panel in CSS pixels (default 150). */
  panelWidth?: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Anchor `a`'s probabilities of a level as an h×w plane (y, x order). */
export function objectnessPlane(level: ObjectnessLevel, a: number): Float32Array {
  const [h, w] = level.size;
  const A = level.numAnchors;
  if (!(a >= 0 && a < A)) throw new Error(`objectnessPlane: expected an anchor index in 0..${A - 1}, found ${a}`);
  const out = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) out[i] = sigmoid(level.objectness[i * A + a]!);
  return out;
}

export function objectnessFigure(data: ObjectnessData, options: ObjectnessOptions = {}): SVGSVGElement {
  const pw = options.panelWidth ?? 150;
  const gap = 12;
  const left = 78;
  const top = 40;
  const [ph, pwPx] = data.padded;
  const k = pw / pwPx;
  const panelH = ph * k;
  const A = Math.max(...data.levels.map((l) => l.numAnchors));
  const planes = data.levels.map((l) => Array.from({ length: l.numAnchors }, (_, a) => objectnessPlane(l, a)));
  let lo = 0;
  let hi = 1;
  if (options.scale === 'range') {
    lo = Infinity;
    hi = -Infinity;
    for (const ps of planes) for (const p of ps) for (const v of p) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  }
  const width = left + data.levels.length * (pw + gap);
  const height = top + A * (panelH + gap) + 44;
  const svg = svgRoot(width, height, 'RPN objectness per level and anchor', `Probability that each anchor covers an object, ${data.levels.map((l) => l.label).join(', ')}; colour scale ${lo.toFixed(3)} (dark) to ${hi.toFixed(3)} (yellow).`);
  data.levels.forEach((level, i) => {
    const x = left + i * (pw + gap);
    const [h, w] = level.size;
    svg.append(
      el('text', { x, y: 14, 'font-weight': 600 }, `${level.label} · stride ${strideText(level.stride)}`),
      el('text', { x, y: 29, 'font-size': 11, fill: '#333' }, `${w}×${h} cells`),
    );
    planes[i]!.forEach((plane, a) => {
      const y = top + a * (panelH + gap);
      svg.append(
        el('image', { 'data-level': level.label, 'data-anchor': a, href: rgbaToDataUrl(viridisRgba(plane, lo, hi), w, h), x, y, width: w * level.stride[1] * k, height: h * level.stride[0] * k, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }),
        el('rect', { x, y, width: pw, height: panelH, fill: 'none', stroke: '#333', 'stroke-width': 0.6 }),
      );
    });
  });
  for (let a = 0; a < A; a++) {
    svg.append(el('text', { x: 2, y: top + a * (panelH + gap) + panelH / 2 + 4, 'font-size': 11 }, data.anchorNames[a] ?? `anchor ${a}`));
  }
  svg.append(viridisLegend(left, height - 36, Math.min(300, width - left - 10), lo.toFixed(2), hi.toFixed(2), 'objectness probability'));
  return svg;
}

/** Per level and anchor: the highest probability, where it is, the mean, and how many cells exceed 0.5. */
export function objectnessTable(data: ObjectnessData): HTMLTableElement {
  const rows: (string | number)[][] = [];
  for (const level of data.levels) {
    const [, w] = level.size;
    for (let a = 0; a < level.numAnchors; a++) {
      const p = objectnessPlane(level, a);
      let best = 0;
      let sum = 0;
      let over = 0;
      for (let i = 0; i < p.length; i++) {
        if (p[i]! > p[best]!) best = i;
        sum += p[i]!;
        if (p[i]! > 0.5) over++;
      }
      rows.push([level.label, data.anchorNames[a] ?? `anchor ${a}`, p[best]!.toFixed(3), `(${best % w}, ${Math.floor(best / w)})`, (sum / p.length).toFixed(3), `${over} of ${p.length}`]);
    }
  }
  return table('Objectness per level and anchor', ['level', 'anchor', 'max probability', 'at cell (x, y)', 'mean', 'cells > 0.5'], rows);
}
