/**
 * The site's models, in the browser:
 *
 *  - the models the deployer put under `public/models/NAME/` (listed at build time by
 *    `model_index.ts` and serialized into every page as `<script type="application/json"
 *    id="model-index">`), fetched as our sharded format with a byte-level progress callback;
 *  - a torchvision checkpoint the reader picks from disk (`.pth` zip or legacy, `.safetensors`),
 *    read and converted here (readCheckpoint → canonical names → validateStateDict against the
 *    preset's config), used with torchvision's COCO names.
 *
 * A `LoadedWeights` is plain data (a state dict of Float32Arrays + the config spec): the session
 * builds tensors from it on the active backend, and can rebuild them after a backend switch.
 */
import { COCO_CATEGORIES } from '../coco.ts';
import { ConfigError, type MaskRcnnSpec, toConfig } from '../config.ts';
import type { StateDict } from '../types.ts';
import { CheckpointError, loadCheckpoint, parseManifest, readShards, validateStateDict } from '../weights/index.ts';
import type { ModelIndexEntry } from './model_index.ts';

export type { ModelIndexEntry } from './model_index.ts';

export interface ModelInfo {
  /** `model=` URL value: the folder name, or `file:NAME` for a checkpoint from disk. */
  id: string;
  label: string;
  placeholder: boolean;
  description: string;
  /** Label index → name (background first). */
  classNames: readonly string[];
}

export interface LoadedWeights {
  info: ModelInfo;
  stateDict: StateDict;
  /** The spec the weights were validated against (the model's base config). */
  spec: MaskRcnnSpec;
}

/** `(loaded bytes, total bytes)` while weights arrive. */
export type Progress = (loaded: number, total: number) => void;

/** A checkpoint preset: which torchvision architecture a file from disk is checked against. */
export interface CheckpointPreset {
  id: string;
  label: string;
  spec: MaskRcnnSpec;
  classNames: readonly string[];
}

export const CHECKPOINT_PRESETS: readonly CheckpointPreset[] = [
  {
    id: 'torchvision-coco',
    label: 'torchvision COCO (maskrcnn_resnet50_fpn, 91 classes)',
    // torchvision loads its published COCO weights with FrozenBatchNorm2d eps overwritten to 0
    // (overwrite_eps(model, 0.0) in maskrcnn_resnet50_fpn).
    spec: { backbone: { frozenBnEps: 0 } },
    classNames: COCO_CATEGORIES,
  },
  {
    id: 'torchvision-default',
    label: 'torchvision architecture, eps 1e-5 (weights saved from a model you built yourself)',
    spec: {},
    classNames: COCO_CATEGORIES,
  },
];

/** Names for labels: the about.json list, else COCO for 91-class models, else "class N". */
export function classNamesFor(numClasses: number, given?: readonly string[]): readonly string[] {
  if (given && given.length === numClasses) return given;
  if (numClasses === COCO_CATEGORIES.length) return COCO_CATEGORIES;
  return Array.from({ length: numClasses }, (_, i) => (i === 0 ? '__background__' : `class ${i}`));
}

/** The build-time model index serialized into the page (see ModelIndex.astro). */
export function readModelIndex(doc: Document = document): ModelIndexEntry[] {
  const node = doc.getElementById('model-index');
  if (node === null) return [];
  try {
    return JSON.parse(node.textContent ?? '[]') as ModelIndexEntry[];
  } catch {
    return [];
  }
}

/** GET `url` as bytes, reporting each chunk's byte count as it arrives. */
async function fetchBytes(url: string, onChunk: (bytes: number) => void): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new CheckpointError(`could not fetch ${url} (${(e as Error).message}); is the site's server running?`);
  }
  if (!res.ok) throw new CheckpointError(`fetching ${url} gave HTTP ${res.status} ${res.statusText}; is the model folder complete?`);
  if (res.body === null) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onChunk(bytes.length);
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    onChunk(value.length);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Fetch a model of the index (`base` = the site's base URL) with byte-level progress. */
export async function loadIndexedModel(entry: ModelIndexEntry, base: string, onProgress?: Progress): Promise<LoadedWeights> {
  const manifestUrl = new URL(entry.manifest, new URL(base, location.href)).href;
  const res = await fetch(manifestUrl);
  if (!res.ok) throw new CheckpointError(`model ${entry.id}: fetching model.json gave HTTP ${res.status}; is public/models/${entry.id}/ deployed?`);
  const manifest = parseManifest(await res.json());
  let loaded = 0;
  onProgress?.(0, manifest.totalBytes);
  const stateDict = await readShards(manifest, (file) =>
    fetchBytes(new URL(file, manifestUrl).href, (n) => {
      loaded += n;
      onProgress?.(Math.min(loaded, manifest.totalBytes), manifest.totalBytes);
    }),
  );
  const spec = manifest.config ?? {};
  const config = toConfig(spec);
  return {
    info: {
      id: entry.id,
      label: entry.about.label ?? entry.id,
      placeholder: entry.about.placeholder === true,
      description: entry.about.description ?? '',
      classNames: classNamesFor(config.numClasses, entry.about.classNames),
    },
    stateDict,
    spec,
  };
}

/**
 * Read a torchvision checkpoint picked from disk and check it against a preset. Throws an Error
 * whose message says what the file is, what was expected, and what to do.
 */
export async function loadCheckpointFile(file: File, preset: CheckpointPreset, onProgress?: Progress): Promise<LoadedWeights> {
  if (!/\.(pth|pt|bin|safetensors)$/i.test(file.name)) {
    throw new CheckpointError(`${file.name}: expected a PyTorch checkpoint (.pth, .pt) or a .safetensors file`);
  }
  onProgress?.(0, file.size);
  const bytes = new Uint8Array(await file.arrayBuffer());
  onProgress?.(file.size, file.size);
  // Let the progress bar paint before the (synchronous) parse.
  await new Promise((r) => setTimeout(r, 0));
  const { stateDict } = loadCheckpoint(bytes, file.name);
  const config = toConfig(preset.spec);
  try {
    validateStateDict(stateDict, config);
  } catch (e) {
    if (e instanceof CheckpointError || e instanceof ConfigError) {
      throw new CheckpointError(`${file.name} does not fit "${preset.label}": ${e.message}`);
    }
    throw e;
  }
  return {
    info: {
      id: `file:${file.name}`,
      label: `${file.name} (${preset.label})`,
      placeholder: false,
      description: `Converted in this browser from ${file.name}; nothing was uploaded.`,
      classNames: classNamesFor(config.numClasses, preset.classNames),
    },
    stateDict,
    spec: preset.spec,
  };
}
