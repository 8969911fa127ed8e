/**
 * `valueScale(values) → scale`: the colour scale of a figure of feature values. Values of both signs
 * get the blue–white–orange diverging scale symmetric about 0 (±the largest |value|), so 0 is white;
 * values of one sign (a window of a map after ReLU, say) get the sequential cividis scale from their
 * minimum to their maximum, so their differences are not washed out in one half of the diverging one.
 */
import { diverging } from './colors.ts';
import { sequential } from './sequential.ts';

export interface ValueScale {
  kind: 'diverging' | 'sequential';
  /** The values at the two ends of the scale. */
  lo: number;
  hi: number;
  color(v: number): [number, number, number];
  /** One line for a legend: "blue −2.41 … white 0 … orange +2.41". */
  label: string;
}

export function valueScale(values: Iterable<number>): ValueScale {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!(lo <= hi)) return { kind: 'diverging', lo: -1, hi: 1, color: () => diverging(0), label: 'no values' };
  const f = (v: number) => v.toFixed(Math.abs(v) >= 100 ? 0 : 2);
  if (lo < 0 && hi > 0) {
    const e = Math.max(-lo, hi);
    return { kind: 'diverging', lo: -e, hi: e, color: (v) => diverging(v / e), label: `blue −${f(e)} … white 0 … orange +${f(e)}` };
  }
  const span = hi - lo;
  return {
    kind: 'sequential', lo, hi,
    color: (v) => sequential(span > 0 ? (v - lo) / span : 0.5),
    label: `dark blue ${f(lo)} … yellow ${f(hi)}`,
  };
}
