// Batched inference of any Hugging Face-style ONNX text classifier (teacher or student):
// token tensors in, (N, C) logits out, in the caller's order.
//
// Rows are sorted by token length and consecutive rows are batched, each batch padded only to
// its own longest row, so almost no padding is computed (SST-2 sentences range from 3 to 60+
// tokens; padding every batch to the global longest would cost several times more). Only the
// token inputs the graph declares are fed (DistilBERT has no token_type_ids).
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';

import { pad } from '../data/tokenizer';
import type { TextTokenizer } from '../data/tokenizer';

/** The part of an ONNX Runtime session this module uses (an ort.InferenceSession fits). */
export interface ClassifierSession {
  readonly inputNames?: readonly string[];
  readonly outputNames?: readonly string[];
  run(feeds: ort.InferenceSession.FeedsType, options?: ort.InferenceSession.RunOptions): Promise<ort.InferenceSession.ReturnType>;
}

/** The token inputs a text-classifier graph may declare. */
export const CLASSIFIER_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export type ClassifierInput = (typeof CLASSIFIER_INPUTS)[number];

export type InferenceErrorCode =
  /** Bad arguments: no texts/rows, a tokenizer missing, an input the module cannot build. */
  | 'invalid-argument'
  /** The graph's output is not (batch, C) float logits. */
  | 'bad-output'
  /** The logits width differs from the expected number of labels. */
  | 'label-mismatch'
  /** NaN or ±Infinity in the logits. */
  | 'non-finite';

export class InferenceError extends Error {
  override readonly name = 'InferenceError';
  constructor(
    readonly code: InferenceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Where the token rows come from: texts + tokenizer, or rows already tokenized. */
export interface RowSource {
  /** Needed with `texts`; with `rows` only its padId is used (when `padId` is not given). */
  tokenizer?: Pick<TextTokenizer, 'encodeBatch' | 'padId'>;
  texts?: readonly string[];
  /** Token ids per sentence, special tokens included (tokenizer.encodeBatch output). */
  rows?: readonly Int32Array[];
  /** Longest row, special tokens included, when tokenizing `texts` (default: the tokenizer's). */
  maxLength?: number;
  /** Padding id (default tokenizer.padId, else 0). */
  padId?: number;
}

export interface ClassifyOptions extends RowSource {
  session: ClassifierSession;
  /** The token inputs to feed: those the graph declares (default: session.inputNames). */
  inputs?: readonly string[];
  /** Rows per session.run (default 64). */
  batchSize?: number;
  /** Expected logits width; a different width is an InferenceError('label-mismatch'). */
  numLabels?: number;
  /** Called after each batch with the number of rows done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Checked before each batch; aborting rejects with signal.reason. */
  signal?: AbortSignal;
  /** Name used in error messages (e.g. the model file). */
  label?: string;
}

/** Resolves the rows of a RowSource (tokenizing texts when needed). */
export function sourceRows(src: RowSource): readonly Int32Array[] {
  if (src.rows) {
    if (src.texts && src.texts.length !== src.rows.length) {
      throw new InferenceError('invalid-argument', `${src.texts.length} texts but ${src.rows.length} token rows were given; they must match.`);
    }
    return src.rows;
  }
  if (!src.texts) throw new InferenceError('invalid-argument', 'Give either texts (with a tokenizer) or tokenized rows.');
  if (!src.tokenizer) throw new InferenceError('invalid-argument', 'Texts need a tokenizer to be classified.');
  return src.tokenizer.encodeBatch(src.texts, src.maxLength === undefined ? {} : { maxLength: src.maxLength });
}

function padIdOf(src: RowSource): number {
  return src.padId ?? src.tokenizer?.padId ?? 0;
}

/** Indices 0..n-1 sorted by row length (stable: equal lengths keep their order). */
export function lengthOrder(rows: readonly { length: number }[]): Uint32Array {
  const n = rows.length;
  // Counting sort on length: O(n) and stable.
  let maxLen = 0;
  for (let i = 0; i < n; i++) if (rows[i]!.length > maxLen) maxLen = rows[i]!.length;
  const counts = new Uint32Array(maxLen + 2);
  for (let i = 0; i < n; i++) counts[rows[i]!.length + 1]++;
  for (let l = 1; l < counts.length; l++) counts[l] += counts[l - 1];
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[counts[rows[i]!.length]++] = i;
  return order;
}

/** Validates and returns the token inputs to feed. */
export function resolveInputs(session: ClassifierSession, inputs: readonly string[] | undefined): ClassifierInput[] {
  const names = inputs ?? session.inputNames;
  if (!names || names.length === 0) {
    throw new InferenceError('invalid-argument', 'No model inputs given and the session does not list any.');
  }
  const unknown = names.filter((n) => !(CLASSIFIER_INPUTS as readonly string[]).includes(n));
  if (unknown.length > 0 || !names.includes('input_ids')) {
    throw new InferenceError(
      'invalid-argument',
      `Inputs ${names.join(', ')}: a text classifier takes input_ids and optionally attention_mask and token_type_ids.`,
    );
  }
  return [...names] as ClassifierInput[];
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InferenceError('invalid-argument', `batchSize must be a positive integer, got ${batchSize}.`);
}

/** Builds the feeds for a batch of rows: only the declared inputs, padded to the longest row. */
export function batchFeeds(rows: readonly Int32Array[], inputs: readonly ClassifierInput[], padId: number): Record<string, ort.Tensor> {
  const b = pad(rows, padId);
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputs) {
    const data = name === 'input_ids' ? b.inputIds : name === 'attention_mask' ? b.attentionMask : b.tokenTypeIds;
    feeds[name] = new ort.Tensor('int64', data, b.dims);
  }
  return feeds;
}

/** The logits output of a run's result, as (B, C) float32. */
function logitsOf(out: ort.InferenceSession.ReturnType, outputName: string, rowsInBatch: number, label: string): { data: Float32Array; width: number } {
  const t = out[outputName] as ort.Tensor | undefined;
  if (!t || typeof t !== 'object' || !('dims' in t)) {
    throw new InferenceError('bad-output', `${label}: the model returned no '${outputName}' tensor (it returned: ${Object.keys(out).join(', ') || 'nothing'}).`);
  }
  const dims = t.dims;
  if (dims.length !== 2 || dims[0] !== rowsInBatch || !(dims[1]! >= 1)) {
    throw new InferenceError(
      'bad-output',
      `${label}: '${outputName}' has shape [${dims.join(', ')}] for a batch of ${rowsInBatch}; a sequence classifier returns [batch, num_labels].`,
    );
  }
  let data: Float32Array;
  if (t.type === 'float32') data = t.data as Float32Array;
  else if (t.type === 'float64') data = Float32Array.from(t.data as Float64Array);
  else if (t.type === 'float16') {
    // onnxruntime-node 1.30 hands float16 back as raw Uint16 bits (or a Float16Array where the runtime has one).
    const raw = t.data as ArrayLike<number>;
    data = raw instanceof Uint16Array ? halfToFloat(raw) : Float32Array.from(raw);
  } else {
    throw new InferenceError('bad-output', `${label}: '${outputName}' is ${t.type}; expected float logits.`);
  }
  return { data, width: dims[1]! };
}

function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] = e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return out;
}

