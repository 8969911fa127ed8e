/**
 * `resizeFigure(data, options) → <svg>`: the three sizes of the transform drawn to one scale: the
 * original image, the image resized so its short side is `minSize` unless that makes the long side
 * exceed `maxSize`, and the padded input whose sides are multiples of `sizeDivisible` (the padding
 * hatched). The numbers come from the engine's trace; the figure only lays them out.
 */
import type { RgbImage, Size } from '../types.ts';
import { imageToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

export interface ResizeData {
  image: RgbImage;
  /** [h, w] of the original, resized and padded images (trace.sizes). */
  original: Size;
  resized: Size;
  padded: Size;
  /** The scale the engine used. */
  scale: number;
  minSize: number;
  maxSize: number;
  sizeDivisible: number;
}

export interface ResizeOptions {
  /** Width of the drawing in CSS pixels (default 900). */
  width?: number;
}

/** Which bound set the scale: the short side reaching minSize, or the long side reaching maxSize. */
export function bindingSide(original: Size, minSize: number, maxSize: number): 'short' | 'long' {
  const short = Math.min(original[0], original[1]);
  const long = Math.max(original[0], original[1]);
  return minSize / short <= maxSize / long ? 'short' : 'long';
}

export function resizeFigure(data: ResizeData, options: ResizeOptions = {}): SVGSVGElement {
  const W = options.width ?? 900;
  const gap = 40;
  const top = 48;
  const [oh, ow] = data.original;
  const [rh, rw] = data.resized;
  const [ph, pw] = data.padded;
  const k = Math.min((W - 2 * gap - 3 * 150) / (ow + rw + pw), 260 / Math.max(oh, rh, ph));
  const H = top + Math.max(oh, rh, ph) * k + 44;
  /** Each panel is at least 150 px wide so its titles fit; the drawing sits at the left of its slot. */
  const slot = (w: number) => Math.max(150, w * k);
  const svg = svgRoot(W, H, 'Original, resized and padded image sizes', `Original ${ow}×${oh}, resized ${rw}×${rh} (scale ${data.scale.toFixed(4)}), padded to ${pw}×${ph}.`);
  const url = imageToDataUrl(data.image);
  svg.append(
    el('defs', {}, el('pattern', { id: 'pad-hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, el('rect', { width: 6, height: 6, fill: '#EEE' }), el('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#999', 'stroke-width': 2 }))),
  );
  let x = 0;
  const panel = (title: string, sub: string, w: number, h: number, draw: (x0: number, y0: number) => void) => {
    svg.append(el('text', { x, y: 16, 'font-weight': 600 }, title), el('text', { x, y: 32, fill: '#333' }, sub));
    draw(x, top);
    svg.append(el('text', { x, y: top + h * k + 16 }, `${w} × ${h} px`));
    x += slot(w) + gap;
  };
  panel('original', 'what you gave', ow, oh, (x0, y0) => {
    svg.append(el('image', { href: url, x: x0, y: y0, width: ow * k, height: oh * k, preserveAspectRatio: 'none' }), el('rect', { x: x0, y: y0, width: ow * k, height: oh * k, fill: 'none', stroke: '#333' }));
  });
  const side = bindingSide(data.original, data.minSize, data.maxSize);
  panel('resized', side === 'short' ? `short side → ${data.minSize}` : `long side capped at ${data.maxSize}`, rw, rh, (x0, y0) => {
    svg.append(el('image', { href: url, x: x0, y: y0, width: rw * k, height: rh * k, preserveAspectRatio: 'none' }), el('rect', { x: x0, y: y0, width: rw * k, height: rh * k, fill: 'none', stroke: '#333' }));
  });
  panel('padded', `sides rounded up to × ${data.sizeDivisible}`, pw, ph, (x0, y0) => {
    svg.append(
      el('rect', { x: x0, y: y0, width: pw * k, height: ph * k, fill: 'url(#pad-hatch)', stroke: '#333' }),
      el('image', { href: url, x: x0, y: y0, width: rw * k, height: rh * k, preserveAspectRatio: 'none' }),
    );
    if (pw > rw) svg.append(el('text', { x: x0 + ((rw + pw) / 2) * k, y: y0 + 14, 'text-anchor': 'middle', 'font-size': 10 }, `+${pw - rw}`));
    if (ph > rh) svg.append(el('text', { x: x0 + (rw / 2) * k, y: y0 + ((rh + ph) / 2) * k + 4, 'text-anchor': 'middle', 'font-size': 10 }, `+${ph - rh}`));
  });
  svg.append(el('text', { x: 0, y: H - 8, fill: '#111' }, `scale = min(${data.minSize} / ${Math.min(oh, ow)}, ${data.maxSize} / ${Math.max(oh, ow)}) = ${data.scale.toFixed(4)}; the ${side} side sets it.`));
  return svg;
}

/** The text alternative: the sizes and the scale, step by step. */
export function resizeTable(data: Omit<ResizeData, 'image'>): HTMLTableElement {
  const [oh, ow] = data.original;
  const [rh, rw] = data.resized;
  const [ph, pw] = data.padded;
  const short = Math.min(oh, ow);
  const long = Math.max(oh, ow);
  return table('How the input size is computed', ['step', 'value'], [
    ['original (w × h)', `${ow} × ${oh}`],
    [`min_size / short side`, `${data.minSize} / ${short} = ${(data.minSize / short).toFixed(4)}`],
    [`max_size / long side`, `${data.maxSize} / ${long} = ${(data.maxSize / long).toFixed(4)}`],
    ['scale (the smaller; engine value)', data.scale.toFixed(6)],
    ['resized (w × h), floor(side × scale)', `${rw} × ${rh}`],
    [`padded to multiples of ${data.sizeDivisible}`, `${pw} × ${ph}`],
    ['padding (right, bottom)', `${pw - rw} columns, ${ph - rh} rows`],
  ]);
}
