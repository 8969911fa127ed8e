/**
 * `pooledOutputsFigure(data, options) → <svg>`: the pooled PH×PW outputs of one RoI (one channel),
 * one heat map per pooler on a shared blue–white–orange scale, then the differences between chosen
 * pairs on their own symmetric scale — what the head behind the pooler actually receives.
 */
import { diverging } from './colors.ts';
import { el, svgRoot, table } from './svg.ts';
import { type ValueScale, valueScale } from './value_scale.ts';

export interface PooledOutputsData {
  /** One PH×PW row-major plane per pooler (the same channel), in drawing order. */
  outputs: ReadonlyArray<{ label: string; values: Float32Array }>;
  /** [PH, PW] */
  outputSize: [number, number];
  /** Difference panels after the outputs: [a, b] draws outputs[a] − outputs[b]. */
  differences?: ReadonlyArray<[number, number]>;
}

export interface PooledOutputsOptions {
  /** Side of each panel in CSS pixels (default 150). */
  panel?: number;
  /** The outputs' colour scale (default: `valueScale` of all of them); differences always use a diverging scale about 0. */
  scale?: ValueScale;
}

const maxAbs = (arrays: Iterable<Float32Array>) => {
  let m = 0;
  for (const a of arrays) for (const v of a) m = Math.max(m, Math.abs(v));
  return m > 0 ? m : 1;
};

/** outputs[a] − outputs[b], element by element. */
export function difference(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length !== b.length) throw new Error(`difference: expected two planes of the same size, found ${a.length} and ${b.length} values`);
  return a.map((v, i) => v - b[i]!);
}

export function pooledOutputsFigure(data: PooledOutputsData, options: PooledOutputsOptions = {}): SVGSVGElement {
  const [ph, pw] = data.outputSize;
  const side = options.panel ?? 150;
  const c = Math.min(side / pw, side / ph);
  const gap = 22;
  const diffs = (data.differences ?? []).map(([a, b]) => ({
    label: `${data.outputs[a]!.label} − ${data.outputs[b]!.label}`,
    values: difference(data.outputs[a]!.values, data.outputs[b]!.values),
  }));
  const panels = [...data.outputs, ...diffs];
  const width = panels.length * (pw * c + gap) + (diffs.length > 0 ? 14 : 0);
  const top = 34;
  const svg = svgRoot(width, top + ph * c + 40, `Pooled ${ph}×${pw} outputs of the RoI, one channel`, `${data.outputs.map((o) => o.label).join(', ')}${diffs.length ? `, and the differences ${diffs.map((d) => d.label).join(', ')}` : ''}.`);
  const outScale = options.scale ?? valueScale(data.outputs.flatMap((o) => Array.from(o.values)));
  const diffExtent = maxAbs(diffs.map((d) => d.values));
  let x = 0;
  panels.forEach((p, i) => {
    const isDiff = i >= data.outputs.length;
    if (isDiff && i === data.outputs.length) x += 14;
    const colour = isDiff ? (v: number) => diverging(v / diffExtent) : outScale.color;
    const g = el('g', { 'data-panel': p.label });
    g.append(el('text', { x, y: 14, 'font-weight': 700 }, p.label), el('text', { x, y: 28, 'font-size': 10, fill: '#333' }, isDiff ? `difference, ±${diffExtent.toFixed(3)}` : 'output'));
    for (let r = 0; r < ph; r++) {
      for (let j = 0; j < pw; j++) {
        const v = p.values[r * pw + j]!;
        const [R, G, B] = colour(v);
        g.append(el('rect', { x: x + j * c, y: top + r * c, width: c, height: c, fill: `rgb(${R},${G},${B})`, stroke: '#ccc', 'stroke-width': 0.4 }));
      }
    }
    g.append(el('rect', { x, y: top, width: pw * c, height: ph * c, fill: 'none', stroke: '#333' }));
    let sum = 0;
    for (const v of p.values) sum += Math.abs(v);
    g.append(el('text', { x, y: top + ph * c + 14, 'font-size': 10, fill: '#333' }, isDiff ? `mean |Δ| ${(sum / p.values.length).toFixed(4)}` : `mean |v| ${(sum / p.values.length).toFixed(4)}`));
    svg.append(g);
    x += pw * c + gap;
  });
  svg.append(el('text', { x: 0, y: top + ph * c + 32, 'font-size': 10, fill: '#333' }, `outputs: ${outScale.label}; differences: blue −, white 0, orange +`));
  return svg;
}

/** The text alternative: every bin's value under each pooler and each difference. */
export function pooledOutputsTable(data: PooledOutputsData): HTMLTableElement {
  const [ph, pw] = data.outputSize;
  const diffs = (data.differences ?? []).map(([a, b]) => ({ label: `${data.outputs[a]!.label} − ${data.outputs[b]!.label}`, values: difference(data.outputs[a]!.values, data.outputs[b]!.values) }));
  const cols = [...data.outputs, ...diffs];
  const rows: string[][] = [];
  for (let r = 0; r < ph; r++) for (let j = 0; j < pw; j++) rows.push([`${r}, ${j}`, ...cols.map((p) => p.values[r * pw + j]!.toFixed(4))]);
  return table(`Pooled outputs per bin (row, column)`, ['bin', ...cols.map((p) => p.label)], rows);
}
