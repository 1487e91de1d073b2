// Test helpers for the model graphs: ../shared paths, a safetensors header parser (our own,
// independent of src/engine/checkpoint), weights in and out through the engine's checkpoint
// module, ONNX Runtime runs, and the PyTorch oracle.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint, writeSafetensors, type CheckpointTensor } from '../../../src/engine/checkpoint';
import type { ModelConfig } from '../../../src/engine/models/config';
import { initParams, NormalRng, parameterSpecs } from '../../../src/engine/models/params';

/** A path in ../shared (beside the repo), or null when it is absent. */
export function sharedFile(rel: string): string | null {
  const p = fileURLToPath(new URL(`../../../../shared/${rel}`, import.meta.url));
  return existsSync(p) ? p : null;
}

export const SHARED_ABSENT = '../shared is absent (fresh clone): fixture-based checks skipped';

export const PYTHON = '/usr/bin/python3';
export const ORACLE_SCRIPT = fileURLToPath(new URL('./oracle_forward.py', import.meta.url));

let torchReason: string | null | undefined;
/** Null when /usr/bin/python3 can import torch; otherwise why not. */
export function torchUnavailable(): string | null {
  if (torchReason !== undefined) return torchReason;
  if (!existsSync(PYTHON)) return (torchReason = `${PYTHON} not found (apt-get install python3-torch)`);
  try {
    execFileSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'pipe', timeout: 60_000 });
    torchReason = null;
  } catch {
    torchReason = `${PYTHON} cannot import torch (apt-get install python3-torch python3-numpy)`;
  }
  return torchReason;
}

export interface SafetensorsInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The JSON header of a .safetensors file: 8-byte little-endian length, then JSON. */
export function safetensorsHeader(bytes: Uint8Array): { header: Record<string, SafetensorsInfo>; dataStart: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  delete json.__metadata__;
  return { header: json as Record<string, SafetensorsInfo>, dataStart: 8 + n };
}

/** float32 weights of a checkpoint read by the engine's reader (src/engine/checkpoint). */
export async function checkpointWeights(dir: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await loadCheckpoint(dir);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${dir}: ${name} is ${t.dtype}, expected float32`);
    out.set(name, t.data);
  }
  return out;
}

/** Writes weights as model.safetensors with the engine's writer. */
export async function saveWeights(file: string, cfg: ModelConfig, w: Map<string, Float32Array>): Promise<void> {
  await writeSafetensors(file, parameterSpecs(cfg).map((s): [string, CheckpointTensor] => [s.name, { dtype: 'float32', shape: s.shape, data: w.get(s.name)! }]), { format: 'pt' });
}

export type Feed = Record<string, ort.Tensor>;

export function int64(rows: number[][]): ort.Tensor {
  const flat = rows.flat();
  return new ort.Tensor('int64', BigInt64Array.from(flat, (x) => BigInt(x)), [rows.length, rows[0].length]);
}

/**
 * An ONNX Runtime session on 2 threads. float64 checks need `optimization: 'basic'`: the
 * extended level's MatMulScaleFusion folds a scalar Mul/Div next to a MatMul into FusedMatMul's
 * float32 `alpha`, an error of ~1e-8 relative in float64 graphs (harmless in float32).
 */
export async function session(bytes: Uint8Array, optimization: 'basic' | 'all' = 'all'): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: optimization });
}

/** (B, C) rows of a logits tensor. */
export function rows(t: ort.Tensor): number[][] {
  const [b, c] = t.dims as number[];
  const d = t.data as Float32Array | Float64Array;
  return Array.from({ length: b }, (_, i) => Array.from(d.subarray(i * c, (i + 1) * c)));
}

export function maxAbsDiff(a: number[][], b: number[][]): number {
  expectSameShape(a, b);
  let m = 0;
  a.forEach((r, i) => r.forEach((x, j) => (m = Math.max(m, Math.abs(x - b[i][j])))));
  return m;
}

function expectSameShape(a: number[][], b: number[][]) {
  if (a.length !== b.length || a.some((r, i) => r.length !== b[i].length)) {
    throw new Error(`shape mismatch: ${a.length}x${a[0]?.length} vs ${b.length}x${b[0]?.length}`);
  }
}

/** One forward job for the PyTorch oracle (test/engine/models/oracle_forward.py). */
export interface OracleJob {
  model_dir: string;
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  dtype?: 'float32' | 'float64';
}

/** Runs the oracle's forward jobs; returns logits per job. */
export function runOracle(jobs: OracleJob[], requestFile: string): number[][][] {
  writeFileSync(requestFile, JSON.stringify({ jobs }));
  const out = execFileSync(PYTHON, [ORACLE_SCRIPT, requestFile], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
    env: { ...process.env, OMP_NUM_THREADS: '2' },
  });
  return (JSON.parse(out) as { logits: number[][][] }).logits;
}

/**
 * Random weights that exercise every parameter: initParams' layout with a larger std, and
 * LayerNorm weights / biases moved off 1 / 0, so that wrong wiring cannot hide.
 */
export function spreadWeights(cfg: ModelConfig, seed: number): Map<string, Float32Array> {
  const rng = new NormalRng(seed + 1);
  const w = initParams(cfg, seed, { std: 0.2 });
  for (const s of parameterSpecs(cfg)) {
    const t = w.get(s.name)!;
    if (s.role === 'norm_weight') for (let i = 0; i < t.length; i++) t[i] = 1 + 0.2 * rng.next();
    if (s.role === 'bias' || s.role === 'norm_bias') for (let i = 0; i < t.length; i++) t[i] = 0.1 * rng.next();
  }
  return w;
}
