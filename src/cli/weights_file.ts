/**
 * Node side of weight loading: a checkpoint file, or a converted model (model.json + shards). A
 * checkpoint carries no config, so its architecture (ResNet depth and width, FPN channels, classes,
 * head sizes, which branches, keypoint count) is read from its tensors' shapes, as the site does
 * (src/weights/infer_arch.ts); config fields given on the command line are laid over it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MaskRcnnSpec } from '../config.ts';
import type { StateDict } from '../types.ts';
import { readCheckpoint, readShards } from '../weights/index.ts';
import { inferArchitecture, shapesOf } from '../weights/infer_arch.ts';

export interface LoadedWeights {
  stateDict: StateDict;
  /** The config a converted model was saved with, or the architecture a checkpoint's shapes imply. */
  spec?: MaskRcnnSpec;
  /** For a checkpoint: one line describing the architecture read from its shapes. */
  inferred?: string;
}

export async function loadWeightsFile(path: string): Promise<LoadedWeights> {
  if (!existsSync(path)) throw new Error(`weights file ${path} does not exist; pass a .pth, .safetensors or a converted model.json`);
  const manifestPath = statSync(path).isDirectory() ? join(path, 'model.json') : path.endsWith('.json') ? path : undefined;
  if (manifestPath) {
    if (!existsSync(manifestPath)) throw new Error(`${path} is a directory without model.json; convert weights with npm run convert`);
    let manifest: { config?: MaskRcnnSpec };
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { config?: MaskRcnnSpec };
    } catch (e) {
      throw new Error(`${manifestPath} is not valid JSON (${(e as Error).message}); re-run npm run convert`);
    }
    const dir = dirname(manifestPath);
    const stateDict = await readShards(manifest, async (name: string) => new Uint8Array(readFileSync(join(dir, name))));
    return manifest.config ? { stateDict, spec: manifest.config } : { stateDict };
  }
  const stateDict = readCheckpoint(new Uint8Array(readFileSync(path)), path);
  try {
    const arch = inferArchitecture(shapesOf(stateDict));
    return { stateDict, spec: arch.spec, inferred: arch.summary };
  } catch {
    // Shapes this reader does not know (e.g. other anchor counts): the config given decides, and
    // validateStateDict names what does not fit.
    return { stateDict };
  }
}
