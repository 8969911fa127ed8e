import { describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { type MaskRcnnConfig, defaultConfig, toConfig } from '../src/config.ts';
import type { StateDict } from '../src/types.ts';
import {
  CheckpointError,
  canonicalName,
  canonicalize,
  crc32,
  expectedShapes,
  guessResnetDepth,
  loadCheckpoint,
  readCheckpoint,
  readSafetensors,
  readShards,
  sniffFormat,
  validateStateDict,
  writeSafetensors,
  writeShards,
} from '../src/weights/index.ts';
import { type CallGlobal, PyGlobal, unpickle } from '../src/weights/pickle.ts';

// ---- a tiny pickle assembler (opcodes from CPython's Lib/pickle.py) ----
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const PROTO2 = [0x80, 2];
const MARK = 0x28, STOP = 0x2e, TUPLE = 0x74, REDUCE = 0x52, EMPTY_TUPLE = 0x29, EMPTY_DICT = 0x7d, SETITEM = 0x73;
const SETITEMS = 0x75, NEWFALSE = 0x89, NEWTRUE = 0x88, BINPERSID = 0x51, BUILD = 0x62, EMPTY_LIST = 0x5d, APPENDS = 0x65, NONE = 0x4e;
const GLOBAL = (module: string, name: string) => [0x63, ...ascii(`${module}\n${name}\n`)];
const STR = (s: string) => {
  const b = new TextEncoder().encode(s);
  return [0x58, ...u32(b.length), ...b];
};
const INT = (n: number) => [0x4a, ...u32(n)];
const pickle = (...parts: Array<number | number[]>) => Uint8Array.from(parts.flat());
const intTuple = (xs: number[]) => [MARK, ...xs.flatMap(INT), TUPLE];
const emptyOrderedDict = [...GLOBAL('collections', 'OrderedDict'), EMPTY_TUPLE, REDUCE];

/** `_rebuild_tensor_v2(persistent_load(pid), offset, size, stride, False, OrderedDict())`. */
const rebuildTensor = (pid: number[], offset: number, size: number[], stride: number[]) => [
  ...GLOBAL('torch._utils', '_rebuild_tensor_v2'),
  MARK, ...pid, BINPERSID, ...INT(offset), ...intTuple(size), ...intTuple(stride), NEWFALSE, ...emptyOrderedDict, TUPLE,
  REDUCE,
];
const storagePid = (type: string, key: string, numel: number, legacy: boolean) =>
  [MARK, ...STR('storage'), ...GLOBAL('torch', type), ...STR(key), ...STR('cpu'), ...INT(numel), ...(legacy ? [NONE] : []), TUPLE];

const allow = (entries: Array<[string, CallGlobal | undefined]>) => new Map(entries);

/** Half-precision bit patterns of 0..5 (hand-computed: 1 = 0x3c00, 2 = 0x4000, 3 = 0x4200, 4 = 0x4400, 5 = 0x4500). */
const HALVES_0_TO_5 = [0x0000, 0x3c00, 0x4000, 0x4200, 0x4400, 0x4500];
const halfBytes = (bits: number[]) => Uint8Array.from(bits.flatMap((b) => [b & 0xff, b >> 8]));
const f32Bytes = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);

/** A torch ≥ 1.6 zip checkpoint, built by hand: {'w': a 2×2 half view (offset 1, strides (1, 2)) of storage 0..5}. */
function handmadeZip(): Uint8Array {
  const dataPkl = pickle(
    PROTO2, ...emptyOrderedDict,
    MARK, ...STR('w'), ...rebuildTensor(storagePid('HalfStorage', '0', 6, false), 1, [2, 2], [1, 2]), SETITEMS,
    STOP,
  );
  return zipSync({ 'archive/data.pkl': dataPkl, 'archive/byteorder': Uint8Array.from(ascii('little')), 'archive/data/0': halfBytes(HALVES_0_TO_5) }, { level: 0 });
}

