/**
 * An allowlisting unpickler: a Python pickle VM (protocols 0–5) that executes nothing.
 *
 * Glossary:
 *  - opcode: one pickle instruction. The VM keeps a value stack, a mark stack (MARK positions) and
 *    a memo (PUT/GET slots); STOP ends one pickle and returns the top of the stack.
 *  - global: a `module.name` reference (GLOBAL, STACK_GLOBAL, INST). Python's unpickler imports it
 *    and may call it (REDUCE, NEWOBJ, OBJ, INST, BUILD via `__setstate__`): that is how a pickle
 *    runs code. Here a global resolves only if its qualified name is in the caller's allowlist;
 *    any other name throws a `CheckpointError` at the opcode that names it, before any opcode
 *    could apply it. Allowlisted globals are JavaScript functions written by us, never Python.
 *  - persistent id: an out-of-band reference (PERSID/BINPERSID), resolved by the caller
 *    (torch: a storage).
 *
 * Values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → Uint8Array, list/tuple/set → array, dict → Map (never a plain object, so
 * keys such as `__proto__` are inert data).
 *
 * Written instead of using `pickleparser` because that library builds a stand-in for any global it
 * meets (it has no way to refuse one) and stores dicts in plain objects.
 */
import { CheckpointError } from './errors.ts';

/** How an allowlisted global behaves when a pickle calls it (REDUCE, NEWOBJ, OBJ, INST). */
export type CallGlobal = (args: unknown[]) => unknown;

/** A reference to an allowlisted global (a storage type, a dtype, a callable). */
export class PyGlobal {
  constructor(
    readonly qualname: string,
    /** undefined: the global may be referenced (e.g. `torch.FloatStorage`) but not called. */
    readonly call: CallGlobal | undefined,
  ) {}
}

/** An inert instance of an allowlisted plain-data class (e.g. `argparse.Namespace`): args and state only. */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly qualname: string,
    readonly args: unknown[],
  ) {}
}

export interface UnpickleOptions {
  /** Qualified name (`module.name`) → its behaviour when called, or undefined if it may only be referenced. */
  allow: ReadonlyMap<string, CallGlobal | undefined>;
  /** Resolves PERSID/BINPERSID; absent: persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Name of the pickle in error messages (e.g. 'archive/data.pkl'). */
  what?: string;
  /** Extra advice for a refused global (e.g. "this file pickles a whole model"). */
  hint?: (qualname: string) => string | undefined;
}

export interface UnpickleResult {
  value: unknown;
  /** Byte offset just after the STOP opcode. */
  end: number;
}

const MARK = Symbol('mark');

const textDecoder = new TextDecoder('utf-8', { fatal: false });

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Python's raw-unicode-escape (only `\uXXXX` and `\UXXXXXXXX` are escapes). */
function rawUnicodeEscape(bytes: Uint8Array): string {
  const s = latin1(bytes);
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4: string | undefined, u8: string | undefined) =>
    String.fromCodePoint(parseInt((u4 ?? u8)!, 16)),
  );
}

/** A Python int as a JS number when exact, else a bigint. */
function toInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Little-endian two's complement (LONG1/LONG4 payload). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return toInt(v);
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === MARK) return 'a MARK';
  if (v instanceof PyGlobal) return v.qualname;
  if (v instanceof PyObject) return `a ${v.qualname} object`;
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return 'a list/tuple';
  if (v instanceof Uint8Array) return 'bytes';
  return `a ${typeof v}`;
}

/**
 * Run one pickle starting at `start`; returns its value and the offset after STOP.
 * Throws `CheckpointError` for a refused global, a malformed or truncated pickle.
 */
