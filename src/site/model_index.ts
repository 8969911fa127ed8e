/**
 * Build-time model index (Node only: Astro frontmatter and scripts). Every folder
 * `public/models/NAME/` holding a `model.json` (written by `npm run convert`) is a model the site
 * offers in its picker; an optional `about.json` beside it ({@link ModelAbout}) gives its label,
 * class names and whether it is a placeholder. The index is computed when a page is rendered, so a
 * deployer adds a model by dropping a converted folder there and rebuilding (or reloading `npm start`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MaskRcnnSpec } from '../config.ts';

/** `public/models/NAME/about.json`: what the site says about a model. Every field optional. */
export interface ModelAbout {
  /** Shown in the picker (default: the folder name). */
  label?: string;
  /** An untrained stand-in: the page says so next to every result. */
  placeholder?: boolean;
  /** One sentence or two about where the weights come from. */
  description?: string;
  /** Label index → name, background first; 91-class models default to torchvision's COCO names. */
  classNames?: string[];
  /** Picker order: the lowest comes first and is loaded by default (default 100). */
  order?: number;
}

/** One entry of the picker, as serialized into every page. */
export interface ModelIndexEntry {
  /** The folder name; also the `model=` URL parameter. */
  id: string;
  /** Path of model.json relative to the site root, e.g. `models/default/model.json`. */
  manifest: string;
  /** Sum of the weight shards (bytes), for the progress bar and the picker. */
  totalBytes: number;
  about: ModelAbout;
  /** The config spec of model.json (the model's base config), when it has one. */
  config?: MaskRcnnSpec;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The models under `modelsDir` (e.g. `public/models`), default first; unreadable folders are reported and skipped. */
export function listModels(modelsDir: string, warn: (message: string) => void = console.warn): ModelIndexEntry[] {
  if (!existsSync(modelsDir)) return [];
  const out: ModelIndexEntry[] = [];
  for (const id of readdirSync(modelsDir).sort()) {
    const dir = join(modelsDir, id);
    const manifestPath = join(dir, 'model.json');
    if (!statSync(dir).isDirectory() || !existsSync(manifestPath)) continue;
    if (!ID.test(id)) {
      warn(`models: skipping ${dir}: a model folder name must be letters, digits, '.', '_' or '-' (it becomes a URL)`);
      continue;
    }
    try {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { totalBytes?: unknown; config?: unknown };
      const about = existsSync(join(dir, 'about.json')) ? (JSON.parse(readFileSync(join(dir, 'about.json'), 'utf8')) as ModelAbout) : {};
      const entry: ModelIndexEntry = { id, manifest: `models/${id}/model.json`, totalBytes: typeof manifest.totalBytes === 'number' ? manifest.totalBytes : 0, about };
      if (typeof manifest.config === 'object' && manifest.config !== null && !Array.isArray(manifest.config)) entry.config = manifest.config as MaskRcnnSpec;
      out.push(entry);
    } catch (e) {
      warn(`models: skipping ${dir}: ${(e as Error).message}; re-run npm run convert for it`);
    }
  }
  // Trained models first (by `order`), placeholders last.
  const rank = (m: ModelIndexEntry) => (m.about.placeholder ? 1000 : 0) + (m.about.order ?? 100);
  return out.sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
}
