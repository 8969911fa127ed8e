/**
 * The npm packages the site's browser code imports, found by following its imports from the pages'
 * `<script>` tags and the notebooks' cells, for Vite's `optimizeDeps.include`.
 *
 * Why: Vite's dev server pre-bundles the dependencies its scanner finds from the pages. It does not
 * see through the `?notebook` modules (src/site/vite-notebooks.ts compiles them on request), so the
 * imports that only notebooks reach (@observablehq/runtime, the tfjs gradient modules of chapter 11's
 * trainer, …) were discovered on the first visit, re-bundled, and the page reloaded mid-run. Listing
 * them up front makes the first visit after `npm start` load once (tests/site_dev.test.ts).
 *
 * The crawl reads import specifiers with a regular expression (static `import … from`, bare
 * `import '…'`, `export … from`, `import('…')` with a literal): enough for this project's own code,
 * which writes imports only those ways. Relative imports are followed; bare ones are collected,
 * except Node built-ins, virtual modules (`astro:…`), asset queries (`?url`) and stylesheets.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';

const IMPORT = /(?:^|[;\s}])(?:import|export)\s*(?:[\w*${}\s,]+?\s*from\s*)?['"]([^'"\n]+)['"]|import\(\s*['"]([^'"\n]+)['"]\s*\)/gm;
const SOURCE_EXTS = ['.ts', '.mts', '.js', '.mjs', '.astro', '.html'];

/** The module specifiers a source text imports (static, re-exports, side-effect and literal dynamic imports). */
export function importSpecifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push((m[1] ?? m[2])!);
  return out;
}

/** A relative specifier resolved to a file (with the extensions a TypeScript import may leave out), or undefined. */
function resolveFile(from: string, spec: string): string | undefined {
  const path = resolve(dirname(from), spec.split('?')[0]!);
  for (const candidate of [path, ...SOURCE_EXTS.map((e) => path + e), join(path, 'index.ts')]) {
    if (existsSync(candidate) && SOURCE_EXTS.includes(extname(candidate))) return candidate;
  }
  return undefined;
}

/** `@scope/name/sub/path.js` → kept whole (a deep import is its own pre-bundle entry); stylesheets and assets dropped. */
function isBundledDependency(spec: string): boolean {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.includes('?') || spec.includes(':')) return false;
  if (/\.(css|wasm|json|png|jpe?g|svg)$/.test(spec)) return false;
  return true;
}

/**
 * Every bare import reachable from `entries` through relative imports, sorted. `aliases` are
 * specifiers that are not packages (Vite `resolve.alias` keys), skipped.
 */
export function browserDependencies(entries: readonly string[], aliases: readonly string[] = []): string[] {
  const seen = new Set<string>();
  const deps = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = resolveFile(file, spec);
        if (target !== undefined) queue.push(target);
      } else if (isBundledDependency(spec) && !aliases.includes(spec)) {
        deps.add(spec);
      }
    }
  }
  return [...deps].sort();
}

/**
 * The site's entries: every page, layout and component, every notebook, and the notebook runtime
 * every compiled notebook imports (vite-notebooks.ts adds that import, so no source file names it).
 */
export function siteEntries(root: string): string[] {
  const list = (dir: string, ext: string) => readdirSync(join(root, dir)).filter((f) => f.endsWith(ext)).map((f) => join(root, dir, f));
  return [
    ...list('src/pages', '.astro'), ...list('src/layouts', '.astro'), ...list('src/components', '.astro'), ...list('notebooks', '.html'),
    join(root, 'src/site/notebook_runtime.ts'),
  ];
}
