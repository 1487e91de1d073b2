// Tiny teachers for inference tests: BERT / DistilBERT classifiers built by the engine itself
// (seeded random weights, studentOnnxBytes), a matching 100-word vocabulary, seeded texts, a
// plain batch-of-1 reference run, and a session wrapper that counts runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

import { loadTokenizer, type TextTokenizer } from '../../../src/engine/data/tokenizer';
import { studentOnnxBytes } from '../../../src/engine/export/onnx-export';
import type { ClassifierSession } from '../../../src/engine/infer/classify';
import { parseModelConfig } from '../../../src/engine/models/config';
import { initParams } from '../../../src/engine/models/params';
import { openTeacher, type TeacherModel } from '../../../src/engine/teacher/teacher-model';
import { tinyBertConfigJson, tinyDistilBertConfigJson } from '../../support/tiny-models';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const LETTERS = 'abcdefghij';
/** 100 two-letter words: aa, ab, ..., jj. */
export const WORDS = Array.from({ length: 100 }, (_, i) => LETTERS[Math.floor(i / 10)]! + LETTERS[i % 10]!);

/** A BERT-uncased vocab.txt tokenizer with 105 ids (fits the tiny models' vocab of 120). */
export async function tinyTokenizer(dir: string): Promise<TextTokenizer> {
  const folder = path.join(dir, 'tokenizer');
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'vocab.txt'), [...SPECIALS, ...WORDS].join('\n') + '\n');
  writeFileSync(path.join(folder, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 64 }));
  return loadTokenizer(folder);
}

/** A seeded LCG in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** `n` sentences of 1..maxWords words (some unknown words, some punctuation). */
export function seededTexts(n: number, seed = 3, maxWords = 40): string[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const words = 1 + Math.floor(r() ** 2 * maxWords);
    const out: string[] = [];
    for (let w = 0; w < words; w++) {
      const u = r();
      out.push(u < 0.03 ? 'zzz' : u < 0.06 ? '.' : WORDS[Math.floor(r() * WORDS.length)]!);
    }
    return out.join(' ');
  });
}

/** Writes a tiny teacher folder (onnx/model.onnx) and opens it with openTeacher. */
export async function tinyTeacher(
  dir: string,
  arch: 'bert' | 'distilbert',
  opts: { seed?: number; numLabels?: number; name?: string } = {},
): Promise<TeacherModel> {
  const { seed = 1, numLabels = 2 } = opts;
  const labels = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `L${i}`]));
  const over = { id2label: labels, label2id: Object.fromEntries(Object.entries(labels).map(([k, v]) => [v, Number(k)])) };
  const json = arch === 'bert' ? tinyBertConfigJson(over) : tinyDistilBertConfigJson(over);
  const cfg = parseModelConfig(json, `tiny-${arch}/config.json`);
  const weights = initParams(cfg, seed);
  // Random-init classifiers give near-identical logits for every sentence; scale the head up so
  // rows differ clearly and a mis-ordered row cannot pass a 1e-5 comparison.
  for (const [name, w] of weights) if (name === 'classifier.weight') for (let i = 0; i < w.length; i++) w[i] *= 50;
  const folder = path.join(dir, opts.name ?? `${arch}-${seed}-${numLabels}`);
  mkdirSync(path.join(folder, 'onnx'), { recursive: true });
  writeFileSync(path.join(folder, 'onnx', 'model.onnx'), studentOnnxBytes(cfg, weights));
  return openTeacher(folder, { intraOpNumThreads: 1 });
}

/** The plain way: one unpadded sentence per run, in order, feeding only `inputs`. */
export async function batchOfOneLogits(session: ClassifierSession, inputs: readonly string[], rows: readonly Int32Array[]): Promise<Float32Array> {
  const out: number[] = [];
  for (const r of rows) {
    const t = r.length;
    const feeds: Record<string, ort.Tensor> = {};
    const ids = BigInt64Array.from(r, (v) => BigInt(v));
    if (inputs.includes('input_ids')) feeds.input_ids = new ort.Tensor('int64', ids, [1, t]);
    if (inputs.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(t).fill(1n), [1, t]);
    if (inputs.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(t), [1, t]);
    const res = await session.run(feeds);
    out.push(...(res.logits as ort.Tensor).data as Float32Array);
  }
  return Float32Array.from(out);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export interface CountingSession extends ClassifierSession {
  /** Feed names of each run, in order. */
  readonly calls: string[][];
  /** Rows per run. */
  readonly batchRows: number[];
}

/** Wraps a session: records every run's feed names and batch size; `onRun(callNumber)` runs after each. */
export function countingSession(inner: ClassifierSession, onRun?: (call: number) => void | Promise<void>): CountingSession {
  const calls: string[][] = [];
  const batchRows: number[] = [];
  return {
    inputNames: inner.inputNames,
    outputNames: inner.outputNames,
    calls,
    batchRows,
    async run(feeds, options) {
      calls.push(Object.keys(feeds));
      batchRows.push((feeds.input_ids as ort.Tensor).dims[0]!);
      const out = await inner.run(feeds, options);
      await onRun?.(calls.length);
      return out;
    },
  };
}
