import * as ort from 'onnxruntime-node';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../../src/shared/events';
import { parseJobConfig } from '../../../src/shared/job-config';
import { studentOnnxBytes } from '../../../src/engine/export/onnx-export';
import type { ModelConfig } from '../../../src/engine/models/config';
import { mulberry32 } from '../../../src/engine/data/split';
import { epochBatches } from '../../../src/engine/train/batching';
import { trainStudent, type EvalData, type TrainData } from '../../../src/engine/train/trainer';
import { tinyModel } from '../../support/tiny-models';

const root = mkdtempSync(path.join(tmpdir(), 'ds-trainer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Rows whose label is decided by whether token 7 occurs; a "teacher" that knows it. */
function syntheticData(cfg: ModelConfig, n: number, seed: number): TrainData & EvalData {
  const rnd = mulberry32(seed);
  const ids: Int32Array[] = [];
  const labels: number[] = [];
  const teacher = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const len = 4 + Math.floor(rnd() * 10);
    const row = new Int32Array(len);
    row[0] = 101 % cfg.vocabSize;
    for (let t = 1; t < len - 1; t++) row[t] = 8 + Math.floor(rnd() * (cfg.vocabSize - 8));
    const y = rnd() < 0.5 ? 1 : 0;
    if (y) row[1 + Math.floor(rnd() * (len - 2))] = 7;
    row[len - 1] = 102 % cfg.vocabSize;
    ids.push(row);
    labels.push(y);
    teacher[i * 2 + y] = 2;
    teacher[i * 2 + 1 - y] = -2;
  }
  return { ids, labels, teacherLogits: teacher };
}

function evaluator(cfg: ModelConfig, valid: EvalData) {
  return async (weights: Map<string, Float32Array>) => {
    const session = await ort.InferenceSession.create(studentOnnxBytes(cfg, weights));
    const out = new Float32Array(valid.ids.length * cfg.numLabels);
    for (let i = 0; i < valid.ids.length; i++) {
      const row = valid.ids[i];
      const ids = BigInt64Array.from(row, (x) => BigInt(x));
      const r = await session.run({
        input_ids: new ort.Tensor('int64', ids, [1, row.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(row.length).fill(1n), [1, row.length]),
        token_type_ids: new ort.Tensor('int64', new BigInt64Array(row.length), [1, row.length]),
      });
      out.set(r.logits.data as Float32Array, i * cfg.numLabels);
    }
    await session.release();
    return out;
  };
}

describe('epochBatches', () => {
  it('file order is consecutive and the same every epoch; bucketed is seeded, complete and length-grouped', () => {
    const lengths = Array.from({ length: 1000 }, (_, i) => 5 + ((i * 37) % 40));
    const f0 = epochBatches({ lengths, batchSize: 32, seed: 1, epoch: 0, order: 'file' });
    expect(f0[0]).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(f0.at(-1)).toHaveLength(1000 % 32);
    expect(epochBatches({ lengths, batchSize: 32, seed: 9, epoch: 3, order: 'file' })).toEqual(f0);
    const b0 = epochBatches({ lengths, batchSize: 32, seed: 1, epoch: 0, order: 'bucketed' });
    expect(epochBatches({ lengths, batchSize: 32, seed: 1, epoch: 0, order: 'bucketed' })).toEqual(b0);
    expect(epochBatches({ lengths, batchSize: 32, seed: 1, epoch: 1, order: 'bucketed' })).not.toEqual(b0);
    expect(b0.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const spread = (bs: number[][]) => bs.reduce((s, b) => s + Math.max(...b.map((i) => lengths[i])) - Math.min(...b.map((i) => lengths[i])), 0) / bs.length;
    expect(spread(b0)).toBeLessThan(spread(f0) / 4);
  });
});

describe('trainStudent', () => {
  const { cfg, weights } = tinyModel('bert', 5);
  const data = syntheticData(cfg, 192, 1);
  const valid = syntheticData(cfg, 48, 2);
  const job = parseJobConfig({ epochs: 3, batchSize: 16, lr: 3e-3, order: 'file', evalEvery: 10, checkpointEvery: 7, seed: 3 });

  it('learns, evaluates, keeps the best checkpoint and logs metrics', async () => {
    const runDir = path.join(root, 'full');
    const events: JobEvent[] = [];
    const out = await trainStudent({ runDir, cfg, weights, job, train: data, valid, padId: 0, evaluate: evaluator(cfg, valid), onEvent: (e) => events.push(e) });
    expect(out.status).toBe('completed');
    expect(out.steps).toBe(36);
    expect(out.best!.accuracy).toBeGreaterThan(0.8);
    expect(out.best!.teacherAccuracy).toBe(1);
    expect(existsSync(path.join(runDir, 'checkpoints', 'best', 'model.safetensors'))).toBe(true);
    const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'step')).toHaveLength(36);
    expect(lines.filter((l) => l.type === 'eval').length).toBe(events.filter((e) => e.type === 'eval').length);
    const steps = events.filter((e): e is Extract<JobEvent, { type: 'step' }> => e.type === 'step');
    expect(steps[0].lr).toBe(job.lr * 0); // warm-up starts at 0 (HF schedule)
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0].loss);
  });

  it('cancel then resume reproduces the uninterrupted run exactly', async () => {
    const a = await trainStudent({ runDir: path.join(root, 'a'), cfg, weights, job, train: data, valid, padId: 0, evaluate: evaluator(cfg, valid) });
    const bDir = path.join(root, 'b');
    const ctl = new AbortController();
    const first = await trainStudent({
      runDir: bDir, cfg, weights, job, train: data, valid, padId: 0, evaluate: evaluator(cfg, valid), signal: ctl.signal,
      onEvent: (e) => e.type === 'step' && e.step === 17 && ctl.abort(),
    });
    expect(first.status).toBe('cancelled');
    expect(first.steps).toBe(17);
    const b = await trainStudent({ runDir: bDir, cfg, weights, job, train: data, valid, padId: 0, evaluate: evaluator(cfg, valid), resume: true });
    expect(b.status).toBe('completed');
    expect(b.steps).toBe(36);
    for (const [name, w] of a.weights) expect(Buffer.from(b.weights.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
    expect(b.final).toEqual(a.final);
    expect(b.best!.step).toBe(a.best!.step);
  });

  it('pauses between steps while asked', async () => {
    let paused = false;
    const events: JobEvent[] = [];
    const j = parseJobConfig({ ...job, epochs: 1 });
    const p = trainStudent({
      runDir: path.join(root, 'p'), cfg, weights, job: j, train: data, valid, padId: 0, evaluate: evaluator(cfg, valid), isPaused: () => paused,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'step' && e.step === 3) {
          paused = true;
          setTimeout(() => (paused = false), 300);
        }
      },
    });
    const out = await p;
    expect(out.steps).toBe(12);
    const kinds = events.map((e) => e.type);
    expect(kinds.indexOf('paused')).toBeGreaterThan(-1);
    expect(kinds.indexOf('resumed')).toBeGreaterThan(kinds.indexOf('paused'));
  });

  it('trains on unlabelled rows (the teacher provides the targets) and stops early when evaluations stop improving', async () => {
    const unlabelled = { ...data, labels: data.labels.map(() => null) };
    const events: JobEvent[] = [];
    const j = parseJobConfig({ ...job, epochs: 40, evalEvery: 12, earlyStoppingPatience: 3, lr: 3e-3 });
    const out = await trainStudent({ runDir: path.join(root, 'unlabelled'), cfg, weights, job: j, train: unlabelled, valid, padId: 0, evaluate: evaluator(cfg, valid), onEvent: (e) => events.push(e) });
    expect(out.status).toBe('early-stopped');
    expect(out.steps).toBeLessThan(40 * 12);
    const steps = events.filter((e): e is Extract<JobEvent, { type: 'step' }> => e.type === 'step');
    expect(steps.every((e) => e.ce === 0)).toBe(true); // no labelled row: the hard-label term is empty
    expect(out.best!.accuracy).toBeGreaterThan(0.8);
    const evals = events.filter((e) => e.type === 'eval');
    expect(evals.slice(-2).every((e) => e.type === 'eval' && !e.best)).toBe(true);
  });
});

