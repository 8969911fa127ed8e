import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy, NpyError } from '../src/io/npy.ts';

describe('npy', () => {
  it('encodeNpy then decodeNpy returns the same shape and float32 values', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    const back = decodeNpy(encodeNpy([2, 3, 4], data));
    expect(back.shape).toEqual([2, 3, 4]);
    expect(back.dtype).toBe('float32');
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('encodeNpy pads the header so the data starts on a 64-byte boundary', () => {
    const bytes = encodeNpy([5], new Float32Array(5));
    const headerLen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + headerLen) % 64).toBe(0);
  });

  it('decodeNpy rejects a truncated file with both sizes in the message', () => {
    const bytes = encodeNpy([10], new Float32Array(10)).subarray(0, 100);
    expect(() => decodeNpy(bytes)).toThrow(NpyError);
    expect(() => decodeNpy(bytes)).toThrow(/needs 40 bytes.*found/);
  });

  it('decodeNpy rejects bytes without the magic', () => {
    expect(() => decodeNpy(new Uint8Array([1, 2, 3]))).toThrow(/magic/);
  });

  it.runIf(hasNumpy())('numpy reads what encodeNpy writes (float32 and int64)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'npy-'));
    writeFileSync(join(dir, 'a.npy'), encodeNpy([2, 2], Float32Array.from([1.5, -2, 3.25, 4])));
    writeFileSync(join(dir, 'b.npy'), encodeNpy([3], [7, -1, 9007199254740991], 'int64'));
    const out = execFileSync('/usr/bin/python3', ['-c', `
import numpy as np, sys
a = np.load(sys.argv[1] + '/a.npy'); b = np.load(sys.argv[1] + '/b.npy')
np.save(sys.argv[1] + '/c.npy', np.arange(6, dtype=np.int64).reshape(2, 3) * -3)
print(a.dtype, a.shape, a.tolist(), b.dtype, b.tolist())`, dir]).toString().trim();
    expect(out).toBe('float32 (2, 2) [[1.5, -2.0], [3.25, 4.0]] int64 [7, -1, 9007199254740991]');
    const c = decodeNpy(readFileSync(join(dir, 'c.npy')));
    expect(c.dtype).toBe('int64');
    expect(c.shape).toEqual([2, 3]);
    expect(Array.from(c.data)).toEqual([0, -3, -6, -9, -12, -15]);
  });
});

function hasNumpy(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import numpy']);
    return true;
  } catch {
    return false;
  }
}
