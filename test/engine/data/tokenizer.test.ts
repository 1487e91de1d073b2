// Tokenizer: ids equal the independent reference (shared/tools/oracle/wordpiece.py, HF
// BertTokenizer semantics) on the whole SST-2 train split, for both ways of loading (a
// tokenizer.json and a bare vocab.txt); plus the vocab.txt-only path against tokenizer.json on
// the bert-tiny-random fixture, truncation, padding and the error cases.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isTokenizerError, loadTokenizer, pad, parseVocab, TokenizerError, type TextTokenizer } from '../../../src/engine/data/tokenizer';

const HERE = dirname(fileURLToPath(import.meta.url));
const SHARED = resolve(HERE, '../../../../shared');
const PY = '/usr/bin/python3';
const ORACLE_DIR = join(SHARED, 'tools/oracle');
const ORACLE_SCRIPT = join(HERE, 'oracle_tokenize.py');
const SST2_TRAIN = join(SHARED, 'data/sst2/train.tsv');
const VOCAB_DIR = join(SHARED, 'data/bert-base-uncased'); // vocab.txt only
const TINY_RANDOM = join(SHARED, 'fixtures/bert-tiny-random'); // tokenizer.json + vocab.txt + configs
const TINY_TEACHER = join(SHARED, 'fixtures/tiny-teacher-sst2'); // tokenizer.json

const haveShared = existsSync(SST2_TRAIN) && existsSync(join(VOCAB_DIR, 'vocab.txt')) && existsSync(join(TINY_RANDOM, 'tokenizer.json'));
const havePython = existsSync(PY) && existsSync(join(ORACLE_DIR, 'wordpiece.py'));
const sharedReason = haveShared ? '' : ` (skipped: ${SHARED} with data/sst2 and fixtures/bert-tiny-random is absent)`;
const oracleReason = !haveShared ? sharedReason : havePython ? '' : ` (skipped: ${PY} or ${ORACLE_DIR}/wordpiece.py is absent)`;
if (sharedReason) console.warn(`tokenizer.test: shared-data tests${sharedReason}`);
else if (oracleReason) console.warn(`tokenizer.test: oracle tests${oracleReason}`);

// Hard cases for normalisation and WordPiece, checked against the oracle too.
const EDGE_CASES = [
  "Hello, World! The café's naïve un-affable résumé: 東京 ...",
  'ÀÉÎÕÜ Ångström façade Straße İstanbul',
  'nbsp\u00a0here zero\u200bwidth soft\u00adhyphen tab\tnew\nline\r\nend',
  'emoji 😀👍🏽 and flags 🇫🇷 ok',
  'a'.repeat(101) + ' ' + 'b'.repeat(100) + ' supercalifragilisticexpialidocious',
  'literal [CLS] and [SEP] and [MASK] and [PAD] and [UNK] tokens [cls]',
  'control\u0001chars\u0007 and \ufffd replacement and nul\u0000x',
  "don't won't it's o'clock 3.14 $100 #hashtag @user e-mail@example.com",
  '',
  '   ',
  '中文字符和日本語のテキスト 한국어',
  'ﬁ ligature ＦＵＬＬＷＩＤＴＨ ¼ ² ℃',
];

function readSst2Sentences(): string[] {
  const lines = readFileSync(SST2_TRAIN, 'utf8').split('\n');
  const out: string[] = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    out.push(line.slice(0, line.lastIndexOf('\t'))); // GLUE layout: split on the last tab
  }
  return out;
}

