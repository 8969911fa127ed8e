/** A tiny helper to build SVG elements: `el('rect', {x: 1, y: 2}, children…)`. */
export const SVG_NS = 'http://www.w3.org/2000/svg';

export type Attrs = Record<string, string | number | undefined>;

export function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Attrs = {}, ...children: Array<Node | string>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

/** An `<svg>` with a viewBox, a title (its accessible name) and a description. */
export function svgRoot(width: number, height: number, title: string, description = ''): SVGSVGElement {
  const svg = el('svg', { xmlns: SVG_NS, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'font-family': 'system-ui, sans-serif', 'font-size': 12 });
  svg.append(el('title', {}, title));
  if (description) svg.append(el('desc', {}, description));
  return svg;
}

/** A plain HTML table from a header row and rows (the text alternative of a figure). */
export function table(caption: string, head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): HTMLTableElement {
  const t = document.createElement('table');
  t.createCaption().textContent = caption;
  const tr = t.createTHead().insertRow();
  for (const h of head) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    tr.append(th);
  }
  const body = t.createTBody();
  for (const r of rows) {
    const row = body.insertRow();
    for (const c of r) row.insertCell().textContent = String(c);
  }
  return t;
}
