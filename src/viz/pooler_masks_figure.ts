/**
 * `poolerMasksFigure(data, options) → <svg>`: one RoI's final mask when the engine pooled with each
 * pooler, side by side. Per pooler a column: the mask head's M×M probabilities for the detection
 * (cividis), the pasted mask thresholded on a crop of the image, and where it differs from the
 * reference pooler's (orange: only this pooler, blue: only the reference). A pooler the engine has
 * not run yet gets an empty column that says so.
 */
import type { Pooler } from '../config.ts';
import type { PoolerMask } from '../site/pooler_masks.ts';
import type { MaskRegion } from '../stages/paste.ts';
import type { RgbImage } from '../types.ts';
import { imageToDataUrl, rgbaToDataUrl } from './raster.ts';
import { sequentialRgba } from './sequential.ts';
import { el, svgRoot, table } from './svg.ts';
import { maskDisagreement } from '../site/pooler_masks.ts';

export type PoolerMaskEntry = PoolerMask | { pooler: Pooler; snapshot?: unknown };

export interface PoolerMasksData {
  image: RgbImage;
  entries: readonly PoolerMaskEntry[];
  /** Mask threshold (a pixel is in the mask when its probability is > threshold). */
  threshold: number;
  /** Compare every column with this pooler's (default roiAlign). */
  reference?: Pooler;
}

export interface PoolerMasksOptions {
  /** Side of each panel, CSS pixels (default 150). */
  panel?: number;
  /** The image as a data URL, if already made. */
  imageHref?: string;
}

const NAMES: Record<Pooler, string> = { roiPool: 'RoIPool', roiWarp: 'RoIWarp', roiAlign: 'RoIAlign' };

export const isMask = (e: PoolerMaskEntry): e is PoolerMask => 'mask' in e;

function regionRgba(r: MaskRegion, threshold: number, rgb: [number, number, number], alpha = 150): Uint8ClampedArray {
  const out = new Uint8ClampedArray(r.width * r.height * 4);
  for (let i = 0; i < r.data.length; i++) {
    if (r.data[i]! > threshold) {
      out[4 * i] = rgb[0];
      out[4 * i + 1] = rgb[1];
      out[4 * i + 2] = rgb[2];
      out[4 * i + 3] = alpha;
    }
  }
  return out;
}

/** Pixels of `a` and `b` above threshold, as one RGBA layer over their union: only a orange, only b blue, both grey. */
function diffRgba(a: MaskRegion, b: MaskRegion, threshold: number): { x0: number; y0: number; width: number; height: number; rgba: Uint8ClampedArray } {
  const x0 = Math.min(a.x0, b.x0);
  const y0 = Math.min(a.y0, b.y0);
  const width = Math.max(a.x0 + a.width, b.x0 + b.width) - x0;
  const height = Math.max(a.y0 + a.height, b.y0 + b.height) - y0;
  const rgba = new Uint8ClampedArray(Math.max(0, width * height * 4));
  const at = (r: MaskRegion, x: number, y: number) =>
    x >= r.x0 && x < r.x0 + r.width && y >= r.y0 && y < r.y0 + r.height && r.data[(y - r.y0) * r.width + (x - r.x0)]! > threshold;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = at(a, x + x0, y + y0);
      const q = at(b, x + x0, y + y0);
      if (!p && !q) continue;
      const [r, g, bl, al] = p && q ? [150, 150, 150, 120] : p ? [230, 159, 0, 230] : [0, 114, 178, 230];
      rgba.set([r, g, bl, al], 4 * (y * width + x));
    }
  }
  return { x0, y0, width, height, rgba };
}