function outputNameOf(session: ClassifierSession): string {
  const names = session.outputNames;
  if (!names || names.length === 0 || names.includes('logits')) return 'logits';
  return names[0]!;
}

/**
 * Runs a classifier over all rows and returns (N, C) logits in the original row order.
 * Rows are length-sorted and batched consecutively; each batch is padded to its longest row.
 * Throws InferenceError on a wrong output shape, a label-count mismatch or non-finite logits
 * (naming the row), and rejects with signal.reason when aborted.
 */
export async function classifyTexts(options: ClassifyOptions): Promise<Float32Array> {
  return (await classifyDetailed(options)).logits;
}

export interface ClassifyResult {
  logits: Float32Array;
  numLabels: number;
  /** Wall time of the batched runs (tensor building included, tokenization excluded). */
  seconds: number;
  /** Padded tokens computed / real tokens (1 = no padding at all). */
  paddingOverhead: number;
}

/** classifyTexts with timing and padding figures. */
export async function classifyDetailed(options: ClassifyOptions): Promise<ClassifyResult> {
  const { session, batchSize = 64, numLabels, onProgress, signal } = options;
  const label = options.label ?? 'classifier';
  checkBatchSize(batchSize);
  if (numLabels !== undefined && (!Number.isInteger(numLabels) || numLabels < 1)) {
    throw new InferenceError('invalid-argument', `numLabels must be a positive integer, got ${numLabels}.`);
  }
  const inputs = resolveInputs(session, options.inputs);
  signal?.throwIfAborted();
  const rows = sourceRows(options);
  const padId = padIdOf(options);
  const outputName = outputNameOf(session);
  const n = rows.length;
  const order = lengthOrder(rows);
  let width = numLabels ?? 0;
  let logits = new Float32Array(n * width);
  let realTokens = 0;
  let paddedTokens = 0;
  const t0 = performance.now();
  for (let start = 0; start < n; start += batchSize) {
    signal?.throwIfAborted();
    const end = Math.min(n, start + batchSize);
    const batch: Int32Array[] = [];
    let longest = 0;
    for (let k = start; k < end; k++) {
      const r = rows[order[k]!]!;
      if (r.length === 0) throw new InferenceError('invalid-argument', `${label}: row ${order[k]} has no tokens.`);
      batch.push(r);
      realTokens += r.length;
      if (r.length > longest) longest = r.length;
    }
    paddedTokens += longest * batch.length;
    const out = await session.run(batchFeeds(batch, inputs, padId));
    const { data, width: w } = logitsOf(out, outputName, batch.length, label);
    if (width === 0) {
      width = w;
      logits = new Float32Array(n * width);
    } else if (w !== width) {
      throw new InferenceError(
        'label-mismatch',
        numLabels !== undefined && w !== numLabels
          ? `${label} outputs ${w} logits per sentence but ${numLabels} labels were expected; check that the model and the dataset's labels match.`
          : `${label} changed its number of logits between batches (${width} then ${w}).`,
      );
    }
    for (let j = 0; j < batch.length; j++) {
      const row = order[start + j]!;
      for (let c = 0; c < width; c++) {
        const v = data[j * width + c]!;
        if (!Number.isFinite(v)) {
          throw new InferenceError(
            'non-finite',
            `${label} produced ${v} logits for sentence ${row} (${batch[j]!.length} tokens); the model file may be corrupt or exported with an unsupported precision.`,
          );
        }
      }
      logits.set(data.subarray(j * width, (j + 1) * width), row * width);
    }
    onProgress?.(end, n);
  }
  return {
    logits,
    numLabels: width,
    seconds: (performance.now() - t0) / 1000,
    paddingOverhead: realTokens === 0 ? 1 : paddedTokens / realTokens,
  };
}

