// The whole training pipeline, as a user runs it (`distill-studio train --order file
// --dropout off --max-steps 20`), against the PyTorch reference's own run
// (`kd_reference.py run --order file`) on the same 400 SST-2 rows: the loss at each of the
// 20 steps and every parameter after them. The teachers differ in form only (ONNX in ONNX
// Runtime here, the same weights in torch there, ~1e-6 apart on logits).
// Measured here (2 cores; deterministic, the same numbers every run): losses within 3.3e-7
// relative; parameters within 5.0e-5 of a tensor's max abs value (word_embeddings: elements
// whose only gradients were ~1e-8, the size of Adam's eps, where float32 noise in the gradient
// changes the step; every other tensor within 3e-5), key.bias within 1e-6 absolute.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../src/engine/checkpoint';
import { oracleUnavailableReason, PYTHON, REPO_ROOT, SHARED, sharedPath } from '../../support/shared';

const TRAIN_SOURCE = sharedPath('data', 'sst2', 'train.tsv');
const TEACHER_ONNX = sharedPath('fixtures', 'tiny-teacher-sst2');
const STUDENT = sharedPath('fixtures', 'bert-tiny-random');
const skipReason =
  oracleUnavailableReason() ??
  (!TRAIN_SOURCE ? '../shared/data/sst2/train.tsv is absent' : null) ??
  (!sharedPath('data', 'bert-base-uncased', 'vocab.txt') ? "../shared/data/bert-base-uncased/vocab.txt (the oracle's tokenizer) is absent" : null) ??
  (!sharedPath('tools', 'oracle', 'tiny-teacher-pt', 'config.json') ? '../shared/tools/oracle/tiny-teacher-pt is absent' : null) ??
  (!TEACHER_ONNX || !STUDENT ? '../shared/fixtures (tiny-teacher-sst2, bert-tiny-random) is absent' : null);

const ORACLE_DIR = path.join(SHARED, 'tools', 'oracle');
const TEACHER_PT = path.join(ORACLE_DIR, 'tiny-teacher-pt');
const TRACE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'oracle-run-trace.py');
const BIN = path.join(REPO_ROOT, 'bin', 'distill-studio.js');

const ROWS = 400; // 25 batches of 16: the 20 steps stay inside the first epoch, in file order
const STEPS = 20;
const BATCH = 16;
const LR = 1e-3; // large enough that 20 steps move every weight measurably

