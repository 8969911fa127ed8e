/**
 * Finding onnxruntime-node, a benchmark peer that is not a project dependency (≈ 290 MB).
 *
 * Looked up first from the project (`npm install --no-save --ignore-scripts onnxruntime-node`),
 * then from `<cache>/ort`: the project's own `npm install`s prune packages missing from
 * package.json, so a copy installed there (`npm install --prefix <cache>/ort --ignore-scripts
 * onnxruntime-node`) survives them. `--ignore-scripts` skips its install script, which downloads
 * GPU binaries; the CPU binary ships inside the package.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export function ortInstallHint(cache: string): string {
  return (
    `  npm install --no-save --ignore-scripts onnxruntime-node            (into the project; pruned by the next npm install)\n` +
    `  npm install --prefix ${join(cache, 'ort')} --ignore-scripts onnxruntime-node   (into the bench cache; kept)`
  );
}

/** Prepare `<cache>/ort` so that `npm install --prefix` there does not climb to another package.json. */
export function ensureOrtPrefix(cache: string): void {
  const dir = join(cache, 'ort');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
}

/** The resolved entry file of onnxruntime-node, or undefined when neither place has it. */
export function resolveOrt(cache: string): string | undefined {
  for (const base of [join(ROOT, 'package.json'), join(cache, 'ort', 'package.json')]) {
    try {
      return createRequire(base).resolve('onnxruntime-node');
    } catch {
      // not installed there
    }
  }
  return undefined;
}
