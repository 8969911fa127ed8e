/**
 * `fpnDiagram(data, options) → <svg>`: how the FPN makes P2–P6 from C2–C5, with the shapes of this
 * run: each C_l goes through a lateral 1×1 conv (C_l channels → the FPN width); from the top, each
 * merged map (before its 3×3) is upsampled (nearest, to the finer size: ×2) and added to the next finer lateral (the top-down pathway);
 * a 3×3 conv smooths each sum into P_l; P6 is P5 max-pooled with stride 2 (kernel 1), for the RPN only.
 */
import type { PyramidLevel } from '../model.ts';
import { strideText } from './feature_maps.ts';
import { el, svgRoot, table } from './svg.ts';

export interface FpnDiagramData {
  /** trace.body: C2–C5. */
  body: readonly PyramidLevel[];
  /** trace.fpn: P2–P6 (the last is the extra max-pool level). */
  fpn: readonly PyramidLevel[];
}

export interface FpnDiagramOptions {
  /** Accessible title. */
  title?: string;
}

const shapeText = (l: PyramidLevel) => `${l.shape[0]}×${l.shape[1]}×${l.shape[2]}`;

export function fpnDiagram(data: FpnDiagramData, options: FpnDiagramOptions = {}): SVGSVGElement {
  const n = data.body.length;
  const rowH = 62;
  const top = 34;
  const width = 780;
  const height = top + (n + 1) * rowH + 30;
  const svg = svgRoot(
    width,
    height,
    options.title ?? 'The feature pyramid network: lateral 1×1 convs, top-down upsampling and addition, 3×3 convs',
    data.fpn.map((p, i) => (i < n ? `${p.name.replace('fpn_', 'P')}: C${i + 2} ${shapeText(data.body[i]!)} → 1×1 → + upsampled coarser → 3×3 → ${shapeText(p)}` : `P6: max-pool of P5, ${shapeText(p)}`)).join('; '),
  );
  svg.append(
    el('defs', {}, el('marker', { id: 'fpn-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#333' }))),
  );
  const yOf = (level: number) => top + (n + 2 - level) * rowH + rowH / 2; // level 6 (n + 2) on top … 2 at the bottom
  const boxW = (i: number) => 150 - i * 22;
  const cx = 20;
  const nodeX = 390;
  const px = 560;
  const arrow = (x1: number, y1: number, x2: number, y2: number, label = '', dy = -5, dashed = false) => {
    svg.append(el('line', { x1, y1, x2, y2, stroke: '#333', 'stroke-width': 1.3, 'marker-end': 'url(#fpn-arrow)', 'stroke-dasharray': dashed ? '4 3' : undefined }));
    if (label && x1 === x2) svg.append(el('text', { x: x1 + 8, y: (y1 + y2) / 2 + 4, 'font-size': 11 }, label));
    else if (label) svg.append(el('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 + dy, 'text-anchor': 'middle', 'font-size': 11 }, label));
  };
  svg.append(
    el('text', { x: cx, y: 16, 'font-weight': 600 }, 'backbone (bottom-up)'),
    el('text', { x: nodeX, y: 16, 'font-weight': 600, 'text-anchor': 'middle' }, 'top-down + lateral'),
    el('text', { x: px, y: 16, 'font-weight': 600 }, 'FPN outputs'),
  );
  for (let i = n - 1; i >= 0; i--) {
    const level = i + 2;
    const y = yOf(level);
    const c = data.body[i]!;
    const p = data.fpn[i]!;
    const w = boxW(i);
    svg.append(
      el('rect', { x: cx, y: y - 18, width: w, height: 36, rx: 4, fill: '#e3f0f9', stroke: '#0072B2' }),
      el('text', { x: cx + 6, y: y - 3, 'font-weight': 600 }, `C${level}`),
      el('text', { x: cx + 6, y: y + 12, 'font-size': 10 }, `${shapeText(c)} · /${strideText(c.stride)}`),
      el('circle', { cx: nodeX, cy: y, r: 11, fill: 'white', stroke: '#333' }),
      el('text', { x: nodeX, y: y + 4, 'text-anchor': 'middle', 'font-weight': 600 }, i === n - 1 ? '·' : '+'),
      el('rect', { x: px, y: y - 18, width: w, height: 36, rx: 4, fill: '#fff3d6', stroke: '#E69F00' }),
      el('text', { x: px + 6, y: y - 3, 'font-weight': 600 }, `P${level}`),
      el('text', { x: px + 6, y: y + 12, 'font-size': 10 }, `${shapeText(p)} · /${strideText(p.stride)}`),
    );
    arrow(cx + w + 2, y, nodeX - 13, y, `lateral 1×1: ${c.shape[0]} → ${p.shape[0]} ch`);
    arrow(nodeX + 13, y, px - 2, y, '3×3 conv');
    if (i < n - 1) arrow(nodeX, yOf(level + 1) + 13, nodeX, y - 13, '×2 nearest', 0);
  }
  const p6 = data.fpn[n];
  if (p6 !== undefined) {
    const y = yOf(n + 2);
    svg.append(
      el('rect', { x: px, y: y - 18, width: boxW(n), height: 36, rx: 4, fill: '#fff3d6', stroke: '#E69F00', 'stroke-dasharray': '4 3' }),
      el('text', { x: px + 6, y: y - 3, 'font-weight': 600 }, `P${n + 2}`),
      el('text', { x: px + 6, y: y + 12, 'font-size': 10 }, `${shapeText(p6)} · /${strideText(p6.stride)}`),
    );
    arrow(px + 30, yOf(n + 1) - 18, px + 30, y + 18, '', 0);
    svg.append(el('text', { x: px + boxW(n) + 8, y: (yOf(n + 1) + y) / 2 + 4, 'font-size': 11 }, 'max-pool, kernel 1, stride 2 (RPN only)'));
  }
  svg.append(el('text', { x: cx, y: height - 8, 'font-size': 11 }, 'Shapes are channels × height × width of this run; /s is the stride (image pixels per cell).'));
  return svg;
}

/** The text alternative: per level, the backbone map, the lateral conv, what is added, the output. */
export function fpnTable(data: FpnDiagramData): HTMLTableElement {
  const n = data.body.length;
  const rows = data.fpn.map((p, i) => {
    if (i >= n) return [`P${i + 2}`, '—', '—', `max-pool of P${i + 1} (stride 2)`, shapeText(p), strideText(p.stride)];
    const c = data.body[i]!;
    return [`P${i + 2}`, `C${i + 2} ${shapeText(c)}`, `1×1: ${c.shape[0]} → ${p.shape[0]} channels`, i === n - 1 ? 'nothing (top level)' : `the level-${i + 3} sum, upsampled (nearest) to ${p.shape[1]}×${p.shape[2]}`, `3×3 → ${shapeText(p)}`, strideText(p.stride)];
  });
  return table('How each FPN level is made', ['output', 'from', 'lateral', 'plus (top-down)', 'output shape', 'stride'], rows);
}
