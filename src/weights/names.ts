/**
 * State-dict names: one canonical spelling, torchvision 0.14's module names.
 *
 * Older torchvision (and the published 2019 COCO checkpoint) spelled three modules differently;
 * torchvision renames them on load (`_load_from_state_dict`, state-dict version < 2). We do the same:
 *   backbone.fpn.inner_blocks.{i}.{weight,bias}  → backbone.fpn.inner_blocks.{i}.0.{weight,bias}
 *   backbone.fpn.layer_blocks.{i}.{weight,bias}  → backbone.fpn.layer_blocks.{i}.0.{weight,bias}
 *   rpn.head.conv.{weight,bias}                  → rpn.head.conv.0.0.{weight,bias}
 *   roi_heads.mask_head.mask_fcn{N}.{weight,bias} → roi_heads.mask_head.{N−1}.0.{weight,bias}
 * A leading `module.` (torch DataParallel) is removed; `*.num_batches_tracked` (a BatchNorm training
 * counter) is dropped.
 */
import type { StateDict } from '../types.ts';
import { CheckpointError } from './errors.ts';

const RULES: ReadonlyArray<[RegExp, (...groups: string[]) => string]> = [
  [/^backbone\.fpn\.(inner_blocks|layer_blocks)\.(\d+)\.(weight|bias)$/, (block, i, type) => `backbone.fpn.${block}.${i}.0.${type}`],
  [/^rpn\.head\.conv\.(weight|bias)$/, (type) => `rpn.head.conv.0.0.${type}`],
  [/^roi_heads\.mask_head\.mask_fcn(\d+)\.(weight|bias)$/, (n, type) => `roi_heads.mask_head.${Number(n) - 1}.0.${type}`],
];

/** True for tensors that carry no weights the model uses (BatchNorm's `num_batches_tracked`). */
export function isIgnorable(name: string): boolean {
  return name.endsWith('num_batches_tracked');
}

/** The canonical (torchvision 0.14) name of a state-dict entry, or null when the entry is dropped. */
export function canonicalName(name: string): string | null {
  const bare = name.startsWith('module.') ? name.slice('module.'.length) : name;
  if (isIgnorable(bare)) return null;
  for (const [pattern, rename] of RULES) {
    const m = pattern.exec(bare);
    if (m) return rename(...m.slice(1));
  }
  return bare;
}

export interface CanonicalizeResult {
  stateDict: StateDict;
  /** [old name, canonical name] for every entry whose name changed. */
  renamed: Array<[string, string]>;
  /** Entries dropped (num_batches_tracked). */
  dropped: string[];
}

/** Rename every entry to its canonical spelling (a new map; tensors are shared, not copied). */
export function canonicalize(stateDict: StateDict): CanonicalizeResult {
  const out: StateDict = new Map();
  const from = new Map<string, string>();
  const renamed: Array<[string, string]> = [];
  const dropped: string[] = [];
  for (const [name, tensor] of stateDict) {
    const canonical = canonicalName(name);
    if (canonical === null) {
      dropped.push(name);
      continue;
    }
    const earlier = from.get(canonical);
    if (earlier !== undefined) {
      throw new CheckpointError(
        `checkpoint has both ${earlier} and ${name}, two spellings of ${canonical}; expected one (keep either the old or the new spelling)`,
      );
    }
    from.set(canonical, name);
    if (canonical !== name) renamed.push([name, canonical]);
    out.set(canonical, tensor);
  }
  return { stateDict: out, renamed, dropped };
}

/** The state dict with canonical names only (idempotent: canonical names map to themselves). */
export function canonicalizeStateDict(stateDict: StateDict): StateDict {
  return canonicalize(stateDict).stateDict;
}
