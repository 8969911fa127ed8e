/**
 * Runs a compiled notebook (see `vite-notebooks.ts`) on `@observablehq/runtime` inside an Astro page.
 *
 * A notebook file's cells are compiled at build time by notebook-kit's `transpile` into
 * {@link CellDefinition}s; here each becomes a runtime variable whose output is shown in the page
 * element `[data-cell="NAME"]` (NAME: the cell's `output` attribute, else its first declared name,
 * else its numeric id). Cells without such an element still run (other cells may depend on them) and
 * display, if at all, into a hidden holder.
 *
 * Builtins are all local (no CDN): `Inputs` (@observablehq/inputs), `width`, and per cell the
 * notebook-kit conventions `display(value)` and `view(input)` (display an input, then its value as
 * a generator). `invalidation` and `visibility` come from the runtime itself. Values that are not DOM
 * nodes are shown with @observablehq/inspector.
 */
import { Runtime } from '@observablehq/runtime';
import { Inspector } from '@observablehq/inspector';
import * as Inputs from '@observablehq/inputs';

/** What the Vite plugin emits per cell. */
export interface CellDefinition {
  id: number;
  /** The page element that shows this cell: `[data-cell="slot"]`. */
  slot: string;
  body: (...args: never[]) => unknown;
  inputs: string[];
  outputs: string[];
  output?: string;
  autodisplay: boolean;
}

export interface MountedNotebook {
  /** Stop every cell (their `invalidation` promises resolve) and remove the runtime. */
  dispose(): void;
  /** Cell slots that found no element on the page. */
  unplaced: string[];
}

/** An input element's value as a generator: now, then after each `input` event (latest wins). */
export function* observeInput(element: EventTarget & { value?: unknown }): Generator<unknown> {
  let resolve: ((v: unknown) => void) | undefined;
  let dirty = false;
  const onInput = () => {
    if (resolve) {
      resolve(element.value);
      resolve = undefined;
    } else dirty = true;
  };
  element.addEventListener('input', onInput);
  try {
    yield element.value;
    for (;;) {
      if (dirty) {
        dirty = false;
        yield element.value;
      } else yield new Promise((r) => (resolve = r));
    }
  } finally {
    element.removeEventListener('input', onInput);
  }
}

/** The width of `root` in CSS pixels, now and whenever it changes. */
function* widthOf(root: Element): Generator<number | Promise<number>> {
  let resolve: ((w: number) => void) | undefined;
  let width = root.clientWidth;
  const observer = new ResizeObserver(([entry]) => {
    const w = Math.floor(entry?.contentRect.width ?? width);
    if (w !== width) {
      width = w;
      resolve?.(w);
      resolve = undefined;
    }
  });
  observer.observe(root);
  try {
    yield width;
    for (;;) yield new Promise<number>((r) => (resolve = r));
  } finally {
    observer.disconnect();
  }
}

function show(root: Element, value: unknown): void {
  if (value instanceof Node && (value.parentNode === null || root.contains(value))) {
    root.appendChild(value);
    return;
  }
  const holder = document.createElement('div');
  new Inspector(holder).fulfilled(value);
  root.appendChild(holder);
}

function clear(root: Element): void {
  while (root.lastChild) root.lastChild.remove();
}

/** Run `cells` in a fresh runtime, showing each in `[data-cell]` elements under `root`. */
export function mountNotebook(cells: readonly CellDefinition[], root: ParentNode & Element): MountedNotebook {
  const runtime = new Runtime({ Inputs: () => Inputs, width: () => widthOf(root) });
  const main = runtime.module();
  const unplaced: string[] = [];
  let holder: HTMLElement | undefined;
  for (const cell of cells) {
    let target = root.querySelector(`[data-cell="${CSS.escape(cell.slot)}"]`);
    if (target === null) {
      holder ??= Object.assign(root.appendChild(document.createElement('div')), { hidden: true, className: 'notebook-unplaced' });
      target = holder.appendChild(document.createElement('div'));
      unplaced.push(cell.slot);
    }
    const el = target;
    el.classList.add('cell');
    // A cell's previous output is cleared at its first display after a recompute (no flicker).
    let stale = false;
    const display = (value: unknown) => {
      if (stale) {
        clear(el);
        stale = false;
      }
      show(el, value);
      return value;
    };
    const view = (input: EventTarget & { value?: unknown }) => observeInput(display(input) as typeof input);
    const observer = {
      pending() {
        stale = true;
        el.classList.add('cell--running');
        el.setAttribute('aria-busy', 'true');
      },
      fulfilled(value: unknown) {
        el.classList.remove('cell--running', 'cell--error');
        el.removeAttribute('aria-busy');
        if (cell.autodisplay) {
          clear(el);
          stale = false;
          show(el, value);
        } else if (stale) {
          clear(el);
          stale = false;
        }
      },
      rejected(error: unknown) {
        console.error(`notebook cell ${cell.slot}:`, error);
        el.classList.remove('cell--running');
        el.removeAttribute('aria-busy');
        el.classList.add('cell--error');
        clear(el);
        stale = false;
        const box = el.appendChild(document.createElement('p'));
        box.className = 'cell-error';
        box.setAttribute('role', 'alert');
        box.textContent = `This figure failed: ${(error as Error)?.message ?? String(error)}`;
      },
    };
    const name = cell.output ?? (cell.outputs.length > 0 ? `cell ${cell.id}` : null);
    const variable = main.variable(observer, { shadow: { display: () => display, view: () => view } });
    variable.define(name, cell.inputs, cell.body);
    if (cell.output === undefined) {
      for (const o of cell.outputs) main.variable(true).define(o, [`cell ${cell.id}`], (exports: Record<string, unknown>) => exports[o]);
    }
  }
  return {
    unplaced,
    dispose() {
      runtime.dispose();
    },
  };
}
