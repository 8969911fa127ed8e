/**
 * `classBoxesFigure(data, options) → <svg>`: one RoI's proposal (dashed black) and the boxes the box
 * head's per-class deltas turn it into for a few classes (Okabe–Ito colours, "class p"), on a crop of
 * the image the network saw. The box head predicts one box per class: which one is used depends on
 * the class.
 */
import type { RgbImage, Size } from '../types.ts';
import { categorical } from './colors.ts';
import { imageToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

export interface ClassBoxesData {
  image: RgbImage;
  /** [h, w] of the resized image: the frame of the boxes. */
  resized: Size;
  /** The RoI's proposal [x1, y1, x2, y2]. */
  proposal: ArrayLike<number>;
  /** K × 4 decoded, clipped boxes of the RoI (resized pixels). */
  boxes: Float32Array;
  /** K × 4 raw deltas (tx, ty, tw, th per class). */
  deltas: Float32Array;
  /** K probabilities of the RoI. */
  probs: Float32Array;
  /** Classes to draw, in drawing order (the first is drawn on top). */
  classes: readonly number[];
  classNames: readonly string[];
}

export interface ClassBoxesOptions {
  /** Width in CSS pixels (default 480). */
  width?: number;
  /** The image as a data URL, if already made. */
  imageHref?: string;
}

const name = (names: readonly string[], c: number) => names[c] ?? `class ${c}`;

export function classBoxesFigure(data: ClassBoxesData, options: ClassBoxesOptions = {}): SVGSVGElement {
  const [h, w] = data.resized;
  const p = data.proposal;
  // The crop: the proposal and every drawn box, grown by a third, inside the image.
  let [x1, y1, x2, y2] = [p[0]!, p[1]!, p[2]!, p[3]!];
  for (const c of data.classes) {
    x1 = Math.min(x1, data.boxes[4 * c]!);
    y1 = Math.min(y1, data.boxes[4 * c + 1]!);
    x2 = Math.max(x2, data.boxes[4 * c + 2]!);
    y2 = Math.max(y2, data.boxes[4 * c + 3]!);
  }
  const pad = Math.max(x2 - x1, y2 - y1, 8) / 3;
  const cx = Math.max(0, x1 - pad);
  const cy = Math.max(0, y1 - pad);
  const cw = Math.max(1, Math.min(w, x2 + pad) - cx);
  const ch = Math.max(1, Math.min(h, y2 + pad) - cy);
  const width = options.width ?? 480;
  const k = width / cw;
  const legendH = 18 * (data.classes.length + 1) + 6;
  const svg = svgRoot(width, ch * k + legendH, 'The RoI’s proposal and its per-class boxes', `The proposal and the boxes its deltas decode to for ${data.classes.map((c) => name(data.classNames, c)).join(', ')}.`);
  const view = el('svg', { x: 0, y: 0, width, height: ch * k, viewBox: `${cx} ${cy} ${cw} ${ch}`, preserveAspectRatio: 'none' });
  view.append(el('image', { href: options.imageHref ?? imageToDataUrl(data.image), x: 0, y: 0, width: w, height: h, preserveAspectRatio: 'none' }));
  const rect = (b: ArrayLike<number>, attrs: Record<string, string | number>) =>
    el('rect', { x: b[0]!, y: b[1]!, width: Math.max(0, b[2]! - b[0]!), height: Math.max(0, b[3]! - b[1]!), fill: 'none', 'vector-effect': 'non-scaling-stroke', ...attrs });
  for (let i = data.classes.length - 1; i >= 0; i--) {
    const c = data.classes[i]!;
    const b = data.boxes.subarray(4 * c, 4 * c + 4);
    view.append(el('g', { 'data-class': c }, rect(b, { stroke: '#000', 'stroke-width': 4, 'stroke-opacity': 0.5 }), rect(b, { stroke: categorical(i), 'stroke-width': 2.5 })));
  }
  view.append(rect(p, { stroke: '#fff', 'stroke-width': 3.5 }), rect(p, { stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '6 3' }));
  svg.append(view, el('rect', { x: 0, y: 0, width, height: ch * k, fill: 'none', stroke: '#333' }));
  let y = ch * k + 16;
  svg.append(el('line', { x1: 4, x2: 24, y1: y - 4, y2: y - 4, stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '6 3' }), el('text', { x: 30, y }, 'the proposal (the RoI)'));
  data.classes.forEach((c, i) => {
    y += 18;
    svg.append(
      el('line', { x1: 4, x2: 24, y1: y - 4, y2: y - 4, stroke: categorical(i), 'stroke-width': 3 }),
      el('text', { x: 30, y }, `${name(data.classNames, c)} (p ${data.probs[c]!.toFixed(3)}): deltas ${Array.from(data.deltas.subarray(4 * c, 4 * c + 4), (v) => v.toFixed(2)).join(', ')}`),
    );
  });
  return svg;
}

/** The text alternative: per class, the deltas and the decoded box. */
export function classBoxesTable(data: ClassBoxesData): HTMLTableElement {
  const f = (v: number) => v.toFixed(2);
  return table('The RoI’s per-class deltas and boxes (resized-image pixels)', ['class', 'probability', 'tx, ty, tw, th', 'box x1, y1, x2, y2'], [
    ['(proposal)', '', '', Array.from({ length: 4 }, (_, i) => f(data.proposal[i]!)).join(', ')],
    ...data.classes.map((c) => [name(data.classNames, c), data.probs[c]!.toFixed(4), Array.from(data.deltas.subarray(4 * c, 4 * c + 4), f).join(', '), Array.from(data.boxes.subarray(4 * c, 4 * c + 4), f).join(', ')]),
  ]);
}
