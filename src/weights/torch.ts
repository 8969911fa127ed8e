/**
 * PyTorch checkpoints (`torch.save`) from bytes, both serializations:
 *  - zip (torch ≥ 1.6): `<name>/data.pkl` (the pickled object; tensors are persistent ids
 *    `('storage', storage_type, key, location, numel)`), raw storages in `<name>/data/<key>`,
 *    optionally `<name>/byteorder` ('little' | 'big').
 *  - legacy: five things back to back: the magic-number pickle, the protocol-version pickle (1001),
 *    the sys_info pickle, the object pickle (persistent ids
 *    `('storage', storage_type, key, location, numel, view_metadata)`), the pickled list of storage
 *    keys, then per key an int64 element count and the storage's raw bytes.
 *
 * Glossary: storage = a flat typed buffer; tensor = a strided view of a storage
 * (`_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`), element k of the view at
 * multi-index (i0, i1, …) is storage[offset + Σ i_d · stride_d]. Several tensors may share one storage.
 *
 * The unpickler (pickle.ts) allows only the globals a state dict needs; nothing is executed.
 * Returned names are as stored (see names.ts for canonical spelling); data is converted to float32.
 */
import { unzipSync } from 'fflate';
import type { NamedTensor, StateDict } from '../types.ts';
import { CheckpointError } from './errors.ts';
import { decodeDense, elementReader } from './dtypes.ts';
import { type CallGlobal, PyObject, unpickle } from './pickle.ts';

/** torch storage class name → dtype name and bytes per element. */
const STORAGE_TYPES: Readonly<Record<string, { dtype: string; size: number }>> = {
  FloatStorage: { dtype: 'float32', size: 4 },
  HalfStorage: { dtype: 'float16', size: 2 },
  DoubleStorage: { dtype: 'float64', size: 8 },
  BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  LongStorage: { dtype: 'int64', size: 8 },
  IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int16', size: 2 },
  CharStorage: { dtype: 'int8', size: 1 },
  ByteStorage: { dtype: 'uint8', size: 1 },
  BoolStorage: { dtype: 'bool', size: 1 },
};

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** A storage named by a persistent id; its bytes are attached once the container is read. */
interface StorageRef {
  key: string;
  dtype: string;
  itemSize: number;
  bytes?: Uint8Array;
  /** Legacy storage views: the storage whose bytes this one views, from element `viewOffset` on. */
  root?: StorageRef;
  viewOffset: number;
  littleEndian: boolean;
}

