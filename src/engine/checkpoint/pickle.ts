// A restricted pickle reader. It understands the opcodes that torch.save writes (protocol 2,
// plus the data-only opcodes of later protocols) and builds plain JS values from them. It
// never runs anything: a global (GLOBAL, STACK_GLOBAL, INST) is looked up through
// `findGlobal`, and anything that hook does not know stops the read with a CheckpointError
// 'unsafe-pickle' naming it, at the opcode that asks for it. What a known global does when
// called (REDUCE, NEWOBJ, OBJ) is the hook's own JS code, never Python's.
//
// Values: str -> string; int -> number (bigint beyond 2^53); float -> number; bool; None ->
// null; bytes -> Uint8Array; list and tuple -> array (tuples frozen); dict -> Map.
import { CheckpointError } from './errors';

/** A global the reader was allowed to name. `call` makes it callable by REDUCE / NEWOBJ / OBJ. */
export interface PickleGlobal {
  readonly module: string;
  readonly name: string;
  readonly call?: (args: unknown[]) => unknown;
}

export interface UnpickleOptions {
  /** Names the pickle in error messages (e.g. "pytorch_model.bin"). */
  sourceName: string;
  /** The allowlist: return the global, or undefined to refuse it (the read then fails 'unsafe-pickle'). */
  findGlobal(module: string, name: string): PickleGlobal | undefined;
  /** Resolves a persistent id (BINPERSID); torch uses it for tensor storages. */
  persistentLoad?(pid: unknown): unknown;
}

export function isPickleGlobal(v: unknown): v is PickleGlobal {
  return v instanceof GlobalRef;
}

