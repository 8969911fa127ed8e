/**
 * safetensors (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`, then the
 * raw little-endian tensor data; offsets are relative to the end of the header. No code, no pickle.
 */
import type { StateDict } from '../types.ts';
import { decodeDense, ITEM_SIZE } from './dtypes.ts';
import { CheckpointError } from './errors.ts';

/** safetensors dtype tag → our dtype name. */
const DTYPES: Readonly<Record<string, string>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

export interface SafetensorsFile {
  stateDict: StateDict;
  /** The header's `__metadata__` (string → string), empty when absent. */
  metadata: Record<string, string>;
}

/** True when `bytes` starts like a safetensors file (a plausible header length, then '{'). */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n < 100_000_000n && bytes[8] === 0x7b; // '{'
}

/** Parse a safetensors file; every dtype is converted to float32 data, `dtype` keeps the source dtype. */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) {
    throw new CheckpointError(`safetensors file of ${bytes.length} bytes: expected at least an 8-byte header length; the file is truncated`);
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    throw new CheckpointError(
      `safetensors header says it is ${headerLength} bytes but only ${bytes.length - 8} bytes follow; the file is truncated: download it again`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    throw new CheckpointError(`safetensors header is not valid JSON (${(e as Error).message}); the file is corrupt`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError('safetensors header: expected a JSON object of tensors');
  }
  const dataLength = bytes.length - dataStart;
  const stateDict: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e.dtype === 'string' ? DTYPES[e.dtype] : undefined;
    if (dtype === undefined) {
      throw new CheckpointError(`safetensors tensor ${name}: dtype ${JSON.stringify(e.dtype)} is not supported (expected one of ${Object.keys(DTYPES).join(', ')})`);
    }
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError(`safetensors tensor ${name}: shape ${JSON.stringify(shape)} is not a list of sizes`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError(`safetensors tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = numel * ITEM_SIZE[dtype]!;
    if (end - begin !== expected) {
      throw new CheckpointError(`safetensors tensor ${name} of shape [${shape.join(', ')}] ${e.dtype}: needs ${expected} bytes, data_offsets span ${end - begin}; the file is corrupt`);
    }
    if (end > dataLength) {
      throw new CheckpointError(
        `safetensors tensor ${name} ends at data byte ${end} but the file has ${dataLength} data bytes; the file is truncated: download it again`,
      );
    }
    const data = decodeDense(dtype, bytes.subarray(dataStart + begin, dataStart + end), numel);
    stateDict.set(name, { shape: [...(shape as number[])], dtype, data });
  }
  return { stateDict, metadata };
}

/** Serialize float32 tensors as safetensors (F32, in the state dict's order; header padded to 8 bytes). */
export function writeSafetensors(stateDict: StateDict, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of stateDict) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new CheckpointError(`tensor ${name}: shape [${t.shape.join(', ')}] holds ${numel} values but its data has ${t.data.length}`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + numel * 4] };
    offset += numel * 4;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const view = new DataView(out.buffer, 8 + json.length);
  let pos = 0;
  for (const t of stateDict.values()) {
    for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i]!, true);
  }
  return out;
}
