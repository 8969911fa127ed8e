/**
 * `sigmoidSoftmaxFigure(data, options) → <svg>`: the same M×M×K mask logits of one detection turned
 * into probabilities two ways, for a few classes side by side: row 1 the logits (blue −, orange +),
 * row 2 a sigmoid per class (Mask R-CNN: every class's mask on its own), row 3 a softmax across the
 * K classes at each pixel (the classes compete for every pixel). Under each panel: the pixels above ½.
 */
import { classPlane } from '../site/mask_head_view.ts';
import { diverging } from './colors.ts';
import { rgbaToDataUrl } from './raster.ts';
import { sequentialRgba } from './sequential.ts';
import { el, svgRoot, table } from './svg.ts';

export interface SigmoidSoftmaxData {
  /** M×M×K logits of the detection (class innermost). */
  logits: Float32Array;
  /** Their sigmoid, M×M×K. */
  sigmoid: Float32Array;
  /** Their softmax across the K classes, M×M×K. */
  softmax: Float32Array;
  /** Classes to show, left to right (the predicted one first). */
  classes: readonly number[];
  /** The predicted class (framed). */
  predicted: number;
  size: number;
  numClasses: number;
  classNames: readonly string[];
}

export interface SigmoidSoftmaxOptions {
  /** Side of a panel, CSS pixels (default 110). */
  panel?: number;
}

const name = (names: readonly string[], c: number) => names[c] ?? `class ${c}`;

const above = (p: Float32Array, t = 0.5) => p.reduce((n, v) => n + (v > t ? 1 : 0), 0);

export function sigmoidSoftmaxFigure(data: SigmoidSoftmaxData, options: SigmoidSoftmaxOptions = {}): SVGSVGElement {
  const side = options.panel ?? 110;
  const m = data.size;
  const k = data.numClasses;
  const left = 92;
  const gap = 14;
  const rowH = side + 30;
  const top = 20;
  const width = left + data.classes.length * (side + gap);
  const height = top + 3 * rowH + 14;
  const svg = svgRoot(width, height, 'Sigmoid per class vs softmax across classes, on the same logits', `Logits, sigmoid and softmax masks for ${data.classes.map((c) => name(data.classNames, c)).join(', ')}.`);
  let extent = 0;
  for (const c of data.classes) for (const v of classPlane(data.logits, k, c)) extent = Math.max(extent, Math.abs(v));
  extent ||= 1;
  const rows: Array<{ label: string; sub: string; plane: (c: number) => Float32Array; rgba: (p: Float32Array) => Uint8ClampedArray; count: boolean }> = [
    { label: 'logit', sub: `±${extent.toFixed(1)}`, plane: (c) => classPlane(data.logits, k, c), rgba: (p) => divergingRgba(p, extent), count: false },
    { label: 'sigmoid', sub: 'per class', plane: (c) => classPlane(data.sigmoid, k, c), rgba: sequentialRgba, count: true },
    { label: 'softmax', sub: `across ${k} classes`, plane: (c) => classPlane(data.softmax, k, c), rgba: sequentialRgba, count: true },
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    svg.append(el('text', { x: 0, y: y + side / 2, 'font-weight': 700 }, r.label), el('text', { x: 0, y: y + side / 2 + 14, 'font-size': 10, fill: '#333' }, r.sub));
    data.classes.forEach((c, j) => {
      const x = left + j * (side + gap);
      const p = r.plane(c);
      const hot = c === data.predicted;
      if (i === 0) svg.append(el('text', { x, y: 13, 'font-weight': hot ? 700 : 400 }, `${name(data.classNames, c)}${hot ? ' (predicted)' : ''}`));
      svg.append(
        el('image', { href: rgbaToDataUrl(r.rgba(p), m, m), x, y, width: side, height: side, preserveAspectRatio: 'none', style: 'image-rendering: pixelated', 'data-row': r.label, 'data-class': c }),
        el('rect', { x, y, width: side, height: side, fill: 'none', stroke: hot ? '#E69F00' : '#999', 'stroke-width': hot ? 3 : 1 }),
      );
      if (r.count) svg.append(el('text', { x, y: y + side + 13, 'font-size': 10, fill: '#222', 'data-above': above(p) }, `${above(p)} px > 0.5`));
    });
  });
  svg.append(el('text', { x: 0, y: height - 2, 'font-size': 10, fill: '#333' }, 'probabilities: dark blue 0 … yellow 1; orange frame: the class the box head predicted'));
  return svg;
}

function divergingRgba(p: Float32Array, extent: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(p.length * 4);
  p.forEach((v, i) => {
    out.set([...diverging(v / extent), 255], 4 * i);
  });
  return out;
}

/** The text alternative: per class, the mean logit and the pixels above ½ under each function. */
export function sigmoidSoftmaxTable(data: SigmoidSoftmaxData): HTMLTableElement {
  const k = data.numClasses;
  const m2 = data.size * data.size;
  return table(`The same logits as sigmoid and as softmax: pixels above 0.5 of ${m2}`, ['class', 'mean logit', 'sigmoid > 0.5', 'softmax > 0.5'],
    data.classes.map((c) => {
      const l = classPlane(data.logits, k, c);
      return [`${name(data.classNames, c)}${c === data.predicted ? ' (predicted)' : ''}`, (l.reduce((s, v) => s + v, 0) / m2).toFixed(3), above(classPlane(data.sigmoid, k, c)), above(classPlane(data.softmax, k, c))];
    }));
}
