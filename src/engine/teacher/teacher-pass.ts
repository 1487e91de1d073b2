// The teacher pass: the teacher runs once over the training texts and its logits are cached on
// disk, content-addressed, so later runs (other students, other hyper-parameters) reuse them.
//
// Key = sha256 of {format version, teacher ONNX sha256, sha256 of the texts (each
// length-prefixed), tokenizer fingerprint, maxLength}. Layout:
//
//   <cacheDir>/teacher-logits/
//     teacher-sha256.json        memoised ONNX hashes (path + size + mtime -> sha256)
//     <key>/
//       meta.json                teacher file and hash, N, C, maxLength, createdAt, seconds, ...
//       logits.f32               (N, C) float32 little-endian, original text order; written
//                                atomically LAST: its presence means the entry is complete
//       plan.json, part-<i>.f32  only while incomplete (see below)
//
// Resumable: the rows are sorted by token length and cut into chunks (default 2,048 sentences);
// each finished chunk is written atomically as part-<i>.f32 ((rows of chunk i, C) float32 LE in
// length-sorted order). plan.json records the chunk size and a hash of the sort order, which is
// all that is needed to map a part back to text indices (the order is a pure function of the
// token rows, which the key pins down). After an abort or a killed process the next call reads
// the valid parts, computes only the missing chunks, writes meta.json then logits.f32, and
// deletes the parts.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import type { TextTokenizer } from '../data/tokenizer';
import { canonicalJson } from '../data/tokenizer';
import { writeFileAtomic, writeJsonAtomic } from '../fsutil/atomic';
import { classifyDetailed, InferenceError, lengthOrder, resolveInputs, type ClassifierSession } from '../infer/classify';
import type { JobEvent, JobEventSink } from '../../shared/events';
import { memoisedSha256 } from './file-hash';

/** Bump when the key recipe or the file layout changes: old entries are then simply not found. */
export const TEACHER_CACHE_FORMAT = 'distill-studio/teacher-logits/1';
export const DEFAULT_CHUNK_SIZE = 2048;
const PROGRESS_INTERVAL_MS = 250;

export interface TeacherLogitsOptions {
  /** An opened teacher (openTeacher); any session with `run` will do. */
  teacher: { session: ClassifierSession; file: string; inputs: readonly string[] };
  tokenizer: Pick<TextTokenizer, 'encodeBatch' | 'padId' | 'fingerprint'>;
  texts: readonly string[];
  /** tokenizer.encodeBatch(texts, { maxLength }) when the caller already has it (saves re-tokenizing). */
  tokenized?: readonly Int32Array[];
  /** Longest row, special tokens included. Part of the key. */
  maxLength: number;
  /** Rows per session.run (default 64). */
  batchSize?: number;
  /** Sentences per resumable chunk (default 2,048). An unfinished entry keeps the size it started with. */
  chunkSize?: number;
  /** Expected number of labels (e.g. from the teacher's id2label): the logits width must match. */
  numLabels?: number;
  /** Root cache folder; entries go under `<cacheDir>/teacher-logits/`. */
  cacheDir: string;
  onEvent?: JobEventSink;
  /** Aborting stops after the current batch (finished chunks stay on disk) and rejects with signal.reason. */
  signal?: AbortSignal;
}

export interface TeacherLogitsResult {
  /** (N, C) row-major, in the order of `texts`. */
  logits: Float32Array;
  numLabels: number;
  /** The content address (64 hex). */
  key: string;
  /** True when logits.f32 was already there and nothing ran. */
  cached: boolean;
  /** Wall time of this call. */
  seconds: number;
  /**
   * Teacher sentences per second: of this call's forward passes (tokenization excluded), or,
   * when cached, the rate recorded when the entry was computed.
   */
  sentencesPerSecond: number;
  /** The entry's folder, `<cacheDir>/teacher-logits/<key>` (holds meta.json and logits.f32). */
  cachePath: string;
  /** Chunks reused from an interrupted earlier call (0 when cached or computed in one go). */
  resumedChunks: number;
}

export interface TeacherCacheMeta {
  format: string;
  key: string;
  teacher: { file: string; sha256: string; size: number; inputs: string[] };
  data: { sentences: number; sha256: string };
  tokenizerFingerprint: string;
  maxLength: number;
  /** N */
  sentences: number;
  /** C */
  numLabels: number;
  dtype: 'float32-le';
  shape: [number, number];
  createdAt: string;
  /** Teacher forward time of the call that completed the entry (tokenization excluded). */
  seconds: number;
  sentencesPerSecond: number;
  tokenizeSeconds: number;
  chunkSize: number;
  chunks: number;
  resumedChunks: number;
  batchSize: number;
  /** Padded tokens / real tokens over the computed batches. */
  paddingOverhead: number;
}

