import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  appendJsonLine,
  appendLine,
  fsyncDir,
  sha256File,
  writeFileAtomic,
  writeJsonAtomic,
} from '../../../src/engine/fsutil/atomic.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atomic-test-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes a new file and replaces an existing one, leaving no temp file', async () => {
    const p = join(dir, 'settings.json');
    await writeFileAtomic(p, 'first');
    expect(readFileSync(p, 'utf8')).toBe('first');
    await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(p)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['settings.json']);
  });

  it('accepts a stream of chunks', async () => {
    const p = join(dir, 'big.bin');
    async function* chunks() {
      yield 'head:';
      yield Buffer.alloc(100_000, 7);
      yield new Uint8Array([9]);
    }
    await writeFileAtomic(p, chunks());
    const b = readFileSync(p);
    expect(b.length).toBe(5 + 100_000 + 1);
    expect(b.subarray(0, 5).toString()).toBe('head:');
    expect(b[b.length - 1]).toBe(9);
  });

  it('a failed write leaves no file and no temp', async () => {
    const p = join(dir, 'out.bin');
    async function* failing() {
      yield Buffer.alloc(10_000, 1);
      throw new Error('disk on fire');
    }
    await expect(writeFileAtomic(p, failing())).rejects.toThrow('disk on fire');
    expect(existsSync(p)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a failed write keeps the old content intact', async () => {
    const p = join(dir, 'state.json');
    writeFileSync(p, 'old');
    async function* failing() {
      yield 'new, half';
      throw new Error('interrupted');
    }
    await expect(writeFileAtomic(p, failing())).rejects.toThrow('interrupted');
    expect(readFileSync(p, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('a failed rename (target is a non-empty folder) removes the temp file', async () => {
    const target = join(dir, 'taken');
    await import('node:fs/promises').then((fs) => fs.mkdir(target));
    writeFileSync(join(target, 'x'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['x']);
  });

  it('fails when the folder does not exist, creating nothing', async () => {
    await expect(writeFileAtomic(join(dir, 'missing', 'f.txt'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('writeJsonAtomic', () => {
  it('writes pretty JSON with a trailing newline', async () => {
    const p = join(dir, 'run.json');
    await writeJsonAtomic(p, { a: 1, b: [true, null] });
    expect(readFileSync(p, 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}\n');
    await writeJsonAtomic(p, { a: 2 }, { indent: 0 });
    expect(readFileSync(p, 'utf8')).toBe('{"a":2}\n');
  });

  it('refuses a value that is not JSON', async () => {
    await expect(writeJsonAtomic(join(dir, 'x.json'), undefined)).rejects.toThrow(TypeError);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('appendLine', () => {
  it('creates the file and appends one line per call', async () => {
    const p = join(dir, 'metrics.jsonl');
    await appendLine(p, '{"step":1}');
    await appendLine(p, '{"step":2}\n'); // a trailing newline is not doubled
    await appendJsonLine(p, { step: 3, loss: 0.5 });
    expect(readFileSync(p, 'utf8')).toBe('{"step":1}\n{"step":2}\n{"step":3,"loss":0.5}\n');
  });

  it('starts a fresh line after a torn last line', async () => {
    const p = join(dir, 'metrics.jsonl');
    writeFileSync(p, '{"step":1}\n{"step":2,"lo');
    await appendLine(p, '{"step":3}');
    expect(readFileSync(p, 'utf8').split('\n')).toEqual(['{"step":1}', '{"step":2,"lo', '{"step":3}', '']);
  });

  it('rejects a line with an embedded newline', async () => {
    await expect(appendLine(join(dir, 'log'), 'a\nb')).rejects.toThrow(RangeError);
  });

  it('keeps every line under concurrent appends', async () => {
    const p = join(dir, 'metrics.jsonl');
    await Promise.all(Array.from({ length: 50 }, (_, i) => appendJsonLine(p, { i })));
    const lines = readFileSync(p, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).i).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('sha256File', () => {
  it('hashes files of any size', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const p = join(dir, 'big.bin');
    writeFileSync(p, big);
    expect(await sha256File(p)).toBe(createHash('sha256').update(big).digest('hex'));
    const e = join(dir, 'empty');
    writeFileSync(e, '');
    expect(await sha256File(e)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('fsyncDir', () => {
  it('never throws', async () => {
    await fsyncDir(dir);
    await fsyncDir(join(dir, 'does-not-exist'));
  });
});
