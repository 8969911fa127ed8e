/**
 * `detectionCandidatesFigure(data, options) → <svg>`: what the detection step did, on the image the
 * network saw. Every (RoI, class) pair whose score passed the threshold (and whose box is not tiny) is
 * a candidate: those per-class NMS and the per-image cap kept are solid, coloured by class; those
 * they dropped are thin dashed grey. The RoI chosen on the page, if any, is outlined in black.
 */
import type { RgbImage, Size } from '../types.ts';
import { categorical } from './colors.ts';
import { imageToDataUrl } from './raster.ts';
import { el, svgRoot, table } from './svg.ts';

export interface DetectionCandidatesData {
  image: RgbImage;
  /** [h, w] of the resized image: the frame of the boxes. */
  resized: Size;
  /** The candidates (score > threshold, big enough), as the engine's detections step saw them. */
  candidates: { boxes: Float32Array; scores: Float32Array; labels: Int32Array };
  /** Indices into the candidates that were kept, in output order. */
  keep: Int32Array;
  classNames: readonly string[];
  /** A box to outline in black (the chosen RoI's proposal). */
  highlight?: ArrayLike<number>;
}

export interface DetectionCandidatesOptions {
  /** Width in CSS pixels (default 560). */
  width?: number;
  /** Most dropped candidates drawn, highest scores first (default 300). */
  maxDropped?: number;
  /** The image as a data URL, if already made. */
  imageHref?: string;
}

const name = (names: readonly string[], c: number) => names[c] ?? `class ${c}`;

export function detectionCandidatesFigure(data: DetectionCandidatesData, options: DetectionCandidatesOptions = {}): SVGSVGElement {
  const [h, w] = data.resized;
  const width = options.width ?? 560;
  const k = width / w;
  const n = data.candidates.labels.length;
  const kept = new Set(data.keep);
  const dropped = Array.from({ length: n }, (_, i) => i).filter((i) => !kept.has(i));
  dropped.sort((a, b) => data.candidates.scores[b]! - data.candidates.scores[a]! || a - b);
  const drawnDropped = dropped.slice(0, options.maxDropped ?? 300);
  const svg = svgRoot(w, h + 22 / k, 'Detection candidates: kept and dropped', `${n} candidates; ${data.keep.length} kept (solid), ${dropped.length} dropped by per-class NMS or the cap (dashed).`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(Math.round((h + 22 / k) * k)));
  svg.setAttribute('font-size', String(11 / k));
  svg.append(el('image', { href: options.imageHref ?? imageToDataUrl(data.image), x: 0, y: 0, width: w, height: h, preserveAspectRatio: 'none' }));
  const rect = (i: number, attrs: Record<string, string | number>) => {
    const b = data.candidates.boxes;
    return el('rect', { x: b[4 * i]!, y: b[4 * i + 1]!, width: Math.max(0, b[4 * i + 2]! - b[4 * i]!), height: Math.max(0, b[4 * i + 3]! - b[4 * i + 1]!), fill: 'none', 'vector-effect': 'non-scaling-stroke', ...attrs });
  };
  const droppedLayer = el('g', { class: 'dropped' });
  for (const i of drawnDropped) droppedLayer.append(rect(i, { stroke: '#222', 'stroke-opacity': 0.55, 'stroke-width': 1, 'stroke-dasharray': '3 3', 'data-candidate': i }));
  const keptLayer = el('g', { class: 'kept' });
  for (let j = data.keep.length - 1; j >= 0; j--) {
    const i = data.keep[j]!;
    keptLayer.append(el('g', { 'data-candidate': i, 'data-kept': 'true' }, rect(i, { stroke: '#000', 'stroke-width': 3, 'stroke-opacity': 0.5 }), rect(i, { stroke: categorical(data.candidates.labels[i]!), 'stroke-width': 1.8 })));
  }
  svg.append(droppedLayer, keptLayer);
  if (data.highlight) {
    const b = data.highlight;
    svg.append(el('rect', { x: b[0]!, y: b[1]!, width: b[2]! - b[0]!, height: b[3]! - b[1]!, fill: 'none', stroke: '#000', 'stroke-width': 2.5, 'stroke-dasharray': '6 3', 'vector-effect': 'non-scaling-stroke' }));
  }
  svg.append(el('text', { x: 2 / k, y: h + 15 / k, fill: '#111' }, `${data.keep.length} kept (solid, colour = class), ${dropped.length} dropped (dashed${drawnDropped.length < dropped.length ? `, the ${drawnDropped.length} best drawn` : ''}), of ${n} candidates`));
  return svg;
}

/** The text alternative: per class, candidates and kept detections. */
export function detectionCandidatesTable(data: DetectionCandidatesData): HTMLTableElement {
  const counts = new Map<number, { candidates: number; kept: number }>();
  data.candidates.labels.forEach((l) => {
    const c = counts.get(l) ?? { candidates: 0, kept: 0 };
    c.candidates++;
    counts.set(l, c);
  });
  for (const i of data.keep) counts.get(data.candidates.labels[i]!)!.kept++;
  const rows = [...counts.entries()].sort((a, b) => b[1].candidates - a[1].candidates || a[0] - b[0]).map(([l, c]) => [name(data.classNames, l), c.candidates, c.kept, c.candidates - c.kept]);
  return table('Candidates per class: kept by per-class NMS and the cap, and dropped', ['class', 'candidates', 'kept', 'dropped'], rows);
}
