// The teacher pass: logits equal a plain batch-of-1 run; the cache is content-addressed and
// reused without running the teacher; an aborted, crashed or killed pass resumes with only the
// missing chunks; progress and stage events; validation; the real tiny SST-2 teacher.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadTokenizer, type TextTokenizer } from '../../../src/engine/data/tokenizer';
import { sha256File } from '../../../src/engine/fsutil/atomic';
import type { ClassifierSession } from '../../../src/engine/infer/classify';
import { openTeacher, type TeacherModel } from '../../../src/engine/teacher/teacher-model';
import {
  teacherCacheKey,
  teacherFileSha256,
  teacherLogits,
  textsSha256,
  type TeacherCacheMeta,
  type TeacherLogitsOptions,
} from '../../../src/engine/teacher/teacher-pass';
import type { JobEvent } from '../../../src/shared/events';
import { REPO_ROOT, sharedPath } from '../../support/shared';
import { batchOfOneLogits, countingSession, maxAbsDiff, seededTexts, tinyTeacher, tinyTokenizer } from '../infer/helpers';

const root = mkdtempSync(path.join(tmpdir(), 'ds-teacher-pass-'));
let cacheCount = 0;
const freshCache = () => path.join(root, `cache-${cacheCount++}`);

// 300 sentences, chunks of 50, batches of 16: 6 chunks of 4 runs (16+16+16+2) = 24 runs.
const N = 300;
const CHUNK = 50;
const BATCH = 16;
const RUNS_PER_CHUNK = 4;
const MAXLEN = 32;
const texts = seededTexts(N, 5);

let tok: TextTokenizer;
let distil: TeacherModel;
let bert: TeacherModel;
let distilRef: Float32Array;

beforeAll(async () => {
  tok = await tinyTokenizer(root);
  distil = await tinyTeacher(root, 'distilbert', { name: 'distil-teacher' });
  bert = await tinyTeacher(root, 'bert', { name: 'bert-teacher' });
  distilRef = await batchOfOneLogits(distil.session, distil.inputs, tok.encodeBatch(texts, { maxLength: MAXLEN }));
});
afterAll(async () => {
  await distil?.session.release();
  await bert?.session.release();
  rmSync(root, { recursive: true, force: true });
});

function opts(teacher: TeacherModel, session: ClassifierSession, cacheDir: string, over: Partial<TeacherLogitsOptions> = {}): TeacherLogitsOptions {
  return { teacher: { ...teacher, session }, tokenizer: tok, texts, maxLength: MAXLEN, batchSize: BATCH, chunkSize: CHUNK, cacheDir, ...over };
}

const entryFiles = (dir: string) => readdirSync(dir).sort();

