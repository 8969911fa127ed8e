/**
 * Element decoding shared by the checkpoint readers: every dtype a checkpoint may hold, read one
 * element at a time from raw bytes and returned as a JS number (float16/bfloat16 widened exactly;
 * int64 through Number, exact below 2^53).
 */
import { CheckpointError } from './errors.ts';

/** Bytes per element of each dtype name we read. */
export const ITEM_SIZE: Readonly<Record<string, number>> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

let halfTable: Float32Array | undefined;
/** IEEE half → float32 for all 65536 bit patterns (exact: every half is a float32). */
export function halfToFloat(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    halfTable[h] = e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f ? NaN : sign * Infinity) : sign * (1 + f / 1024) * 2 ** (e - 15);
  }
  return halfTable;
}

/** Element i of a storage's bytes as a number. */
export function elementReader(dtype: string, bytes: Uint8Array, littleEndian: boolean): (i: number) => number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = littleEndian;
  switch (dtype) {
    case 'float32': return (i) => v.getFloat32(i * 4, le);
    case 'float64': return (i) => v.getFloat64(i * 8, le);
    case 'float16': { const t = halfToFloat(); return (i) => t[v.getUint16(i * 2, le)]!; }
    case 'bfloat16': { const f = new Float32Array(1); const u = new Uint32Array(f.buffer); return (i) => { u[0] = v.getUint16(i * 2, le) << 16; return f[0]!; }; }
    case 'int64': return (i) => Number(v.getBigInt64(i * 8, le));
    case 'int32': return (i) => v.getInt32(i * 4, le);
    case 'int16': return (i) => v.getInt16(i * 2, le);
    case 'int8': return (i) => v.getInt8(i);
    case 'uint8': case 'bool': return (i) => v.getUint8(i);
    default: throw new CheckpointError(`unsupported dtype ${dtype}`);
  }
}

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * float32 → IEEE half bits, rounded to nearest, ties to even (as numpy's `astype(float16)` and
 * torch's `.half()`): |v| ≥ 65520 becomes ±Infinity, |v| ≤ 2^-25 becomes ±0, subnormals below 2^-14.
 */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Infinity, NaN (quiet)
  const e = exp - 127 + 15; // the half's biased exponent
  if (e >= 31) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half: the 24-bit significand (implicit 1 included) shifted right by 14 − e
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const halfway = 1 << (shift - 1);
    const rem = full & ((1 << shift) - 1);
    let h = full >>> shift;
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is right, up to Infinity
  return sign | h;
}

/** `values` rounded to float16 and back (what a float16 store keeps). */
export function roundToHalf(values: ArrayLike<number>): Float32Array {
  const table = halfToFloat();
  return Float32Array.from({ length: values.length }, (_, i) => table[floatToHalf(values[i]!)]!);
}


/** `numel` consecutive elements from the start of `bytes`, as float32 (a copy). */
export function decodeDense(dtype: string, bytes: Uint8Array, numel: number, littleEndian = true): Float32Array {
  if (dtype === 'float32' && littleEndian === HOST_LITTLE_ENDIAN) {
    return new Float32Array(bytes.slice(0, numel * 4).buffer);
  }
  const out = new Float32Array(numel);
  const read = elementReader(dtype, bytes, littleEndian);
  for (let i = 0; i < numel; i++) out[i] = read(i);
  return out;
}
