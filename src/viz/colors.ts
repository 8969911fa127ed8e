/**
 * Colours readable by colour-blind readers: Okabe & Ito's 8-colour categorical palette (used for
 * detections and classes) and a blue–white–orange diverging scale (normalized values, logits).
 */

/** Okabe–Ito, without black (used for text): orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple. */
export const CATEGORICAL = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7'] as const;

export function categorical(i: number): string {
  return CATEGORICAL[((i % CATEGORICAL.length) + CATEGORICAL.length) % CATEGORICAL.length]!;
}

/** `#rrggbb` → [r, g, b] in 0..255. */
export function hexToRgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/**
 * Diverging colour for `t` in [-1, 1]: −1 blue (#0072B2), 0 white, +1 orange (#E69F00); values
 * outside are clamped. Returns [r, g, b] in 0..255.
 */
export function diverging(t: number): [number, number, number] {
  const x = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const end = x < 0 ? [0, 114, 178] : [230, 159, 0];
  const a = Math.abs(x);
  return [0, 1, 2].map((i) => Math.round(255 + (end[i]! - 255) * a)) as [number, number, number];
}