describe('teacherLogits: compute and cache', () => {
  it('DistilBERT-shaped: equals batch-of-1, feeds only the declared inputs, caches, and reuses without running', async () => {
    const cacheDir = freshCache();
    const session = countingSession(distil.session);
    const events: JobEvent[] = [];
    const r = await teacherLogits(opts(distil, session, cacheDir, { numLabels: 2, onEvent: (e) => events.push(e) }));
    expect(r.cached).toBe(false);
    expect(r.numLabels).toBe(2);
    expect(r.key).toMatch(/^[0-9a-f]{64}$/);
    expect(maxAbsDiff(r.logits, distilRef)).toBeLessThanOrEqual(1e-5);
    expect(session.calls).toHaveLength(6 * RUNS_PER_CHUNK);
    for (const names of session.calls) expect(names.sort()).toEqual(['attention_mask', 'input_ids']);
    expect(r.sentencesPerSecond).toBeGreaterThan(0);

    // On disk: meta.json + logits.f32 only; the bytes are the (N, C) float32 LE logits.
    expect(r.cachePath).toBe(path.join(cacheDir, 'teacher-logits', r.key));
    expect(entryFiles(r.cachePath)).toEqual(['logits.f32', 'meta.json']);
    const bytes = readFileSync(path.join(r.cachePath, 'logits.f32'));
    expect(bytes.length).toBe(N * 2 * 4);
    expect(bytes.readFloatLE(4 * 7)).toBe(r.logits[7]);
    const meta = JSON.parse(readFileSync(path.join(r.cachePath, 'meta.json'), 'utf8')) as TeacherCacheMeta;
    expect(meta).toMatchObject({ sentences: N, numLabels: 2, maxLength: MAXLEN, shape: [N, 2], key: r.key, resumedChunks: 0 });
    expect(meta.teacher.file).toBe(path.resolve(distil.file));
    expect(meta.teacher.sha256).toBe(await sha256File(distil.file));
    expect(meta.teacher.inputs).toEqual(['input_ids', 'attention_mask']);
    expect(Number.isNaN(Date.parse(meta.createdAt))).toBe(false);
    expect(meta.seconds).toBeGreaterThan(0);
    expect(meta.paddingOverhead).toBeLessThan(1.15);

    // Events: stage start, throttled progress ending at N, stage end.
    expect(events[0]).toMatchObject({ type: 'stage', stage: 'teacher', status: 'start' });
    expect(events.at(-1)).toMatchObject({ type: 'stage', stage: 'teacher', status: 'end' });
    const progress = events.filter((e): e is Extract<JobEvent, { type: 'progress' }> => e.type === 'progress');
    expect(progress.at(-1)).toMatchObject({ stage: 'teacher', done: N, total: N, unit: 'sentences', etaSeconds: 0 });
    expect(progress.at(-1)!.rate).toBeGreaterThan(0);
    expect(progress.length).toBeLessThanOrEqual(3 + Math.ceil(r.seconds * 4));
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);

    // Second call: cache hit, no session.run at all.
    const again = countingSession(distil.session);
    const ev2: JobEvent[] = [];
    const r2 = await teacherLogits(opts(distil, again, cacheDir, { onEvent: (e) => ev2.push(e) }));
    expect(r2.cached).toBe(true);
    expect(r2.key).toBe(r.key);
    expect(again.calls).toHaveLength(0);
    expect(Array.from(r2.logits)).toEqual(Array.from(r.logits));
    expect(r2.sentencesPerSecond).toBeCloseTo(meta.sentencesPerSecond);
    expect(ev2.at(-1)).toMatchObject({ type: 'stage', stage: 'teacher', status: 'end', detail: 'cached' });
  });

  it('BERT-shaped: feeds token_type_ids too and uses rows the caller already tokenized', async () => {
    const rows = tok.encodeBatch(texts, { maxLength: MAXLEN });
    const want = await batchOfOneLogits(bert.session, bert.inputs, rows);
    const session = countingSession(bert.session);
    const noTokenize = { ...tok, padId: tok.padId, fingerprint: tok.fingerprint, encodeBatch: (): Int32Array[] => { throw new Error('must not tokenize'); } };
    const r = await teacherLogits({ ...opts(bert, session, freshCache()), tokenizer: noTokenize, tokenized: rows });
    expect(maxAbsDiff(r.logits, want)).toBeLessThanOrEqual(1e-5);
    for (const names of session.calls) expect(names.sort()).toEqual(['attention_mask', 'input_ids', 'token_type_ids']);
  });

  it('keys on teacher, texts, tokenizer and maxLength', async () => {
    const cacheDir = freshCache();
    const small = texts.slice(0, 40);
    const base = await teacherLogits(opts(distil, distil.session, cacheDir, { texts: small }));
    const same = await teacherLogits(opts(distil, distil.session, cacheDir, { texts: [...small] }));
    expect(same.cached).toBe(true);
    expect(same.key).toBe(base.key);
    const otherLen = await teacherLogits(opts(distil, distil.session, cacheDir, { texts: small, maxLength: 16 }));
    const edited = [...small];
    edited[17] += ' aa';
    const otherText = await teacherLogits(opts(distil, distil.session, cacheDir, { texts: edited }));
    const otherTeacher = await teacherLogits(opts(bert, bert.session, cacheDir, { texts: small }));
    const otherTok = await teacherLogits(opts(distil, distil.session, cacheDir, { texts: small, tokenizer: { ...tok, encodeBatch: tok.encodeBatch.bind(tok), fingerprint: 'f'.repeat(64) } }));
    const keys = [base, otherLen, otherText, otherTeacher, otherTok].map((r) => r.key);
    expect(new Set(keys).size).toBe(5);
    for (const r of [otherLen, otherText, otherTeacher, otherTok]) expect(r.cached).toBe(false);
    expect(readdirSync(path.join(cacheDir, 'teacher-logits')).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(5);

    expect(textsSha256(['ab', 'c'])).not.toBe(textsSha256(['a', 'bc']));
    expect(textsSha256(['a', ''])).not.toBe(textsSha256(['a']));
    const k = { teacherSha256: 'a'.repeat(64), dataSha256: 'b'.repeat(64), tokenizerFingerprint: 'c', maxLength: 64 };
    expect(teacherCacheKey(k)).toBe(teacherCacheKey({ ...k }));
    expect(teacherCacheKey(k)).not.toBe(teacherCacheKey({ ...k, maxLength: 128 }));
  });

  it('hashes the teacher file once per path + size + mtime', async () => {
    const cacheDir = freshCache();
    const hashed: string[] = [];
    const file = path.join(root, 'model-copy.onnx');
    writeFileSync(file, readFileSync(distil.file));
    const a = await teacherFileSha256(file, cacheDir, (f) => hashed.push(f));
    const b = await teacherFileSha256(file, cacheDir, (f) => hashed.push(f));
    expect(a.sha256).toBe(await sha256File(file));
    expect(b).toEqual(a);
    expect(hashed).toHaveLength(1);
    expect(existsSync(path.join(cacheDir, 'teacher-logits', 'teacher-sha256.json'))).toBe(true);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await teacherFileSha256(file, cacheDir, (f) => hashed.push(f));
    expect(hashed).toHaveLength(2);
  });
});

