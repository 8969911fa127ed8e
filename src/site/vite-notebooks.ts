/**
 * A Vite plugin that compiles Observable notebook files (notebook-kit's HTML format:
 * `<notebook><title>…</title><script id="1" type="module">…</script>…</notebook>`) into ES modules
 * an Astro page imports as `import notebook from '../../notebooks/NAME.html?notebook'` and mounts
 * with `notebook.mount(element)` (see `notebook_runtime.ts`).
 *
 * notebook-kit's own Vite plugin only rewrites HTML entry pages, so this one uses its `deserialize`
 * (with jsdom's DOMParser) and `transpile` at build time, and nothing of notebook-kit reaches the
 * browser (its runtime library would load d3/Plot/Inputs from a CDN).
 *
 * Which cells run on the site: JavaScript (`type="module"`) and TypeScript (`text/x-typescript`)
 * cells. Markdown and HTML cells are notes for someone reading the notebook itself; the chapter's
 * prose lives in its Astro page, so they are skipped. Other modes (SQL, Python, Observable JS …) are a
 * build error naming the file and cell. Imports in cells (`import {x} from "../src/viz/x.ts"`) become
 * dynamic imports that Vite resolves relative to the notebook file and bundles.
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, transpile } from '@observablehq/notebook-kit';
import { JSDOM } from 'jsdom';
import type { Plugin } from 'vite';

const QUERY = '?notebook';
const RUNTIME = fileURLToPath(new URL('./notebook_runtime.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The slot name of a cell: its `output`, else its first declared name, else its id. */
function slotOf(cell: { id: number; output?: string }, outputs: readonly string[]): string {
  return cell.output ?? outputs[0] ?? String(cell.id);
}

/** Compile one notebook file's text to the module described in notebooks.d.ts. */
export function compileNotebook(source: string, file: string): string {
  const parser = new new JSDOM().window.DOMParser();
  const notebook = deserialize(source, { parser: parser as unknown as DOMParser });
  const where = relative(ROOT, file);
  const cells: string[] = [];
  const slots = new Map<string, number>();
  for (const cell of notebook.cells) {
    if (cell.mode === 'md' || cell.mode === 'html') continue;
    if (cell.mode !== 'js' && cell.mode !== 'ts') {
      throw new Error(`${where}: cell ${cell.id} is a '${cell.mode}' cell; this site runs JavaScript and TypeScript cells only (markdown and HTML cells are skipped)`);
    }
    let t: ReturnType<typeof transpile>;
    try {
      t = transpile(cell, {});
    } catch (e) {
      throw new Error(`${where}: cell ${cell.id}: ${(e as Error).message}`);
    }
    if (t.autoview || t.automutable || (t.files && t.files.size > 0) || (t.databases && t.databases.size > 0)) {
      throw new Error(`${where}: cell ${cell.id} uses FileAttachment, databases, viewof or mutable, which this site's notebook runtime does not provide`);
    }
    const outputs = t.outputs ?? [];
    const slot = slotOf({ id: cell.id, output: t.output }, outputs);
    if (slots.has(slot)) throw new Error(`${where}: cells ${slots.get(slot)} and ${cell.id} both show in [data-cell="${slot}"]; rename one`);
    slots.set(slot, cell.id);
    cells.push(
      `  {\n    id: ${cell.id},\n    slot: ${JSON.stringify(slot)},\n    inputs: ${JSON.stringify(t.inputs ?? [])},\n    outputs: ${JSON.stringify(outputs)},\n` +
        `${t.output !== undefined ? `    output: ${JSON.stringify(t.output)},\n` : ''}    autodisplay: ${Boolean(t.autodisplay)},\n    body: ${t.body},\n  }`,
    );
  }
  return (
    `// Compiled from ${where} by src/site/vite-notebooks.ts\n` +
    `import { mountNotebook } from ${JSON.stringify(RUNTIME)};\n` +
    `const cells = [\n${cells.join(',\n')}\n];\n` +
    `export default { title: ${JSON.stringify(notebook.title)}, file: ${JSON.stringify(where)}, cells, mount: (root) => mountNotebook(cells, root) };\n`
  );
}

export function notebooks(): Plugin {
  return {
    name: 'mask-rcnn-lab:notebooks',
    enforce: 'pre',
    async load(id) {
      if (!id.endsWith(QUERY)) return null;
      const file = id.slice(0, -QUERY.length);
      this.addWatchFile(file);
      return { code: compileNotebook(await readFile(file, 'utf8'), file), map: null };
    },
  };
}
