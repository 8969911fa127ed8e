/**
 * Our fast-loading weights format: `model.json` (the manifest) + shard files of raw little-endian
 * float32 or float16, fetched in parallel and checked by CRC-32, so a site can serve weights as plain
 * static files (no pickle in the browser, no 170 MB single download). The loader always returns
 * float32 (float16 widened exactly).
 *
 * Glossary:
 *  - stream: the concatenation of all shards in order; every tensor is one contiguous byte range of
 *    it, written in state-dict order, starting at a multiple of 4 bytes (a float16 tensor of odd
 *    length is followed by 2 zero bytes). A tensor starts in shard `shard` at byte `offset` and runs
 *    `length` bytes, continuing into the next shards when it is larger than what is left there
 *    (fc6 alone is 51 MB), so every shard but the last is exactly `shardBytes` long.
 *  - totalBytes: the stream's length, the sum of the shards' `bytes`.
 *  - stored dtype: 'float32' (4 bytes, exact) or 'float16' (2 bytes, rounded to nearest even: half
 *    the download, relative error ≤ 2^-11). Version 1 manifests hold float32 only; version 2 adds
 *    float16. The writer writes version 1 when every tensor is float32, so those files are unchanged.
 */
import type { MaskRcnnSpec } from '../config.ts';
import type { StateDict } from '../types.ts';
import { decodeDense, floatToHalf, halfToFloat, HOST_LITTLE_ENDIAN } from './dtypes.ts';
import { CheckpointError } from './errors.ts';

export const SHARD_FORMAT = 'mask-rcnn-lab/weights';
/** The newest manifest version (2: float16 tensors); every version in SHARD_VERSIONS_READ loads. */
export const SHARD_VERSION = 2;
export const SHARD_VERSIONS_READ: readonly number[] = [1, 2];
/** Dtypes a tensor may be stored as, and their bytes per element. */
export const STORED_DTYPES = { float32: 4, float16: 2 } as const;
export type StoredDtype = keyof typeof STORED_DTYPES;
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
  /** Stored dtype: 'float32', or 'float16' (version 2). */
  dtype: StoredDtype;
  /** dtype in the source checkpoint ('float16', …), kept for information. */
  sourceDtype: string;
  /** Shard where the tensor's bytes start. */
  shard: number;
  /** Byte offset in that shard. */
  offset: number;
  /** Byte length (bytes per element · number of elements); may run into the following shards. */
  length: number;
}

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  /** 1 (float32 only) or 2 (float16 allowed). */
  version: number;
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
  /** How to store the tensors: 'float32' (default, exact) or 'float16' (half the bytes). */
  dtype?: StoredDtype;
}

/** `dtype` if it is a stored dtype we write, else a CheckpointError listing them. */
export function checkStoredDtype(dtype: unknown, where = 'dtype'): StoredDtype {
  if (typeof dtype === 'string' && Object.hasOwn(STORED_DTYPES, dtype)) return dtype as StoredDtype;
  throw new CheckpointError(`${where} ${JSON.stringify(dtype)}: expected one of ${Object.keys(STORED_DTYPES).join(', ')} (the weights are stored as float32, or float16 for half the bytes)`);
}

const HALF_MAX = 65504;

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * Lay `stateDict` out as shards of float32 (or float16: `options.dtype`) and describe them in a
 * manifest (write it as model.json). float16 refuses values beyond its range (±65504) by name.
 */