interface Plan {
  format: string;
  sentences: number;
  chunkSize: number;
  orderSha256: string;
}

// ---------------------------------------------------------------------------------------------
// Keys

/** sha256 (hex) of the texts, each prefixed with its UTF-8 byte length (so ["ab","c"] != ["a","bc"]). */
export function textsSha256(texts: readonly string[]): string {
  const h = createHash('sha256');
  const count = Buffer.alloc(8);
  count.writeBigUInt64LE(BigInt(texts.length));
  h.update(count);
  for (const t of texts) {
    const bytes = Buffer.from(t, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(bytes.length));
    h.update(len);
    h.update(bytes);
  }
  return h.digest('hex');
}

/** The content address of a teacher-logits entry. */
export function teacherCacheKey(parts: { teacherSha256: string; dataSha256: string; tokenizerFingerprint: string; maxLength: number }): string {
  const payload = canonicalJson({
    format: TEACHER_CACHE_FORMAT,
    teacher: parts.teacherSha256,
    data: parts.dataSha256,
    tokenizer: parts.tokenizerFingerprint,
    maxLength: parts.maxLength,
  });
  return createHash('sha256').update(payload).digest('hex');
}

/** `<cacheDir>/teacher-logits`. */
export function teacherCacheRoot(cacheDir: string): string {
  return path.join(cacheDir, 'teacher-logits');
}

/** sha256 of a teacher ONNX file, memoised in `<cacheDir>/teacher-logits/teacher-sha256.json`. */
export function teacherFileSha256(file: string, cacheDir: string, onHash?: (file: string) => void): Promise<{ sha256: string; size: number }> {
  return memoisedSha256(file, path.join(teacherCacheRoot(cacheDir), 'teacher-sha256.json'), onHash);
}

// ---------------------------------------------------------------------------------------------
// Float32 files (little-endian on every platform)

const LITTLE_ENDIAN = endianness() === 'LE';

function f32ToBytes(a: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = Buffer.alloc(a.byteLength);
  for (let i = 0; i < a.length; i++) out.writeFloatLE(a[i]!, i * 4);
  return out;
}

