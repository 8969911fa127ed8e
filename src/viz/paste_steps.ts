/**
 * `pasteStepsFigure(data, options) → <svg>`: the paste-back of one detection's mask, step by step, as
 * the engine ran it: the M×M probabilities → with a one-cell zero border, (M+2)×(M+2) → on the image
 * → thresholded (p > t). With torchvision's paste (`paste_masks_in_image`) the padded mask is resized
 * (bilinear) into the detection box widened by (M+2)/M and cast to whole pixels; with the exact paste
 * each pixel samples it (bilinear) where the mask targets were made. The probabilities are cividis
 * (dark blue 0 … yellow 1).
 */
import type { MaskRegion, PasteMode } from '../stages/paste.ts';
import type { PasteDisagreement } from '../site/paste_view.ts';
import type { RgbImage } from '../types.ts';
import { imageToDataUrl, rgbaToDataUrl } from './raster.ts';
import { sequentialRgba } from './sequential.ts';
import { el, svgRoot, table } from './svg.ts';

export interface PasteStepsData {
  image: RgbImage;
  /** The detection's M×M mask probabilities (its class's sigmoid). */
  mask: Float32Array;
  /** The same with the zero border, (M+2p)×(M+2p). */
  padded: Float32Array;
  size: number;
  padding: number;
  /** The detection box, original-image pixels. */
  box: ArrayLike<number>;
  /** The integer box the padded mask is resized into, and the resized size. */
  pasteBox: { box: [number, number, number, number]; width: number; height: number };
  /** What the engine pasted: probabilities over the image region it wrote. */
  region: MaskRegion;
  threshold: number;
  /** The engine's paste mode (roiHeads.maskPaste); default 'torchvision'. */
  mode?: PasteMode;
  /** Both modes' thresholded masks compared, when known. */
  disagreement?: PasteDisagreement;
}

export interface PasteStepsOptions {
  /** Side of each panel, CSS pixels (default 170). */
  panel?: number;
  /** The image as a data URL, if already made. */
  imageHref?: string;
}

function thresholdRgba(r: MaskRegion, t: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(r.width * r.height * 4);
  for (let i = 0; i < r.data.length; i++) if (r.data[i]! > t) out.set([230, 159, 0, 165], 4 * i);
  return out;
}