export function poolerMasksFigure(data: PoolerMasksData, options: PoolerMasksOptions = {}): SVGSVGElement {
  const side = options.panel ?? 150;
  const gap = 24;
  const top = 22;
  const masks = data.entries.filter(isMask);
  const ref = masks.find((m) => m.pooler === (data.reference ?? 'roiAlign'));
  // The crop: the union of every column's box, grown by a quarter, square-ish.
  let [cx1, cy1, cx2, cy2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const m of masks) {
    cx1 = Math.min(cx1, m.box[0]);
    cy1 = Math.min(cy1, m.box[1]);
    cx2 = Math.max(cx2, m.box[2]);
    cy2 = Math.max(cy2, m.box[3]);
  }
  const cw = Math.max(cx2 - cx1, 1);
  const ch = Math.max(cy2 - cy1, 1);
  const pad = 0.25 * Math.max(cw, ch);
  // Clamped to the image (a box at the border shows no blank beyond it).
  const x0 = Math.max(0, cx1 - pad);
  const y0 = Math.max(0, cy1 - pad);
  const crop = masks.length === 0
    ? [0, 0, data.image.width, data.image.height]
    : [x0, y0, Math.max(1, Math.min(data.image.width, cx2 + pad) - x0), Math.max(1, Math.min(data.image.height, cy2 + pad) - y0)];
  const refName = NAMES[data.reference ?? 'roiAlign'];
  const legend = [
    'top: the mask head’s output for the detection (probability, dark blue 0 … yellow 1)',
    `middle: pasted into the image, pixels > ${data.threshold} (orange), with the box`,
    `bottom: orange only this pooler, blue only ${refName}, grey both`,
  ];
  const width = Math.max(data.entries.length * (side + gap), 470);
  const height = top + 3 * (side + 30) + legend.length * 14 + 4;
  const svg = svgRoot(width, height, 'The final mask of the RoI under each pooler', `Mask probabilities, pasted masks and their differences for ${data.entries.map((e) => NAMES[e.pooler]).join(', ')}.`);
  const href = options.imageHref ?? imageToDataUrl(data.image);
  data.entries.forEach((e, i) => {
    const x = i * (side + gap);
    const g = el('g', { 'data-pooler': e.pooler });
    g.append(el('text', { x, y: 14, 'font-weight': 700 }, NAMES[e.pooler]));
    if (!isMask(e)) {
      g.append(
        el('rect', { x, y: top, width: side, height: side, fill: '#f3f3f3', stroke: '#999', 'stroke-dasharray': '4 3' }),
        el('text', { x: x + side / 2, y: top + side / 2, 'text-anchor': 'middle', fill: '#444' }, e.snapshot ? 'no detection overlaps' : 'not run yet'),
      );
      svg.append(g);
      return;
    }
    const m = Math.round(Math.sqrt(e.mask.length));
    let y = top;
    g.append(
      el('image', { href: rgbaToDataUrl(sequentialRgba(e.mask), m, m), x, y, width: side, height: side, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }),
      el('rect', { x, y, width: side, height: side, fill: 'none', stroke: '#333' }),
      el('text', { x, y: y + side + 13, 'font-size': 10, fill: '#333' }, `detection ${e.detection + 1}, IoU with the RoI ${e.iou.toFixed(2)}`),
    );
    y += side + 30;
    let area = 0;
    for (const v of e.region.data) if (v > data.threshold) area++;
    const view = (...children: SVGElement[]) =>
      el('svg', { x, y, width: side, height: side, viewBox: crop.join(' '), preserveAspectRatio: 'xMidYMid meet' },
        el('rect', { x: crop[0]! - crop[2]!, y: crop[1]! - crop[3]!, width: 3 * crop[2]!, height: 3 * crop[3]!, fill: '#e8e8e8' }),
        el('image', { href, x: 0, y: 0, width: data.image.width, height: data.image.height, preserveAspectRatio: 'none' }), ...children);
    const boxRect = el('rect', { x: e.box[0], y: e.box[1], width: e.box[2] - e.box[0], height: e.box[3] - e.box[1], fill: 'none', stroke: '#000', 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' });
    g.append(
      view(
        el('image', { href: rgbaToDataUrl(regionRgba(e.region, data.threshold, [230, 159, 0]), e.region.width, e.region.height), x: e.region.x0, y: e.region.y0, width: e.region.width, height: e.region.height, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }),
        boxRect,
      ),
      el('rect', { x, y, width: side, height: side, fill: 'none', stroke: '#333' }),
      el('text', { x, y: y + side + 13, 'font-size': 10, fill: '#333' }, `${area} px in the mask`),
    );
    y += side + 30;
    if (ref !== undefined) {
      const d = diffRgba(e.region, ref.region, data.threshold);
      const agree = maskDisagreement(e.region, ref.region, data.threshold);
      g.append(
        view(el('image', { href: rgbaToDataUrl(d.rgba, d.width, d.height), x: d.x0, y: d.y0, width: d.width, height: d.height, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }), boxRect.cloneNode() as SVGElement),
        el('rect', { x, y, width: side, height: side, fill: 'none', stroke: '#333' }),
        el('text', { x, y: y + side + 13, 'font-size': 10, fill: '#333', 'data-mask-iou': agree.iou.toFixed(4) }, e === ref ? 'the reference' : `mask IoU ${agree.iou.toFixed(3)}, ${agree.changed} px differ`),
      );
    }
    svg.append(g);
  });
  legend.forEach((line, i) => svg.append(el('text', { x: 0, y: top + 3 * (side + 30) + 10 + 14 * i, 'font-size': 10, fill: '#333' }, line)));
  return svg;
}

/** The text alternative: per pooler, the detection it matched, its class and score, mask area and IoU with the reference mask. */
export function poolerMasksTable(data: PoolerMasksData, classNames: readonly string[]): HTMLTableElement {
  const ref = data.entries.filter(isMask).find((m) => m.pooler === (data.reference ?? 'roiAlign'));
  return table(`The RoI's final mask under each pooler (threshold ${data.threshold})`, ['pooler', 'detection', 'class, score', 'IoU with the RoI', 'mask area (px)', `mask IoU with ${NAMES[data.reference ?? 'roiAlign']}`],
    data.entries.map((e) => {
      if (!isMask(e)) return [NAMES[e.pooler], e.snapshot ? 'no detection overlaps the RoI' : 'not run yet', '', '', '', ''];
      let area = 0;
      for (const v of e.region.data) if (v > data.threshold) area++;
      const label = e.snapshot.labels[e.detection]!;
      return [NAMES[e.pooler], e.detection + 1, `${classNames[label] ?? `class ${label}`}, ${e.snapshot.scores[e.detection]!.toFixed(3)}`, e.iou.toFixed(3), area, ref ? maskDisagreement(e.region, ref.region, data.threshold).iou.toFixed(4) : ''];
    }));
}
