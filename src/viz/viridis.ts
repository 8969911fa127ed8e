/**
 * `viridis(t) → [r, g, b]`: the viridis colour scale (d3-scale-chromatic's `interpolateViridis`,
 * matplotlib's 256-colour ramp): dark purple → blue → green → yellow, lightness increasing
 * monotonically, so it reads the same to colour-blind readers and in greyscale. Used for feature maps
 * and objectness heatmaps, plus a legend (`viridisLegend`) and a plane → RGBA helper (`viridisRgba`).
 */
import { rgb } from 'd3-color';
import { interpolateViridis } from 'd3-scale-chromatic';
import { el } from './svg.ts';

/** The ramp d3 samples: its 256 colours as r, g, b bytes (interpolateViridis(t) is colour ⌊t·256⌋). */
const RAMP = (() => {
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = rgb(interpolateViridis((i + 0.5) / 256));
    out.set([c.r, c.g, c.b], 3 * i);
  }
  return out;
})();

/** Colour of `t` in [0, 1] (clamped; NaN → 0) as [r, g, b] in 0..255: exactly `interpolateViridis(t)`. */
export function viridis(t: number): [number, number, number] {
  const x = Number.isFinite(t) ? Math.max(0, Math.min(1, t)) : 0;
  const i = 3 * Math.max(0, Math.min(255, Math.floor(x * 256)));
  return [RAMP[i]!, RAMP[i + 1]!, RAMP[i + 2]!];
}

/** `viridis(t)` as a CSS colour. */
export function viridisCss(t: number): string {
  const [r, g, b] = viridis(t);
  return `rgb(${r},${g},${b})`;
}

/**
 * `count` values starting at `offset` (e.g. one channel of a CHW array) → RGBA bytes, `lo` mapped to
 * the dark end and `hi` to the bright end (lo = hi paints everything dark).
 */
export function viridisRgba(values: ArrayLike<number>, lo: number, hi: number, offset = 0, count = values.length - offset): Uint8ClampedArray {
  const out = new Uint8ClampedArray(count * 4);
  const k = hi > lo ? 1 / (hi - lo) : 0;
  for (let i = 0; i < count; i++) {
    const [r, g, b] = viridis((values[offset + i]! - lo) * k);
    out[4 * i] = r;
    out[4 * i + 1] = g;
    out[4 * i + 2] = b;
    out[4 * i + 3] = 255;
  }
  return out;
}

/** A horizontal legend (an SVG `<g>`) `width` px wide at (x, y): the ramp, then `lo` and `hi` labels under it. */
export function viridisLegend(x: number, y: number, width: number, lo: string, hi: string, title = ''): SVGGElement {
  const g = el('g', { class: 'viridis-legend', transform: `translate(${x},${y})` });
  const steps = 32;
  for (let i = 0; i < steps; i++) g.append(el('rect', { x: (i * width) / steps, y: 0, width: width / steps + 0.5, height: 10, fill: viridisCss(i / (steps - 1)) }));
  g.append(
    el('rect', { x: 0, y: 0, width, height: 10, fill: 'none', stroke: '#555', 'stroke-width': 0.5 }),
    el('text', { x: 0, y: 22, 'font-size': 10 }, lo),
    el('text', { x: width, y: 22, 'font-size': 10, 'text-anchor': 'end' }, hi),
  );
  if (title) g.append(el('text', { x: width / 2, y: 22, 'font-size': 10, 'text-anchor': 'middle' }, title));
  return g;
}