export function writeShards(stateDict: StateDict, options: WriteShardsOptions = {}): { manifest: ShardManifest; shards: Uint8Array[] } {
  const shardBytes = Math.floor((options.shardBytes ?? 16 * 1024 * 1024) / 4) * 4;
  if (!(shardBytes >= 4)) throw new CheckpointError(`shardBytes ${options.shardBytes}: expected at least 4 bytes`);
  const dtype = checkStoredDtype(options.dtype ?? 'float32', 'writeShards: dtype');
  const itemSize = STORED_DTYPES[dtype];
  let totalBytes = 0;
  for (const [name, t] of stateDict) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new CheckpointError(`tensor ${name}: shape [${t.shape.join(', ')}] holds ${numel} values but its data has ${t.data.length}`);
    if (dtype === 'float16') {
      for (const v of t.data) {
        if (Number.isFinite(v) && (floatToHalf(v) & 0x7fff) === 0x7c00) { // |v| ≥ 65520 rounds to Infinity
          throw new CheckpointError(`tensor ${name} holds ${v}, beyond float16's range (±${HALF_MAX}); store the weights as float32`);
        }
      }
    }
    totalBytes += align4(numel * itemSize);
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
      dtype,
      sourceDtype: t.dtype,
      shard: Math.floor(pos / shardBytes),
      offset: pos % shardBytes,
      length: t.data.length * itemSize,
    });
    if (dtype === 'float16') for (let i = 0; i < t.data.length; i++) view.setUint16(pos + 2 * i, floatToHalf(t.data[i]!), true);
    else for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + 4 * i, t.data[i]!, true);
    pos += align4(t.data.length * itemSize);
  }
  const shards: Uint8Array[] = [];
  const entries: ShardEntry[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = stream.subarray(i * shardBytes, Math.min(totalBytes, (i + 1) * shardBytes));
    shards.push(bytes);
    entries.push({ file: shardFileName(i, count), bytes: bytes.length, crc32: hex8(crc32(bytes)) });
  }
  const manifest: ShardManifest = { format: SHARD_FORMAT, version: dtype === 'float32' ? 1 : 2, totalBytes, shards: entries, tensors };
  if (options.config !== undefined) manifest.config = structuredClone(options.config);
  return { manifest, shards };
}

const isInt = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Check a parsed model.json; throws `CheckpointError` naming the first bad field. */
export function parseManifest(json: unknown): ShardManifest {
  const bad = (what: string): never => {
    throw new CheckpointError(`model.json: ${what}; expected a manifest written by \`npm run convert\` (format '${SHARD_FORMAT}', version ${SHARD_VERSIONS_READ.join(' or ')})`);
  };
  if (typeof json !== 'object' || json === null) bad(`found ${JSON.stringify(json)?.slice(0, 40)}`);
  const m = json as Record<string, unknown>;
  if (m['format'] !== SHARD_FORMAT) bad(`format is ${JSON.stringify(m['format'])}`);
  if (!SHARD_VERSIONS_READ.includes(m['version'] as number)) bad(`version is ${JSON.stringify(m['version'])}; re-run the converter with this version of the site`);
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
    const allowed = m['version'] === 1 ? ['float32'] : Object.keys(STORED_DTYPES);
    if (!allowed.includes(e.dtype as string)) {
      bad(`tensors[${i}] (${e.name}).dtype is ${JSON.stringify(e.dtype)}; version ${String(m['version'])} stores ${allowed.map((d) => `'${d}'`).join(' or ')}`);
    }
    if (!isInt(e.shard) || e.shard >= starts.length - 1 || !isInt(e.offset) || !isInt(e.length)) bad(`tensors[${i}] (${e.name}) has a bad shard/offset/length`);
    const numel = e.shape!.reduce((a, b) => a * b, 1);
    const itemSize = STORED_DTYPES[e.dtype!];
    if (e.length !== numel * itemSize) bad(`tensors[${i}] (${e.name}) has length ${e.length}, but shape [${e.shape!.join(', ')}] in ${e.dtype} needs ${numel * itemSize}`);
    const start = starts[e.shard!]! + e.offset!;
    if (start % itemSize !== 0 || start + e.length! > sum) bad(`tensors[${i}] (${e.name}) lies outside the shards`);
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
 * sizes and CRC-32s, and return the state dict. float32 tensors are views of one buffer; float16
 * tensors are decoded (exactly) into their own Float32Arrays.
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
    const numel = t.length / STORED_DTYPES[t.dtype];
    let data: Float32Array;
    if (t.dtype === 'float16') {
      const table = halfToFloat();
      data = new Float32Array(numel);
      if (HOST_LITTLE_ENDIAN) {
        const halves = new Uint16Array(stream.buffer, start, numel); // start is even: parseManifest checked
        for (let i = 0; i < numel; i++) data[i] = table[halves[i]!]!;
      } else {
        const view = new DataView(stream.buffer, start, t.length);
        for (let i = 0; i < numel; i++) data[i] = table[view.getUint16(2 * i, true)]!;
      }
    } else {
      data = HOST_LITTLE_ENDIAN ? new Float32Array(stream.buffer, start, numel) : decodeDense('float32', stream.subarray(start), numel, true);
    }
    out.set(t.name, { shape: [...t.shape], dtype: t.sourceDtype ?? 'float32', data });
  }
  return out;
}
