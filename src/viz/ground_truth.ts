/**
 * `groundTruthFigure(data, options) → <svg>`: a training or validation scene with its annotations —
 * each instance's mask tinted, its box and its class name — the targets a training step is given.
 * Colours are Okabe–Ito by instance index; tags are white on a dark outline (as in detections.ts).
 */
import type { RgbImage } from '../types.ts';
import { categorical, hexToRgb } from './colors.ts';
import { imageToDataUrl, rgbaToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

export interface GroundTruthInstance {
  /** Class index (1 … K; 0 is background). */
  label: number;
  /** [x1, y1, x2, y2] in image pixels. */
  box: readonly [number, number, number, number] | Float32Array;
  /** height × width, 1 = the instance's pixel. */
  mask: Uint8Array;
}

export interface GroundTruthData {
  image: RgbImage;
  instances: readonly GroundTruthInstance[];
  classNames: readonly string[];
}

export interface GroundTruthOptions {
  title?: string;
  showMasks?: boolean;
}

const className = (names: readonly string[], label: number) => names[label] ?? `class ${label}`;

/** Every instance's mask in its colour, one RGBA layer (later instances on top, as they are drawn). */
function masksLayer(data: GroundTruthData): string {
  const { width, height } = data.image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  data.instances.forEach((inst, i) => {
    const [r, g, b] = hexToRgb(categorical(i));
    for (let p = 0; p < width * height; p++) {
      if (inst.mask[p]) {
        rgba[4 * p] = r;
        rgba[4 * p + 1] = g;
        rgba[4 * p + 2] = b;
        rgba[4 * p + 3] = 130;
      }
    }
  });
  return rgbaToDataUrl(rgba, width, height);
}

export function groundTruthFigure(data: GroundTruthData, options: GroundTruthOptions = {}): SVGSVGElement {
  const { image, instances, classNames } = data;
  const w = image.width;
  const h = image.height;
  const names = instances.map((x) => className(classNames, x.label));
  const svg = svgRoot(w, h, options.title ?? `Ground truth: ${instances.length} instances`, names.length ? `Annotated instances: ${names.join(', ')}.` : 'No annotated instance.');
  const fontSize = Math.max(9, Math.round(Math.max(w, h) / 26));
  svg.setAttribute('font-size', String(fontSize));
  svg.append(el('image', { href: imageToDataUrl(image), x: 0, y: 0, width: w, height: h, preserveAspectRatio: 'none' }));
  if ((options.showMasks ?? true) && instances.length > 0) {
    svg.append(el('image', { href: masksLayer(data), x: 0, y: 0, width: w, height: h, preserveAspectRatio: 'none', style: 'image-rendering: pixelated', class: 'gt-masks' }));
  }
  instances.forEach((inst, i) => {
    const [x1, y1, x2, y2] = [inst.box[0]!, inst.box[1]!, inst.box[2]!, inst.box[3]!];
    const g = el('g', { 'data-instance': i, 'data-label': inst.label });
    g.append(
      el('rect', { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), fill: 'none', stroke: '#000', 'stroke-width': 3, 'stroke-opacity': 0.6 }),
      el('rect', { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), fill: 'none', stroke: categorical(i), 'stroke-width': 1.5 }),
    );
    const ty = y1 > fontSize + 2 ? y1 - 2 : y2 + fontSize;
    g.append(el('text', { x: x1 + 1, y: Math.min(h - 2, ty), fill: 'white', stroke: '#000', 'stroke-width': 3, 'paint-order': 'stroke', 'font-weight': 600 }, names[i]!));
    svg.append(g);
  });
  return svg;
}

/** The text alternative: per instance, its class, box and mask area. */
export function groundTruthTable(data: GroundTruthData): HTMLTableElement {
  return table(
    'Annotated instances',
    ['#', 'class', 'box [x1, y1, x2, y2] (px)', 'mask area (px)'],
    data.instances.map((inst, i) => {
      let area = 0;
      for (let p = 0; p < inst.mask.length; p++) area += inst.mask[p] ? 1 : 0;
      return [i + 1, className(data.classNames, inst.label), Array.from(inst.box, (v) => Math.round(v * 10) / 10).join(', '), area];
    }),
  );
}