/** `_rebuild_tensor_v2`'s arguments, materialized later. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

function asInt(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new CheckpointError(`${what}: expected an integer, found ${typeof v === 'bigint' ? `${v} (too large)` : String(v)}`);
}

function asIntList(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new CheckpointError(`${what}: expected a tuple of integers, found ${String(v)}`);
  return v.map((x, i) => asInt(x, `${what}[${i}]`));
}

function asText(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  throw new CheckpointError(`${what}: expected a string, found ${String(v)}`);
}

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof Object) || !('itemSize' in storage)) {
    throw new CheckpointError('_rebuild_tensor_v2: first argument is not a storage');
  }
  const sizes = asIntList(size, 'tensor size');
  const strides = asIntList(stride, 'tensor stride');
  if (sizes.length !== strides.length) {
    throw new CheckpointError(`tensor with size [${sizes}] but stride [${strides}]: lengths differ; the file is corrupt`);
  }
  return new TensorRef(storage as StorageRef, asInt(offset, 'storage offset'), sizes, strides);
}

/** What a state dict may reference. Calling anything not listed, or naming it, is refused. */
function allowlist(): Map<string, CallGlobal | undefined> {
  const allow = new Map<string, CallGlobal | undefined>([
    ['collections.OrderedDict', (args) => {
      const out = new Map<unknown, unknown>();
      const items = args[0];
      if (Array.isArray(items)) for (const pair of items) if (Array.isArray(pair)) out.set(pair[0], pair[1]);
      return out;
    }],
    ['torch._utils._rebuild_tensor', rebuildTensor],
    ['torch._utils._rebuild_tensor_v2', rebuildTensor],
    ['torch._utils._rebuild_parameter', (args) => args[0]],
    ['torch._utils._rebuild_parameter_with_state', (args) => args[0]],
    ['torch.Size', (args) => (Array.isArray(args[0]) ? args[0] : [])],
    // Training scripts (torchvision's references) save their argparse arguments beside the model.
    ['argparse.Namespace', (args) => new PyObject('argparse.Namespace', args)],
  ]);
  for (const name of Object.keys(STORAGE_TYPES)) allow.set(`torch.${name}`, undefined);
  for (const d of ['float32', 'float16', 'float64', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool']) {
    allow.set(`torch.${d}`, undefined);
  }
  return allow;
}

function refusalHint(qualname: string): string | undefined {
  if (/^(torch\.nn\.|torchvision\.)/.test(qualname) || qualname.startsWith('__main__.')) {
    return 'this file pickles a whole model object, not a state dict; in Python, torch.save(model.state_dict(), path) and load that';
  }
  return undefined;
}

/** The persistent-id resolver: one StorageRef per storage key (shared storages resolve to the same object). */
function storageLoader(littleEndian: () => boolean) {
  const storages = new Map<string, StorageRef>();
  const views = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid.length < 5) throw new CheckpointError(`persistent id ${String(pid)}: expected ('storage', type, key, location, numel)`);
    const typename = asText(pid[0], 'persistent id type');
    if (typename !== 'storage') {
      throw new CheckpointError(`persistent id of type '${typename}': only storages belong in a state dict (a pickled module class?)`);
    }
    const storageType = pid[1];
    const className = storageType instanceof Object && 'qualname' in storageType ? String(storageType.qualname).replace(/^torch\./, '') : '';
    const type = STORAGE_TYPES[className];
    if (!type) throw new CheckpointError(`storage of type ${String(className || storageType)}: not a supported storage type (${Object.keys(STORAGE_TYPES).join(', ')})`);
    const key = asText(pid[2], 'storage key');
    let root = storages.get(key);
    if (!root) {
      root = { key, dtype: type.dtype, itemSize: type.size, viewOffset: 0, littleEndian: littleEndian() };
      storages.set(key, root);
    }
    const viewMetadata = pid[5];
    if (Array.isArray(viewMetadata)) {
      // Legacy storage view (view_key, offset, view_size): same bytes, shifted by `offset` elements.
      const viewKey = asText(viewMetadata[0], 'storage view key');
      let view = views.get(viewKey);
      if (!view) {
        view = { ...root, key: `${key} (view ${viewKey})`, root, viewOffset: asInt(viewMetadata[1], 'storage view offset') };
        views.set(viewKey, view);
      }
      return view;
    }
    return root;
  };
  return { storages, views, persistentLoad };
}

/** A state dict inside the unpickled object: the object itself, or its `model` / `state_dict` entry. */
function findStateDict(root: unknown): Map<unknown, unknown> {
  const isTensorMap = (v: unknown): v is Map<unknown, unknown> =>
    v instanceof Map && v.size > 0 && [...v.values()].some((x) => x instanceof TensorRef);
  if (isTensorMap(root)) return root;
  if (root instanceof Map) {
    for (const key of ['model', 'state_dict', 'model_state_dict', 'model_state']) {
      const inner = root.get(key);
      if (isTensorMap(inner)) return inner;
      if (inner instanceof Map && isTensorMap(inner.get('state_dict'))) return inner.get('state_dict') as Map<unknown, unknown>;
    }
    const keys = [...root.keys()].slice(0, 8).map(String).join(', ');
    throw new CheckpointError(
      `the checkpoint holds a dict without tensors at its top level (keys: ${keys}${root.size > 8 ? ', …' : ''}) ` +
        "and no 'model' or 'state_dict' entry holding them; expected a state dict, {'model': state_dict} or {'state_dict': state_dict}",
    );
  }
  throw new CheckpointError(
    `the checkpoint holds ${root === null ? 'None' : Array.isArray(root) ? 'a list' : typeof root}, not a state dict; ` +
      'expected a dict of tensors, {"model": state_dict} or {"state_dict": state_dict}',
  );
}

