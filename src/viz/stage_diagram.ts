/**
 * `stageDiagram(data, options) → <svg>`: the twelve stages of the engine in execution order (two
 * rows, like the paper's figure read left to right), each box showing the time it took in the last
 * run or "reused" when the run took it from the previous trace. Boxes of stages that have a chapter
 * are links to it (focusable, Enter follows); the others say "chapter coming".
 */
import type { StageName } from '../model.ts';
import { el, svgRoot } from './svg.ts';

export interface StageDiagramData {
  stages: readonly StageName[];
  /** ms per stage computed in the last run; absent = reused. */
  timings: Partial<Record<StageName, number>>;
}

export interface StageDiagramOptions {
  labels: Readonly<Record<StageName, string>>;
  /** The chapter link of a stage, or null when its chapter is not written yet. */
  hrefOf: (stage: StageName) => string | null;
  /** Chapter number, shown under the label. */
  chapterOf: (stage: StageName) => number;
  /** Highlight these stages (e.g. the ones the current chapter explains). */
  highlight?: readonly StageName[];
}

const BOX_W = 128;
const BOX_H = 56;
const GAP = 26;
const PAD = 12;
const PER_ROW = 6;

export function formatMs(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

export function stageDiagram(data: StageDiagramData, options: StageDiagramOptions): SVGSVGElement {
  const rows = Math.ceil(data.stages.length / PER_ROW);
  const width = PAD * 2 + PER_ROW * BOX_W + (PER_ROW - 1) * GAP;
  const height = PAD * 2 + rows * BOX_H + (rows - 1) * GAP + 22;
  const computed = data.stages.filter((s) => data.timings[s] !== undefined).length;
  const svg = svgRoot(width, height, 'The stages of Mask R-CNN in execution order', `${computed} of ${data.stages.length} stages computed in the last run; the others were reused.`);
  svg.append(
    el('defs', {}, el('marker', { id: 'stage-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#444' }))),
  );
  const pos = (i: number) => ({ x: PAD + (i % PER_ROW) * (BOX_W + GAP), y: PAD + Math.floor(i / PER_ROW) * (BOX_H + GAP) });
  data.stages.forEach((stage, i) => {
    const { x, y } = pos(i);
    if (i > 0) {
      const p = pos(i - 1);
      const d = p.y === y ? `M${p.x + BOX_W},${y + BOX_H / 2} L${x - 2},${y + BOX_H / 2}` : `M${p.x + BOX_W / 2},${p.y + BOX_H} L${p.x + BOX_W / 2},${p.y + BOX_H + GAP / 2} L${x + BOX_W / 2},${p.y + BOX_H + GAP / 2} L${x + BOX_W / 2},${y - 2}`;
      svg.append(el('path', { d, fill: 'none', stroke: '#444', 'stroke-width': 1.5, 'marker-end': 'url(#stage-arrow)' }));
    }
    const ms = data.timings[stage];
    const ran = ms !== undefined;
    const highlighted = options.highlight?.includes(stage) ?? false;
    const href = options.hrefOf(stage);
    const box = el('g', { 'data-stage': stage, class: ran ? 'stage stage--computed' : 'stage stage--reused' });
    box.append(
      el('rect', {
        x, y, width: BOX_W, height: BOX_H, rx: 6,
        fill: ran ? '#FCE9C8' : '#F1F1F1',
        stroke: highlighted ? '#0072B2' : ran ? '#B36B00' : '#888',
        'stroke-width': highlighted ? 3 : 1.5,
        'stroke-dasharray': ran ? undefined : '4 3',
      }),
      el('text', { x: x + BOX_W / 2, y: y + 19, 'text-anchor': 'middle', 'font-weight': 600, fill: '#111' }, options.labels[stage]),
      // Spaces between the lines (not drawn: SVG renders only text inside <text>) keep them words apart in the box's text content.
      ' ',
      el('text', { x: x + BOX_W / 2, y: y + 35, 'text-anchor': 'middle', fill: '#333' }, ran ? formatMs(ms) : 'reused'),
      ' ',
      el('text', { x: x + BOX_W / 2, y: y + 50, 'text-anchor': 'middle', fill: href ? '#0056A0' : '#555', 'font-size': 10, 'text-decoration': href ? 'underline' : undefined }, href ? `chapter ${options.chapterOf(stage)} →` : `chapter ${options.chapterOf(stage)} (coming)`),
    );
    if (href) {
      // The name holds the box's visible text in its order (WCAG 2.5.3, label in name).
      const a = el('a', { href, 'aria-label': `${options.labels[stage]} ${ran ? formatMs(ms) : 'reused'} chapter ${options.chapterOf(stage)} →` });
      a.append(box);
      svg.append(a);
    } else svg.append(box);
  });
  const ly = height - 8;
  svg.append(
    el('rect', { x: PAD, y: ly - 10, width: 14, height: 10, fill: '#FCE9C8', stroke: '#B36B00' }),
    el('text', { x: PAD + 20, y: ly, fill: '#111' }, 'computed in the last run'),
    el('rect', { x: PAD + 190, y: ly - 10, width: 14, height: 10, fill: '#F1F1F1', stroke: '#888', 'stroke-dasharray': '4 3' }),
    el('text', { x: PAD + 210, y: ly, fill: '#111' }, 'reused from the previous run'),
  );
  return svg;
}
