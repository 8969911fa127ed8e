/**
 * NumPy `.npy` (format 1.0/2.0/3.0) writer and reader for the dtypes the stage trace uses:
 * float32 (`<f4`), int64 (`<i8`), uint8 (`|u1`), bool (`|b1`), and float64 (`<f8`, read only).
 */

export type NpyDtype = 'float32' | 'int64' | 'uint8' | 'bool' | 'float64' | 'int32';

export interface NpyArray {
  shape: number[];
  dtype: NpyDtype;
  /** int64 is returned as Float64Array holding exact integers (|v| < 2^53), bool as Uint8Array. */
  data: Float32Array | Float64Array | Uint8Array | Int32Array;
}

const DESCR: Record<NpyDtype, string> = {
  float32: '<f4',
  float64: '<f8',
  int64: '<i8',
  int32: '<i4',
  uint8: '|u1',
  bool: '|b1',
};
const ITEMSIZE: Record<NpyDtype, number> = { float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, bool: 1 };

export class NpyError extends Error {
  override name = 'NpyError';
}

/** Serialize to `.npy` bytes (version 1.0, C order, little endian). */
export function encodeNpy(shape: readonly number[], data: ArrayLike<number>, dtype: NpyDtype = 'float32'): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new NpyError(`npy: shape [${shape.join(', ')}] holds ${count} values but ${data.length} were given`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic(6) + version(2) + len(2) + header + '\n' must be a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const body = new Uint8Array(count * ITEMSIZE[dtype]);
  const view = new DataView(body.buffer);
  for (let i = 0; i < count; i++) {
    const v = data[i]!;
    switch (dtype) {
      case 'float32': view.setFloat32(i * 4, v, true); break;
      case 'float64': view.setFloat64(i * 8, v, true); break;
      case 'int64': view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true); break;
      case 'int32': view.setInt32(i * 4, v, true); break;
      case 'uint8': case 'bool': body[i] = v; break;
    }
  }
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(body, 10 + header.length);
  return out;
}

/** Parse `.npy` bytes. Throws NpyError with what was expected and found. */
export function decodeNpy(bytes: Uint8Array): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new NpyError('npy: not a .npy file (missing the \\x93NUMPY magic)');
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError(`npy: unreadable header ${JSON.stringify(header)}`);
  }
  if (fortran === 'True') throw new NpyError('npy: Fortran-order arrays are not supported; save with C order');
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((k) => DESCR[k] === descr || (descr === '<b1' && k === 'bool') || (descr === '<u1' && k === 'uint8'));
  if (dtype === undefined) throw new NpyError(`npy: dtype ${descr} is not supported (expected one of ${Object.values(DESCR).join(', ')})`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLen;
  const need = count * ITEMSIZE[dtype];
  if (bytes.length - offset < need) {
    throw new NpyError(`npy: truncated: shape [${shape.join(', ')}] needs ${need} bytes of data, found ${bytes.length - offset}`);
  }
  const body = new DataView(bytes.buffer, bytes.byteOffset + offset, need);
  let data: NpyArray['data'];
  switch (dtype) {
    case 'float32': data = new Float32Array(count); for (let i = 0; i < count; i++) data[i] = body.getFloat32(i * 4, true); break;
    case 'float64': data = new Float64Array(count); for (let i = 0; i < count; i++) data[i] = body.getFloat64(i * 8, true); break;
    case 'int64': data = new Float64Array(count); for (let i = 0; i < count; i++) data[i] = Number(body.getBigInt64(i * 8, true)); break;
    case 'int32': data = new Int32Array(count); for (let i = 0; i < count; i++) data[i] = body.getInt32(i * 4, true); break;
    case 'uint8': case 'bool': data = bytes.slice(offset, offset + count); break;
  }
  return { shape, dtype, data };
}
