import { describe, expect, it } from 'vitest';
import type { DataPreview, ModelInfo } from '../../src/shared/api';
import { dataChecks, hasErrors, labelKnown, modelChecks } from '../../src/renderer/src/lib/compat';

const teacher: ModelInfo = { source: 'distilbert-sst2', role: 'teacher', arch: 'distilbert', parameters: 66_955_010, labels: ['NEGATIVE', 'POSITIVE'], maxLength: 512, vocabSize: 30_522, sizeBytes: 268e6, notes: [] };
const student: ModelInfo = { source: 'prajjwal1/bert-tiny', role: 'student', arch: 'bert', parameters: 4_386_178, labels: null, maxLength: 512, vocabSize: 30_522, sizeBytes: 17.7e6, notes: [] };
const byId = (checks: ReturnType<typeof modelChecks>) => Object.fromEntries(checks.map((c) => [c.id, c]));

describe('model checks', () => {
  it('passes the reference pair', () => {
    const c = byId(modelChecks(teacher, student, { maxLength: 64 }));
    expect(c['teacher-labels'].level).toBe('ok');
    expect(c['label-sets'].level).toBe('ok');
    expect(c['vocab'].level).toBe('ok');
    expect(c['params']).toMatchObject({ level: 'ok', message: 'The student is 15× smaller (4.4 M vs 67 M parameters).' });
    expect(hasErrors(Object.values(c))).toBe(false);
  });

  it('flags differing label sets, vocabularies and a student that is not smaller', () => {
    const c = byId(modelChecks(teacher, { ...student, labels: ['neg', 'neutral', 'pos'], vocabSize: 50_265, parameters: 1e8 }, { maxLength: 64 }));
    expect(c['label-sets'].level).toBe('warn');
    expect(c['vocab'].level).toBe('info');
    expect(c['vocab'].message).toContain('50,265');
    expect(c['params'].level).toBe('warn');
  });

  it('treats generic LABEL_n student heads as new heads and same labels as ok', () => {
    expect(byId(modelChecks(teacher, { ...student, labels: ['LABEL_0', 'LABEL_1'] }, { maxLength: 64 }))['label-sets'].level).toBe('ok');
    expect(byId(modelChecks(teacher, { ...student, labels: ['negative', 'positive'] }, { maxLength: 64 }))['label-sets'].message).toBe('Teacher and student have the same labels.');
  });

  it('blocks untrainable students and too-long inputs', () => {
    const c = modelChecks(teacher, { ...student, arch: 'roberta', maxLength: 128 }, { maxLength: 256 });
    expect(hasErrors(c)).toBe(true);
    expect(byId(c)['student-arch'].level).toBe('error');
    expect(byId(c)['student-length'].level).toBe('error');
    expect(byId(modelChecks({ ...teacher, labels: ['ONLY'] }, null, { maxLength: 64 }))['teacher-labels'].level).toBe('error');
    expect(byId(modelChecks({ ...teacher, labels: null }, null, { maxLength: 64 }))['teacher-labels'].level).toBe('warn');
  });
});

describe('data checks', () => {
  const preview: DataPreview = { path: '/d/train.csv', format: 'csv', rows: 100, columns: ['sentence', 'label'], textColumn: 'sentence', labelColumn: 'label', sample: [], labelCounts: { negative: 40, positive: 60 }, notes: [] };

  it('accepts label names in any case and ids in range', () => {
    expect(labelKnown('Positive', ['NEGATIVE', 'POSITIVE'])).toBe(true);
    expect(labelKnown('1', ['NEGATIVE', 'POSITIVE'])).toBe(true);
    expect(labelKnown('2', ['NEGATIVE', 'POSITIVE'])).toBe(false);
    expect(labelKnown('neutral', ['NEGATIVE', 'POSITIVE'])).toBe(false);
    expect(dataChecks(preview, ['NEGATIVE', 'POSITIVE'])[0]).toMatchObject({ id: 'label-values', level: 'ok' });
  });

  it('blocks labels the teacher does not know', () => {
    const c = dataChecks({ ...preview, labelCounts: { negative: 10, neutral: 5, positive: 5 } }, ['NEGATIVE', 'POSITIVE']);
    expect(hasErrors(c)).toBe(true);
    expect(c[0].message).toContain('"neutral"');
  });

  it('needs labels in a validation file but not in training data; warns on imbalance', () => {
    expect(dataChecks({ ...preview, labelColumn: null }, null)[0].level).toBe('info');
    expect(dataChecks({ ...preview, labelColumn: null }, null, { isValidation: true })[0].level).toBe('error');
    expect(dataChecks({ ...preview, labelCounts: { negative: 95, positive: 5 } }, ['NEGATIVE', 'POSITIVE']).some((c) => c.id === 'balance')).toBe(true);
    expect(hasErrors(dataChecks({ ...preview, rows: 0, labelCounts: {} }, null))).toBe(true);
    expect(dataChecks(null, null)).toEqual([]);
  });
});
