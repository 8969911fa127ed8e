/**
 * `roiChoicesFigure(data, options) → <svg>`: the image the network saw (the reader's image stretched
 * to the resized size, the frame of proposals and detections) with the RoIs a reader can choose:
 * detections (solid, Okabe–Ito by index, "label score"), the top proposals (dashed grey) and the
 * chosen RoI on top (thick black and orange). Each RoI is a `<g data-roi="d3">` (or `p12`) that is
 * focusable and has an accessible name, so a page can make it a button (src/site/roi_picker.ts).
 */
import type { RgbImage, Size } from '../types.ts';
import type { Box4, RoiChoice } from '../site/roi_lens.ts';
import { categorical } from './colors.ts';
import { imageToDataUrl } from './raster.ts';
import { el, svgRoot } from './svg.ts';

export interface RoiChoicesData {
  image: RgbImage;
  /** [h, w] of the resized image: the boxes are in its pixels. */
  resized: Size;
  detections: { boxes: Float32Array; labels: Int32Array; scores: Float32Array };
  /** Proposals, highest objectness first. */
  proposals: Float32Array;
  /** Objectness probability per proposal (for the accessible names), optional. */
  proposalScores?: Float32Array;
  classNames: readonly string[];
  /** The chosen RoI, drawn on top. */
  selected?: RoiChoice | null;
}

export interface RoiChoicesOptions {
  /** Proposals drawn, the first n (default 20). */
  proposals?: number;
  /** Detections drawn, the first n (default 20). */
  detections?: number;
  /** Drawing width in CSS pixels (default 480). */
  width?: number;
  /** The image as a data URL, if the caller already made one (saves re-encoding on every redraw). */
  imageHref?: string;
}

/** "class 3 0.93" */
function tag(classNames: readonly string[], label: number, score: number): string {
  return `${classNames[label] ?? `class ${label}`} ${score.toFixed(2)}`;
}

export function roiChoicesFigure(data: RoiChoicesData, options: RoiChoicesOptions = {}): SVGSVGElement {
  const [h, w] = data.resized;
  const width = options.width ?? 480;
  const k = width / w;
  const nd = Math.min(data.detections.labels.length, options.detections ?? 20);
  const np = Math.min(data.proposals.length / 4, options.proposals ?? 20);
  const svg = svgRoot(w, h, 'RoIs to choose from', `${nd} detections (solid) and the top ${np} proposals (dashed) on the resized ${w}×${h} image.`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(Math.round(h * k)));
  svg.setAttribute('font-size', String(11 / k));
  svg.style.touchAction = 'none';
  // It holds buttons (the RoIs): a group, not an image (an image's content is not operable).
  svg.setAttribute('role', 'group');
  svg.setAttribute('aria-label', 'RoIs to choose from: detections and proposals on the image');
  svg.append(el('image', { href: options.imageHref ?? imageToDataUrl(data.image), x: 0, y: 0, width: w, height: h, preserveAspectRatio: 'none' }));
  const box = (b: Float32Array, i: number): Box4 => [b[4 * i]!, b[4 * i + 1]!, b[4 * i + 2]!, b[4 * i + 3]!];
  const rect = (b: Box4, attrs: Record<string, string | number>) =>
    el('rect', { x: b[0], y: b[1], width: Math.max(0, b[2] - b[0]), height: Math.max(0, b[3] - b[1]), fill: 'none', 'vector-effect': 'non-scaling-stroke', ...attrs });
  const choice = (id: string, label: string, b: Box4, ...marks: SVGElement[]) => {
    const g = el('g', { 'data-roi': id, tabindex: 0, role: 'button', 'aria-label': label, class: 'roi-choice', cursor: 'pointer' });
    // A wide transparent stroke: the hit area of a thin outline.
    g.append(el('title', {}, label), rect(b, { stroke: 'transparent', 'stroke-width': 9, 'pointer-events': 'stroke' }), ...marks);
    return g;
  };
  const proposals = el('g', { class: 'proposals' });
  for (let i = np - 1; i >= 0; i--) {
    const b = box(data.proposals, i);
    const score = data.proposalScores?.[i];
    proposals.append(choice(`p${i}`, `proposal ${i + 1}${score === undefined ? '' : `, objectness ${score.toFixed(2)}`}`, b,
      rect(b, { stroke: '#fff', 'stroke-width': 2.5, 'stroke-opacity': 0.7, 'pointer-events': 'none' }),
      rect(b, { stroke: '#555', 'stroke-width': 1, 'stroke-dasharray': '4 3', 'pointer-events': 'none' })));
  }
  const detections = el('g', { class: 'detections' });
  for (let d = nd - 1; d >= 0; d--) {
    const b = box(data.detections.boxes, d);
    const text = tag(data.classNames, data.detections.labels[d]!, data.detections.scores[d]!);
    detections.append(choice(`d${d}`, `detection ${d + 1}: ${text}`, b,
      rect(b, { stroke: '#000', 'stroke-width': 3.5, 'stroke-opacity': 0.55, 'pointer-events': 'none' }),
      rect(b, { stroke: categorical(d), 'stroke-width': 2, 'pointer-events': 'none' })));
  }
  svg.append(proposals, detections);
  const s = data.selected;
  if (s) {
    const id = s.kind === 'custom' ? 'your box' : s.kind === 'detection' ? `detection ${s.index + 1}` : `proposal ${s.index + 1}`;
    svg.append(el('g', { class: 'roi-selected', 'pointer-events': 'none' },
      rect(s.box, { stroke: '#000', 'stroke-width': 5 }),
      rect(s.box, { stroke: '#E69F00', 'stroke-width': 2.5 }),
      el('text', { x: s.box[0] + 1 / k, y: s.box[1] > 14 / k ? s.box[1] - 3 / k : s.box[3] + 12 / k, fill: '#fff', stroke: '#000', 'stroke-width': 3 / k, 'paint-order': 'stroke', 'font-weight': 700 }, `chosen: ${id}`)));
  }
  return svg;
}