// ---------------------------------------------------------------------------------------------
// Latency and throughput (the comparison view)

export interface LatencyOptions extends RowSource {
  session: ClassifierSession;
  inputs?: readonly string[];
  /** Sentences timed one at a time (batch 1), spread evenly over the data (default 100). */
  samples?: number;
  /** Untimed batch-1 runs first (default 3). */
  warmup?: number;
  /** Batch size for the throughput run (default 64). */
  batchSize?: number;
  /** Sentences for the throughput run, spread evenly over the data (default 1024). */
  throughputSentences?: number;
  signal?: AbortSignal;
}

export interface LatencyStats {
  /** Batch-1 latency per sentence, milliseconds (tensor building + session.run; tokenization excluded). */
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  maxMs: number;
  /** Sentences timed at batch 1. */
  samples: number;
  /** Batched, length-sorted throughput in sentences per second. */
  sentencesPerSecond: number;
  throughputSentences: number;
  batchSize: number;
}

/** `count` indices spread evenly over 0..n-1 (all of them when count >= n). */
function spread(n: number, count: number): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
}

/** Linear-interpolated percentile (numpy's default) of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * (p / 100);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Per-sentence latency (p50/p95 at batch 1) and batched throughput of a classifier. */
export async function latencyStats(options: LatencyOptions): Promise<LatencyStats> {
  const { session, samples = 100, warmup = 3, batchSize = 64, throughputSentences = 1024, signal } = options;
  checkBatchSize(batchSize);
  const inputs = resolveInputs(session, options.inputs);
  const rows = sourceRows(options);
  if (rows.length === 0) throw new InferenceError('invalid-argument', 'latencyStats needs at least one sentence.');
  const padId = padIdOf(options);
  const picked = spread(rows.length, Math.max(1, samples)).map((i) => rows[i]!);
  for (let i = 0; i < warmup; i++) {
    signal?.throwIfAborted();
    await session.run(batchFeeds([picked[i % picked.length]!], inputs, padId));
  }
  const times = new Float64Array(picked.length);
  for (let i = 0; i < picked.length; i++) {
    signal?.throwIfAborted();
    const t = performance.now();
    await session.run(batchFeeds([picked[i]!], inputs, padId));
    times[i] = performance.now() - t;
  }
  const sorted = Float64Array.from(times).sort();
  let sum = 0;
  for (const t of times) sum += t;
  const tpRows = spread(rows.length, Math.max(1, throughputSentences)).map((i) => rows[i]!);
  const { seconds } = await classifyDetailed({ session, inputs, rows: tpRows, padId, batchSize, signal });
  return {
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    meanMs: sum / times.length,
    maxMs: sorted[sorted.length - 1]!,
    samples: picked.length,
    sentencesPerSecond: seconds > 0 ? tpRows.length / seconds : Infinity,
    throughputSentences: tpRows.length,
    batchSize,
  };
}
