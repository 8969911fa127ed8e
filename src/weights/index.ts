/**
 * Checkpoints in, a `StateDict` out (torchvision names, float32 data), in the browser and in Node:
 * bytes go in, no file system here.
 *
 *   readCheckpoint(bytes, fileName?)  sniffs the format: PyTorch zip ('PK'), PyTorch legacy (a
 *                                      pickle), safetensors (header length + '{'); canonicalizes names
 *   validateStateDict(sd, config)      exactly the tensors the config needs, right shapes, finite
 *   writeShards / readShards           our fast-loading format (model.json + float32 or float16 shards)
 *
 * Our sharded manifest is JSON and is read with `readShards`, not here.
 */
import type { StateDict } from '../types.ts';
import { CheckpointError } from './errors.ts';
import { canonicalize } from './names.ts';
import { looksLikeSafetensors, readSafetensors } from './safetensors.ts';
import { readTorchLegacy, readTorchZip } from './torch.ts';

export { CheckpointError } from './errors.ts';
export { canonicalName, canonicalize, canonicalizeStateDict, isIgnorable } from './names.ts';
export { anchorsPerLocation, expectedShapes, guessResnetDepth, resnetStageChannels, validateStateDict } from './expected.ts';
export { readSafetensors, writeSafetensors } from './safetensors.ts';
export { readTorchLegacy, readTorchZip } from './torch.ts';
export {
  checkStoredDtype,
  crc32,
  MANIFEST_FILE,
  parseManifest,
  readShards,
  SHARD_FORMAT,
  SHARD_VERSION,
  SHARD_VERSIONS_READ,
  STORED_DTYPES,
  writeShards,
  type ReadShardsOptions,
  type ShardManifest,
  type StoredDtype,
  type WriteShardsOptions,
} from './shards.ts';
export { floatToHalf, halfToFloat, roundToHalf } from './dtypes.ts';

export type CheckpointFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

/** What the first bytes say, or a `CheckpointError` describing what was found instead. */
export function sniffFormat(bytes: Uint8Array): CheckpointFormat {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length === 0) throw new CheckpointError('the file is empty (0 bytes); expected a PyTorch .pth (zip or legacy) or .safetensors file');
  if (bytes.length >= 4 && ascii(0, 2) === 'PK') return 'torch-zip';
  if (bytes[0] === 0x80 && bytes.length >= 2 && bytes[1]! >= 2 && bytes[1]! <= 5) return 'torch-legacy';
  if (looksLikeSafetensors(bytes)) return 'safetensors';
  const head = ascii(0, Math.min(bytes.length, 64));
  let what: string | undefined;
  if (head.startsWith('{') && /mask-rcnn-lab\/weights/.test(ascii(0, Math.min(bytes.length, 4096)))) {
    what = 'this is our sharded weights manifest (model.json): load it with readShards(manifest, fetchShard)';
  } else if (head.startsWith('version https://git-lfs')) what = 'this is a Git LFS pointer, not the weights: run `git lfs pull`';
  else if (/^\s*<(!doctype|html)/i.test(head)) what = 'this is an HTML page (a failed download?)';
  else if (bytes[0] === 0x1f && bytes[1] === 0x8b) what = 'this is gzip-compressed: decompress it first';
  else if (bytes.length > 262 && ascii(257, 262) === 'ustar') what = 'this is a tar-based checkpoint (PyTorch < 0.4), which is not supported: re-save it with a current torch';
  else if (bytes.length < 8) what = `only ${bytes.length} bytes: the file is truncated`;
  const shown = Array.from(bytes.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = Array.from(bytes.subarray(0, 16), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  throw new CheckpointError(
    `expected a PyTorch .pth (zip or legacy) or .safetensors file; found ${shown} ("${text}")${what ? `: ${what}` : ''}`,
  );
}

export interface LoadedCheckpoint {
  format: CheckpointFormat;
  /** Canonical names (torchvision 0.14), num_batches_tracked dropped. */
  stateDict: StateDict;
  /** [name in the file, canonical name] for old spellings. */
  renamed: Array<[string, string]>;
  /** Entries dropped (num_batches_tracked). */
  dropped: string[];
}

/** Read any supported checkpoint, with what was renamed and dropped on the way. */
export function loadCheckpoint(bytes: Uint8Array, fileName?: string): LoadedCheckpoint {
  const where = fileName ? `${fileName}: ` : '';
  try {
    const format = sniffFormat(bytes);
    const raw =
      format === 'torch-zip' ? readTorchZip(bytes) : format === 'torch-legacy' ? readTorchLegacy(bytes) : readSafetensors(bytes).stateDict;
    return { format, ...canonicalize(raw) };
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(`${where}${e.message}`);
    // A reader bug or a corrupt file that slipped past the checks: still say what to do.
    throw new CheckpointError(`${where}could not read the checkpoint (${(e as Error).message}); the file is truncated or corrupt`);
  }
}

/** Read any supported checkpoint to a state dict with canonical names. */
export function readCheckpoint(bytes: Uint8Array, fileName?: string): StateDict {
  return loadCheckpoint(bytes, fileName).stateDict;
}