export function pasteStepsFigure(data: PasteStepsData, options: PasteStepsOptions = {}): SVGSVGElement {
  const side = options.panel ?? 170;
  const gap = 46;
  const top = 34;
  const m = data.size;
  const p = m + 2 * data.padding;
  const width = 4 * side + 3 * gap;
  const height = top + side + 46;
  const exact = data.mode === 'exact';
  const placed = exact
    ? `sampled at each of ${data.region.width}×${data.region.height} pixels where the mask targets were made`
    : `resized to ${data.pasteBox.width}×${data.pasteBox.height} into the widened box`;
  const svg = svgRoot(width, height, 'Paste-back of one mask, step by step', `${m}×${m} mask, padded to ${p}×${p}, ${placed}, thresholded at ${data.threshold}.`);
  const href = options.imageHref ?? imageToDataUrl(data.image);
  const X = (i: number) => i * (side + gap);
  const title = (i: number, a: string, b: string) => svg.append(el('text', { x: X(i), y: 13, 'font-weight': 700 }, a), el('text', { x: X(i), y: 27, 'font-size': 10, fill: '#333' }, b));
  const arrow = (i: number, label: string) => {
    const x = X(i) + side + 4;
    const y = top + side / 2;
    svg.append(
      el('line', { x1: x, x2: x + gap - 10, y1: y, y2: y, stroke: '#333', 'stroke-width': 1.5 }),
      el('path', { d: `M${x + gap - 10},${y - 4} L${x + gap - 4},${y} L${x + gap - 10},${y + 4} z`, fill: '#333' }),
      el('text', { x: x + (gap - 8) / 2, y: y - 8, 'font-size': 9, 'text-anchor': 'middle' }, label),
    );
  };
  const raster = (values: Float32Array, n: number, x: number) =>
    el('image', { href: rgbaToDataUrl(sequentialRgba(values), n, n), x, y: top, width: side, height: side, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' });

  title(0, `${m}×${m} mask`, 'the mask head’s sigmoid');
  svg.append(raster(data.mask, m, X(0)), el('rect', { x: X(0), y: top, width: side, height: side, fill: 'none', stroke: '#333' }));
  arrow(0, `pad ${data.padding}`);

  title(1, `${p}×${p}`, 'a zero border all round');
  const inner = (data.padding / p) * side;
  svg.append(raster(data.padded, p, X(1)),
    el('rect', { x: X(1), y: top, width: side, height: side, fill: 'none', stroke: '#333' }),
    el('rect', { x: X(1) + inner, y: top + inner, width: side - 2 * inner, height: side - 2 * inner, fill: 'none', stroke: '#fff', 'stroke-dasharray': '3 2' }));
  arrow(1, exact ? 'sample' : 'resize');

  // Panels 3 and 4: a crop of the image around the widened box.
  const [bx1, by1, bx2, by2] = data.pasteBox.box;
  const margin = 0.15 * Math.max(bx2 - bx1, by2 - by1, 4);
  const cx = Math.max(0, bx1 - margin);
  const cy = Math.max(0, by1 - margin);
  const cw = Math.max(1, Math.min(data.image.width, bx2 + 1 + margin) - cx);
  const ch = Math.max(1, Math.min(data.image.height, by2 + 1 + margin) - cy);
  const r = data.region;
  const boxes = () => [
    el('rect', { x: data.box[0]!, y: data.box[1]!, width: data.box[2]! - data.box[0]!, height: data.box[3]! - data.box[1]!, fill: 'none', stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '5 3', 'vector-effect': 'non-scaling-stroke' }),
    ...(exact ? [] : [el('rect', { x: bx1, y: by1, width: bx2 - bx1 + 1, height: by2 - by1 + 1, fill: 'none', stroke: '#D55E00', 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' })]),
  ];
  const view = (i: number, ...children: SVGElement[]) =>
    el('svg', { x: X(i), y: top, width: side, height: side, viewBox: `${cx} ${cy} ${cw} ${ch}`, preserveAspectRatio: 'xMidYMid meet' },
      el('rect', { x: cx - cw, y: cy - ch, width: 3 * cw, height: 3 * ch, fill: '#e8e8e8' }),
      el('image', { href, x: 0, y: 0, width: data.image.width, height: data.image.height, preserveAspectRatio: 'none', opacity: i === 2 ? 0.35 : 1 }),
      ...children);
  if (exact) title(2, `${r.width}×${r.height} pixels sampled`, 'bilinear, where the targets were made');
  else title(2, `${data.pasteBox.width}×${data.pasteBox.height} in the box`, 'bilinear, into the widened box');
  svg.append(view(2,
    el('image', { href: rgbaToDataUrl(sequentialRgba(r.data), r.width, r.height), x: r.x0, y: r.y0, width: r.width, height: r.height, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }),
    ...boxes()), el('rect', { x: X(2), y: top, width: side, height: side, fill: 'none', stroke: '#333' }));
  arrow(2, `p > ${data.threshold}`);

  let area = 0;
  for (const v of r.data) if (v > data.threshold) area++;
  title(3, `mask, p > ${data.threshold}`, `${area} pixels`);
  svg.append(view(3,
    el('image', { href: rgbaToDataUrl(thresholdRgba(r, data.threshold), r.width, r.height), x: r.x0, y: r.y0, width: r.width, height: r.height, preserveAspectRatio: 'none', style: 'image-rendering: pixelated', 'data-area': area }),
    ...boxes()), el('rect', { x: X(3), y: top, width: side, height: side, fill: 'none', stroke: '#333' }));

  const ly = top + side + 18;
  svg.append(
    el('line', { x1: X(2), x2: X(2) + 18, y1: ly - 4, y2: ly - 4, stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '5 3' }),
    el('text', { x: X(2) + 24, y: ly, 'font-size': 10 }, 'the detection box'),
    el('text', { x: 0, y: ly, 'font-size': 10, fill: '#333' }, 'probability: dark blue 0 … yellow 1'),
  );
  if (!exact) {
    svg.append(
      el('line', { x1: X(2), x2: X(2) + 18, y1: ly + 10, y2: ly + 10, stroke: '#D55E00', 'stroke-width': 2 }),
      el('text', { x: X(2) + 24, y: ly + 14, 'font-size': 10 }, `widened by ${p}/${m}, to whole pixels`),
    );
  }
  return svg;
}

/** The text alternative: the sizes and boxes of each step and the resulting area. */
export function pasteStepsTable(data: PasteStepsData): HTMLTableElement {
  const f = (v: number) => v.toFixed(2);
  const m = data.size;
  const p = m + 2 * data.padding;
  let area = 0;
  for (const v of data.region.data) if (v > data.threshold) area++;
  const placement: [string, string][] = data.mode === 'exact'
    ? [['paste', 'exact: each pixel samples the padded mask (bilinear) where the mask targets were made']]
    : [
      [`widened by ${p}/${m} and truncated to integers`, data.pasteBox.box.join(', ')],
      ['resized mask (w × h)', `${data.pasteBox.width} × ${data.pasteBox.height}`],
    ];
  const d = data.disagreement;
  return table('Paste-back of the detection’s mask', ['step', 'value'], [
    ['mask', `${m}×${m} probabilities`],
    ['padded', `${p}×${p} (zero border of ${data.padding})`],
    ['detection box x1, y1, x2, y2 (px)', Array.from({ length: 4 }, (_, i) => f(data.box[i]!)).join(', ')],
    ...placement,
    ['image region written (x, y, w × h)', `${data.region.x0}, ${data.region.y0}, ${data.region.width} × ${data.region.height}`],
    [`pixels with p > ${data.threshold}`, area],
    ...(d ? [[`torchvision’s paste / the exact paste, p > ${data.threshold}`, `${d.torchvision} / ${d.exact} pixels, ${d.differing} differ`] as [string, string]] : []),
  ]);
}
