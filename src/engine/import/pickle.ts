/**
 * A restricted reader of the pickles `torch.save` writes for state dicts (pickle protocol 2, Python's
 * Lib/pickletools.py documents the opcodes). It builds plain values only: dicts, lists/tuples, strings,
 * numbers, and tensor references. A pickle may import just the few globals a state dict needs; any other
 * global (`os system`, `builtins eval`, …) is refused when it is named, and nothing is ever called.
 */
import { type CheckpointDType, ImportError } from './checkpoint';

/** A tensor storage named by the pickle; its bytes are `data/<key>` of the zip archive. */
export class PickledStorage {
  constructor(
    readonly key: string,
    readonly dtype: CheckpointDType,
    /** Element count. */
    readonly numel: number,
  ) {}
}

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`: a view into a storage. */
export class PickledTensor {
  constructor(
    readonly storage: PickledStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A module-level name a pickle imported (only the allowed ones are ever created). */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | PickleDict |
  PickledTensor | PickledStorage | PickleGlobal;
export type PickleDict = Map<PickleValue, PickleValue>;

/** The typed storage classes torch.save names, by element type. */
const STORAGE_DTYPES: Readonly<Record<string, CheckpointDType>> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
};

/** Every global a state-dict pickle may import. */
const CALLABLE_GLOBALS = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter']);

function isAllowedGlobal(module: string, name: string): boolean {
  return CALLABLE_GLOBALS.has(`${module}.${name}`) || (module === 'torch' && /^[A-Za-z0-9]+Storage$/.test(name));
}

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isDict(v: unknown): v is PickleDict {
  return v instanceof Map;
}

function asInt(v: StackItem, what: string, file: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new ImportError('bad-pickle', `${file}: ${what} is not an integer`, file);
}

function asIntList(v: StackItem, what: string, file: string): number[] {
  if (!Array.isArray(v)) throw new ImportError('bad-pickle', `${file}: ${what} is not a tuple`, file);
  return v.map((x) => asInt(x, what, file));
}

/** Reads a state-dict pickle; each persistent id ('storage', class, key, location, numel) becomes a PickledStorage. */
export function loadPickle(data: Uint8Array, file: string): PickleValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const storages = new Map<string, PickledStorage>();
  const memo = new Map<number, PickleValue>();
  let stack: StackItem[] = [];
  const marks: StackItem[][] = [];
  let pos = 0;

  const bad = (why: string) => new ImportError('bad-pickle', `${file}: is not a readable PyTorch checkpoint (pickle: ${why} at byte ${pos})`, file);
  const need = (n: number) => {
    if (pos + n > data.length) throw new ImportError('truncated', `${file}: is truncated (its pickle ends early); download it again`, file);
  };
  const u8 = () => { need(1); return data[pos++]; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('a length beyond 2^53');
    return Number(v);
  };
  const bytes = (n: number) => { need(n); const b = data.subarray(pos, pos + n); pos += n; return b; };
  const text = (n: number) => {
    try {
      return utf8.decode(bytes(n));
    } catch {
      throw bad('a string that is not UTF-8');
    }
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw bad('an unterminated GLOBAL name');
    const s = new TextDecoder('latin1').decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): StackItem => {
    if (stack.length === 0) throw bad('a pop from an empty stack');
    return stack.pop()!;
  };
  const value = (v: StackItem): PickleValue => {
    if (v === MARK) throw bad('a MARK used as a value');
    return v;
  };
  const popMark = (): PickleValue[] => {
    const items = stack;
    if (marks.length === 0) throw bad('a missing MARK');
    stack = marks.pop()!;
    return items.map(value);
  };
  const top = (): StackItem => {
    if (stack.length === 0) throw bad('an empty stack');
    return stack[stack.length - 1];
  };
  const global = (module: string, name: string): PickleGlobal => {
    if (!isAllowedGlobal(module, name)) {
      throw new ImportError('unsafe-pickle', `${file}: holds pickled Python code besides tensors (it imports ${module}.${name}); ` +
        'only tensors and plain containers are read from checkpoint files, and nothing in this one was run', file);
    }
    return new PickleGlobal(module, name);
  };
  const setItems = (dict: StackItem, items: PickleValue[]) => {
    if (!isDict(dict)) throw bad('SETITEM on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const persistent = (pid: PickleValue): PickledStorage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage' || !(pid[1] instanceof PickleGlobal) || typeof pid[2] !== 'string') {
      throw bad('a persistent id that is not a tensor storage');
    }
    const [, cls, key, , numel] = pid;
    const dtype = cls.module === 'torch' ? STORAGE_DTYPES[cls.name] : undefined;
    if (!dtype) {
      throw new ImportError('unsupported-dtype', `${file}: holds a ${cls.qualifiedName} tensor; only float32, float16, bfloat16 and int64 tensors are read`, file);
    }
    const count = asInt(numel, 'a storage size', file);
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== dtype) throw bad(`storage ${key} named with two element types`);
      return known;
    }
    const s = new PickledStorage(key, dtype, count);
    storages.set(key, s);
    return s;
  };
  const call = (fn: StackItem, args: StackItem): PickleValue => {
    if (!(fn instanceof PickleGlobal) || !Array.isArray(args)) throw bad('REDUCE of something that is not an allowed global');
    switch (fn.qualifiedName) {
      case 'collections.OrderedDict':
        if (args.length !== 0) throw bad('OrderedDict built from arguments');
        return new Map();
      case 'torch._utils._rebuild_tensor_v2': {
        const [storage, offset, size, stride] = args;
        if (!(storage instanceof PickledStorage)) throw bad('_rebuild_tensor_v2 without a storage');
        return new PickledTensor(storage, asInt(offset, 'a storage offset', file), asIntList(size, 'a tensor size', file),
          asIntList(stride, 'a tensor stride', file));
      }
      case 'torch._utils._rebuild_parameter':
        if (!(args[0] instanceof PickledTensor)) throw bad('_rebuild_parameter without a tensor');
        return args[0];
      default:
        throw new ImportError('unsafe-pickle', `${file}: holds pickled Python code besides tensors (it calls ${fn.qualifiedName}); nothing in this file was run`, file);
    }
  };
  const long = (b: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const proto = u8();
        if (proto < 2 || proto > 5) throw bad(`pickle protocol ${proto}`);
        break;
      }
      case 0x95: u64(); break; // FRAME: only a length hint
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) throw bad('STOP with an unbalanced stack');
        return value(stack[0]);
      }
      case 0x28: marks.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: { const items = popMark(); stack.push(items); break; } // TUPLE (popMark swaps the stack)
      case 0x85: stack.push([value(pop())]); break; // TUPLE1
      case 0x86: { const b = value(pop()); const a = value(pop()); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = value(pop()); const b = value(pop()); const a = value(pop()); stack.push([a, b, c]); break; } // TUPLE3
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x55: stack.push(text(u8())); break; // SHORT_BINSTRING (Python 2 str, read as UTF-8 like torch.load)
      case 0x54: stack.push(text(u32())); break; // BINSTRING
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x4a: { need(4); stack.push(view.getInt32(pos, true)); pos += 4; break; } // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(long(bytes(u8()))); break; // LONG1
      case 0x8b: stack.push(long(bytes(u32()))); break; // LONG4
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x71: memo.set(u8(), value(top())); break; // BINPUT
      case 0x72: memo.set(u32(), value(top())); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, value(top())); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) throw bad(`memo entry ${i} read before it was written`);
        stack.push(memo.get(i)!);
        break;
      }
      case 0x73: { const v = value(pop()); const k = value(pop()); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x61: { const v = value(pop()); const list = top(); if (!Array.isArray(list)) throw bad('APPEND to a non-list'); list.push(v); break; }
      case 0x65: { const items = popMark(); const list = top(); if (!Array.isArray(list)) throw bad('APPENDS to a non-list'); list.push(...items); break; }
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw bad('STACK_GLOBAL without two names');
        stack.push(global(module, name));
        break;
      }
      case 0x51: stack.push(persistent(value(pop()))); break; // BINPERSID
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x62: { // BUILD: only the attributes torch sets on a state dict (`_metadata`), which are not needed
        const state = pop();
        if (!isDict(top()) || !isDict(state)) throw bad('BUILD of an object that is not a dict');
        break;
      }
      default:
        throw bad(`opcode 0x${op.toString(16).padStart(2, '0')}, which a state dict does not use`);
    }
  }
}