function bytesToF32(b: Buffer): Float32Array {
  const out = new Float32Array(b.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(b);
  else for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

async function readIfExists(p: string): Promise<Buffer | null> {
  try {
    return await readFile(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Cache entries

/** A complete entry, or null when absent / incomplete / inconsistent with `sentences`. */
async function loadComplete(dir: string, sentences: number): Promise<{ meta: TeacherCacheMeta; logits: Float32Array } | null> {
  const bytes = await readIfExists(path.join(dir, 'logits.f32'));
  if (!bytes) return null;
  let meta: TeacherCacheMeta;
  try {
    meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as TeacherCacheMeta;
  } catch {
    return null;
  }
  if (meta.format !== TEACHER_CACHE_FORMAT || meta.sentences !== sentences || !(meta.numLabels >= 1)) return null;
  if (bytes.length !== sentences * meta.numLabels * 4) return null;
  return { meta, logits: bytesToF32(bytes) };
}

const TMP_RE = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Removes temp files left by writeFileAtomic in processes that no longer exist. */
async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TMP_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    await unlink(path.join(dir, name)).catch(() => {});
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function removeParts(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (/^part-\d+\.f32$/.test(name) || name === 'plan.json') await unlink(path.join(dir, name)).catch(() => {});
  }
}

const partPath = (dir: string, i: number) => path.join(dir, `part-${i}.f32`);

// ---------------------------------------------------------------------------------------------
// The pass

/**
 * The teacher's (N, C) logits for `texts`, from the cache when present, otherwise computed
 * (resuming an interrupted computation) and cached. Emits 'stage' start/end (detail "cached"
 * on reuse) and throttled 'progress' events for stage 'teacher'. Throws InferenceError
 * ('label-mismatch', 'non-finite', 'bad-output', 'invalid-argument') and rejects with
 * signal.reason when aborted.
 */
export async function teacherLogits(options: TeacherLogitsOptions): Promise<TeacherLogitsResult> {
  const { teacher, tokenizer, texts, maxLength, batchSize = 64, numLabels, cacheDir, onEvent, signal } = options;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const emit = (e: JobEvent) => onEvent?.(e);
  const n = texts.length;
  const label = `The teacher (${path.basename(teacher.file)})`;

  if (n === 0) throw new InferenceError('invalid-argument', 'The teacher pass needs at least one sentence; the dataset is empty.');
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new InferenceError('invalid-argument', `maxLength must be a positive integer, got ${maxLength}.`);
  const requestedChunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(requestedChunk) || requestedChunk < 1) {
    throw new InferenceError('invalid-argument', `chunkSize must be a positive integer, got ${requestedChunk}.`);
  }
  if (numLabels !== undefined && (!Number.isInteger(numLabels) || numLabels < 1)) {
    throw new InferenceError('invalid-argument', `numLabels must be a positive integer, got ${numLabels}.`);
  }
  if (options.tokenized && options.tokenized.length !== n) {
    throw new InferenceError('invalid-argument', `${n} texts but ${options.tokenized.length} tokenized rows were given; they must match.`);
  }
  const inputs = resolveInputs(teacher.session, teacher.inputs);
  signal?.throwIfAborted();
  emit({ type: 'stage', stage: 'teacher', status: 'start', detail: `${n} sentences` });

  const fileHash = await teacherFileSha256(teacher.file, cacheDir);
  const dataSha256 = textsSha256(texts);
  const key = teacherCacheKey({ teacherSha256: fileHash.sha256, dataSha256, tokenizerFingerprint: tokenizer.fingerprint, maxLength });
  const dir = path.join(teacherCacheRoot(cacheDir), key);

  const checkWidth = (c: number) => {
    if (numLabels !== undefined && c !== numLabels) {
      throw new InferenceError(
        'label-mismatch',
        `${label} outputs ${c} logits per sentence but ${numLabels} labels were expected; check that the teacher and the dataset's labels match.`,
      );
    }
  };

  // 1. A complete entry: nothing runs.
  const done = await loadComplete(dir, n);
  if (done) {
    checkWidth(done.meta.numLabels);
    const seconds = elapsed();
    emit({ type: 'stage', stage: 'teacher', status: 'end', seconds, detail: 'cached' });
    return {
      logits: done.logits,
      numLabels: done.meta.numLabels,
      key,
      cached: true,
      seconds,
      sentencesPerSecond: done.meta.sentencesPerSecond ?? 0,
      cachePath: dir,
      resumedChunks: 0,
    };
  }

  // 2. Tokenize and fix the chunk plan (adopting an unfinished entry's plan when it matches).
  await mkdir(dir, { recursive: true });
  await removeStaleTemps(dir);
  const tTok = performance.now();
  const rows = options.tokenized ?? tokenizer.encodeBatch(texts, { maxLength });
  for (let i = 0; i < n; i++) {
    const len = rows[i]!.length;
    if (len === 0 || len > maxLength) {
      throw new InferenceError('invalid-argument', `Tokenized row ${i} has ${len} tokens; rows must have 1..maxLength (${maxLength}) tokens.`);
    }
  }
  const tokenizeSeconds = (performance.now() - tTok) / 1000;
  const order = lengthOrder(rows);
  const orderSha256 = createHash('sha256').update(orderBytes(order)).digest('hex');
  let chunkSize = requestedChunk;
  let plan: Plan | null = null;
  try {
    plan = JSON.parse(await readFile(path.join(dir, 'plan.json'), 'utf8')) as Plan;
  } catch {
    plan = null;
  }
  if (plan && plan.format === TEACHER_CACHE_FORMAT && plan.sentences === n && plan.orderSha256 === orderSha256 && Number.isInteger(plan.chunkSize) && plan.chunkSize >= 1) {
    chunkSize = plan.chunkSize;
  } else {
    await removeParts(dir);
    await writeJsonAtomic(path.join(dir, 'plan.json'), { format: TEACHER_CACHE_FORMAT, sentences: n, chunkSize, orderSha256 } satisfies Plan);
  }
  const chunks = Math.ceil(n / chunkSize);
  const chunkRows = (i: number) => Math.min(chunkSize, n - i * chunkSize);

  // 3. Parts finished by an earlier call.
  const parts = new Array<Float32Array | undefined>(chunks);
  let width = 0;
  let resumedChunks = 0;
  let reusedSentences = 0;
  for (let i = 0; i < chunks; i++) {
    const bytes = await readIfExists(partPath(dir, i));
    if (!bytes) continue;
    const m = chunkRows(i);
    const c = bytes.length / (4 * m);
    const ok = Number.isInteger(c) && c >= 1 && (width === 0 || c === width);
    const data = ok ? bytesToF32(bytes) : null;
    if (!data || !allFinite(data)) {
      await unlink(partPath(dir, i)).catch(() => {});
      continue;
    }
    checkWidth(c);
    width = c;
    parts[i] = data;
    resumedChunks++;
    reusedSentences += m;
  }

  // 4. The missing chunks.
  const tRun = performance.now();
  let computed = 0;
  let lastEmit = -Infinity;
  let paddedTokens = 0;
  let realTokens = 0;
  const progress = (force: boolean) => {
    const now = performance.now();
    if (!force && now - lastEmit < PROGRESS_INTERVAL_MS) return;
    lastEmit = now;
    const secs = (now - tRun) / 1000;
    const rate = secs > 0 ? computed / secs : 0;
    const doneNow = reusedSentences + computed;
    emit({
      type: 'progress',
      stage: 'teacher',
      done: doneNow,
      total: n,
      unit: 'sentences',
      rate,
      etaSeconds: doneNow >= n ? 0 : rate > 0 ? (n - doneNow) / rate : null,
    });
  };
  progress(true);
  for (let i = 0; i < chunks; i++) {
    if (parts[i]) continue;
    signal?.throwIfAborted();
    const start = i * chunkSize;
    const m = chunkRows(i);
    const sub = new Array<Int32Array>(m);
    for (let j = 0; j < m; j++) sub[j] = rows[order[start + j]!]!;
    const before = computed;
    const r = await classifyDetailed({
      session: teacher.session,
      inputs,
      rows: sub,
      padId: tokenizer.padId,
      batchSize,
      numLabels: numLabels ?? (width || undefined),
      signal,
      label,
      onProgress: (d) => {
        computed = before + d;
        progress(false);
      },
    });
    width = r.numLabels;
    let real = 0;
    for (const row of sub) real += row.length;
    realTokens += real;
    paddedTokens += real * r.paddingOverhead;
    await writeFileAtomic(partPath(dir, i), f32ToBytes(r.logits));
    parts[i] = r.logits;
  }
  const runSeconds = (performance.now() - tRun) / 1000;
  // All chunks are on disk; an abort that arrived during the last batch still stops here.
  signal?.throwIfAborted();

  // 5. Assemble in text order, then meta.json, then logits.f32 (last: it marks completion).
  const logits = new Float32Array(n * width);
  for (let i = 0; i < chunks; i++) {
    const part = parts[i]!;
    const start = i * chunkSize;
    for (let j = 0; j < part.length / width; j++) logits.set(part.subarray(j * width, (j + 1) * width), order[start + j]! * width);
  }
  const sentencesPerSecond = runSeconds > 0 ? computed / runSeconds : 0;
  const meta: TeacherCacheMeta = {
    format: TEACHER_CACHE_FORMAT,
    key,
    teacher: { file: path.resolve(teacher.file), sha256: fileHash.sha256, size: fileHash.size, inputs: [...inputs] },
    data: { sentences: n, sha256: dataSha256 },
    tokenizerFingerprint: tokenizer.fingerprint,
    maxLength,
    sentences: n,
    numLabels: width,
    dtype: 'float32-le',
    shape: [n, width],
    createdAt: new Date().toISOString(),
    seconds: runSeconds,
    sentencesPerSecond,
    tokenizeSeconds,
    chunkSize,
    chunks,
    resumedChunks,
    batchSize,
    paddingOverhead: realTokens > 0 ? paddedTokens / realTokens : 1,
  };
  await writeJsonAtomic(path.join(dir, 'meta.json'), meta);
  await writeFileAtomic(path.join(dir, 'logits.f32'), f32ToBytes(logits));
  await removeParts(dir);
  progress(true);
  const seconds = elapsed();
  emit({
    type: 'stage',
    stage: 'teacher',
    status: 'end',
    seconds,
    detail:
      resumedChunks > 0
        ? `computed ${computed} sentences, resumed ${resumedChunks} of ${chunks} chunks`
        : `computed ${computed} sentences at ${Math.round(sentencesPerSecond)}/s`,
  });
  return { logits, numLabels: width, key, cached: false, seconds, sentencesPerSecond, cachePath: dir, resumedChunks };
}

/** The sort order's bytes (uint32 LE) for hashing. */
function orderBytes(order: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(order.buffer, order.byteOffset, order.byteLength);
  const out = Buffer.alloc(order.byteLength);
  for (let i = 0; i < order.length; i++) out.writeUInt32LE(order[i]!, i * 4);
  return out;
}
