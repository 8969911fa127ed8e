/**
 * `roiPicker(data, options)`: choose one RoI of a run — a detection or a proposal from a list or by
 * clicking its box, or (chapter 7) a box of your own, drawn by dragging on the image or typed as four
 * numbers. Keyboard: the list, Tab to a box and Enter/Space, or the four number fields. The choice
 * lives in the URL (`?roi=d3`, `p12`, `b:x1,y1,x2,y2`) and the element follows the `view()` contract
 * of the other controls: `value` (a `RoiChoice`) and an `input` event when it changes.
 */
import { type RoiChoicesData, roiChoicesFigure } from '../viz/roi_choices.ts';
import { figure } from '../viz/figure.ts';
import { imageToDataUrl } from '../viz/raster.ts';
import { table } from '../viz/svg.ts';
import { type Box4, type RoiChoice, defaultDetection, formatRoiParam, parseRoiParam, resolveRoi } from './roi_lens.ts';
import { getParam, setParams } from './url_state.ts';

export interface RoiPickerOptions {
  /** URL parameter (default `roi`). */
  param?: string;
  /** Offer drawing / typing a box of your own (default false). */
  allowCustom?: boolean;
  /** Proposals listed and drawn (default 20). */
  proposals?: number;
  /** Detections listed and drawn (default 20). */
  detections?: number;
  /** Label of the list (default "RoI"). */
  label?: string;
  /** Base name of the saved figure (default `roi-choice`). */
  fileName?: string;
}

export interface RoiPickerElement extends HTMLElement {
  value: RoiChoice | null;
}

let uid = 0;