/** A legacy checkpoint, built by hand: {'a': storage[0:4], 'b': storage[2:4]} over one float32 storage. */
function handmadeLegacy(): Uint8Array {
  const magic = pickle(PROTO2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, STOP); // LONG1 0x1950a86a20f9469cfc6c
  const protocol = pickle(PROTO2, 0x4d, 0xe9, 0x03, STOP); // BININT2 1001
  const sysInfo = pickle(PROTO2, EMPTY_DICT, ...STR('little_endian'), NEWTRUE, SETITEM, STOP);
  const pid = storagePid('FloatStorage', '94', 4, true);
  const object = pickle(
    PROTO2, ...emptyOrderedDict,
    MARK, ...STR('a'), ...rebuildTensor(pid, 0, [4], [1]), ...STR('b'), ...rebuildTensor(pid, 2, [2], [1]), SETITEMS,
    STOP,
  );
  const keys = pickle(PROTO2, EMPTY_LIST, MARK, ...STR('94'), APPENDS, STOP);
  const count = [4, 0, 0, 0, 0, 0, 0, 0];
  return pickle(...magic, ...protocol, ...sysInfo, ...object, ...keys, ...count, ...f32Bytes([1.5, -2, 3.25, 0.5]));
}

/** A small config (every field the shapes depend on is non-default) and a finite state dict for it. */
const SMALL: MaskRcnnConfig = toConfig({
  numClasses: 3,
  backbone: { depth: 18, baseWidth: 4 },
  fpn: { outChannels: 8 },
  roiHeads: { boxHead: { representationSize: 16 }, maskHead: { layers: [8, 8] }, maskPredictor: { dimReduced: 8 } },
});
function stateDictFor(config: MaskRcnnConfig): StateDict {
  const sd: StateDict = new Map();
  let k = 0;
  for (const [name, shape] of expectedShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    sd.set(name, { shape, dtype: 'float32', data: Float32Array.from({ length: n }, (_, i) => ((i + k) % 7) * 0.25 - 0.5) });
    k++;
  }
  return sd;
}

