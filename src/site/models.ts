/**
 * The site's models, in the browser:
 *
 *  - the models the deployer put under `public/models/NAME/` (listed at build time by
 *    `model_index.ts` and serialized into every page as `<script type="application/json"
 *    id="model-index">`), fetched as our sharded format with a byte-level progress callback;
 *  - a torchvision checkpoint the reader picks from disk (`.pth` zip or legacy, `.safetensors`),
 *    read and converted here (readCheckpoint → canonical names → the architecture inferred from
 *    the shapes → validateStateDict against it), with COCO names for 91 classes, the scenes' for 7.
 *
 * A `LoadedWeights` is plain data (a state dict of Float32Arrays + the config spec): the session
 * builds tensors from it on the active backend, and can rebuild them after a backend switch.
 */
import { COCO_CATEGORIES } from '../coco.ts';
import { ConfigError, type MaskRcnnSpec, mergeSpecs, toConfig } from '../config.ts';
import { SCENE_CLASSES } from '../data/shapes.ts';
import type { StateDict } from '../types.ts';
import { CheckpointError, expectedShapes, loadCheckpoint, parseManifest, readShards, validateStateDict } from '../weights/index.ts';
import { inferArchitecture, shapesOf } from '../weights/infer_arch.ts';
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

/**
 * How a checkpoint from disk is read: its architecture always comes from its tensors' shapes
 * (infer_arch.ts); a preset only overrides the FrozenBN eps, which no shape tells.
 */
export interface CheckpointPreset {
  id: string;
  label: string;
  /** FrozenBN eps to use instead of the inferred one (0 for a 91-class ResNet-50, else 1e-5). */
  frozenBnEps?: number;
}

export const CHECKPOINT_PRESETS: readonly CheckpointPreset[] = [
  {
    id: 'auto',
    // torchvision loads its published COCO weights with FrozenBatchNorm2d eps overwritten to 0
    // (overwrite_eps(model, 0.0) in maskrcnn_resnet50_fpn).
    label: 'read from the checkpoint (FrozenBN eps 0 for a 91-class ResNet-50 like torchvision\'s COCO weights, else 1e-5)',
  },
  { id: 'eps-1e-5', label: 'read from the checkpoint, FrozenBN eps 1e-5 (a COCO ResNet-50 you trained yourself)', frozenBnEps: 1e-5 },
  { id: 'eps-0', label: 'read from the checkpoint, FrozenBN eps 0', frozenBnEps: 0 },
];

/** Names for labels: the about.json list, else COCO for 91 classes, the scene names for 7, else "class k". */
export function classNamesFor(numClasses: number, given?: readonly string[]): readonly string[] {
  if (given && given.length === numClasses) return given;
  if (numClasses === COCO_CATEGORIES.length) return COCO_CATEGORIES;
  if (numClasses === SCENE_CLASSES.length) return SCENE_CLASSES;
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

const sameShapes = (a: Map<string, number[]>, b: Map<string, number[]>) =>
  a.size === b.size && [...a].every(([name, shape]) => {
    const other = b.get(name);
    return other !== undefined && other.length === shape.length && other.every((v, i) => v === shape[i]);
  });

/**
 * A torchvision state dict (canonical names) as the site's weights: the architecture is inferred
 * from its shapes; when those are exactly the shapes of a model of the site's index (e.g. a `.pth`
 * of the shipped default model), that model's whole config is used (input size, anchor sizes,
 * level mapper: what no shape tells) with its class names. Throws a `CheckpointError` that names
 * the file, what was found, what was expected and what to do.
 */
export function checkpointWeights(stateDict: StateDict, fileName: string, preset: CheckpointPreset = CHECKPOINT_PRESETS[0]!, models: readonly ModelIndexEntry[] = []): LoadedWeights {
  let spec: MaskRcnnSpec;
  let summary: string;
  let like: ModelIndexEntry | undefined;
  try {
    const inferred = inferArchitecture(shapesOf(stateDict));
    const shapes = expectedShapes(toConfig(inferred.spec));
    like = models.find((m) => {
      try {
        return m.config !== undefined && sameShapes(expectedShapes(toConfig(m.config)), shapes);
      } catch {
        return false;
      }
    });
    spec = like?.config ?? inferred.spec;
    summary = inferred.summary;
    if (preset.frozenBnEps !== undefined) {
      spec = mergeSpecs(spec, { backbone: { frozenBnEps: preset.frozenBnEps } });
      summary = summary.replace(/FrozenBN eps .*$/, `FrozenBN eps ${preset.frozenBnEps}`);
    }
    validateStateDict(stateDict, toConfig(spec));
  } catch (e) {
    if (e instanceof CheckpointError || e instanceof ConfigError) throw new CheckpointError(`${fileName}: ${e.message}`);
    throw e;
  }
  const config = toConfig(spec);
  const label = like ? `${fileName} (the architecture of ${like.about.label ?? like.id})` : `${fileName} (${summary})`;
  return {
    info: {
      id: `file:${fileName}`,
      label,
      placeholder: false,
      description: `Converted in this browser from ${fileName}; nothing was uploaded. ${summary}${like ? `; input size, anchors and class names of ${like.about.label ?? like.id}` : ''}.`,
      classNames: classNamesFor(config.numClasses, like?.about.classNames),
    },
    stateDict,
    spec,
  };
}

/**
 * Read a torchvision checkpoint picked from disk (`.pth` zip or legacy, `.safetensors`) and make it
 * the site's weights (see `checkpointWeights`).
 */
export async function loadCheckpointFile(file: File, preset: CheckpointPreset, onProgress?: Progress, models: readonly ModelIndexEntry[] = []): Promise<LoadedWeights> {
  if (!/\.(pth|pt|bin|safetensors)$/i.test(file.name)) {
    throw new CheckpointError(`${file.name}: expected a PyTorch checkpoint (.pth, .pt) or a .safetensors file`);
  }
  onProgress?.(0, file.size);
  const bytes = new Uint8Array(await file.arrayBuffer());
  onProgress?.(file.size, file.size);
  // Let the progress bar paint before the (synchronous) parse.
  await new Promise((r) => setTimeout(r, 0));
  const { stateDict } = loadCheckpoint(bytes, file.name);
  return checkpointWeights(stateDict, file.name, preset, models);
}
