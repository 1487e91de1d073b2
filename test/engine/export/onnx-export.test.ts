import * as ort from 'onnxruntime-node';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportStudentOnnx } from '../../../src/engine/export/onnx-export';
import { ADAMW_DEFAULTS } from '../../../src/engine/train/adamw';
import { StepRunner } from '../../../src/engine/train/step-runner';
import { syntheticBatch, tinyModel } from '../../support/tiny-models';

const dir = mkdtempSync(path.join(tmpdir(), 'ds-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['bert', 'distilbert'] as const)('exported %s student', (arch) => {
  it('loads in a fresh session with HF-style I/O and reproduces the trained model\'s logits', async () => {
    const { cfg, weights } = tinyModel(arch, 3);
    const runner = await StepRunner.create(cfg, weights, {
      temperature: 2, alpha: 0.5, adamw: ADAMW_DEFAULTS, maxGradNorm: 1, dropout: false,
    });
    const batch = syntheticBatch(cfg, 6, 12);
    for (let i = 0; i < 5; i++) await runner.run(batch, 1e-2);
    const file = path.join(dir, `${arch}.onnx`);
    await exportStudentOnnx(cfg, runner.currentState().params, file);
    // The next step's forward pass uses exactly the weights that were exported.
    const trained = (await runner.run(batch, 1e-2)).logits;
    await runner.release();

    const session = await ort.InferenceSession.create(file);
    const expectedInputs = arch === 'bert' ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask'];
    expect(session.inputNames).toEqual(expectedInputs);
    expect(session.outputNames).toEqual(['logits']);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', batch.inputIds, [batch.size, batch.seq]),
      attention_mask: new ort.Tensor('int64', batch.attentionMask, [batch.size, batch.seq]),
    };
    if (arch === 'bert') feeds.token_type_ids = new ort.Tensor('int64', batch.tokenTypeIds!, [batch.size, batch.seq]);
    const logits = (await session.run(feeds)).logits;
    expect(logits.dims).toEqual([batch.size, cfg.numLabels]);
    let diff = 0;
    (logits.data as Float32Array).forEach((x, i) => (diff = Math.max(diff, Math.abs(x - trained[i]))));
    expect(diff).toBeLessThan(1e-5);

    // Dynamic axes: another batch size and length runs too.
    const other = syntheticBatch(cfg, 3, 20, 11);
    const f2: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', other.inputIds, [3, 20]),
      attention_mask: new ort.Tensor('int64', other.attentionMask, [3, 20]),
    };
    if (arch === 'bert') f2.token_type_ids = new ort.Tensor('int64', other.tokenTypeIds!, [3, 20]);
    expect((await session.run(f2)).logits.dims).toEqual([3, cfg.numLabels]);
    await session.release();
  });
});

it('a failed export leaves no file behind', async () => {
  const { cfg, weights } = tinyModel('bert');
  weights.delete('classifier.bias');
  const file = path.join(dir, 'broken.onnx');
  await expect(exportStudentOnnx(cfg, weights, file)).rejects.toThrow(/classifier\.bias/);
  expect(existsSync(file)).toBe(false);
  expect(readdirSync(dir).filter((f) => f.includes('broken'))).toEqual([]);
});
