/**
 * `inputTensorFigure(data, options) → <svg>`: the padded, normalized input tensor (3×H×W) as the
 * network receives it. `channel: 'rgb'` undoes the normalization for display (x·std + mean), so the
 * padding — zeros after normalization — shows as the mean colour; a channel index shows that channel's
 * values on a blue–white–orange scale (blue negative, orange positive, white 0 = the channel mean).
 * A dashed line marks where the resized image ends and the padding begins.
 */
import type { NdArray, Size } from '../types.ts';
import { diverging } from './colors.ts';
import { rgbaToDataUrl } from './raster.ts';
import { planeRegion, summarize } from './stats.ts';
import { el, svgRoot, table } from './svg.ts';

export interface InputTensorData {
  /** The `input` dump: [3, H, W] normalized values. */
  input: NdArray;
  /** The resized (unpadded) size [h, w]. */
  resized: Size;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface InputTensorOptions {
  /** 'rgb' (un-normalized colours) or 0/1/2 (one channel on a diverging scale). */
  channel: 'rgb' | 0 | 1 | 2;
  /** Values mapped to the ends of the diverging scale (default ±2.5). */
  extent?: number;
  /** Drawing width in CSS pixels (default: the tensor's width, at most 640). */
  width?: number;
}

export function inputTensorFigure(data: InputTensorData, options: InputTensorOptions): SVGSVGElement {
  const [, H, W] = data.input.shape as [number, number, number];
  const plane = H * W;
  const rgba = new Uint8ClampedArray(plane * 4);
  const extent = options.extent ?? 2.5;
  const v = data.input.data;
  for (let i = 0; i < plane; i++) {
    if (options.channel === 'rgb') {
      for (let c = 0; c < 3; c++) rgba[4 * i + c] = Math.round((v[c * plane + i]! * data.std[c]! + data.mean[c]!) * 255);
    } else {
      const [r, g, b] = diverging(v[options.channel * plane + i]! / extent);
      rgba[4 * i] = r;
      rgba[4 * i + 1] = g;
      rgba[4 * i + 2] = b;
    }
    rgba[4 * i + 3] = 255;
  }
  const drawW = Math.min(options.width ?? Math.min(W, 640), 1600);
  const k = drawW / W;
  const legend = options.channel === 'rgb' ? 0 : 40;
  // At least 460 px wide so the line of text under a small tensor fits.
  const svg = svgRoot(Math.max(drawW + 2, 460), H * k + 24 + legend, `The network's input tensor, ${options.channel === 'rgb' ? 'un-normalized to colours' : `channel ${'RGB'[options.channel]}`}`, `3×${H}×${W} values; the image fills the top-left ${data.resized[1]}×${data.resized[0]}, the rest is padding.`);
  svg.append(el('image', { href: rgbaToDataUrl(rgba, W, H), x: 1, y: 1, width: W * k, height: H * k, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }));
  const [rh, rw] = data.resized;
  svg.append(
    el('rect', { x: 1, y: 1, width: W * k, height: H * k, fill: 'none', stroke: '#333' }),
    el('rect', { x: 1, y: 1, width: rw * k, height: rh * k, fill: 'none', stroke: '#000', 'stroke-dasharray': '5 3', 'stroke-width': 1.5 }),
    el('text', { x: 1, y: H * k + 16 }, `${W}×${H} tensor; image ${rw}×${rh}, padding ${W - rw} columns right, ${H - rh} rows below`),
  );
  if (options.channel !== 'rgb') {
    const y = H * k + 26;
    const steps = 40;
    const lw = 300;
    for (let i = 0; i < steps; i++) {
      const [r, g, b] = diverging((i / (steps - 1)) * 2 - 1);
      svg.append(el('rect', { x: 40 + (i * lw) / steps, y, width: lw / steps + 0.5, height: 10, fill: `rgb(${r},${g},${b})` }));
    }
    svg.append(
      el('text', { x: 36, y: y + 9, 'text-anchor': 'end', 'font-size': 10 }, `−${extent}`),
      el('text', { x: 44 + lw, y: y + 9, 'font-size': 10 }, `+${extent}`),
      el('text', { x: 40 + lw / 2, y: y + 22, 'text-anchor': 'middle', 'font-size': 10 }, '0 = the channel mean'),
    );
  }
  return svg;
}

/** The text alternative: per channel, the value range inside the image and the padding value. */
export function inputTensorTable(data: InputTensorData): HTMLTableElement {
  const [, H, W] = data.input.shape as [number, number, number];
  const [rh, rw] = data.resized;
  const rows = [0, 1, 2].map((c) => {
    const s = summarize(planeRegion(data.input.data, data.input.shape, c, data.resized));
    const pad = W > rw ? data.input.data[c * H * W + (W - 1)]! : H > rh ? data.input.data[c * H * W + (H - 1) * W]! : NaN;
    return ['RGB'[c]!, s.min.toFixed(3), s.max.toFixed(3), s.mean.toFixed(3), Number.isNaN(pad) ? 'no padding' : pad.toFixed(3)];
  });
  return table(`Input tensor 3 × ${H} × ${W} (image ${rw} × ${rh} at the top left)`, ['channel', 'min in image', 'max in image', 'mean in image', 'padding value'], rows);
}
