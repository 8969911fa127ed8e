/**
 * `figure(svg, options) → <figure>`: a chart with its caption, "Save SVG" / "Save PNG" buttons and
 * its text alternative (a table or paragraph) in a disclosure the keyboard can open. The SVG's
 * `<title>` is its accessible name; one holding links or focusable parts gets role="group".
 */
import { savePng, saveSvg } from './save.ts';

export interface FigureOptions {
  /** Caption shown under the chart (also the SVG's accessible name if it has none). */
  caption: string;
  /** Base name of saved files, e.g. `pipeline-detections`. */
  fileName: string;
  /** The text alternative: a table or a paragraph with the same information as the chart. */
  alternative?: HTMLElement;
  /** Label of the disclosure holding the alternative (default "Table of this figure"). */
  alternativeLabel?: string;
}

let nextId = 0;

export function figure(svg: SVGSVGElement, options: FigureOptions): HTMLElement {
  const fig = document.createElement('figure');
  fig.className = 'lab-figure';
  const frame = fig.appendChild(document.createElement('div'));
  frame.className = 'lab-figure__chart';
  // A chart with links or focusable parts (stage boxes, RoIs, bins) is a group of controls, not one
  // image: role="img" would hide them from assistive technology (axe: nested-interactive).
  if (svg.getAttribute('role') === 'img' && svg.querySelector('a[href], [tabindex]:not([tabindex="-1"])') !== null) svg.setAttribute('role', 'group');
  svg.style.maxWidth = '100%';
  svg.style.height = 'auto';
  frame.append(svg);
  const cap = fig.appendChild(document.createElement('figcaption'));
  cap.textContent = options.caption;
  cap.id = `lab-figure-${(nextId++).toString(36)}-caption`;
  const tools = fig.appendChild(document.createElement('div'));
  tools.className = 'lab-figure__tools';
  const button = (label: string, title: string, action: () => unknown) => {
    const b = tools.appendChild(document.createElement('button'));
    b.type = 'button';
    b.textContent = label;
    b.title = title;
    // The name is the visible text (WCAG 2.5.3, label in name); the caption says which figure.
    b.setAttribute('aria-describedby', cap.id);
    b.addEventListener('click', () => void action());
    return b;
  };
  button('Save SVG', 'Save this figure as SVG', () => saveSvg(svg, options.fileName));
  button('Save PNG', 'Save this figure as PNG', () => savePng(svg, options.fileName));
  if (options.alternative) {
    const details = fig.appendChild(document.createElement('details'));
    details.className = 'lab-figure__alt';
    details.appendChild(document.createElement('summary')).textContent = options.alternativeLabel ?? 'Table of this figure';
    details.append(options.alternative);
  }
  return fig;
}