function runOracle(vocab: string, texts: string[], tmp: string, cased = false): number[][] {
  const input = join(tmp, 'oracle-in.jsonl');
  const output = join(tmp, 'oracle-out.txt');
  writeFileSync(input, texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
  const r = spawnSync(PY, [ORACLE_SCRIPT, ORACLE_DIR, vocab, input, output, ...(cased ? ['--cased'] : [])], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`oracle failed (status ${r.status}): ${r.stderr || r.error?.message}`);
  const lines = readFileSync(output, 'utf8').split('\n');
  lines.pop();
  return lines.map((l) => l.split(' ').map(Number));
}

/** Index of the first row where the tokenizer differs from the expected ids, or -1. */
function firstMismatch(rows: Int32Array[], expected: number[][]): number {
  if (rows.length !== expected.length) return Math.min(rows.length, expected.length);
  for (let i = 0; i < rows.length; i++) {
    const a = rows[i]!;
    const b = expected[i]!;
    if (a.length !== b.length) return i;
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return i;
  }
  return -1;
}

function describeMismatch(i: number, texts: string[], rows: Int32Array[], expected: number[][]): string {
  if (i < 0) return 'none';
  return `row ${i} ${JSON.stringify(texts[i])}: got [${Array.from(rows[i] ?? [])}] expected [${expected[i]}]`;
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'distill-tok-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!haveShared || !havePython)(`tokenizer vs the oracle on all of SST-2 train${oracleReason}`, () => {
  let texts: string[];
  let expected: number[][];

  beforeAll(() => {
    texts = [...readSst2Sentences(), ...EDGE_CASES];
    const t0 = performance.now();
    expected = runOracle(join(VOCAB_DIR, 'vocab.txt'), texts, tmp);
    console.log(`oracle (python wordpiece.py): ${texts.length} texts in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('reads the 67,349 sentences', () => {
    expect(texts.length).toBe(67_349 + EDGE_CASES.length);
    expect(expected.length).toBe(texts.length);
  });

  it.each([
    ['vocab.txt only (data/bert-base-uncased)', VOCAB_DIR, true],
    ['tokenizer.json (fixtures/tiny-teacher-sst2)', TINY_TEACHER, false],
    ['tokenizer.json (fixtures/bert-tiny-random)', TINY_RANDOM, true],
  ] as const)('%s gives the oracle ids for every sentence', async (_name, dir, checkTruncation) => {
    if (!existsSync(dir)) return;
    const tok = await loadTokenizer(dir);
    const t0 = performance.now();
    const rows = tok.encodeBatch(texts, { maxLength: 512 });
    const secs = (performance.now() - t0) / 1000;
    console.log(`${_name}: tokenized ${texts.length} texts in ${secs.toFixed(2)} s (${Math.round(texts.length / secs)} texts/s)`);
    const bad = firstMismatch(rows, expected);
    expect(bad, describeMismatch(bad, texts, rows, expected)).toBe(-1);
    expect(secs).toBeLessThan(30);

    // truncation=True, max_length=L: [CLS] + first L-2 tokens + [SEP]
    for (const maxLength of checkTruncation ? [16, 2] : []) {
      const cut = tok.encodeBatch(texts, { maxLength });
      const want = expected.map((e) => (e.length <= maxLength ? e : [e[0]!, ...e.slice(1, maxLength - 1), e[e.length - 1]!]));
      const badCut = firstMismatch(cut, want);
      expect(badCut, `maxLength ${maxLength}: ${describeMismatch(badCut, texts, cut, want)}`).toBe(-1);
    }
  });
});

describe.skipIf(!haveShared)(`vocab.txt path vs tokenizer.json path on fixtures/bert-tiny-random${sharedReason}`, () => {
  let fromJson: TextTokenizer;
  let fromVocab: TextTokenizer;

  beforeAll(async () => {
    fromJson = await loadTokenizer(TINY_RANDOM);
    fromVocab = await loadTokenizer(TINY_RANDOM, { preferVocab: true });
  });

  it('loads each from the file it says', () => {
    expect(fromJson.source).toBe('tokenizer.json');
    expect(fromVocab.source).toBe('vocab.txt');
  });

  it('has the same special ids, vocab size and fingerprint', () => {
    for (const t of [fromJson, fromVocab]) {
      expect([t.padId, t.unkId, t.clsId, t.sepId, t.vocabSize]).toEqual([0, 100, 101, 102, 30522]);
      expect(t.modelMaxLength).toBe(512);
      expect(t.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(fromVocab.fingerprint).toBe(fromJson.fingerprint);
  });

  it('gives identical ids on SST-2 train and the edge cases', () => {
    const texts = [...readSst2Sentences(), ...EDGE_CASES];
    const a = fromJson.encodeBatch(texts, { maxLength: 128 });
    const b = fromVocab.encodeBatch(texts, { maxLength: 128 });
    const bad = firstMismatch(b, a.map((r) => Array.from(r)));
    expect(bad, describeMismatch(bad, texts, b, a.map((r) => Array.from(r)))).toBe(-1);
  });

  it('bare vocab.txt folder (no config) assumes uncased and says so', async () => {
    const t = await loadTokenizer(VOCAB_DIR);
    expect(t.source).toBe('vocab.txt');
    expect(t.warnings.join(' ')).toMatch(/no tokenizer_config\.json.*do_lower_case=true/);
    expect(t.fingerprint).toBe(fromJson.fingerprint);
    expect(t.defaultMaxLength).toBe(512);
  });
});

// ---------------------------------------------------------------------------------------------
// Self-contained tests (no ../shared needed)

const SMALL_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'Hello', 'world', 'World', '##s', ',', '!', 'cafe', 'café', 'un', '##believ', '##able'];

function writeModelDir(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  for (const [f, content] of Object.entries(files)) {
    const p = join(dir, f);
    mkdirp(dirname(p));
    writeFileSync(p, content);
  }
  mkdirp(dir);
  return dir;
}

function mkdirp(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

describe('vocab.txt + tokenizer_config.json', () => {
  it('honours do_lower_case (uncased lowercases and strips accents; cased keeps both)', async () => {
    const vocab = SMALL_VOCAB.join('\n') + '\n';
    const uncased = await loadTokenizer(writeModelDir('uncased', { 'vocab.txt': vocab, 'tokenizer_config.json': '{"do_lower_case": true}' }));
    const cased = await loadTokenizer(writeModelDir('cased', { 'vocab.txt': vocab, 'tokenizer_config.json': '{"do_lower_case": false}' }));
    const id = (t: string) => SMALL_VOCAB.indexOf(t);
    expect(Array.from(uncased.encode('Hello, Worlds! Café café unbelievable'))).toEqual(
      ['[CLS]', 'hello', ',', 'world', '##s', '!', 'cafe', 'cafe', 'un', '##believ', '##able', '[SEP]'].map(id),
    );
    expect(Array.from(cased.encode('Hello, Worlds! Café café unbelievable'))).toEqual(
      ['[CLS]', 'Hello', ',', 'World', '##s', '!', '[UNK]', 'café', 'un', '##believ', '##able', '[SEP]'].map(id),
    );
    expect(uncased.fingerprint).not.toBe(cased.fingerprint);
    expect([cased.padId, cased.unkId, cased.clsId, cased.sepId, cased.vocabSize]).toEqual([0, 1, 2, 3, SMALL_VOCAB.length]);
  });

  it.skipIf(!havePython)(`matches the oracle cased and uncased on the small vocab${havePython ? '' : ' (skipped: no python oracle)'}`, async () => {
    const vocabText = SMALL_VOCAB.join('\n') + '\n';
    const texts = ['Hello, Worlds! Café unbelievable', 'HELLO hello Hello xyz', 'Café café CAFÉ cafe', 'unbelievables!!'];
    for (const cased of [false, true]) {
      const dir = writeModelDir(cased ? 'cased2' : 'uncased2', {
        'vocab.txt': vocabText,
        'tokenizer_config.json': JSON.stringify({ do_lower_case: !cased }),
      });
      const tok = await loadTokenizer(dir);
      const want = runOracle(join(dir, 'vocab.txt'), texts, tmp, cased);
      const got = tok.encodeBatch(texts);
      expect(firstMismatch(got, want), describeMismatch(firstMismatch(got, want), texts, got, want)).toBe(-1);
    }
  });

  it('cased + decomposed accents follows HF fast (no NFC), where the slow oracle composes first', async () => {
    // Known, deliberate difference: transformers' slow BertTokenizer (the oracle) NFC-normalises
    // before anything else; the Rust/JS BertNormalizer (tokenizer.json, what AutoTokenizer uses)
    // does not. Uncased vocabularies are unaffected (accents are stripped after NFD either way).
    const vocab = SMALL_VOCAB.join('\n') + '\n';
    const cased = await loadTokenizer(writeModelDir('cased3', { 'vocab.txt': vocab, 'tokenizer_config.json': '{"do_lower_case": false}' }));
    const uncased = await loadTokenizer(writeModelDir('uncased3', { 'vocab.txt': vocab }));
    expect(Array.from(cased.encode('cafe\u0301'))).toEqual([2, 1, 3]); // oracle: [2, 13, 3] ('café')
    expect(Array.from(uncased.encode('cafe\u0301'))).toEqual([2, 12, 3]); // 'cafe', as the oracle
  });

  it('reads CRLF vocab files like Python text mode and takes special token names from the config', async () => {
    const toks = ['<pad>', '<unk>', '<cls>', '<sep>', 'hi'];
    const t = await loadTokenizer(
      writeModelDir('custom-specials', {
        'vocab.txt': toks.join('\r\n') + '\r\n',
        'tokenizer_config.json': JSON.stringify({ unk_token: '<unk>', cls_token: '<cls>', sep_token: '<sep>' }),
        'special_tokens_map.json': JSON.stringify({ pad_token: { content: '<pad>', lstrip: false } }),
      }),
    );
    expect(Array.from(t.encode('hi there'))).toEqual([2, 4, 1, 3]);
    expect([t.padId, t.unkId, t.clsId, t.sepId, t.vocabSize]).toEqual([0, 1, 2, 3, 5]);
    expect(parseVocab('a\r\nb\rc\n\nd')).toEqual(Object.assign(Object.create(null), { a: 0, b: 1, c: 2, '': 3, d: 4 }));
  });
});

describe('errors', () => {
  it('a folder with neither tokenizer.json nor vocab.txt names the folder and its files', async () => {
    const dir = writeModelDir('no-tokenizer', { 'config.json': '{}', 'model.onnx': 'x' });
    const err = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerError);
    expect(isTokenizerError(err, 'missing-files')).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain(dir);
    expect(msg).toContain('tokenizer.json');
    expect(msg).toContain('vocab.txt');
    expect(msg).toContain('it holds config.json, model.onnx');
    expect(msg).not.toContain('\n');
    expect((err as TokenizerError).file).toBe(dir);
  });

  it('an empty folder says it is empty; a missing folder is not-found', async () => {
    const empty = writeModelDir('empty', {});
    await expect(loadTokenizer(empty)).rejects.toThrow(/neither tokenizer\.json nor vocab\.txt \(it is empty\)/);
    const missing = join(tmp, 'does-not-exist');
    const err = await loadTokenizer(missing).catch((e: unknown) => e);
    expect(isTokenizerError(err, 'not-found')).toBe(true);
    expect((err as Error).message).toContain(missing);
  });

  it('broken tokenizer.json and a vocab without [CLS] are clear errors', async () => {
    const bad = writeModelDir('bad-json', { 'tokenizer.json': '{"model": ' });
    const e1 = await loadTokenizer(bad).catch((e: unknown) => e);
    expect(isTokenizerError(e1, 'malformed')).toBe(true);
    expect((e1 as Error).message).toContain(join(bad, 'tokenizer.json'));
    const noCls = writeModelDir('no-cls', { 'vocab.txt': '[PAD]\n[UNK]\n[SEP]\nhi\n' });
    const e2 = await loadTokenizer(noCls).catch((e: unknown) => e);
    expect(isTokenizerError(e2, 'unsupported')).toBe(true);
    expect((e2 as Error).message).toMatch(/no cls_token '\[CLS\]'/);
  });

  it('rejects a maxLength that cannot hold the special tokens', async () => {
    const t = await loadTokenizer(writeModelDir('small', { 'vocab.txt': SMALL_VOCAB.join('\n') }));
    expect(() => t.encode('hello', { maxLength: 1 })).toThrow(/maxLength 1 .* >= 2/);
    expect(() => t.encodeBatch(['hello'], { maxLength: 3.5 })).toThrow(TokenizerError);
    expect(Array.from(t.encode('hello world hello', { maxLength: 3 }))).toEqual([2, 5, 3]);
  });
});

describe('pad', () => {
  it('pads to the longest row with the pad id and builds the mask and zero token types', () => {
    const rows = [Int32Array.from([2, 5, 6, 3]), Int32Array.from([2, 3]), Int32Array.from([2, 7, 3])];
    const b = pad(rows, 0);
    expect(b.dims).toEqual([3, 4]);
    expect(Array.from(b.inputIds, Number)).toEqual([2, 5, 6, 3, 2, 3, 0, 0, 2, 7, 3, 0]);
    expect(Array.from(b.attentionMask, Number)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0]);
    expect(Array.from(b.tokenTypeIds, Number)).toEqual(new Array(12).fill(0));
  });

  it('uses a non-zero pad id and a fixed length, and refuses one too short', () => {
    const rows = [Int32Array.from([2, 3])];
    const b = pad(rows, 9, { padTo: 4 });
    expect(Array.from(b.inputIds, Number)).toEqual([2, 3, 9, 9]);
    expect(Array.from(b.attentionMask, Number)).toEqual([1, 1, 0, 0]);
    expect(() => pad([Int32Array.from([1, 2, 3])], 0, { padTo: 2 })).toThrow(/shorter than the longest row \(3 tokens\)/);
    expect(pad([], 0).dims).toEqual([0, 0]);
  });
});