class GlobalRef implements PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: unknown[]) => unknown,
  ) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const { sourceName } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const fail = (problem: string): never => {
    throw new CheckpointError(
      'malformed',
      `${sourceName} holds a damaged or unsupported pickle: ${problem} (at byte ${pos}). Download or save it again, or use model.safetensors.`,
      { file: sourceName },
    );
  };
  const need = (n: number): void => {
    if (pos + n > bytes.byteLength) fail('it ends in the middle of an instruction');
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++];
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
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('a length field is impossibly large');
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a text argument has no end of line');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('an instruction needs a value the stack does not hold');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('an instruction needs a value the stack does not hold');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('an instruction needs a MARK that is not there');
    return stack.splice(m!);
  };
  /** Little-endian two's complement integer of any length (LONG1, LONG4). */
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const parseIntText = (s: string): number | bigint | boolean => {
    const t = s.trim().replace(/L$/, '');
    if (t === '00') return false; // protocol 0 spells False and True as I00 / I01
    if (t === '01') return true;
    if (!/^[-+]?\d+$/.test(t)) fail(`"${s}" is not an integer`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const resolve = (module: string, name: string): PickleGlobal => {
    const found = options.findGlobal(module, name);
    if (found === undefined) {
      throw new CheckpointError(
        'unsafe-pickle',
        `${sourceName} was refused: its pickle asks for ${module}.${name}, which is not part of a tensor checkpoint ` +
          '(a pickle that names it could run code on this computer). Distill Studio reads only tensors and never runs code ' +
          'from a checkpoint. Use a model.safetensors version of this model, or re-save the weights from a trusted source.',
        { file: sourceName },
      );
    }
    return new GlobalRef(module, name, found.call);
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (!isPickleGlobal(callable) || callable.call === undefined) {
      const what = isPickleGlobal(callable) ? `${callable.module}.${callable.name}` : 'a value that is not a function';
      return fail(`it calls ${what}, which a tensor checkpoint does not call`);
    }
    if (!Array.isArray(args)) return fail('a call has arguments that are not a tuple');
    return callable.call(args);
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`it refers to memo slot ${i}, which was never filled`);
    return memo.get(i);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail('it adds key/value pairs to something that is not a dict');
    if (items.length % 2 !== 0) fail('it adds a key without a value to a dict');
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target) || Object.isFrozen(target)) fail('it appends to something that is not a list');
    (target as unknown[]).push(...items);
  };

  while (true) {
    if (pos >= bytes.byteLength) fail('it ends without a STOP instruction');
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('it uses a pickle protocol newer than 5');
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP '.'
        return pop();

      // --- structure
      case 0x28: // MARK '('
        marks.push(stack.length);
        break;
      case 0x30: // POP '0'
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK '1'
        popMark();
        break;
      case 0x32: // DUP '2'
        stack.push(top());
        break;

      // --- containers
      case 0x7d: // EMPTY_DICT '}'
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT 'd'
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x5d: // EMPTY_LIST ']'
        stack.push([]);
        break;
      case 0x6c: // LIST 'l'
        stack.push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE ')'
        stack.push(Object.freeze([]));
        break;
      case 0x74: // TUPLE 't'
        stack.push(Object.freeze(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(Object.freeze([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(Object.freeze([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(Object.freeze([a, b, c]));
        break;
      }
      case 0x73: {
        // SETITEM 's'
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND 'a'
        const value = pop();
        append(top(), [value]);
        break;
      }
      case 0x65: {
        // APPENDS 'e'
        const items = popMark();
        append(top(), items);
        break;
      }

      // --- scalars
      case 0x4e: // NONE 'N'
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1 'K'
        stack.push(u8());
        break;
      case 0x4d: // BININT2 'M'
        stack.push(u16());
        break;
      case 0x4a: // BININT 'J'
        stack.push(i32());
        break;
      case 0x8a: // LONG1
        stack.push(long(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('a LONG4 has a negative length');
        stack.push(long(take(n)));
        break;
      }
      case 0x49: // INT 'I' (protocol 0)
        stack.push(parseIntText(line()));
        break;
      case 0x4c: // LONG 'L' (protocol 0)
        stack.push(parseIntText(line()));
        break;
      case 0x47: {
        // BINFLOAT 'G': big-endian double
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x46: {
        // FLOAT 'F' (protocol 0)
        const s = line().trim();
        const v = Number(s);
        if (s === '' || (Number.isNaN(v) && s.toLowerCase() !== 'nan')) fail(`"${s}" is not a number`);
        stack.push(v);
        break;
      }
      case 0x58: // BINUNICODE 'X'
        stack.push(text(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING 'U' (Python 2 str)
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x54: {
        // BINSTRING 'T'
        const n = i32();
        if (n < 0) fail('a BINSTRING has a negative length');
        stack.push(latin1.decode(take(n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES 'C'
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES 'B'
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;

      // --- memo
      case 0x71: // BINPUT 'q'
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT 'r'
        memo.set(u32(), top());
        break;
      case 0x70: {
        // PUT 'p' (protocol 0)
        const i = parseIntText(line());
        if (typeof i !== 'number' || i < 0) fail('a PUT has a bad index');
        memo.set(i as number, top());
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET 'h'
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET 'j'
        stack.push(memoGet(u32()));
        break;
      case 0x67: {
        // GET 'g' (protocol 0)
        const i = parseIntText(line());
        if (typeof i !== 'number') fail('a GET has a bad index');
        stack.push(memoGet(i as number));
        break;
      }

      // --- globals and calls: the allowlist decides, nothing runs
      case 0x63: {
        // GLOBAL 'c': "module\nname\n"
        const module = line();
        const name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL names a global with values that are not strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x69: {
        // INST 'i': "module\nname\n", then calls it with the values since MARK
        const module = line();
        const name = line();
        const cls = resolve(module, name);
        stack.push(call(cls, popMark()));
        break;
      }
      case 0x6f: {
        // OBJ 'o': MARK cls args... -> cls(*args)
        const items = popMark();
        if (items.length === 0) fail('OBJ has no class');
        stack.push(call(items[0], items.slice(1)));
        break;
      }
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        const callable = pop();
        stack.push(call(callable, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD 'b': sets an object's state. State is ignored (state_dict metadata, tensor
        // flags), never applied as attributes or calls.
        pop();
        top();
        break;
      }
      case 0x51: {
        // BINPERSID 'Q'
        const pid = pop();
        if (options.persistentLoad === undefined) fail('it refers to external data (a persistent id) where none is expected');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new CheckpointError(
          'unsafe-pickle',
          `${sourceName} was refused: its pickle names a global through the copyreg extension registry, which a tensor checkpoint never does. ` +
            'Use a model.safetensors version of this model.',
          { file: sourceName },
        );
      default:
        fail(`it uses pickle opcode 0x${op.toString(16).padStart(2, '0')}, which a torch.save checkpoint does not contain`);
    }
  }
}
