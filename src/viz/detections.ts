/**
 * `detectionsFigure(data, options) → <svg>`: the reader's image with each detection's mask (the
 * pasted probabilities thresholded at `maskThreshold`, tinted), box and "label score" tag.
 * Colours are Okabe–Ito by detection index; tags are white on the colour with a dark outline.
 */
import type { MaskRegion } from '../stages/paste.ts';
import type { RgbImage } from '../types.ts';
import { categorical, hexToRgb } from './colors.ts';
import { imageToDataUrl, rgbaToDataUrl } from './raster.ts';
import { el, svgRoot } from './svg.ts';

export interface DetectionsData {
  image: RgbImage;
  /** D×4 [x1, y1, x2, y2] in original-image pixels. */
  boxes: Float32Array;
  labels: Int32Array;
  scores: Float32Array;
  /** Per detection, mask probabilities in the region the paste wrote (original-image pixels). */
  masks: readonly MaskRegion[];
  /** Label index → name. */
  classNames: readonly string[];
}

export interface DetectionsOptions {
  /** A pixel belongs to the mask when its probability is > this (as torchvision's references binarize, and our RLE). */
  maskThreshold: number;
  /** Draw masks (default true). */
  showMasks?: boolean;
  /** Most detections drawn, by score order (default 30). */
  maxDetections?: number;
  /** Accessible title. */
  title?: string;
}

/** Label text of detection `d`: "cat 0.93". */
export function detectionLabel(classNames: readonly string[], label: number, score: number): string {
  return `${classNames[label] ?? `class ${label}`} ${score.toFixed(2)}`;
}

function maskImage(region: MaskRegion, threshold: number, color: string): string {
  const [r, g, b] = hexToRgb(color);
  const rgba = new Uint8ClampedArray(region.width * region.height * 4);
  for (let i = 0; i < region.data.length; i++) {
    if (region.data[i]! > threshold) {
      rgba[4 * i] = r;
      rgba[4 * i + 1] = g;
      rgba[4 * i + 2] = b;
      rgba[4 * i + 3] = 140;
    }
  }
  return rgbaToDataUrl(rgba, region.width, region.height);
}

export function detectionsFigure(data: DetectionsData, options: DetectionsOptions): SVGSVGElement {
  const { image, boxes, labels, scores, masks, classNames } = data;
  const count = Math.min(labels.length, options.maxDetections ?? 30);
  const w = image.width;
  const h = image.height;
  const svg = svgRoot(w, h, options.title ?? `${count} detections on the image`, `Boxes and masks of the ${count} highest-scoring detections.`);
  const fontSize = Math.max(10, Math.round(Math.max(w, h) / 45));
  svg.setAttribute('font-size', String(fontSize));
  svg.append(el('image', { href: imageToDataUrl(image), x: 0, y: 0, width: w, height: h, preserveAspectRatio: 'none' }));
  const layer = el('g', { class: 'detections' });
  svg.append(layer);
  for (let d = count - 1; d >= 0; d--) {
    const color = categorical(d);
    const [x1, y1, x2, y2] = [boxes[4 * d]!, boxes[4 * d + 1]!, boxes[4 * d + 2]!, boxes[4 * d + 3]!];
    const g = el('g', { 'data-detection': d });
    const m = masks[d];
    if ((options.showMasks ?? true) && m !== undefined && m.width > 0 && m.height > 0) {
      g.append(el('image', { href: maskImage(m, options.maskThreshold, color), x: m.x0, y: m.y0, width: m.width, height: m.height, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }));
    }
    const stroke = Math.max(1.5, fontSize / 6);
    g.append(el('rect', { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), fill: 'none', stroke: '#000', 'stroke-width': stroke + 2, 'stroke-opacity': 0.6 }));
    g.append(el('rect', { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), fill: 'none', stroke: color, 'stroke-width': stroke }));
    const text = detectionLabel(classNames, labels[d]!, scores[d]!);
    const ty = y1 > fontSize + 4 ? y1 - 4 : y1 + fontSize + 2;
    g.append(el('text', { x: x1 + 2, y: ty, fill: 'white', stroke: '#000', 'stroke-width': 3, 'paint-order': 'stroke', 'font-weight': 600 }, text));
    layer.append(g);
  }
  return svg;
}