export function unpickle(bytes: Uint8Array, start: number, options: UnpickleOptions): UnpickleResult {
  const what = options.what ?? 'pickle';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (message: string): never => {
    throw new CheckpointError(`${what}: ${message} (at byte ${pos})`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) {
      fail(`ends early: needs ${n} more bytes but only ${bytes.length - pos} remain; the file is truncated or corrupt`);
    }
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('ends early inside a text line; the file is truncated or corrupt');
    const s = latin1(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('malformed pickle: pop from an empty stack');
    const v = stack.pop();
    if (v === MARK) fail('malformed pickle: unexpected MARK');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('malformed pickle: empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) fail('malformed pickle: no MARK to pop to');
    stack = prev!;
    return items;
  };
  const resolve = (module: string, name: string): PyGlobal => {
    const qualname = `${module}.${name}`;
    if (!options.allow.has(qualname)) {
      const hint = options.hint?.(qualname);
      fail(
        `refused global '${qualname}': a checkpoint's state dict never needs it, and unpickling it could run code. ` +
          `The file may be malicious; load only checkpoints from sources you trust${hint ? `. Note: ${hint}` : ''}`,
      );
    }
    return new PyGlobal(qualname, options.allow.get(qualname));
  };
  const call = (callee: unknown, args: unknown, opname: string): unknown => {
    if (!(callee instanceof PyGlobal) || callee.call === undefined) {
      fail(`${opname} on ${describe(callee)}, which is not an allowlisted callable`);
    }
    if (!Array.isArray(args)) fail(`${opname} with ${describe(args)} as arguments (expected a tuple)`);
    return (callee as PyGlobal).call!(args as unknown[]);
  };
  const setItem = (dict: unknown, key: unknown, value: unknown): void => {
    if (!(dict instanceof Map)) fail(`SETITEM on ${describe(dict)} (expected a dict)`);
    (dict as Map<unknown, unknown>).set(key, value);
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) fail(`APPEND on ${describe(list)} (expected a list)`);
    (list as unknown[]).push(...items);
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`malformed pickle: memo slot ${i} is empty`);
    return memo.get(i);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5 is not supported');
        break;
      case 0x95: // FRAME (framing is only a read-ahead hint)
        u64();
        break;
      case 0x2e: // STOP
        if (marks.length > 0 || stack.length !== 1) fail('malformed pickle: STOP with a stack that is not one value');
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length === 0) popMark();
        else stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: { // INT (text; I01/I00 are booleans in protocol 0)
        const s = line();
        if (s === '01') stack.push(true);
        else if (s === '00') stack.push(false);
        else if (/^[-+]?\d+$/.test(s)) stack.push(toInt(BigInt(s)));
        else fail(`INT with text '${s}'`);
        break;
      }
      case 0x4c: { // LONG (text, trailing L)
        const s = line().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) fail(`LONG with text '${s}'`);
        stack.push(toInt(BigInt(s)));
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail('LONG4 with a negative length');
        stack.push(decodeLong(take(n)));
        break;
      }
      case 0x46: { // FLOAT (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) fail(`FLOAT with text '${s}'`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT (big endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x53: { // STRING (text repr of a py2 str)
        const s = line();
        const q = s[0];
        if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) fail('STRING without quotes');
        stack.push(s.slice(1, -1));
        break;
      }
      case 0x54: { // BINSTRING (py2 str)
        const n = i32();
        if (n < 0) fail('BINSTRING with a negative length');
        stack.push(latin1(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(take(u8())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape line)
        stack.push(rawUnicodeEscape(new Uint8Array(Array.from(line(), (c) => c.charCodeAt(0)))));
        break;
      case 0x58: // BINUNICODE
        stack.push(textDecoder.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(textDecoder.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(textDecoder.decode(take(u64())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x6c: // LIST
      case 0x74: // TUPLE
      case 0x91: { // FROZENSET
        const items = popMark(); // (not `stack.push(popMark())`: that would push onto the stack before the pop)
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: { // ADDITEMS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2 !== 0) fail('DICT with an odd number of items');
        const d = new Map<unknown, unknown>();
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x67: { // GET
        const s = line();
        if (!/^\d+$/.test(s)) fail(`GET with text '${s}'`);
        stack.push(memoGet(Number(s)));
        break;
      }
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x70: { // PUT
        const s = line();
        if (!/^\d+$/.test(s)) fail(`PUT with text '${s}'`);
        memo.set(Number(s), top());
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL with non-string names');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x69: { // INST "module\nname\n" + MARK args: resolve first, then call
        const cls = resolve(line(), line());
        const args = popMark();
        stack.push(call(cls, args, 'INST'));
        break;
      }
      case 0x6f: { // OBJ: MARK cls args...
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(call(items[0], items.slice(1), 'OBJ'));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callee = pop();
        stack.push(call(callee, args, 'REDUCE'));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size > 0) fail('NEWOBJ_EX with keyword arguments');
        stack.push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: { // BUILD: only plain-data targets; nothing is ever called
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        else if (obj instanceof Map) {
          // OrderedDict's instance dict (torch keeps `_metadata` there): data we do not need.
        } else fail(`BUILD on ${describe(obj)} is not allowed`);
        break;
      }
      case 0x50: // PERSID (text)
      case 0x51: { // BINPERSID
        const pid = op === 0x50 ? line() : pop();
        if (!options.persistentLoad) fail('persistent id in a pickle that should have none');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail('extension-registry globals (EXT1/2/4) are refused; the file may be malicious');
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band buffers (protocol 5) are not supported');
        break;
      default:
        pos--;
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}; the file is not a pickle or is corrupt`);
    }
  }
}
