// Helpers for bench/pipeline.bench.ts: SST-2 subsets, the engine-built DistilBERT-shaped
// teacher folder, the PyTorch reference process (bench/torch_pipeline_ref.py), statistics.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { seededPermutation } from '../src/engine/data/split';
import { studentOnnxBytes } from '../src/engine/export/onnx-export';
import { parseModelConfig } from '../src/engine/models/config';
import { initParams, parameterCount, parameterSpecs } from '../src/engine/models/params';

/** distilbert-base-uncased-finetuned-sst-2-english's architecture (config.json), with random weights. */
export const DISTILBERT_BASE_SHAPE = {
  model_type: 'distilbert',
  architectures: ['DistilBertForSequenceClassification'],
  activation: 'gelu',
  attention_dropout: 0.1,
  dim: 768,
  dropout: 0.1,
  hidden_dim: 3072,
  id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
  label2id: { NEGATIVE: 0, POSITIVE: 1 },
  initializer_range: 0.02,
  max_position_embeddings: 512,
  n_heads: 12,
  n_layers: 6,
  pad_token_id: 0,
  seq_classif_dropout: 0.2,
  sinusoidal_pos_embds: false,
  vocab_size: 30522,
};

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'];

export interface BuiltTeacher {
  dir: string;
  onnx: string;
  parameters: number;
  bytes: number;
  seconds: number;
}

/**
 * Writes a teacher folder as the pipeline expects one (config.json, onnx/model.onnx, tokenizer
 * files): DistilBERT-base-shaped, seeded random weights from the engine's initParams, the graph
 * from the engine's ONNX exporter; the tokenizer files are those of `tokenizerDir`.
 */
export function buildDistilbertTeacher(dir: string, tokenizerDir: string, seed: number): BuiltTeacher {
  const t0 = performance.now();
  const cfg = parseModelConfig(DISTILBERT_BASE_SHAPE, 'distilbert-base-shape (bench)');
  const weights = initParams(cfg, seed);
  const bytes = studentOnnxBytes(cfg, weights, { docString: 'DistilBERT-base-shaped random teacher (Distill Studio pipeline bench)' });
  const onnx = path.join(dir, 'onnx', 'model.onnx');
  mkdirSync(path.dirname(onnx), { recursive: true });
  writeFileSync(onnx, bytes);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(DISTILBERT_BASE_SHAPE, null, 2));
  for (const f of TOKENIZER_FILES) if (existsSync(path.join(tokenizerDir, f))) copyFileSync(path.join(tokenizerDir, f), path.join(dir, f));
  return { dir, onnx, parameters: parameterCount(parameterSpecs(cfg)), bytes: bytes.length, seconds: (performance.now() - t0) / 1000 };
}

/** A GLUE-layout TSV (header `sentence<TAB>label`, split on the last tab). */
export interface Tsv {
  header: string;
  rows: string[];
}

export function readTsv(file: string): Tsv {
  const lines = readFileSync(file, 'utf8').split('\n');
  return { header: lines[0]!.replace(/\r$/, ''), rows: lines.slice(1).map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0) };
}

export const textOf = (row: string) => row.slice(0, row.lastIndexOf('\t'));

/** `count` rows picked with a seeded permutation (in the permutation's, i.e. random, order). */
export function seededSubset(tsv: Tsv, count: number, seed: number): string[] {
  const perm = seededPermutation(tsv.rows.length, seed);
  return Array.from(perm.subarray(0, Math.min(count, tsv.rows.length)), (i) => tsv.rows[i]!);
}

export function writeTsv(file: string, header: string, rows: string[]): void {
  writeFileSync(file, header + '\n' + rows.join('\n') + '\n');
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

export const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Why the PyTorch reference cannot run here, or null when it can. */
export function torchUnavailable(oracleDir: string): string | null {
  if (!existsSync(path.join(oracleDir, 'kd_reference.py'))) return `${oracleDir} is absent`;
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { stdio: 'pipe' });
    return null;
  } catch {
    return '/usr/bin/python3 cannot import torch (apt-get install python3-torch python3-numpy libopenblas0-pthread)';
  }
}

/** The PyTorch reference process: one JSON command per line in, one JSON answer per line out. */
export class TorchRef {
  private readonly proc: ChildProcess;
  private readonly lines: AsyncIterator<string>;

  constructor(script: string, threads: number) {
    this.proc = spawn('/usr/bin/python3', [script], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_THREADS: String(threads) } });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }

  async call<T = Record<string, unknown>>(cmd: Record<string, unknown>): Promise<T> {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`the PyTorch reference process exited (command ${String(cmd.cmd)})`);
    const res = JSON.parse(value as string) as Record<string, unknown>;
    if (res.error) throw new Error(`PyTorch reference, command ${String(cmd.cmd)}: ${String(res.error)}`);
    return res as T;
  }

  close(): void {
    this.proc.stdin!.end();
  }
}
