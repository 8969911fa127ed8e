/**
 * Our fast-loading weights format: `model.json` (the manifest) + shard files of raw little-endian
 * float32, fetched in parallel and checked by CRC-32, so a site can serve weights as plain static
 * files (no pickle in the browser, no 170 MB single download).
 *
 * Glossary:
 *  - stream: the concatenation of all shards in order; every tensor is one contiguous byte range of
 *    it, written in state-dict order. A tensor starts in shard `shard` at byte `offset` and runs
 *    `length` bytes, continuing into the next shards when it is larger than what is left there
 *    (fc6 alone is 51 MB), so every shard but the last is exactly `shardBytes` long.
 *  - totalBytes: the stream's length, the sum of the shards' `bytes`.
 */
import type { MaskRcnnSpec } from '../config.ts';
import type { StateDict } from '../types.ts';
import { decodeDense, HOST_LITTLE_ENDIAN } from './dtypes.ts';
import { CheckpointError } from './errors.ts';

export const SHARD_FORMAT = 'mask-rcnn-lab/weights';
export const SHARD_VERSION = 1;
export const MANIFEST_FILE = 'model.json';

export interface ShardEntry {
  file: string;
  bytes: number;
  /** CRC-32 (IEEE, as zip/gzip) of the shard, 8 hex digits. */
  crc32: string;
}

export interface TensorEntry {
  name: string;
  shape: number[];
  /** Stored dtype, always 'float32'. */
  dtype: 'float32';
  /** dtype in the source checkpoint ('float16', …), kept for information. */
  sourceDtype: string;
  /** Shard where the tensor's bytes start. */
  shard: number;
  /** Byte offset in that shard. */
  offset: number;
  /** Byte length (4 · number of elements); may run into the following shards. */
  length: number;
}

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  version: typeof SHARD_VERSION;
  /** The config spec the weights were validated against (absent: torchvision defaults). */
  config?: MaskRcnnSpec;
  totalBytes: number;
  shards: ShardEntry[];
  tensors: TensorEntry[];
}

let crcTable: Uint32Array | undefined;
/** CRC-32 (polynomial 0xEDB88320), as zip and gzip compute it. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const hex8 = (v: number) => v.toString(16).padStart(8, '0');

export const shardFileName = (i: number, count: number): string =>
  `weights-${String(i + 1).padStart(3, '0')}-of-${String(count).padStart(3, '0')}.bin`;

export interface WriteShardsOptions {
  /** Saved in the manifest so a loader can build the matching model. */
  config?: MaskRcnnSpec;
  /** Bytes per shard (rounded down to a multiple of 4); default 16 MiB. */
  shardBytes?: number;
}

/** Lay `stateDict` out as shards of float32 and describe them in a manifest (write it as model.json). */
export function writeShards(stateDict: StateDict, options: WriteShardsOptions = {}): { manifest: ShardManifest; shards: Uint8Array[] } {
  const shardBytes = Math.floor((options.shardBytes ?? 16 * 1024 * 1024) / 4) * 4;
  if (!(shardBytes >= 4)) throw new CheckpointError(`shardBytes ${options.shardBytes}: expected at least 4 bytes`);
  let totalBytes = 0;
  for (const [name, t] of stateDict) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new CheckpointError(`tensor ${name}: shape [${t.shape.join(', ')}] holds ${numel} values but its data has ${t.data.length}`);
    totalBytes += numel * 4;
  }
  const count = Math.max(1, Math.ceil(totalBytes / shardBytes));
  const stream = new Uint8Array(totalBytes);
  const view = new DataView(stream.buffer);
  const tensors: TensorEntry[] = [];
  let pos = 0;
  for (const [name, t] of stateDict) {
    tensors.push({
      name,
      shape: [...t.shape],
      dtype: 'float32',
      sourceDtype: t.dtype,
      shard: Math.floor(pos / shardBytes),
      offset: pos % shardBytes,
      length: t.data.length * 4,
    });
    for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i]!, true);
  }
  const shards: Uint8Array[] = [];
  const entries: ShardEntry[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = stream.subarray(i * shardBytes, Math.min(totalBytes, (i + 1) * shardBytes));
    shards.push(bytes);
    entries.push({ file: shardFileName(i, count), bytes: bytes.length, crc32: hex8(crc32(bytes)) });
  }
  const manifest: ShardManifest = { format: SHARD_FORMAT, version: SHARD_VERSION, totalBytes, shards: entries, tensors };
  if (options.config !== undefined) manifest.config = structuredClone(options.config);
  return { manifest, shards };
}

