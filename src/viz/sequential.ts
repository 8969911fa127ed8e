/**
 * `sequential(t) → [r, g, b]`: the sequential colour scale for probabilities and other values on
 * [0, 1]: cividis (Nuñez, Anderton & Renslow 2018; d3-scale-chromatic's `interpolateCividis`), dark
 * blue (0) → grey → yellow (1), lightness increasing throughout, readable by colour-blind readers and
 * in greyscale. Values outside [0, 1] are clamped; NaN is 0.
 */
import { rgb } from 'd3-color';
import { interpolateCividis } from 'd3-scale-chromatic';

/** interpolateCividis at 1024 evenly spaced t (a plane of probabilities is painted from it, not by parsing a CSS string per pixel). */
const STEPS = 1024;
const TABLE = (() => {
  const out = new Uint8Array(STEPS * 3);
  for (let i = 0; i < STEPS; i++) {
    const c = rgb(interpolateCividis(i / (STEPS - 1)));
    out.set([c.r, c.g, c.b], 3 * i);
  }
  return out;
})();

export function sequential(t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0));
  const i = 3 * Math.round(x * (STEPS - 1));
  return [TABLE[i]!, TABLE[i + 1]!, TABLE[i + 2]!];
}

/** A M×N plane of values on [0, 1] → RGBA bytes on the sequential scale (for `rgbaToDataUrl`). */
export function sequentialRgba(values: ArrayLike<number>): Uint8ClampedArray {
  const out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const [r, g, b] = sequential(values[i]!);
    out[4 * i] = r;
    out[4 * i + 1] = g;
    out[4 * i + 2] = b;
    out[4 * i + 3] = 255;
  }
  return out;
}
