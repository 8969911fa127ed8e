/**
 * `sequential(t) → [r, g, b]`: a sequential colour scale for probabilities and other values on
 * [0, 1], readable by colour-blind readers and in greyscale: an approximation of cividis (Nuñez,
 * Anderton & Renslow 2018), dark blue (0) → grey → yellow (1), lightness increasing throughout.
 * Values outside [0, 1] are clamped; NaN is 0.
 */

/** Stops of the scale at t = 0, ¼, ½, ¾, 1. */
export const CIVIDIS_STOPS: ReadonlyArray<readonly [number, number, number]> = [
  [0, 32, 77],
  [65, 77, 107],
  [124, 123, 120],
  [188, 175, 111],
  [255, 234, 70],
];

export function sequential(t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (CIVIDIS_STOPS.length - 1);
  const i = Math.min(Math.floor(x), CIVIDIS_STOPS.length - 2);
  const a = CIVIDIS_STOPS[i]!;
  const b = CIVIDIS_STOPS[i + 1]!;
  const u = x - i;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * u)) as [number, number, number];
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