export function roiPicker(data: Omit<RoiChoicesData, 'selected'>, options: RoiPickerOptions = {}): RoiPickerElement {
  const param = options.param ?? 'roi';
  const nd = Math.min(data.detections.labels.length, options.detections ?? 20);
  const np = Math.min(data.proposals.length / 4, options.proposals ?? 20);
  const root = document.createElement('div') as unknown as RoiPickerElement & HTMLDivElement;
  root.className = 'roi-picker';
  const id = `roi-picker-${++uid}`;
  let drawn: Box4 | null = null;
  const ref = parseRoiParam(getParam(param));
  root.value = resolveRoi(ref?.kind === 'custom' && !options.allowCustom ? null : ref, data.detections.boxes, data.proposals);
  if (root.value?.kind === 'custom') drawn = root.value.box;

  const row = root.appendChild(document.createElement('div'));
  row.className = 'roi-picker__row';
  const label = row.appendChild(document.createElement('label'));
  label.htmlFor = `${id}-list`;
  label.textContent = options.label ?? 'RoI';
  const select = row.appendChild(document.createElement('select'));
  select.id = `${id}-list`;
  const name = (c: number) => data.classNames[c] ?? `class ${c}`;
  const detGroup = select.appendChild(document.createElement('optgroup'));
  detGroup.label = 'detections';
  for (let d = 0; d < nd; d++) detGroup.append(new Option(`detection ${d + 1}: ${name(data.detections.labels[d]!)} ${data.detections.scores[d]!.toFixed(2)}`, `d${d}`));
  const propGroup = select.appendChild(document.createElement('optgroup'));
  propGroup.label = 'proposals (highest objectness first)';
  for (let p = 0; p < np; p++) propGroup.append(new Option(`proposal ${p + 1}${data.proposalScores ? ` (objectness ${data.proposalScores[p]!.toFixed(2)})` : ''}`, `p${p}`));
  const customOption = new Option('the box you drew', 'custom');
  if (options.allowCustom) select.append(customOption);
  customOption.hidden = drawn === null;

  const fields: HTMLInputElement[] = [];
  if (options.allowCustom) {
    const typed = root.appendChild(document.createElement('fieldset'));
    typed.className = 'roi-picker__typed';
    typed.appendChild(document.createElement('legend')).textContent = 'or your own box, in pixels of the resized image';
    for (const [i, n] of ['x1', 'y1', 'x2', 'y2'].entries()) {
      const l = typed.appendChild(document.createElement('label'));
      l.textContent = `${n} `;
      const input = l.appendChild(document.createElement('input'));
      input.type = 'number';
      input.step = '0.5';
      input.min = '0';
      input.max = String(i % 2 === 0 ? data.resized[1] : data.resized[0]);
      input.name = n;
      fields.push(input);
    }
    const use = typed.appendChild(document.createElement('button'));
    use.type = 'button';
    use.textContent = 'Use this box';
    use.addEventListener('click', () => {
      const v = fields.map((f) => Number(f.value)) as Box4;
      if (v.every(Number.isFinite) && v[2] > v[0] && v[3] > v[1]) choose({ kind: 'custom', index: -1, box: v });
      else message.textContent = 'a box needs x2 > x1 and y2 > y1';
    });
  }
  const message = root.appendChild(document.createElement('p'));
  message.className = 'picker-message';
  message.setAttribute('role', 'status');

  const holder = root.appendChild(document.createElement('div'));
  const imageHref = imageToDataUrl(data.image);
  const alternative = () =>
    table('RoIs to choose from (resized-image pixels)', ['RoI', 'x1', 'y1', 'x2', 'y2'], [
      ...Array.from({ length: nd }, (_, d) => [`detection ${d + 1}: ${name(data.detections.labels[d]!)}`, ...Array.from(data.detections.boxes.subarray(4 * d, 4 * d + 4), (v) => v.toFixed(1))]),
      ...Array.from({ length: np }, (_, p) => [`proposal ${p + 1}`, ...Array.from(data.proposals.subarray(4 * p, 4 * p + 4), (v) => v.toFixed(1))]),
    ]);

  const render = () => {
    const v = root.value;
    select.value = v === null ? '' : v.kind === 'custom' ? 'custom' : `${v.kind === 'detection' ? 'd' : 'p'}${v.index}`;
    customOption.hidden = drawn === null;
    if (v) fields.forEach((f, i) => (f.value = v.box[i]!.toFixed(1)));
    const svg = roiChoicesFigure({ ...data, selected: v }, { proposals: np, detections: nd, imageHref });
    bindPointer(svg);
    holder.replaceChildren(
      figure(svg, {
        caption: options.allowCustom
          ? 'Click a detection (solid) or a proposal (dashed) to choose it, or drag on the image to draw a box of your own.'
          : 'Click a detection (solid) or a proposal (dashed) to choose it.',
        fileName: options.fileName ?? 'roi-choice',
        alternative: alternative(),
      }),
    );
  };

  const choose = (c: RoiChoice) => {
    if (c.kind === 'custom') drawn = c.box;
    root.value = c;
    message.textContent = '';
    const isDefault = c.kind === 'detection' && c.index === defaultDetection(data.detections.boxes);
    setParams({ [param]: isDefault ? null : formatRoiParam(c) });
    render();
    root.dispatchEvent(new Event('input', { bubbles: true }));
  };

  const chooseId = (v: string) => {
    if (v === 'custom') {
      if (drawn) choose({ kind: 'custom', index: -1, box: drawn });
      return;
    }
    const c = resolveRoi(parseRoiParam(v), data.detections.boxes, data.proposals);
    if (c) choose(c);
  };
  select.addEventListener('change', () => chooseId(select.value));
  // Inner controls' own input events are not the picker's value changing.
  root.addEventListener('input', (e) => {
    if (e.target !== root) e.stopPropagation();
  });

  function bindPointer(svg: SVGSVGElement): void {
    const toImage = (e: PointerEvent): [number, number] => {
      const m = svg.getScreenCTM();
      if (m === null) return [0, 0];
      const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
      return [Math.min(Math.max(p.x, 0), data.resized[1]), Math.min(Math.max(p.y, 0), data.resized[0])];
    };
    let start: [number, number] | null = null;
    let pressed: string | null = null;
    let preview: SVGRectElement | null = null;
    svg.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      start = toImage(e);
      // The RoI under the pointer now: a click without a drag chooses it (capture later retargets events).
      pressed = (e.target as Element | null)?.closest?.('[data-roi]')?.getAttribute('data-roi') ?? null;
    });
    svg.addEventListener('pointermove', (e) => {
      if (!start || !options.allowCustom) return;
      const [x, y] = toImage(e);
      if (preview === null) {
        if (Math.hypot(x - start[0], y - start[1]) < 2) return;
        svg.setPointerCapture?.(e.pointerId);
        preview = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
        preview.setAttribute('fill', 'rgba(230,159,0,0.15)');
        preview.setAttribute('stroke', '#E69F00');
        preview.setAttribute('vector-effect', 'non-scaling-stroke');
        preview.setAttribute('stroke-width', '2');
        svg.append(preview);
      }
      preview.setAttribute('x', String(Math.min(x, start[0])));
      preview.setAttribute('y', String(Math.min(y, start[1])));
      preview.setAttribute('width', String(Math.abs(x - start[0])));
      preview.setAttribute('height', String(Math.abs(y - start[1])));
    });
    svg.addEventListener('pointerup', (e) => {
      const s = start;
      start = null;
      if (s === null) return;
      if (preview !== null) {
        const [x, y] = toImage(e);
        preview = null;
        const b: Box4 = [Math.min(x, s[0]), Math.min(y, s[1]), Math.max(x, s[0]), Math.max(y, s[1])];
        if (b[2] - b[0] >= 1 && b[3] - b[1] >= 1) choose({ kind: 'custom', index: -1, box: b.map((v) => Math.round(v * 10) / 10) as Box4 });
        else render();
        return;
      }
      if (pressed !== null) chooseId(pressed);
    });
    svg.addEventListener('keydown', (e) => {
      const g = (e.target as Element | null)?.closest?.('[data-roi]');
      if (g && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        chooseId(g.getAttribute('data-roi')!);
        holder.querySelector<SVGGElement>(`[data-roi="${g.getAttribute('data-roi')}"]`)?.focus();
      }
    });
  }

  render();
  if (root.value === null) message.textContent = 'this run has no detections and no proposals to choose from';
  return root;
}