/** Gather a strided view of a storage into a dense row-major float32 array. */
function materialize(name: string, t: TensorRef): NamedTensor {
  const { storage, size, stride } = t;
  const offset = storage.viewOffset + t.storageOffset;
  const numel = size.reduce((a, b) => a * b, 1);
  const bytes = (storage.root ?? storage).bytes;
  if (!bytes) throw new CheckpointError(`tensor ${name}: its storage '${storage.key}' has no data in the file; the file is truncated or corrupt`);
  const storageNumel = Math.floor(bytes.length / storage.itemSize);
  if (numel > 0) {
    let last = offset;
    let first = offset;
    for (let d = 0; d < size.length; d++) {
      const step = (size[d]! - 1) * stride[d]!;
      if (step > 0) last += step;
      else first += step;
    }
    if (first < 0 || last >= storageNumel) {
      throw new CheckpointError(
        `tensor ${name} of shape [${size.join(', ')}] reads elements ${first}..${last} of a storage with ${storageNumel} ` +
          `${storage.dtype} elements; the file is truncated or corrupt`,
      );
    }
  }
  // Row-major strides of the output: is the view contiguous?
  let contiguous = true;
  for (let d = size.length - 1, s = 1; d >= 0; d--) {
    if (size[d]! !== 1 && stride[d]! !== s) contiguous = false;
    s *= size[d]!;
  }
  if (contiguous) {
    const start = offset * storage.itemSize;
    return { shape: size, dtype: storage.dtype, data: decodeDense(storage.dtype, bytes.subarray(start), numel, storage.littleEndian) };
  }
  const data = new Float32Array(numel);
  const read = elementReader(storage.dtype, bytes, storage.littleEndian);
  // Odometer over the multi-index; `pos` tracks offset + Σ i_d · stride_d.
  const index = new Array<number>(size.length).fill(0);
  let pos = offset;
  for (let k = 0; k < numel; k++) {
    data[k] = read(pos);
    for (let d = size.length - 1; d >= 0; d--) {
      index[d]!++;
      pos += stride[d]!;
      if (index[d]! < size[d]!) break;
      pos -= index[d]! * stride[d]!;
      index[d] = 0;
    }
  }
  return { shape: size, dtype: storage.dtype, data };
}

function toStateDict(sdMap: Map<unknown, unknown>): StateDict {
  const out: StateDict = new Map();
  for (const [key, value] of sdMap) {
    const name = asText(key, 'state dict key');
    if (!(value instanceof TensorRef)) {
      throw new CheckpointError(`state dict entry '${name}' is ${value === null ? 'None' : typeof value}, not a tensor; expected a dict of tensors`);
    }
    out.set(name, materialize(name, value));
  }
  return out;
}