describe('teacherLogits: resume', () => {
  it('after an abort mid-way, computes only the missing chunks', async () => {
    const cacheDir = freshCache();
    const ac = new AbortController();
    // Abort during the first batch of chunk 2 (run 9): chunks 0 and 1 are finished.
    const first = countingSession(distil.session, (call) => {
      if (call === 2 * RUNS_PER_CHUNK + 1) ac.abort();
    });
    const err = await teacherLogits(opts(distil, first, cacheDir, { signal: ac.signal })).catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(first.calls).toHaveLength(2 * RUNS_PER_CHUNK + 1);
    const dir = path.join(cacheDir, 'teacher-logits', readdirSync(path.join(cacheDir, 'teacher-logits')).find((n) => /^[0-9a-f]{64}$/.test(n))!);
    expect(entryFiles(dir)).toEqual(['part-0.f32', 'part-1.f32', 'plan.json']);

    const second = countingSession(distil.session);
    const events: JobEvent[] = [];
    const r = await teacherLogits(opts(distil, second, cacheDir, { onEvent: (e) => events.push(e) }));
    expect(r.cached).toBe(false);
    expect(r.resumedChunks).toBe(2);
    expect(second.calls).toHaveLength(4 * RUNS_PER_CHUNK);
    expect(maxAbsDiff(r.logits, distilRef)).toBeLessThanOrEqual(1e-5);
    expect(entryFiles(r.cachePath)).toEqual(['logits.f32', 'meta.json']);
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress[0]).toMatchObject({ done: 2 * CHUNK, total: N });
    expect(events.at(-1)).toMatchObject({ type: 'stage', status: 'end', detail: expect.stringMatching(/resumed 2 of 6 chunks/) });
  });

  it('after a crash between the parts and logits.f32, assembles from the parts (recomputing a damaged one)', async () => {
    const cacheDir = freshCache();
    const ac = new AbortController();
    // Abort during the very last run: all 6 parts are written, logits.f32 is not.
    const first = countingSession(distil.session, (call) => {
      if (call === 6 * RUNS_PER_CHUNK) ac.abort();
    });
    await expect(teacherLogits(opts(distil, first, cacheDir, { signal: ac.signal }))).rejects.toMatchObject({ name: 'AbortError' });
    const dir = path.join(cacheDir, 'teacher-logits', readdirSync(path.join(cacheDir, 'teacher-logits')).find((n) => /^[0-9a-f]{64}$/.test(n))!);
    expect(entryFiles(dir)).toEqual(['part-0.f32', 'part-1.f32', 'part-2.f32', 'part-3.f32', 'part-4.f32', 'part-5.f32', 'plan.json']);

    // Nothing left to run.
    const second = countingSession(distil.session);
    const r = await teacherLogits(opts(distil, second, cacheDir));
    expect(second.calls).toHaveLength(0);
    expect(r.resumedChunks).toBe(6);
    expect(maxAbsDiff(r.logits, distilRef)).toBeLessThanOrEqual(1e-5);
    expect(entryFiles(dir)).toEqual(['logits.f32', 'meta.json']);

    // Simulated crash again: logits.f32 gone, parts back (one of them damaged), a stale temp file.
    rmSync(path.join(dir, 'logits.f32'));
    const ac2 = new AbortController();
    rmSync(path.join(dir, 'meta.json'));
    await expect(
      teacherLogits(opts(distil, countingSession(distil.session, (c) => void (c === 6 * RUNS_PER_CHUNK && ac2.abort())), cacheDir, { signal: ac2.signal })),
    ).rejects.toMatchObject({ name: 'AbortError' });
    truncateSync(path.join(dir, 'part-3.f32'), 100);
    writeFileSync(path.join(dir, '.part-4.f32.999999999.0123456789ab.tmp'), 'torn');
    const third = countingSession(distil.session);
    const r3 = await teacherLogits(opts(distil, third, cacheDir));
    expect(third.calls).toHaveLength(RUNS_PER_CHUNK);
    expect(r3.resumedChunks).toBe(5);
    expect(maxAbsDiff(r3.logits, distilRef)).toBeLessThanOrEqual(1e-5);
    expect(entryFiles(dir)).toEqual(['logits.f32', 'meta.json']);
  });

  it('after the process is killed, the next call computes only the missing chunks', async () => {
    const cacheDir = freshCache();
    const script = path.join(root, 'child-pass.mts');
    const src = (rel: string) => JSON.stringify(path.join(REPO_ROOT, rel));
    writeFileSync(
      script,
      `import { openTeacher } from ${src('src/engine/teacher/teacher-model.ts')};
import { loadTokenizer } from ${src('src/engine/data/tokenizer.ts')};
import { teacherLogits } from ${src('src/engine/teacher/teacher-pass.ts')};
import { seededTexts } from ${src('test/engine/infer/helpers.ts')};
const [teacherDir, tokDir, cacheDir] = process.argv.slice(2);
const t = await openTeacher(teacherDir, { intraOpNumThreads: 1 });
const tokenizer = await loadTokenizer(tokDir);
const slow = { inputNames: t.session.inputNames, outputNames: t.session.outputNames,
  run: async (f: any) => { await new Promise((r) => setTimeout(r, 15)); return t.session.run(f); } };
await teacherLogits({ teacher: { ...t, session: slow }, tokenizer, texts: seededTexts(${N}, 5), maxLength: ${MAXLEN},
  batchSize: ${BATCH}, chunkSize: ${CHUNK}, cacheDir });
console.log('finished');
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, path.dirname(path.dirname(distil.file)), tok.dir, cacheDir], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, sig) => resolve(sig ?? code)));
    const entryDir = () => {
      const top = path.join(cacheDir, 'teacher-logits');
      const key = existsSync(top) ? readdirSync(top).find((n) => /^[0-9a-f]{64}$/.test(n)) : undefined;
      return key ? path.join(top, key) : null;
    };
    const partsIn = (d: string | null) => (d ? readdirSync(d).filter((n) => /^part-\d+\.f32$/.test(n)).length : 0);
    const deadline = Date.now() + 30_000;
    while (partsIn(entryDir()) < 2 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    expect(await exited, output).toBe('SIGKILL');
    const dir = entryDir()!;
    const done = partsIn(dir);
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(6);
    expect(existsSync(path.join(dir, 'logits.f32'))).toBe(false);

    const session = countingSession(distil.session);
    const r = await teacherLogits(opts(distil, session, cacheDir));
    expect(r.resumedChunks).toBe(done);
    expect(session.calls).toHaveLength((6 - done) * RUNS_PER_CHUNK);
    expect(maxAbsDiff(r.logits, distilRef)).toBeLessThanOrEqual(1e-5);
    expect(entryFiles(dir)).toEqual(['logits.f32', 'meta.json']);
  });
});

describe('teacherLogits: validation', () => {
  it('refuses a teacher whose logits width differs from the expected labels, computed or cached', async () => {
    const cacheDir = freshCache();
    const small = texts.slice(0, 20);
    const err = await teacherLogits(opts(distil, distil.session, cacheDir, { texts: small, numLabels: 3 })).catch((e) => e);
    expect(err.code).toBe('label-mismatch');
    expect(err.message).toMatch(/The teacher \(model\.onnx\) outputs 2 logits per sentence but 3 labels were expected/);
    await teacherLogits(opts(distil, distil.session, cacheDir, { texts: small, numLabels: 2 }));
    await expect(teacherLogits(opts(distil, distil.session, cacheDir, { texts: small, numLabels: 3 }))).rejects.toMatchObject({ code: 'label-mismatch' });
  });

  it('stops with a clear error on NaN logits and caches nothing', async () => {
    const cacheDir = freshCache();
    const nan: ClassifierSession = {
      inputNames: ['input_ids', 'attention_mask'],
      outputNames: ['logits'],
      async run(feeds) {
        const b = (feeds.input_ids as ort.Tensor).dims[0]!;
        return { logits: new ort.Tensor('float32', new Float32Array(b * 2).fill(NaN), [b, 2]) };
      },
    };
    const err = await teacherLogits(opts(distil, nan, cacheDir, { texts: texts.slice(0, 20) })).catch((e) => e);
    expect(err.code).toBe('non-finite');
    expect(err.message).toMatch(/The teacher \(model\.onnx\) produced NaN logits for sentence \d+/);
    const top = path.join(cacheDir, 'teacher-logits');
    for (const key of readdirSync(top).filter((n) => /^[0-9a-f]{64}$/.test(n))) {
      expect(readdirSync(path.join(top, key))).not.toContain('logits.f32');
    }
  });

  it('rejects an empty dataset and bad sizes', async () => {
    await expect(teacherLogits(opts(distil, distil.session, freshCache(), { texts: [] }))).rejects.toThrow(/at least one sentence/);
    await expect(teacherLogits(opts(distil, distil.session, freshCache(), { chunkSize: 0 }))).rejects.toThrow(/chunkSize/);
    await expect(teacherLogits(opts(distil, distil.session, freshCache(), { tokenized: [] }))).rejects.toThrow(/tokenized rows/);
  });
});

const fixture = sharedPath('fixtures', 'tiny-teacher-sst2');
const fixtureReason = fixture ? '' : ' (skipped: ../shared/fixtures/tiny-teacher-sst2 is absent)';
if (!fixture) console.warn(`teacher-pass.test: real teacher test${fixtureReason}`);

describe.skipIf(!fixture)(`tiny-teacher-sst2, the real trained teacher${fixtureReason}`, () => {
  it('matches the stored PyTorch reference logits within 1e-4', async () => {
    const ref = JSON.parse(readFileSync(path.join(fixture!, 'reference_io.json'), 'utf8')) as {
      texts: string[];
      input_ids: number[][];
      attention_mask: number[][];
      logits: number[][];
    };
    const teacher = await openTeacher(fixture!, { intraOpNumThreads: 2 });
    try {
      const tokenizer = await loadTokenizer(fixture!);
      const rows = tokenizer.encodeBatch(ref.texts, { maxLength: 64 });
      rows.forEach((r, i) => expect(Array.from(r)).toEqual(ref.input_ids[i]!.filter((_, j) => ref.attention_mask[i]![j] === 1)));
      const r = await teacherLogits({ teacher, tokenizer, texts: ref.texts, maxLength: 64, numLabels: 2, cacheDir: freshCache() });
      expect(maxAbsDiff(r.logits, ref.logits.flat())).toBeLessThanOrEqual(1e-4);
    } finally {
      await teacher.session.release();
    }
  });
});
