/**
 * float16 storage in our sharded format (src/weights/shards.ts): float32 → half rounding checked on
 * hand-computed cases (ties to even, subnormals, overflow) and against numpy's astype(float16);
 * round trip through writeShards/readShards; shard bytes halve; version-1 float32 manifests (written
 * before float16 existed) still load; bad dtypes are refused by
 * writeShards, by the manifest parser and by `npm run convert -- --dtype`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/cli/args.ts';
import { main as convertMain } from '../src/cli/convert.ts';
import { toConfig } from '../src/config.ts';
import { createMaskRcnn, runMaskRcnn } from '../src/model.ts';
import { useBackend } from '../src/node/backend.ts';
import type { StateDict } from '../src/types.ts';
import {
  CheckpointError, floatToHalf, halfToFloat, parseManifest, readShards, roundToHalf, writeSafetensors, writeShards,
} from '../src/weights/index.ts';
import { hasTorchvision, PYTHON } from './support/oracle.ts';
import { randomStateDict, rng } from './support/random_weights.ts';
import { TINY, randomImage } from './support/tiny.ts';

const half = (v: number) => halfToFloat()[floatToHalf(v)]!;
const filesOf = (manifest: { shards: { file: string }[] }, shards: Uint8Array[]) => new Map(manifest.shards.map((s, i) => [s.file, shards[i]!]));

describe('floatToHalf: float32 → IEEE half, round to nearest even', () => {
  it('exact values stay: 0, −0, 1, −2.5, 65504 (largest half), 2^-14 (smallest normal), 2^-24 (smallest subnormal)', () => {
    for (const v of [0, 1, -2.5, 65504, 2 ** -14, 2 ** -24, 0.5, 1024]) expect(half(v)).toBe(v);
    expect(Object.is(half(-0), -0)).toBe(true);
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
  });

  it('1/3 → 0x3555 = 0.333251953125 and 0.1 → 0x2e66 = 0.0999755859375 (10 mantissa bits)', () => {
    expect(floatToHalf(1 / 3)).toBe(0x3555);
    expect(half(1 / 3)).toBe((1 + 0x155 / 1024) * 2 ** -2);
    expect(floatToHalf(0.1)).toBe(0x2e66);
    expect(half(0.1)).toBe((1 + 0x266 / 1024) * 2 ** -4);
  });

  it('ties go to the even mantissa: 1 + 2^-11 → 1, 1 + 3·2^-11 → 1 + 2^-9; just above a tie rounds up', () => {
    expect(half(1 + 2 ** -11)).toBe(1);
    expect(half(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(half(1 + 2 ** -11 + 2 ** -20)).toBe(1 + 2 ** -10);
  });

  it('subnormals: 2^-25 (a tie) → 0, 1.5·2^-25 → 2^-24, 3·2^-25 (a tie) → 2^-23, 2^-26 → 0, 5·2^-24 stays', () => {
    expect(half(2 ** -25)).toBe(0);
    expect(half(1.5 * 2 ** -25)).toBe(2 ** -24);
    expect(half(3 * 2 ** -25)).toBe(2 ** -23);
    expect(half(2 ** -26)).toBe(0);
    expect(half(5 * 2 ** -24)).toBe(5 * 2 ** -24);
    expect(half(-(2 ** -14) + 2 ** -24)).toBe(-(2 ** -14) + 2 ** -24); // largest subnormal
  });

  it('overflow and specials: 65519 → 65504, 65520 → Infinity, −1e6 → −Infinity, NaN → NaN', () => {
    expect(half(65519)).toBe(65504);
    expect(half(65520)).toBe(Infinity);
    expect(half(-1e6)).toBe(-Infinity);
    expect(half(Infinity)).toBe(Infinity);
    expect(Number.isNaN(half(NaN))).toBe(true);
  });

  it.runIf(hasTorchvision())('roundToHalf equals numpy astype(float16) on 20000 values spanning 2^-30 … 2^17 and ties', () => {
    const rand = rng(7);
    const values = new Float32Array(20000);
    for (let i = 0; i < values.length; i++) {
      const mag = 2 ** (rand() * 47 - 30);
      // every 4th value a tie: a half plus half an ulp of the half
      values[i] = (rand() < 0.5 ? -1 : 1) * (i % 4 === 0 ? half(mag) * (1 + 2 ** -11) : mag);
    }
    const script = 'import sys, numpy as np; x = np.frombuffer(sys.stdin.buffer.read(), "<f4"); sys.stdout.buffer.write(x.astype(np.float16).astype("<f4").tobytes())';
    const out = execFileSync(PYTHON, ['-c', script], { input: Buffer.from(values.buffer) });
    const numpy = new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
    const ours = roundToHalf(values);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) if (!Object.is(ours[i], numpy[i])) mismatches++;
    expect(mismatches).toBe(0);
  });
});

describe('writeShards / readShards with dtype float16', () => {
  const rand = rng(3);
  const sd: StateDict = new Map([
    ['conv.weight', { shape: [4, 3, 3, 3], dtype: 'float32', data: Float32Array.from({ length: 108 }, () => (rand() - 0.5) * 4) }],
    ['odd', { shape: [3], dtype: 'float32', data: Float32Array.of(1 / 3, -1e-6, 1000.5) }],
    ['bn.running_var', { shape: [6], dtype: 'float32', data: Float32Array.from({ length: 6 }, (_, i) => 0.01 * (i + 1)) }],
  ]);

  it('readShards(writeShards(sd, {dtype: float16})) gives float32 arrays equal to the float16 rounding of every value', async () => {
    const { manifest, shards } = writeShards(sd, { dtype: 'float16', shardBytes: 64 });
    expect(manifest.version).toBe(2);
    expect(manifest.tensors.map((t) => t.dtype)).toEqual(['float16', 'float16', 'float16']);
    const files = filesOf(manifest, shards);
    const back = await readShards(JSON.parse(JSON.stringify(manifest)), async (f) => files.get(f)!);
    expect([...back.keys()]).toEqual([...sd.keys()]);
    for (const [name, t] of sd) {
      const b = back.get(name)!;
      expect(b.data).toBeInstanceOf(Float32Array);
      expect(b.shape).toEqual(t.shape);
      expect(Array.from(b.data)).toEqual(Array.from(t.data, half));
      // relative error of a normal half ≤ 2^-11
      for (let i = 0; i < t.data.length; i++) {
        if (Math.abs(t.data[i]!) >= 2 ** -14) expect(Math.abs(b.data[i]! - t.data[i]!)).toBeLessThanOrEqual(Math.abs(t.data[i]!) * 2 ** -11);
      }
    }
  });

  it('an odd-length float16 tensor is padded so the next one starts at a multiple of 4 bytes (216 + 6→8 + 12 = 236 bytes)', () => {
    const { manifest } = writeShards(sd, { dtype: 'float16', shardBytes: 1 << 20 });
    expect(manifest.tensors.map((t) => [t.offset, t.length])).toEqual([[0, 216], [216, 6], [224, 12]]);
    expect(manifest.totalBytes).toBe(236);
  });

  it('float16 shards hold half the bytes of float32 ones for even-length tensors (4·108 + 4·6 = 456 → 228)', () => {
    const even: StateDict = new Map([...sd].filter(([n]) => n !== 'odd'));
    const f32 = writeShards(even, { dtype: 'float32' });
    const f16 = writeShards(even, { dtype: 'float16' });
    expect(f32.manifest.totalBytes).toBe(456);
    expect(f16.manifest.totalBytes).toBe(228);
    expect(f16.shards.reduce((a, s) => a + s.length, 0)).toBe(228);
  });

  it('a tensor spanning shards (shardBytes 8) reads back the same as one shard', async () => {
    const small = writeShards(sd, { dtype: 'float16', shardBytes: 8 });
    expect(small.shards.length).toBe(30);
    const files = filesOf(small.manifest, small.shards);
    const back = await readShards(small.manifest, async (f) => files.get(f)!);
    for (const [name, t] of sd) expect(Array.from(back.get(name)!.data)).toEqual(Array.from(t.data, half));
  });

  it('writeShards with dtype float32 still writes a version-1 manifest, bit-exact', async () => {
    const { manifest, shards } = writeShards(sd, { shardBytes: 64 });
    expect(manifest.version).toBe(1);
    const files = filesOf(manifest, shards);
    const back = await readShards(manifest, async (f) => files.get(f)!);
    for (const [name, t] of sd) expect(Array.from(back.get(name)!.data)).toEqual(Array.from(t.data));
  });

  it('a value beyond float16 range (70000) is refused, naming the tensor and float32', () => {
    const big: StateDict = new Map([['fc.bias', { shape: [2], dtype: 'float32', data: Float32Array.of(1, 70000) }]]);
    expect(() => writeShards(big, { dtype: 'float16' })).toThrow(/tensor fc\.bias holds 70000, beyond float16's range \(±65504\); store the weights as float32/);
    expect(writeShards(big, { dtype: 'float32' }).manifest.totalBytes).toBe(8);
  });

  it('a bad dtype is refused: writeShards({dtype: bfloat16}), a manifest entry of dtype int8, float16 in a version-1 manifest', () => {
    expect(() => writeShards(sd, { dtype: 'bfloat16' as 'float16' })).toThrow(CheckpointError);
    expect(() => writeShards(sd, { dtype: 'bfloat16' as 'float16' })).toThrow(/dtype "bfloat16": expected one of float32, float16/);
    const { manifest } = writeShards(sd, { dtype: 'float16' });
    const int8 = { ...manifest, tensors: manifest.tensors.map((t, i) => (i === 1 ? { ...t, dtype: 'int8' } : t)) };
    expect(() => parseManifest(int8)).toThrow(/tensors\[1\] \(odd\)\.dtype is "int8"; version 2 stores 'float32' or 'float16'/);
    expect(() => parseManifest({ ...manifest, version: 1 })).toThrow(/tensors\[0\] \(conv\.weight\)\.dtype is "float16"; version 1 stores 'float32'/);
    // a float16 entry whose length is that of float32
    const wrong = { ...manifest, tensors: manifest.tensors.map((t, i) => (i === 0 ? { ...t, length: 432 } : t)) };
    expect(() => parseManifest(wrong)).toThrow(/has length 432, but shape \[4, 3, 3, 3\] in float16 needs 216/);
  });
});

describe('manifests written before float16 (version 1, float32)', () => {
  it('a float32 model written by writeShards is a version-1 manifest (as before float16) and loads with every tensor finite and the right size', async () => {
    const { manifest, shards } = writeShards(randomStateDict(toConfig(TINY)), { config: TINY, shardBytes: 1 << 16 });
    expect(manifest.version).toBe(1);
    expect(manifest.tensors.every((t) => t.dtype === 'float32')).toBe(true);
    const files = new Map(manifest.shards.map((s, i) => [s.file, shards[i]!]));
    const back = await readShards(JSON.parse(JSON.stringify(manifest)), async (f) => files.get(f)!);
    expect(back.size).toBe(manifest.tensors.length);
    for (const t of back.values()) {
      expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
      expect(t.data.every(Number.isFinite)).toBe(true);
    }
  });

  it('a hand-written version-1 manifest (no padding rule, float32 at offset 0 and 8) reads back exactly', async () => {
    const bytes = new Uint8Array(12);
    new DataView(bytes.buffer).setFloat32(0, 1.5, true);
    new DataView(bytes.buffer).setFloat32(4, -2, true);
    new DataView(bytes.buffer).setFloat32(8, 0.1, true);
    const { crc32 } = await import('../src/weights/index.ts');
    const manifest = {
      format: 'mask-rcnn-lab/weights', version: 1, totalBytes: 12,
      shards: [{ file: 'w.bin', bytes: 12, crc32: crc32(bytes).toString(16).padStart(8, '0') }],
      tensors: [
        { name: 'a', shape: [2], dtype: 'float32', sourceDtype: 'float32', shard: 0, offset: 0, length: 8 },
        { name: 'b', shape: [], dtype: 'float32', sourceDtype: 'float16', shard: 0, offset: 8, length: 4 },
      ],
    };
    const back = await readShards(manifest, async () => bytes);
    expect(Array.from(back.get('a')!.data)).toEqual([1.5, -2]);
    expect(Array.from(back.get('b')!.data)).toEqual([Math.fround(0.1)]);
    expect(back.get('b')!.dtype).toBe('float16');
  });
});

describe('npm run convert -- --dtype', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convert-f16-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = toConfig(TINY);
  const sd = randomStateDict(config, 5);
  const weights = join(dir, 'tiny.safetensors');
  writeFileSync(weights, writeSafetensors(sd));
  const configJson = JSON.stringify(TINY);
  const quietly = <T,>(f: () => T): T => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      return f();
    } finally {
      spy.mockRestore();
    }
  };

  it('convert --dtype float16 writes half the bytes of --dtype float32 (default) and reads back as the float16 rounding', async () => {
    expect(quietly(() => convertMain(['--weights', weights, '--out', join(dir, 'f32'), '--config-json', configJson]))).toBe(0);
    expect(quietly(() => convertMain(['--weights', weights, '--out', join(dir, 'f16'), '--config-json', configJson, '--dtype', 'float16']))).toBe(0);
    const m32 = JSON.parse(readFileSync(join(dir, 'f32', 'model.json'), 'utf8')) as { totalBytes: number; tensors: { dtype: string }[] };
    const m16 = JSON.parse(readFileSync(join(dir, 'f16', 'model.json'), 'utf8')) as { totalBytes: number; tensors: { dtype: string }[] };
    expect(m32.tensors.every((t) => t.dtype === 'float32')).toBe(true);
    expect(m16.tensors.every((t) => t.dtype === 'float16')).toBe(true);
    // every tensor of this config has an even element count except scalars/odd vectors: within the 2-byte pads
    expect(m16.totalBytes).toBeGreaterThanOrEqual(m32.totalBytes / 2);
    expect(m16.totalBytes).toBeLessThanOrEqual(m32.totalBytes / 2 + 2 * m16.tensors.length);
    const back = await readShards(m16, async (f) => new Uint8Array(readFileSync(join(dir, 'f16', f))));
    for (const [name, t] of sd) expect(Array.from(back.get(name)!.data)).toEqual(Array.from(roundToHalf(t.data)));
  });

  it('convert --dtype bfloat16 is a usage error listing float32 and float16, and writes nothing', () => {
    expect(() => convertMain(['--weights', weights, '--out', join(dir, 'bad'), '--dtype', 'bfloat16'])).toThrow(UsageError);
    expect(() => convertMain(['--weights', weights, '--out', join(dir, 'bad'), '--dtype', 'bfloat16'])).toThrow(/--dtype bfloat16: expected float32 or float16/);
  });

  it('the engine on float16 weights: FPN P2 features within 1% of the float32 model\'s (largest value), no tensor leaked', async () => {
    await useBackend('cpu');
    const f16 = await readShards(
      JSON.parse(readFileSync(join(dir, 'f16', 'model.json'), 'utf8')),
      async (f) => new Uint8Array(readFileSync(join(dir, 'f16', f))),
    );
    const image = randomImage(96, 80, 2);
    const before = tf.memory().numTensors;
    const outs = [];
    for (const weightsOf of [sd, f16]) {
      const model = createMaskRcnn(weightsOf, config);
      const trace = await runMaskRcnn(model, image);
      outs.push({ fpn: (await trace.dump('fpn_0')).data as Float32Array });
      trace.dispose();
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const [a, b] = [outs[0]!.fpn, outs[1]!.fpn];
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    }
    expect(maxDiff).toBeGreaterThan(0); // the weights did change
    expect(maxDiff / maxAbs).toBeLessThan(0.01);
  });
});