/** Read a zip-serialized `torch.save` file (torch ≥ 1.6). */
export function readTorchZip(bytes: Uint8Array): StateDict {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new CheckpointError(
      `the file starts like a zip archive (a PyTorch ≥ 1.6 checkpoint) but cannot be unzipped (${(e as Error).message}); ` +
        'it is probably truncated: download it again',
    );
  }
  const names = Object.keys(files);
  const pkl = names.filter((n) => /(^|\/)data\.pkl$/.test(n)).sort((a, b) => a.length - b.length)[0];
  if (pkl === undefined) {
    const hint = names.some((n) => /(^|\/)constants\.pkl$/.test(n) || /(^|\/)code\//.test(n))
      ? 'this is a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead'
      : 'expected <name>/data.pkl inside';
    throw new CheckpointError(`zip archive without data.pkl (found ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}): ${hint}`);
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const byteorderFile = files[`${prefix}byteorder`];
  const byteorder = byteorderFile ? new TextDecoder().decode(byteorderFile).trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') throw new CheckpointError(`${prefix}byteorder says '${byteorder}': expected 'little' or 'big'`);
  const loader = storageLoader(() => byteorder === 'little');
  const { value } = unpickle(files[pkl]!, 0, { allow: allowlist(), persistentLoad: loader.persistentLoad, what: pkl, hint: refusalHint });
  const sd = findStateDict(value);
  for (const storage of loader.storages.values()) {
    const data = files[`${prefix}data/${storage.key}`];
    if (!data) throw new CheckpointError(`storage ${prefix}data/${storage.key} is missing from the zip archive; the file is truncated or corrupt`);
    storage.bytes = data;
  }
  return toStateDict(sd);
}

/** Read a legacy (`_use_new_zipfile_serialization=False`, torch < 1.6) `torch.save` file. */
export function readTorchLegacy(bytes: Uint8Array): StateDict {
  const none = new Map<string, CallGlobal | undefined>();
  const magic = unpickle(bytes, 0, { allow: none, what: 'legacy checkpoint magic number' });
  if (magic.value !== LEGACY_MAGIC) {
    throw new CheckpointError(
      `the file is a pickle but not a PyTorch checkpoint (first value ${String(magic.value)}, expected the torch magic number ` +
        `0x${LEGACY_MAGIC.toString(16)}); expected a PyTorch .pth (zip or legacy) or .safetensors file`,
    );
  }
  const protocol = unpickle(bytes, magic.end, { allow: none, what: 'legacy checkpoint protocol version' });
  if (protocol.value !== LEGACY_PROTOCOL) throw new CheckpointError(`legacy checkpoint protocol version ${String(protocol.value)}: expected ${LEGACY_PROTOCOL}`);
  const sysInfo = unpickle(bytes, protocol.end, { allow: none, what: 'legacy checkpoint sys_info' });
  const littleEndian = sysInfo.value instanceof Map ? sysInfo.value.get('little_endian') !== false : true;
  const loader = storageLoader(() => littleEndian);
  const main = unpickle(bytes, sysInfo.end, {
    allow: allowlist(),
    persistentLoad: loader.persistentLoad,
    what: 'legacy checkpoint object',
    hint: refusalHint,
  });
  const keysPickle = unpickle(bytes, main.end, { allow: none, what: 'legacy checkpoint storage keys' });
  if (!Array.isArray(keysPickle.value)) throw new CheckpointError('legacy checkpoint: expected the list of storage keys after the object');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keysPickle.end;
  for (const k of keysPickle.value) {
    const key = asText(k, 'storage key');
    const storage = loader.storages.get(key);
    if (!storage) throw new CheckpointError(`legacy checkpoint: storage key ${key} listed but never referenced; the file is corrupt`);
    if (pos + 8 > bytes.length) {
      throw new CheckpointError(`legacy checkpoint ends before storage ${key} (byte ${pos} of ${bytes.length}); the file is truncated: download it again`);
    }
    const count = view.getBigInt64(pos, littleEndian);
    const nbytes = Number(count) * storage.itemSize;
    pos += 8;
    if (count < 0n || pos + nbytes > bytes.length) {
      throw new CheckpointError(
        `legacy checkpoint: storage ${key} needs ${nbytes} bytes at byte ${pos} but the file has ${bytes.length - pos} left; ` +
          'the file is truncated: download it again',
      );
    }
    storage.bytes = bytes.subarray(pos, pos + nbytes);
    pos += nbytes;
  }
  return toStateDict(findStateDict(main.value));
}