const isInt = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Check a parsed model.json; throws `CheckpointError` naming the first bad field. */
export function parseManifest(json: unknown): ShardManifest {
  const bad = (what: string): never => {
    throw new CheckpointError(`model.json: ${what}; expected a manifest written by \`npm run convert\` (format '${SHARD_FORMAT}', version ${SHARD_VERSION})`);
  };
  if (typeof json !== 'object' || json === null) bad(`found ${JSON.stringify(json)?.slice(0, 40)}`);
  const m = json as Record<string, unknown>;
  if (m['format'] !== SHARD_FORMAT) bad(`format is ${JSON.stringify(m['format'])}`);
  if (m['version'] !== SHARD_VERSION) bad(`version is ${JSON.stringify(m['version'])}; re-run the converter with this version of the site`);
  if (!isInt(m['totalBytes'])) bad('totalBytes is not a byte count');
  if (!Array.isArray(m['shards']) || m['shards'].length === 0) bad('shards is not a non-empty list');
  if (!Array.isArray(m['tensors'])) bad('tensors is not a list');
  let sum = 0;
  (m['shards'] as unknown[]).forEach((s, i) => {
    const e = s as Partial<ShardEntry>;
    if (typeof e.file !== 'string' || !isInt(e.bytes) || typeof e.crc32 !== 'string' || !/^[0-9a-f]{8}$/.test(e.crc32)) {
      bad(`shards[${i}] is not {file, bytes, crc32}`);
    }
    sum += e.bytes!;
  });
  if (sum !== m['totalBytes']) bad(`shards hold ${sum} bytes but totalBytes is ${String(m['totalBytes'])}`);
  const starts = shardStarts(m['shards'] as ShardEntry[]);
  (m['tensors'] as unknown[]).forEach((t, i) => {
    const e = t as Partial<TensorEntry>;
    if (typeof e.name !== 'string') bad(`tensors[${i}].name is not a string`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => isInt(d))) bad(`tensors[${i}] (${e.name}).shape is not a list of sizes`);
    if (e.dtype !== 'float32') bad(`tensors[${i}] (${e.name}).dtype is ${JSON.stringify(e.dtype)}, not 'float32'`);
    if (!isInt(e.shard) || e.shard >= starts.length - 1 || !isInt(e.offset) || !isInt(e.length)) bad(`tensors[${i}] (${e.name}) has a bad shard/offset/length`);
    const numel = e.shape!.reduce((a, b) => a * b, 1);
    if (e.length !== numel * 4) bad(`tensors[${i}] (${e.name}) has length ${e.length}, but shape [${e.shape!.join(', ')}] needs ${numel * 4}`);
    const start = starts[e.shard!]! + e.offset!;
    if (start % 4 !== 0 || start + e.length! > sum) bad(`tensors[${i}] (${e.name}) lies outside the shards`);
  });
  return json as ShardManifest;
}

/** Byte offset of each shard in the stream, plus the total at the end. */
function shardStarts(shards: readonly ShardEntry[]): number[] {
  const starts = [0];
  for (const s of shards) starts.push(starts[starts.length - 1]! + s.bytes);
  return starts;
}

export interface ReadShardsOptions {
  /** Called after each shard arrives and is checked. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  /** Shards fetched at once (default 4). */
  concurrency?: number;
}

/**
 * Fetch every shard of a manifest (`fetchShard(file)`, e.g. `fetch(base + file)` → bytes), check
 * sizes and CRC-32s, and return the state dict. Tensors are float32 views of one buffer.
 */
export async function readShards(
  manifestJson: unknown,
  fetchShard: (file: string) => Promise<Uint8Array>,
  options: ReadShardsOptions = {},
): Promise<StateDict> {
  const manifest = parseManifest(manifestJson);
  const starts = shardStarts(manifest.shards);
  const stream = new Uint8Array(manifest.totalBytes);
  let loaded = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < manifest.shards.length) {
      const i = next++;
      const shard = manifest.shards[i]!;
      const bytes = await fetchShard(shard.file);
      if (bytes.length !== shard.bytes) {
        throw new CheckpointError(`weights shard ${shard.file} has ${bytes.length} bytes; model.json says ${shard.bytes}; the download is truncated or the files are from different conversions`);
      }
      const crc = hex8(crc32(bytes));
      if (crc !== shard.crc32) {
        throw new CheckpointError(`weights shard ${shard.file} is corrupt: CRC-32 ${crc}, model.json says ${shard.crc32}; download or convert it again`);
      }
      stream.set(bytes, starts[i]!);
      loaded += bytes.length;
      options.onProgress?.(loaded, manifest.totalBytes);
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency ?? 4, manifest.shards.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  const out: StateDict = new Map();
  for (const t of manifest.tensors) {
    const start = starts[t.shard]! + t.offset;
    const data = HOST_LITTLE_ENDIAN
      ? new Float32Array(stream.buffer, start, t.length / 4)
      : decodeDense('float32', stream.subarray(start), t.length / 4, true);
    out.set(t.name, { shape: [...t.shape], dtype: t.sourceDtype ?? 'float32', data });
  }
  return out;
}
