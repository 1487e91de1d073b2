import { describe, expect, it, vi } from 'vitest';
import { CheckpointError } from '../../../src/engine/checkpoint/errors';
import { unpickle, type PickleGlobal, type UnpickleOptions } from '../../../src/engine/checkpoint/pickle';
import { PickleWriter } from './helpers';

const refuseAll: UnpickleOptions = { sourceName: 'test.pkl', findGlobal: () => undefined };

function load(w: PickleWriter, options: UnpickleOptions = refuseAll): unknown {
  return unpickle(w.stop().toBytes(), options);
}

function errorOf(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('restricted unpickler: values', () => {
  it('reads ints of every encoding, floats, strings, bytes, None and booleans', () => {
    const w = new PickleWriter().proto(2).mark();
    w.int(7).int(300).int(-5).int(2 ** 31 - 1).int(2 ** 40).int(-(2 ** 40)).int(2n ** 70n).int(-1);
    w.float(0.1).str('héllo ✓').shortStr('short').bytes(new Uint8Array([1, 2, 255])).none().bool(true).bool(false);
    w.tuple();
    expect(load(w)).toEqual([7, 300, -5, 2 ** 31 - 1, 2 ** 40, -(2 ** 40), 2n ** 70n, -1, 0.1, 'héllo ✓', 'short', new Uint8Array([1, 2, 255]), null, true, false]);
  });

  it('builds lists, tuples and dicts, and resolves memo references to the same object', () => {
    const w = new PickleWriter().proto(2).emptyDict().binput(0);
    w.str('list').emptyList().binput(1).mark().int(1).int(2).appends().int(3).append().setitem();
    w.str('same').binget(1).setitem();
    w.str('tuples').mark().emptyTuple().int(1).tupleN(1).int(1).int(2).tupleN(2).int(1).int(2).int(3).tupleN(3).tuple().setitem();
    w.str('memoize').str('x').memoize().setitem();
    w.str('again').binget(2).setitem();
    const value = load(w) as Map<string, unknown>;
    expect(value).toBeInstanceOf(Map);
    expect(value.get('list')).toEqual([1, 2, 3]);
    expect(value.get('same')).toBe(value.get('list'));
    expect(value.get('tuples')).toEqual([[], [1], [1, 2], [1, 2, 3]]);
    expect(Object.isFrozen(value.get('tuples'))).toBe(true);
    expect(value.get('again')).toBe('x');
  });

  it('calls only what findGlobal returns, with the arguments as JS values', () => {
    const pair = vi.fn((args: unknown[]) => ({ pair: args }));
    const findGlobal = vi.fn((module: string, name: string): PickleGlobal | undefined => (module === 'my' && name === 'pair' ? { module, name, call: pair } : undefined));
    const w = new PickleWriter().proto(2).global('my', 'pair').int(1).str('b').tupleN(2).reduce();
    expect(load(w, { sourceName: 'x', findGlobal })).toEqual({ pair: [1, 'b'] });
    expect(findGlobal).toHaveBeenCalledWith('my', 'pair');
    expect(pair).toHaveBeenCalledTimes(1);
  });

  it('hands persistent ids to persistentLoad', () => {
    const persistentLoad = vi.fn((pid: unknown) => ({ loaded: pid }));
    const w = new PickleWriter().proto(2).mark().str('storage').str('k').tuple().binpersid();
    expect(load(w, { ...refuseAll, persistentLoad })).toEqual({ loaded: ['storage', 'k'] });
  });
});

describe('restricted unpickler: refusals', () => {
  it.each([
    ['posix', 'system'],
    ['os', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
  ])('refuses GLOBAL %s.%s as unsafe-pickle, naming it', (module, name) => {
    const w = new PickleWriter().proto(2).globalRaw(module, name).str('echo hi').tupleN(1).reduce();
    const e = errorOf(() => load(w));
    expect(e.code).toBe('unsafe-pickle');
    expect(e.message).toContain(`${module}.${name}`);
    expect(e.message).toMatch(/^test\.pkl was refused/);
    expect(e.message).toMatch(/never runs code/);
  });

  it('refuses STACK_GLOBAL and INST the same way', () => {
    const viaStack = new PickleWriter().proto(4).stackGlobal('os', 'system').str('id').tupleN(1).reduce();
    expect(errorOf(() => load(viaStack)).message).toContain('os.system');
    const viaInst = new PickleWriter().proto(0).mark().str('id').inst('subprocess', 'check_output');
    expect(errorOf(() => load(viaInst)).code).toBe('unsafe-pickle');
  });

  it('stops at the refused global: nothing after it is looked at', () => {
    const persistentLoad = vi.fn(() => null);
    const w = new PickleWriter().proto(2).globalRaw('posix', 'system').mark().str('storage').tuple().binpersid().reduce();
    expect(errorOf(() => load(w, { ...refuseAll, persistentLoad })).code).toBe('unsafe-pickle');
    expect(persistentLoad).not.toHaveBeenCalled();
  });

  it('refuses the copyreg extension registry', () => {
    const w = new PickleWriter().proto(2).raw([0x82, 1]).emptyTuple().reduce();
    expect(errorOf(() => load(w)).code).toBe('unsafe-pickle');
  });

  it('never calls a value that findGlobal allowed only as a name', () => {
    const w = new PickleWriter().proto(2).global('torch', 'FloatStorage').emptyTuple().reduce();
    const e = errorOf(() => load(w, { sourceName: 'x', findGlobal: (module, name) => ({ module, name }) }));
    expect(e.code).toBe('malformed');
    expect(e.message).toContain('torch.FloatStorage');
  });

  it('reports damage as malformed', () => {
    const cases: [string, Uint8Array][] = [
      ['no STOP', new PickleWriter().proto(2).emptyDict().toBytes()],
      ['cut in a string', new PickleWriter().proto(2).str('abcdef').toBytes().subarray(0, 8)],
      ['unknown opcode', Uint8Array.from([0x80, 2, 0xff, 0x2e])],
      ['memo slot never filled', new PickleWriter().proto(2).binget(9).stop().toBytes()],
      ['pop from empty stack', new PickleWriter().proto(2).tupleN(2).stop().toBytes()],
      ['SETITEMS without MARK', new PickleWriter().proto(2).emptyDict().setitems().stop().toBytes()],
      ['SETITEM on a list', new PickleWriter().proto(2).emptyList().int(1).int(2).setitem().stop().toBytes()],
      ['protocol 9', Uint8Array.from([0x80, 9, 0x4e, 0x2e])],
    ];
    for (const [what, bytes] of cases) {
      const e = errorOf(() => unpickle(bytes, refuseAll));
      expect(e.code, what).toBe('malformed');
      expect(e.message, what).toMatch(/^test\.pkl holds a damaged or unsupported pickle/);
    }
  });
});
