import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph } from '../../../src/engine/onnx/graph';
import { openTeacher, TeacherModelError } from '../../../src/engine/teacher/teacher-model';
import { studentOnnxBytes } from '../../../src/engine/export/onnx-export';
import { tinyModel } from '../../support/tiny-models';

const dir = mkdtempSync(path.join(tmpdir(), 'ds-teacher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeModel(name: string, bytes: Uint8Array): string {
  const folder = path.join(dir, name, 'onnx');
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'model.onnx'), bytes);
  return path.join(dir, name);
}

describe('openTeacher', () => {
  it('opens a DistilBERT-style export and lists only the inputs it declares', async () => {
    const { cfg, weights } = tinyModel('distilbert');
    const t = await openTeacher(writeModel('distil', studentOnnxBytes(cfg, weights)));
    expect(t.inputs).toEqual(['input_ids', 'attention_mask']);
    await t.session.release();
  });

  it('refuses an ONNX model without a logits output, naming what it has', async () => {
    const g = new Graph('encoder');
    const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
    g.output(g.cast(ids, 'float32'), 'last_hidden_state');
    const folder = writeModel('encoder', g.toBytes());
    const err = await openTeacher(folder).catch((e) => e);
    expect(err).toBeInstanceOf(TeacherModelError);
    expect(err.code).toBe('no-logits');
    expect(err.message).toMatch(/has no 'logits' output \(it has: last_hidden_state\)/);
    expect(err.message).toMatch(/text-classification/);
  });

  it('explains a folder without an ONNX file and a corrupt file', async () => {
    mkdirSync(path.join(dir, 'empty'));
    await expect(openTeacher(path.join(dir, 'empty'))).rejects.toMatchObject({ code: 'missing' });
    const bad = writeModel('corrupt', new Uint8Array([1, 2, 3, 4]));
    const err = await openTeacher(bad).catch((e) => e);
    expect(err.code).toBe('unreadable');
    expect(err.message.split('\n')).toHaveLength(1);
  });
});
