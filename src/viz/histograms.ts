/**
 * `normalizationFigure(data, options) → <svg>`: per colour channel, the histogram of the image's
 * values on [0, 1] (left) and of the network's input after `(x − mean) / std` (right), with each
 * distribution's mean marked. Normalization moves and stretches every channel by its own constants,
 * which is what the two columns show.
 */
import type { NdArray, RgbImage, Size } from '../types.ts';
import { CATEGORICAL } from './colors.ts';
import { histogram, planeRegion, rgbChannel, summarize, type Summary } from './stats.ts';
import { scaleLinear } from 'd3-scale';
import { axis } from './axis.ts';
import { el, svgRoot, table } from './svg.ts';

export interface NormalizationData {
  /** The reader's image (values / 255 are the "before"). */
  image: RgbImage;
  /** The `input` dump [3, H, W]: normalized, resized, padded. */
  input: NdArray;
  /** The resized size [h, w]: only this top-left region of `input` is image (the rest is padding). */
  resized: Size;
}

interface ChannelValues {
  name: string;
  before: { values: () => Iterable<number>; summary: Summary };
  after: { values: () => Iterable<number>; summary: Summary };
}

/** Per channel: the values before (image / 255) and after normalization (inside the resized region), with summaries. */
export function normalizationChannels(data: NormalizationData): ChannelValues[] {
  return [0, 1, 2].map((c) => {
    const before = () => rgbChannel(data.image.data, c);
    const after = () => planeRegion(data.input.data, data.input.shape, c, data.resized);
    return { name: 'RGB'[c]!, before: { values: before, summary: summarize(before()) }, after: { values: after, summary: summarize(after()) } };
  });
}

/** The text alternative: per channel, the constants and the mean/std before and after. */
export function normalizationTable(data: NormalizationData, mean: readonly number[], std: readonly number[]): HTMLTableElement {
  const f = (v: number) => v.toFixed(3);
  const rows = normalizationChannels(data).map((ch, c) => [
    ch.name, f(mean[c]!), f(std[c]!), f(ch.before.summary.mean), f(ch.before.summary.std), f(ch.after.summary.mean), f(ch.after.summary.std), `${f(ch.after.summary.min)} … ${f(ch.after.summary.max)}`,
  ]);
  return table('Each channel before and after normalization', ['channel', 'mean (constant)', 'std (constant)', 'image mean', 'image std', 'input mean', 'input std', 'input range'], rows);
}

export interface NormalizationOptions {
  /** [lo, hi] of the "after" axis (default [-2.5, 2.75]: torchvision's constants map [0, 1] into it). */
  afterDomain?: [number, number];
  bins?: number;
}

const PANEL_W = 300;
const PANEL_H = 80;
const LEFT = 34;
const GAP_X = 60;
const GAP_Y = 34;
const TOP = 34;

export function normalizationFigure(data: NormalizationData, options: NormalizationOptions = {}): SVGSVGElement {
  const channels = normalizationChannels(data);
  const bins = options.bins ?? 64;
  const [alo, ahi] = options.afterDomain ?? [-2.5, 2.75];
  const width = LEFT + 2 * PANEL_W + GAP_X + 16;
  const height = TOP + channels.length * (PANEL_H + GAP_Y) + 4;
  const svg = svgRoot(width, height, 'Histograms of each channel before and after normalization', 'Left: pixel values divided by 255. Right: the same pixels after subtracting the channel mean and dividing by the channel std.');
  svg.append(
    el('text', { x: LEFT + PANEL_W / 2, y: 16, 'text-anchor': 'middle', 'font-weight': 600 }, 'image / 255, on [0, 1]'),
    el('text', { x: LEFT + PANEL_W + GAP_X + PANEL_W / 2, y: 16, 'text-anchor': 'middle', 'font-weight': 600 }, '(x − mean) / std: the network’s input'),
  );
  const colors = [CATEGORICAL[5], CATEGORICAL[2], CATEGORICAL[4]];
  channels.forEach((ch, row) => {
    const y0 = TOP + row * (PANEL_H + GAP_Y);
    const panels: Array<[typeof ch.before, number, number, number]> = [
      [ch.before, 0, 1, LEFT],
      [ch.after, alo, ahi, LEFT + PANEL_W + GAP_X],
    ];
    for (const [part, lo, hi, x0] of panels) {
      const counts = histogram(part.values(), lo, hi, bins);
      const peak = Math.max(1, ...counts);
      const bw = PANEL_W / bins;
      const g = el('g', {});
      counts.forEach((n, i) => {
        const h = (n / peak) * PANEL_H;
        if (h > 0) g.append(el('rect', { x: x0 + i * bw, y: y0 + PANEL_H - h, width: Math.max(0.5, bw - 0.5), height: h, fill: colors[row % 3]! }));
      });
      const sx = scaleLinear([lo, hi], [x0, x0 + PANEL_W]);
      const m = part.summary.mean;
      g.append(axis(sx, { orient: 'bottom', at: y0 + PANEL_H, ticks: 6 }));
      if (Number.isFinite(m)) {
        g.append(
          el('line', { x1: sx(m), x2: sx(m), y1: y0 - 4, y2: y0 + PANEL_H, stroke: '#000', 'stroke-dasharray': '3 2' }),
          el('text', { x: sx(m) + 3, y: y0 + 6, fill: '#000', 'font-size': 10 }, `mean ${m.toFixed(3)}, std ${part.summary.std.toFixed(3)}`),
        );
      }
      svg.append(g);
    }
    svg.append(el('text', { x: 4, y: y0 + PANEL_H / 2 + 4, 'font-weight': 600 }, ch.name));
  });
  return svg;
}