describe('unpickle (allowlisting pickle VM)', () => {
  it('unpickle reads a protocol-2 dict of list, float, str, None, bool into Map and arrays', () => {
    // {'k': [7, 2.5, 'x', None, True]}
    const bytes = pickle(PROTO2, EMPTY_DICT, ...STR('k'), EMPTY_LIST, MARK, ...INT(7), 0x47, 0x40, 0x04, 0, 0, 0, 0, 0, 0, ...STR('x'), NONE, NEWTRUE, APPENDS, SETITEM, STOP);
    const { value, end } = unpickle(bytes, 0, { allow: allow([]) });
    expect(value).toEqual(new Map([['k', [7, 2.5, 'x', null, true]]]));
    expect(end).toBe(bytes.length);
  });

  it('unpickle refuses GLOBAL os.system before REDUCE can apply it, naming the global and saying the file may be malicious', () => {
    const bytes = pickle(PROTO2, ...GLOBAL('os', 'system'), ...STR('touch /tmp/x'), 0x85, REDUCE, STOP);
    expect(() => unpickle(bytes, 0, { allow: allow([]) })).toThrow(CheckpointError);
    expect(() => unpickle(bytes, 0, { allow: allow([]) })).toThrow(/refused global 'os\.system'.*malicious/);
  });

  it('unpickle refuses STACK_GLOBAL builtins.eval (protocol 4)', () => {
    const short = (s: string) => [0x8c, s.length, ...ascii(s)];
    const bytes = pickle(0x80, 4, ...short('builtins'), ...short('eval'), 0x93, ...short('1+1'), 0x85, REDUCE, STOP);
    expect(() => unpickle(bytes, 0, { allow: allow([]) })).toThrow(/refused global 'builtins\.eval'/);
  });

  it('unpickle refuses INST of a non-allowlisted class before touching its arguments', () => {
    const bytes = pickle(MARK, ...STR('ls'), 0x69, ...ascii('subprocess\nPopen\n'), STOP);
    expect(() => unpickle(bytes, 0, { allow: allow([]) })).toThrow(/refused global 'subprocess\.Popen'/);
  });

  it('unpickle calls an allowlisted callable only, and never on REDUCE/NEWOBJ/OBJ of data or reference-only globals', () => {
    const spy = vi.fn(() => 'called');
    const opts = { allow: allow([['m.f', spy], ['torch.FloatStorage', undefined]]) };
    expect(unpickle(pickle(...GLOBAL('m', 'f'), EMPTY_TUPLE, REDUCE, STOP), 0, opts).value).toBe('called');
    expect(spy).toHaveBeenCalledTimes(1);
    // REDUCE on a string, NEWOBJ on a storage class, OBJ on a number: refused, spy untouched.
    expect(() => unpickle(pickle(...STR('m.f'), EMPTY_TUPLE, REDUCE, STOP), 0, opts)).toThrow(/REDUCE on a string/);
    expect(() => unpickle(pickle(...GLOBAL('torch', 'FloatStorage'), EMPTY_TUPLE, 0x81, STOP), 0, opts)).toThrow(/NEWOBJ on torch\.FloatStorage/);
    expect(() => unpickle(pickle(MARK, ...INT(3), 0x6f, STOP), 0, opts)).toThrow(/OBJ on a number/);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('unpickle refuses BUILD on anything but a dict or an inert object, and EXT1 registry globals', () => {
    expect(() => unpickle(pickle(EMPTY_LIST, EMPTY_DICT, BUILD, STOP), 0, { allow: allow([]) })).toThrow(/BUILD on a list/);
    expect(() => unpickle(pickle(PROTO2, 0x82, 1, STOP), 0, { allow: allow([]) })).toThrow(/EXT1\/2\/4.*refused/);
  });

  it('unpickle keeps a __proto__ dict key as data (no prototype pollution)', () => {
    const bytes = pickle(EMPTY_DICT, ...STR('__proto__'), EMPTY_DICT, ...STR('polluted'), NEWTRUE, SETITEM, SETITEM, STOP);
    const { value } = unpickle(bytes, 0, { allow: allow([]) });
    expect((value as Map<string, unknown>).get('__proto__')).toEqual(new Map([['polluted', true]]));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('unpickle of a truncated pickle throws CheckpointError saying truncated, not RangeError', () => {
    const bytes = pickle(PROTO2, ...STR('hello world'), STOP).subarray(0, 9);
    expect(() => unpickle(bytes, 0, { allow: allow([]) })).toThrow(CheckpointError);
    expect(() => unpickle(bytes, 0, { allow: allow([]) })).toThrow(/truncated/);
  });

  it('PyGlobal from an allowlist carries its qualified name', () => {
    const { value } = unpickle(pickle(...GLOBAL('torch', 'HalfStorage'), STOP), 0, { allow: allow([['torch.HalfStorage', undefined]]) });
    expect(value).toBeInstanceOf(PyGlobal);
    expect((value as PyGlobal).qualname).toBe('torch.HalfStorage');
  });
});

describe('torch checkpoints built by hand', () => {
  it('readCheckpoint(zip) gathers a strided float16 view: offset 1, strides (1, 2) of [0..5] → [[1, 3], [2, 4]]', () => {
    const sd = readCheckpoint(handmadeZip(), 'hand.pth');
    const w = sd.get('w')!;
    expect(w.shape).toEqual([2, 2]);
    expect(w.dtype).toBe('float16');
    expect(Array.from(w.data)).toEqual([1, 3, 2, 4]);
  });

  it("readCheckpoint(zip with byteorder 'big') reads big-endian float32 storages", () => {
    const dataPkl = pickle(PROTO2, ...emptyOrderedDict, MARK, ...STR('x'), ...rebuildTensor(storagePid('FloatStorage', '0', 2, false), 0, [2], [1]), SETITEMS, STOP);
    const bigEndian = Uint8Array.from([0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0]); // 1.5, -2
    const zip = zipSync({ 'a/data.pkl': dataPkl, 'a/byteorder': Uint8Array.from(ascii('big')), 'a/data/0': bigEndian }, { level: 0 });
    expect(Array.from(readCheckpoint(zip).get('x')!.data)).toEqual([1.5, -2]);
  });

  it('readCheckpoint(zip whose tensor view runs past its storage) names the tensor and the element range', () => {
    const dataPkl = pickle(PROTO2, ...emptyOrderedDict, MARK, ...STR('x'), ...rebuildTensor(storagePid('FloatStorage', '0', 2, false), 1, [2, 2], [2, 1]), SETITEMS, STOP);
    const zip = zipSync({ 'a/data.pkl': dataPkl, 'a/data/0': f32Bytes([1, 2]) }, { level: 0 });
    expect(() => readCheckpoint(zip)).toThrow(/tensor x of shape \[2, 2\] reads elements 1\.\.4 of a storage with 2 float32 elements; the file is truncated or corrupt/);
  });

  it('readCheckpoint(legacy) reads two tensors sharing one storage after the key list and element count', () => {
    const { format, stateDict } = loadCheckpoint(handmadeLegacy());
    expect(format).toBe('torch-legacy');
    expect(Array.from(stateDict.get('a')!.data)).toEqual([1.5, -2, 3.25, 0.5]);
    expect(Array.from(stateDict.get('b')!.data)).toEqual([3.25, 0.5]);
  });

  it('readCheckpoint(legacy truncated inside the storage) says how many bytes are missing and that the file is truncated', () => {
    const bytes = handmadeLegacy();
    const cut = bytes.subarray(0, bytes.length - 4);
    expect(() => readCheckpoint(cut, 'cut.pth')).toThrow(CheckpointError);
    expect(() => readCheckpoint(cut, 'cut.pth')).toThrow(/cut\.pth: legacy checkpoint: storage 94 needs 16 bytes .* 12 left; the file is truncated/);
  });

  it('readCheckpoint(zip cut in half) says it cannot be unzipped and is probably truncated', () => {
    const bytes = handmadeZip();
    expect(() => readCheckpoint(bytes.subarray(0, bytes.length >> 1))).toThrow(/cannot be unzipped.*truncated/);
  });
});

describe('safetensors', () => {
  it('writeSafetensors then readSafetensors returns the same names, shapes and float32 values', () => {
    const sd: StateDict = new Map([
      ['x.weight', { shape: [2, 3], dtype: 'float32', data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) }],
      ['y', { shape: [], dtype: 'float32', data: Float32Array.from([42]) }],
    ]);
    const bytes = writeSafetensors(sd, { source: 'test' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ source: 'test' });
    expect([...back.stateDict.keys()]).toEqual(['x.weight', 'y']);
    expect(back.stateDict.get('x.weight')!.shape).toEqual([2, 3]);
    expect(Array.from(back.stateDict.get('x.weight')!.data)).toEqual(Array.from(sd.get('x.weight')!.data));
    expect(Array.from(back.stateDict.get('y')!.data)).toEqual([42]);
  });

  it('readSafetensors converts F16, BF16 and I64 (hand-computed bit patterns) to float32', () => {
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
      i: { dtype: 'I64', shape: [2], data_offsets: [12, 28] },
    });
    const data = [
      ...halfBytes([0x3c00, 0xc000, 0x0001, 0x7bff]), // 1, -2, 2^-24, 65504
      ...halfBytes([0x3f80, 0xc040]), // bfloat16 1, -3
      ...[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // -3
      ...[0, 0, 0, 0, 0, 1, 0, 0], // 2^40
    ];
    const bytes = pickle(header.length, 0, 0, 0, 0, 0, 0, 0, ...ascii(header), ...data);
    const sd = readSafetensors(bytes).stateDict;
    expect(Array.from(sd.get('h')!.data)).toEqual([1, -2, 2 ** -24, 65504]);
    expect(Array.from(sd.get('b')!.data)).toEqual([1, -3]);
    expect(Array.from(sd.get('i')!.data)).toEqual([-3, 2 ** 40]);
    expect(sd.get('i')!.dtype).toBe('int64');
  });

  it('readCheckpoint(safetensors cut short) says truncated, with the byte counts', () => {
    const bytes = writeSafetensors(new Map([['x', { shape: [4], dtype: 'float32', data: new Float32Array(4) }]]));
    expect(() => readCheckpoint(bytes.subarray(0, bytes.length - 1))).toThrow(/ends at data byte 16 but the file has 15 data bytes; the file is truncated/);
    expect(() => readCheckpoint(bytes.subarray(0, 12))).toThrow(/header says it is \d+ bytes but only 4 bytes follow; the file is truncated/);
  });
});

describe('readCheckpoint format sniffing', () => {
  it('sniffFormat tells zip, legacy pickle and safetensors apart by their first bytes', () => {
    expect(sniffFormat(handmadeZip())).toBe('torch-zip');
    expect(sniffFormat(handmadeLegacy())).toBe('torch-legacy');
    expect(sniffFormat(writeSafetensors(new Map()))).toBe('safetensors');
  });

  it('readCheckpoint(empty) says the file is empty and what was expected', () => {
    expect(() => readCheckpoint(new Uint8Array(0), 'x.pth')).toThrow(/x\.pth: the file is empty \(0 bytes\); expected a PyTorch \.pth \(zip or legacy\) or \.safetensors file/);
  });

  it('readCheckpoint(unknown bytes) shows the first bytes found', () => {
    expect(() => readCheckpoint(Uint8Array.from(ascii('GIF89a, not weights!')))).toThrow(
      /expected a PyTorch \.pth \(zip or legacy\) or \.safetensors file; found 47 49 46 38 39 61 .*\("GIF89a, not weig"\)/,
    );
  });

  it('readCheckpoint(model.json / HTML / a plain pickle) names what the file is instead', () => {
    const { manifest } = writeShards(new Map([['x', { shape: [1], dtype: 'float32', data: new Float32Array(1) }]]));
    expect(() => readCheckpoint(new TextEncoder().encode(JSON.stringify(manifest)))).toThrow(/sharded weights manifest.*readShards/);
    expect(() => readCheckpoint(new TextEncoder().encode('<!DOCTYPE html><html>404</html>'))).toThrow(/HTML page/);
    expect(() => readCheckpoint(pickle(PROTO2, ...INT(5), STOP))).toThrow(/a pickle but not a PyTorch checkpoint/);
  });
});

describe('names', () => {
  it('canonicalName maps the old FPN, RPN and mask-head spellings to torchvision 0.14 names', () => {
    expect(canonicalName('backbone.fpn.inner_blocks.2.weight')).toBe('backbone.fpn.inner_blocks.2.0.weight');
    expect(canonicalName('backbone.fpn.layer_blocks.0.bias')).toBe('backbone.fpn.layer_blocks.0.0.bias');
    expect(canonicalName('rpn.head.conv.weight')).toBe('rpn.head.conv.0.0.weight');
    expect(canonicalName('roi_heads.mask_head.mask_fcn1.weight')).toBe('roi_heads.mask_head.0.0.weight');
    expect(canonicalName('roi_heads.mask_head.mask_fcn4.bias')).toBe('roi_heads.mask_head.3.0.bias');
  });

  it('canonicalName keeps current names, strips a DataParallel module. prefix and drops num_batches_tracked', () => {
    expect(canonicalName('backbone.fpn.inner_blocks.2.0.weight')).toBe('backbone.fpn.inner_blocks.2.0.weight');
    expect(canonicalName('rpn.head.conv.0.0.bias')).toBe('rpn.head.conv.0.0.bias');
    expect(canonicalName('module.rpn.head.cls_logits.weight')).toBe('rpn.head.cls_logits.weight');
    expect(canonicalName('backbone.body.bn1.num_batches_tracked')).toBeNull();
  });

  it('canonicalize refuses a state dict holding both spellings of one tensor', () => {
    const t = { shape: [1], dtype: 'float32', data: new Float32Array(1) };
    const sd: StateDict = new Map([['rpn.head.conv.weight', t], ['rpn.head.conv.0.0.weight', t]]);
    expect(() => canonicalize(sd)).toThrow(/both rpn\.head\.conv\.weight and rpn\.head\.conv\.0\.0\.weight/);
  });
});

describe('expectedShapes', () => {
  it('expectedShapes(default) has 307 tensors: ResNet-50 53 convs + 53 FrozenBN×4, FPN 16, RPN 6, box 8, mask 12', () => {
    const shapes = expectedShapes(defaultConfig());
    expect(shapes.size).toBe(53 + 53 * 4 + 16 + 6 + 8 + 12);
    expect(shapes.get('backbone.body.conv1.weight')).toEqual([64, 3, 7, 7]);
    expect(shapes.get('backbone.body.layer4.2.conv3.weight')).toEqual([2048, 512, 1, 1]);
    expect(shapes.get('backbone.body.layer1.0.downsample.0.weight')).toEqual([256, 64, 1, 1]);
    expect(shapes.get('backbone.fpn.inner_blocks.3.0.weight')).toEqual([256, 2048, 1, 1]);
    expect(shapes.get('rpn.head.cls_logits.weight')).toEqual([3, 256, 1, 1]);
    expect(shapes.get('rpn.head.bbox_pred.weight')).toEqual([12, 256, 1, 1]);
    expect(shapes.get('roi_heads.box_head.fc6.weight')).toEqual([1024, 256 * 7 * 7]);
    expect(shapes.get('roi_heads.box_predictor.bbox_pred.weight')).toEqual([364, 1024]);
    expect(shapes.get('roi_heads.mask_predictor.conv5_mask.weight')).toEqual([256, 256, 2, 2]);
    expect(shapes.get('roi_heads.mask_predictor.mask_fcn_logits.weight')).toEqual([91, 256, 1, 1]);
  });

  it('expectedShapes(small R18 config) follows depth, baseWidth, FPN width, anchors, heads and classes', () => {
    const shapes = expectedShapes(SMALL);
    expect(shapes.size).toBe(20 + 20 * 4 + 16 + 6 + 8 + 8); // 20 convs (1 + 8 blocks × 2 + 3 downsamples)
    expect(shapes.has('backbone.body.layer1.0.downsample.0.weight')).toBe(false); // 4 → 4, stride 1
    expect(shapes.get('backbone.body.layer2.0.downsample.0.weight')).toEqual([8, 4, 1, 1]);
    expect(shapes.get('backbone.body.layer4.1.conv2.weight')).toEqual([32, 32, 3, 3]);
    expect(shapes.get('backbone.fpn.inner_blocks.0.0.weight')).toEqual([8, 4, 1, 1]);
    expect(shapes.get('roi_heads.box_head.fc6.weight')).toEqual([16, 8 * 49]);
    expect(shapes.get('roi_heads.mask_head.1.0.weight')).toEqual([8, 8, 3, 3]);
    expect(shapes.has('roi_heads.mask_head.2.0.weight')).toBe(false);
    expect(shapes.get('roi_heads.box_predictor.bbox_pred.bias')).toEqual([12]);
    const twoSizes = toConfig({ anchors: { sizes: [[32, 40], [64, 80], [128, 160], [256, 320], [512, 640]] } });
    expect(expectedShapes(twoSizes).get('rpn.head.cls_logits.weight')).toEqual([6, 256, 1, 1]);
  });

  it('guessResnetDepth reads blocks per stage and block type from the names', () => {
    expect(guessResnetDepth(stateDictFor(SMALL))).toBe(18);
    expect(guessResnetDepth(stateDictFor(toConfig({ backbone: { depth: 34, baseWidth: 2 }, fpn: { outChannels: 2 } })))).toBe(34);
    expect(guessResnetDepth(new Map())).toBeUndefined();
  });
});

describe('validateStateDict', () => {
  it('validateStateDict accepts exactly the expected tensors (num_batches_tracked tolerated)', () => {
    const sd = stateDictFor(SMALL);
    sd.set('backbone.body.bn1.num_batches_tracked', { shape: [], dtype: 'int64', data: Float32Array.from([1]) });
    expect(() => validateStateDict(sd, SMALL)).not.toThrow();
  });

  it('validateStateDict names the first missing tensor with its shape', () => {
    const sd = stateDictFor(SMALL);
    sd.delete('rpn.head.bbox_pred.bias');
    expect(() => validateStateDict(sd, SMALL)).toThrow(/checkpoint has no rpn\.head\.bbox_pred\.bias \(shape \[12\]\), which this model needs/);
  });

  it('validateStateDict on a 5-class checkpoint for a 3-class model gives both shapes and the numClasses to pick', () => {
    const sd = stateDictFor(toConfig({ ...structuredClone(SMALL), numClasses: 5 }));
    expect(() => validateStateDict(sd, SMALL)).toThrow(
      'checkpoint has roi_heads.box_predictor.cls_score.weight of shape [5, 16]; this model expects [3, 16]; pick the matching config (numClasses: 5) or a 3-class checkpoint',
    );
  });

  it('validateStateDict on a ResNet-34 checkpoint for a ResNet-18 model lists the extra blocks and the depth to set', () => {
    const r34 = toConfig({ ...structuredClone(SMALL), backbone: { depth: 34, baseWidth: 4 } });
    expect(() => validateStateDict(stateDictFor(r34), SMALL)).toThrow(
      /checkpoint has 80 tensor\(s\) this model does not have: backbone\.body\.layer1\.2\.conv1\.weight, .*; the checkpoint looks like ResNet-34: set backbone\.depth: 34/,
    );
  });

  it('validateStateDict on a Faster R-CNN checkpoint (no mask branch) says so', () => {
    const sd = stateDictFor(SMALL);
    for (const k of [...sd.keys()]) if (k.startsWith('roi_heads.mask_')) sd.delete(k);
    expect(() => validateStateDict(sd, SMALL)).toThrow(/no roi_heads\.mask_head\.0\.0\.weight .*Faster R-CNN checkpoint/);
  });

  it('validateStateDict names the first tensor holding NaN or Inf and the index', () => {
    const sd = stateDictFor(SMALL);
    sd.get('roi_heads.box_head.fc7.weight')!.data[5] = NaN;
    expect(() => validateStateDict(sd, SMALL)).toThrow(/roi_heads\.box_head\.fc7\.weight holds NaN at index 5/);
    sd.get('roi_heads.box_head.fc7.weight')!.data[5] = 0;
    sd.get('backbone.body.conv1.weight')!.data[0] = -Infinity;
    expect(() => validateStateDict(sd, SMALL)).toThrow(/backbone\.body\.conv1\.weight holds -Infinity at index 0/);
  });
});

describe('shards', () => {
  const sd: StateDict = new Map([
    ['a', { shape: [3, 5], dtype: 'float16', data: Float32Array.from({ length: 15 }, (_, i) => i - 7.5) }],
    ['b', { shape: [], dtype: 'float32', data: Float32Array.from([Math.PI]) }],
    ['c', { shape: [2, 2, 3], dtype: 'float32', data: Float32Array.from({ length: 12 }, (_, i) => 1 / (i + 1)) }],
  ]);

  it('crc32("123456789") is the standard check value 0xcbf43926', () => {
    expect(crc32(Uint8Array.from(ascii('123456789')))).toBe(0xcbf43926);
  });

  it('writeShards(sd, {shardBytes: 24}) splits 112 bytes into 5 shards, tensors spanning shards', () => {
    const { manifest, shards } = writeShards(sd, { shardBytes: 24, config: { numClasses: 3 } });
    expect(shards.map((s) => s.length)).toEqual([24, 24, 24, 24, 16]);
    expect(manifest.totalBytes).toBe(112);
    expect(manifest.config).toEqual({ numClasses: 3 });
    expect(manifest.tensors.map((t) => [t.name, t.shard, t.offset, t.length])).toEqual([['a', 0, 0, 60], ['b', 2, 12, 4], ['c', 2, 16, 48]]);
  });

  it('readShards(writeShards(sd)) returns the same tensors and reports progress up to the total', async () => {
    const { manifest, shards } = writeShards(sd, { shardBytes: 24 });
    const files = new Map(manifest.shards.map((s, i) => [s.file, shards[i]!]));
    const progress: Array<[number, number]> = [];
    const back = await readShards(JSON.parse(JSON.stringify(manifest)), async (f) => files.get(f)!, { onProgress: (a, b) => progress.push([a, b]) });
    expect([...back.keys()]).toEqual(['a', 'b', 'c']);
    for (const [name, t] of sd) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(back.get(name)!.dtype).toBe(t.dtype);
      expect(Array.from(back.get(name)!.data)).toEqual(Array.from(t.data));
    }
    expect(progress).toHaveLength(5);
    expect(progress.at(-1)).toEqual([112, 112]);
    expect(progress.every(([a], i) => i === 0 || a > progress[i - 1]![0])).toBe(true);
  });

  it('readShards with one flipped byte names the corrupt shard and both checksums', async () => {
    const { manifest, shards } = writeShards(sd, { shardBytes: 24 });
    const bad = shards.map((s) => s.slice());
    bad[3]![7]! ^= 0x10;
    const files = new Map(manifest.shards.map((s, i) => [s.file, bad[i]!]));
    await expect(readShards(manifest, async (f) => files.get(f)!)).rejects.toThrow(
      new RegExp(`weights shard ${manifest.shards[3]!.file} is corrupt: CRC-32 [0-9a-f]{8}, model.json says ${manifest.shards[3]!.crc32}`),
    );
  });

  it('readShards with a short shard or a manifest of another version says what to do', async () => {
    const { manifest, shards } = writeShards(sd, { shardBytes: 24 });
    const files = new Map(manifest.shards.map((s, i) => [s.file, i === 4 ? shards[i]!.subarray(0, 10) : shards[i]!]));
    await expect(readShards(manifest, async (f) => files.get(f)!)).rejects.toThrow(/has 10 bytes; model\.json says 16; the download is truncated/);
    await expect(readShards({ ...manifest, version: 99 }, async (f) => files.get(f)!)).rejects.toThrow(/version is 99; re-run the converter/);
  });
});

describe('convert CLI', () => {
  const tsx = join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsx');
  const convert = (args: string[]) => spawnSync(tsx, [join(import.meta.dirname, '..', 'src', 'cli', 'convert.ts'), ...args], { encoding: 'utf8' });

  it('convert --weights old-spelling.safetensors --out DIR (small config fields) writes model.json + shards that read back equal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convert-'));
    const sd = stateDictFor(SMALL);
    const old: StateDict = new Map([...sd].map(([k, v]) => [k.replace(/^rpn\.head\.conv\.0\.0\./, 'rpn.head.conv.').replace(/^roi_heads\.mask_head\.(\d)\.0\./, (_, i: string) => `roi_heads.mask_head.mask_fcn${Number(i) + 1}.`), v]));
    writeFileSync(join(dir, 'old.safetensors'), writeSafetensors(old));
    const r = convert([
      '--weights', join(dir, 'old.safetensors'), '--out', join(dir, 'out'), '--shard-mb', '0.01',
      '--config-json', JSON.stringify({ num_classes: 3, backbone: { depth: 18, baseWidth: 4 }, fpn: { outChannels: 8 } }),
      '--roi-heads.box-head.representation-size', '16', '--roi-heads.mask-head.layers', '[8,8]', '--roi-heads.mask-predictor.dim-reduced', '8',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/renamed 6 old-spelling names/);
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'model.json'), 'utf8'));
    expect(manifest.config.numClasses).toBe(3);
    expect(readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.bin'))).toHaveLength(manifest.shards.length);
    const back = await readShards(manifest, async (f) => new Uint8Array(readFileSync(join(dir, 'out', f))));
    expect([...back.keys()]).toEqual([...sd.keys()]);
    for (const [name, t] of sd) expect(Array.from(back.get(name)!.data)).toEqual(Array.from(t.data));
  });

  it('convert without --out exits 2 with the usage; a wrong-config checkpoint exits 1 with the shape message', () => {
    const r = convert(['--weights', 'x.pth']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--weights and --out are required\nusage: npm run convert/);
    const dir = mkdtempSync(join(tmpdir(), 'convert-'));
    writeFileSync(join(dir, 'small.safetensors'), writeSafetensors(stateDictFor(SMALL)));
    const bad = convert(['--weights', join(dir, 'small.safetensors'), '--out', join(dir, 'out')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error: checkpoint has backbone\.body\.conv1\.weight of shape \[4, 3, 7, 7\]; this model expects \[64, 3, 7, 7\]/);
    expect(existsSync(join(dir, 'out', 'model.json'))).toBe(false);
  });
});