type Tensors = Map<string, { data: Float32Array }>;

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe.skipIf(skipReason !== null)(`train --order file vs the PyTorch reference run${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let dir: string;
  /** The oracle's "step N/M loss X" lines (4 decimals) and the same losses in full precision. */
  const printed = new Map<number, number>();
  const refLoss: number[] = [];
  let refParams: Tensors;
  let initial: Tensors;
  /** Our metrics.jsonl step lines (the last line for each step wins, as the format says). */
  const ours = new Map<number, { loss: number; lr: number }>();
  let ourParams: Map<string, Float32Array>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ds-oracle-run-'));
    const lines = readFileSync(TRAIN_SOURCE!, 'utf8').split('\n');
    const trainFile = path.join(dir, 'train.tsv');
    const validFile = path.join(dir, 'valid.tsv');
    writeFileSync(trainFile, lines.slice(0, 1 + ROWS).join('\n') + '\n');
    // A separate validation file, so that no row of train.tsv is held out of training.
    writeFileSync(validFile, [lines[0], ...lines.slice(1001, 1033)].join('\n') + '\n');

    // The reference: kd_reference.py run, via a wrapper that also prints full-precision losses.
    const refDir = path.join(dir, 'ref');
    const out = execFileSync(
      PYTHON,
      [
        TRACE, ORACLE_DIR, 'run', '--student', STUDENT!, '--teacher', TEACHER_PT, '--data', trainFile,
        '--order', 'file', '--max-steps', String(STEPS), '--batch-size', String(BATCH), '--lr', String(LR),
        // warm-up 0: the oracle rounds warm-up steps down (int), the HF Trainer and we round up
        '--warmup-ratio', '0', '--weight-decay', '0.01', '--no-decay-bias-ln', '--max-grad-norm', '1',
        '--T', '2', '--alpha', '0.5', '--max-len', '64', '--log-every', '1', '--save', refDir, '--json-out', '',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, env: { ...process.env, OMP_NUM_THREADS: '2' } },
    );
    for (const m of out.matchAll(/step (\d+)\/(\d+) loss (\S+)/g)) {
      expect(Number(m[2]), 'the oracle planned a different number of steps').toBe(STEPS);
      printed.set(Number(m[1]), Number(m[3]));
    }
    for (const m of out.matchAll(/^full-precision-loss (\S+)$/gm)) refLoss.push(Number(m[1]));
    refParams = (await readSafetensors(path.join(refDir, 'model.safetensors'))) as Tensors;
    initial = (await readSafetensors(path.join(STUDENT!, 'model.safetensors'))) as Tensors;

    // Ours: the CLI in a child process, as a user runs it.
    const runDir = path.join(dir, 'run');
    const r = spawnSync(
      process.execPath,
      [
        BIN, 'train', '--teacher', TEACHER_ONNX!, '--student', STUDENT!, '--train', trainFile, '--valid', validFile,
        '--order', 'file', '--dropout', 'off', '--max-steps', String(STEPS), '--batch-size', String(BATCH), '--lr', String(LR),
        '--warmup-ratio', '0', '--weight-decay', '0.01', '--max-grad-norm', '1', '--temperature', '2', '--alpha', '0.5',
        '--max-length', '64', '--provider', 'cpu', '--threads', '2', '--out', runDir, '--cache-dir', path.join(dir, 'cache'), '--json',
      ],
      { encoding: 'utf8', timeout: 600_000, env: { ...process.env, DISTILL_STUDIO_CACHE: path.join(dir, 'cache') } },
    );
    expect(r.status, `train failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`).toBe(0);
    for (const line of readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const e = JSON.parse(line) as { type: string; step: number; loss: number; lr: number };
      if (e.type === 'step') ours.set(e.step, { loss: e.loss, lr: e.lr });
    }
    const ckpt = path.join(runDir, 'checkpoints');
    const latest = JSON.parse(readFileSync(path.join(ckpt, 'latest.json'), 'utf8')) as { dir: string; step: number };
    expect(latest.step).toBe(STEPS);
    const state = await readSafetensors(path.join(ckpt, latest.dir, 'state.safetensors'));
    ourParams = new Map();
    for (const [key, t] of state) if (key.startsWith('param/')) ourParams.set(key.slice('param/'.length), t.data as Float32Array);
  }, 900_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`both sides ran ${STEPS} steps with the same linear-decay schedule`, () => {
    expect([...printed.keys()]).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(refLoss).toHaveLength(STEPS);
    expect([...ours.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    // get_linear_schedule_with_warmup with no warm-up: step s (1-based) runs at lr * (total - s + 1) / total.
    for (let s = 1; s <= STEPS; s++) expect(ours.get(s)!.lr, `lr at step ${s}`).toBeCloseTo((LR * (STEPS - s + 1)) / STEPS, 12);
  });

  it('the full-precision trace is the run the oracle logged', () => {
    // The oracle prints 4 decimals: each printed loss is its full-precision loss, rounded.
    refLoss.forEach((l, i) => expect(Math.abs(printed.get(i + 1)! - l), `step ${i + 1}`).toBeLessThanOrEqual(5e-5 + 1e-12));
  });

  it(`the loss at each of the ${STEPS} steps agrees within 1e-4 relative`, () => {
    refLoss.forEach((ref, i) => {
      const step = i + 1;
      const loss = ours.get(step)!.loss;
      expect(Math.abs(loss - ref) / Math.abs(ref), `step ${step}: ours ${loss}, torch ${ref}`).toBeLessThanOrEqual(1e-4);
      // and against the oracle's own log line, whose rounding costs up to 5e-5
      const p = printed.get(step)!;
      expect(Math.abs(loss - p), `step ${step}: ours ${loss}, torch logged ${p}`).toBeLessThanOrEqual(5e-5 + 1e-4 * Math.abs(p));
    });
  });

  it(`every parameter after ${STEPS} steps agrees with torch.optim.AdamW's`, () => {
    expect([...ourParams.keys()].sort()).toEqual([...refParams.keys()].sort());
    for (const name of refParams.keys()) {
      const ref = refParams.get(name)!.data;
      const p = ourParams.get(name)!;
      expect(p.length, name).toBe(ref.length);
      const diff = maxAbsDiff(p, ref);
      const scale = maxAbs(ref);
      if (name.endsWith('attention.self.key.bias')) {
        // Its gradient is mathematically zero (softmax shift invariance): float32 noise on both
        // sides, which Adam turns into steps of about lr each, independently on each side.
        expect(diff, name).toBeLessThanOrEqual(STEPS * LR);
      } else {
        expect(diff, `${name}: max diff ${diff} vs scale ${scale}`).toBeLessThanOrEqual(1e-4 * scale);
        // The comparison means something: 20 steps moved this tensor far beyond the tolerance.
        expect(maxAbsDiff(ref, initial.get(name)!.data), `${name} barely moved`).toBeGreaterThan(10 * 1e-4 * scale);
      }
    }
  });
});
