/**
 * Small statistics the figures show, on plain arrays (tested in tests/site_viz.test.ts).
 *
 * Glossary: a CHW plane is `data[c·H·W + y·W + x]`; a *region* [h, w] is the top-left h×w window of an
 * H×W plane (the resized image inside the padded input).
 */

export interface Summary {
  count: number;
  mean: number;
  /** Population standard deviation (divide by count). */
  std: number;
  min: number;
  max: number;
}

/** Mean, std, min and max of `values` (float64 accumulation). NaN fields for an empty input. */
export function summarize(values: Iterable<number>): Summary {
  let count = 0;
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    count++;
    sum += v;
    sumSq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0) return { count, mean: NaN, std: NaN, min: NaN, max: NaN };
  const mean = sum / count;
  return { count, mean, std: Math.sqrt(Math.max(0, sumSq / count - mean * mean)), min, max };
}

/** Counts of `values` in `bins` equal bins over [lo, hi]; values outside are clamped into the end bins. */
export function histogram(values: Iterable<number>, lo: number, hi: number, bins: number): Uint32Array {
  if (!(hi > lo) || !(bins >= 1)) throw new Error(`histogram: expected lo < hi and bins ≥ 1, found lo ${lo}, hi ${hi}, bins ${bins}`);
  const out = new Uint32Array(bins);
  const k = bins / (hi - lo);
  for (const v of values) {
    const i = Math.floor((v - lo) * k);
    out[i < 0 ? 0 : i >= bins ? bins - 1 : i]!++;
  }
  return out;
}

/** Channel `c` of an interleaved RGB image scaled to [0, 1] (value / 255). */
export function* rgbChannel(data: Uint8Array, c: number, scale = 1 / 255): Generator<number> {
  for (let i = c; i < data.length; i += 3) yield data[i]! * scale;
}

/** The values of plane `c` of a C×H×W array inside its top-left `region` [h, w]. */
export function* planeRegion(data: Float32Array, shape: readonly number[], c: number, region: readonly [number, number]): Generator<number> {
  const [, H, W] = shape as [number, number, number];
  const [h, w] = region;
  for (let y = 0; y < Math.min(h, H); y++) {
    const row = c * H * W + y * W;
    for (let x = 0; x < Math.min(w, W); x++) yield data[row + x]!;
  }
}
