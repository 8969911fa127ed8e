/**
 * `featureMapsFigure(data, options) → <svg>`: one channel of each pyramid level (C2–C5 of the
 * backbone, or P2–P6 of the FPN) side by side, every panel drawn over the same padded image extent,
 * so a level of stride s shows cells s image pixels wide: the pyramid's resolution halving is what
 * you see. Each panel has its own viridis scale from that channel's min (dark) to max (bright); the
 * dashed rectangle is the resized image (outside it, padding).
 *
 * Glossary: a level's map is the engine's dump, CHW [C, h, w]; its stride is padded size // h (and w).
 */
import type { NdArray, RgbImage, Size } from '../types.ts';
import { imageToDataUrl, rgbaToDataUrl } from './raster.ts';
import { summarize } from './stats.ts';
import { el, svgRoot, table } from './svg.ts';
import { viridisLegend, viridisRgba } from './viridis.ts';

export interface FeatureMapLevel {
  /** Paper name: 'C2' … 'C5', 'P2' … 'P6'. */
  label: string;
  /** The level's dump, [C, h, w]. */
  map: NdArray;
  /** [stride y, stride x] in padded-image pixels per cell. */
  stride: [number, number];
  /** The channel drawn, 0 ≤ channel < C. */
  channel: number;
}

export interface FeatureMapsData {
  levels: readonly FeatureMapLevel[];
  /** Padded input size [h, w] (what every panel spans). */
  padded: Size;
  /** Resized image size [h, w] (the dashed rectangle). */
  resized: Size;
  /** When given, a first panel shows the image itself over the same extent, for reference. */
  image?: RgbImage;
}

export interface FeatureMapsOptions {
  /** Width of each panel in CSS pixels (default 170). */
  panelWidth?: number;
  /** Accessible title (default: "Feature maps C2, C3, …"). */
  title?: string;
}

/** A stride as text: '8' when square, else 'y×x' (e.g. P6 of a 96×128 input: '48×64'). */
export function strideText(stride: readonly [number, number]): string {
  return stride[0] === stride[1] ? String(stride[0]) : `${stride[0]}×${stride[1]}`;
}

/** Channel `c` of a [C, h, w] map as a plane (a view, not a copy); throws when c is out of range. */
export function channelPlane(map: NdArray, c: number): Float32Array {
  const [C, h, w] = map.shape as [number, number, number];
  if (!(Number.isInteger(c) && c >= 0 && c < C)) throw new Error(`channelPlane: expected a channel in 0..${C - 1}, found ${c}`);
  return map.data.subarray(c * h * w, (c + 1) * h * w);
}

export function featureMapsFigure(data: FeatureMapsData, options: FeatureMapsOptions = {}): SVGSVGElement {
  const pw = options.panelWidth ?? 170;
  const gap = 18;
  const [ph, pwPx] = data.padded;
  const k = pw / pwPx;
  const panelH = ph * k;
  const top = 38;
  const first = data.image ? 1 : 0;
  const n = data.levels.length + first;
  const width = n * pw + (n - 1) * gap + 2;
  const height = top + panelH + 50 + 34;
  const names = data.levels.map((l) => l.label).join(', ');
  const svg = svgRoot(
    width,
    height,
    options.title ?? `Feature maps ${names}`,
    data.levels.map((l) => `${l.label}: channel ${l.channel} of ${l.map.shape[0]}, ${l.map.shape[2]}×${l.map.shape[1]} cells of ${l.stride[1]}×${l.stride[0]} px`).join('; '),
  );
  if (data.image) {
    const [rh, rw] = data.resized;
    svg.append(
      el('g', { 'data-level': 'input', transform: 'translate(1,0)' },
        el('text', { x: 0, y: 14, 'font-weight': 600 }, 'input'),
        el('text', { x: 0, y: 29, fill: '#333', 'font-size': 11 }, `${rw}×${rh} px, padded ${pwPx}×${ph}`),
        el('rect', { x: 0, y: top, width: pw, height: panelH, fill: '#ddd', stroke: '#333', 'stroke-width': 0.75 }),
        el('image', { href: imageToDataUrl(data.image), x: 0, y: top, width: rw * k, height: rh * k, preserveAspectRatio: 'none' }),
      ),
    );
  }
  data.levels.forEach((level, j) => {
    const [C, h, w] = level.map.shape as [number, number, number];
    const x0 = 1 + (j + first) * (pw + gap);
    const plane = channelPlane(level.map, level.channel);
    const s = summarize(plane);
    const g = el('g', { 'data-level': level.label, transform: `translate(${x0},0)` });
    g.append(
      el('text', { x: 0, y: 14, 'font-weight': 600 }, `${level.label} · stride ${strideText(level.stride)}`),
      el('text', { x: 0, y: 29, fill: '#333', 'font-size': 11 }, `${C}×${h}×${w}, channel ${level.channel}`),
    );
    const drawW = w * level.stride[1] * k;
    const drawH = h * level.stride[0] * k;
    g.append(
      el('image', { href: rgbaToDataUrl(viridisRgba(plane, s.min, s.max), w, h), x: 0, y: top, width: drawW, height: drawH, preserveAspectRatio: 'none', style: 'image-rendering: pixelated' }),
      el('rect', { x: 0, y: top, width: pw, height: panelH, fill: 'none', stroke: '#333', 'stroke-width': 0.75 }),
      el('rect', { x: 0, y: top, width: data.resized[1] * k, height: data.resized[0] * k, fill: 'none', stroke: '#fff', 'stroke-dasharray': '4 3', 'stroke-width': 1.2 }),
    );
    if (s.min === s.max) {
      // A channel that is constant here (often a ReLU that never fired on this image).
      g.append(el('text', { x: pw / 2, y: top + panelH / 2, 'text-anchor': 'middle', 'font-size': 11, fill: '#fff' }, `all ${fmt(s.min)}: try another channel`));
    }
    g.append(viridisLegend(0, top + panelH + 8, pw, fmt(s.min), fmt(s.max)));
    g.append(el('text', { x: 0, y: top + panelH + 46, 'font-size': 10, fill: '#333' }, `one cell = ${level.stride[1]}×${level.stride[0]} image px`));
    svg.append(g);
  });
  svg.append(el('text', { x: 1, y: height - 6, 'font-size': 11 }, `Each panel spans the padded ${pwPx}×${ph} input; dashed: the resized image. Colour: dark = that channel's minimum, yellow = its maximum.`));
  return svg;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

/** The text alternative: per level, its shape, stride, the channel shown and that channel's statistics. */
export function featureMapsTable(data: FeatureMapsData, caption = 'Feature maps'): HTMLTableElement {
  return table(
    caption,
    ['level', 'channels × h × w', 'stride (px)', 'channel shown', 'min', 'max', 'mean'],
    data.levels.map((l) => {
      const s = summarize(channelPlane(l.map, l.channel));
      return [l.label, l.map.shape.join(' × '), l.stride.join(' × '), l.channel, s.min.toFixed(3), s.max.toFixed(3), s.mean.toFixed(3)];
    }),
  );
}
