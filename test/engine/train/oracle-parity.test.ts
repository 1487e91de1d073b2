// The compiled training step against the independent PyTorch reference
// (../shared/tools/oracle): forward logits, loss terms, every gradient, and a
// 20-step AdamW trajectory with the Hugging Face Trainer's weight-decay grouping.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, readSafetensors } from '../../../src/engine/checkpoint';
import { loadModelConfig } from '../../../src/engine/models/config';
import { ADAMW_DEFAULTS } from '../../../src/engine/train/adamw';
import { StepRunner, type Batch, type StepResult } from '../../../src/engine/train/step-runner';
import { oracleUnavailableReason, runOracle, SHARED } from '../../support/shared';

const skipReason = oracleUnavailableReason();
const STUDENT = path.join(SHARED, 'fixtures', 'bert-tiny-random');
const TEACHER_PT = path.join(SHARED, 'tools', 'oracle', 'tiny-teacher-pt');
const STEPS = 20;

interface OracleBatch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  labels: number[];
  teacher_logits: number[][];
}

function toBatch(b: OracleBatch): Batch {
  const B = b.input_ids.length, T = b.input_ids[0].length;
  const flat = (rows: number[][]) => BigInt64Array.from(rows.flat().map((x) => BigInt(x)));
  return {
    size: B,
    seq: T,
    inputIds: flat(b.input_ids),
    attentionMask: flat(b.attention_mask),
    tokenTypeIds: flat(b.token_type_ids),
    labels: BigInt64Array.from(b.labels.map((x) => BigInt(x))),
    teacherLogits: Float32Array.from(b.teacher_logits.flat()),
  };
}

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

describe.skipIf(skipReason !== null)(`training step vs the PyTorch oracle${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let dir: string;
  let reference: { history: { loss: number; kl: number; ce: number; grad_norm: number; logits: number[][] }[] };
  let refGrads: Map<string, { data: Float32Array }>;
  let refAfter: Map<string, { data: Float32Array }>;
  const ours: StepResult[] = [];
  let runner: StepRunner;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ds-oracle-'));
    const batchFile = path.join(dir, 'batch.json');
    runOracle('kd_reference.py', ['make-batch', '--n', '8', '--offset', '100', '--teacher', TEACHER_PT, '--out', batchFile]);
    runOracle('kd_reference.py', [
      'step', '--student', STUDENT, '--batch', batchFile, '--out', path.join(dir, 'ref'),
      '--steps', String(STEPS), '--no-decay-bias-ln', '--max-grad-norm', '1.0',
      '--T', '2', '--alpha', '0.5', '--lr', '1e-3', '--weight-decay', '0.01',
    ]);
    reference = JSON.parse(readFileSync(path.join(dir, 'ref', 'result.json'), 'utf8'));
    refGrads = (await readSafetensors(path.join(dir, 'ref', 'grads.safetensors'))) as Map<string, { data: Float32Array }>;
    refAfter = (await readSafetensors(path.join(dir, 'ref', 'params_after.safetensors'))) as Map<string, { data: Float32Array }>;

    const cfg = await loadModelConfig(path.join(STUDENT, 'config.json'));
    const ckpt = await loadCheckpoint(STUDENT);
    const weights = new Map([...ckpt.tensors].map(([k, t]) => [k, t.data as Float32Array]));
    runner = await StepRunner.create(cfg, weights, {
      temperature: 2,
      alpha: 0.5,
      adamw: { ...ADAMW_DEFAULTS, weightDecay: 0.01 },
      maxGradNorm: 1.0,
      dropout: false,
      exposeGrads: true,
      sessionOptions: { intraOpNumThreads: 2 },
    });
    const batch = toBatch(JSON.parse(readFileSync(batchFile, 'utf8')));
    for (let s = 0; s < STEPS; s++) ours.push(await runner.run(batch, 1e-3));
  }, 300_000);

  afterAll(async () => {
    await runner?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('forward logits agree within 1e-5', () => {
    const diff = maxAbsDiff(ours[0].logits, reference.history[0].logits.flat());
    expect(diff).toBeLessThanOrEqual(1e-5);
  });

  it('loss, KL and CE agree within 1e-5 relative', () => {
    const h = reference.history[0];
    expect(Math.abs(ours[0].loss - h.loss) / Math.abs(h.loss)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(ours[0].kl - h.kl) / Math.abs(h.kl)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(ours[0].ce - h.ce) / Math.abs(h.ce)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(ours[0].gradNorm - h.grad_norm) / h.grad_norm).toBeLessThanOrEqual(1e-4);
  });

  it('every gradient tensor agrees within 1e-4 of its max abs value', () => {
    const grads = ours[0].grads!;
    expect(grads.size).toBe(refGrads.size);
    for (const [name, ref] of refGrads) {
      const g = grads.get(name);
      expect(g, name).toBeDefined();
      const scale = maxAbs(ref.data);
      const diff = maxAbsDiff(g!, ref.data);
      // attention.self.key.bias gradients are mathematically zero (softmax shift invariance):
      // both sides hold float32 noise there, so compare absolutely.
      if (name.endsWith('attention.self.key.bias')) expect(diff, name).toBeLessThan(1e-6);
      else expect(diff, `${name}: max diff ${diff} vs scale ${scale}`).toBeLessThanOrEqual(1e-4 * scale);
    }
  });

  it(`the loss at each of ${STEPS} AdamW steps agrees within 1e-4 relative`, () => {
    expect(ours).toHaveLength(STEPS);
    ours.forEach((r, i) => {
      const ref = reference.history[i].loss;
      expect(Math.abs(r.loss - ref) / Math.abs(ref), `step ${i + 1}: ours ${r.loss} torch ${ref}`).toBeLessThanOrEqual(1e-4);
    });
  });

  it('parameters after the last step agree with torch.optim.AdamW', () => {
    const state = runner.currentState();
    for (const [name, ref] of refAfter) {
      const p = state.params.get(name)!;
      const diff = maxAbsDiff(p, ref.data);
      // key.bias gradients are pure float32 noise on both sides (see above), and Adam turns noise
      // into steps of about lr: those weights wander by up to lr * steps = 2e-2, independently.
      if (name.endsWith('attention.self.key.bias')) expect(diff, name).toBeLessThanOrEqual(STEPS * 1e-3);
      else expect(diff, name).toBeLessThanOrEqual(1e-5 + 1e-4 * maxAbs(ref.data));
    }
  });
});
