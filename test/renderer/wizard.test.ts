import { describe, expect, it } from 'vitest';
import { JobConfigSchema, REFERENCE_STUDENT, REFERENCE_TEACHER } from '../../src/shared/job-config';
import { buildJobConfig, errorsForStep, initialWizardForm, initialWizardState, isLocalPath, parseValidPercent, sentenceCounts, stepBlockers, stepOfField } from '../../src/renderer/src/lib/wizard';

describe('wizard form', () => {
  it('defaults to the reference job and produces a valid config', () => {
    const form = initialWizardForm();
    expect(form.teacher).toBe(REFERENCE_TEACHER);
    expect(form.student).toBe(REFERENCE_STUDENT);
    const { config, errors } = buildJobConfig(form);
    expect(errors).toEqual({});
    const parsed = JobConfigSchema.parse(config);
    expect(parsed).toEqual(JobConfigSchema.parse({}));
  });

  it('maps a local file, its columns and a held-out share', () => {
    const form = { ...initialWizardForm('cpu'), dataSource: 'file' as const, dataPath: '/data/reviews.csv', textColumn: 'review', labelColumn: 'stars', validPercent: '10' };
    const { config } = buildJobConfig(form);
    expect(config).toMatchObject({ train: '/data/reviews.csv', textColumn: 'review', labelColumn: 'stars', validFraction: 0.1, valid: null, provider: 'cpu' });
  });

  it('uses a separate validation file', () => {
    const form = { ...initialWizardForm(), dataSource: 'file' as const, dataPath: '/d/train.tsv', validMode: 'file' as const, validPath: '/d/dev.tsv' };
    expect(buildJobConfig(form).config).toMatchObject({ valid: '/d/dev.tsv' });
    expect(buildJobConfig({ ...form, validPath: null }).errors).toEqual({ valid: 'Choose a validation file' });
  });

  it('collects errors from every step and sorts them by step', () => {
    const form = { ...initialWizardForm(), teacher: ' ', dataSource: 'file' as const, dataPath: null, validPercent: '150' };
    form.recipe = { ...form.recipe, lr: 'fast' };
    const { config, errors } = buildJobConfig(form);
    expect(config).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(['lr', 'teacher', 'train', 'validPercent']);
    expect(errorsForStep(errors, 'models')).toEqual({ teacher: 'Enter a Hugging Face model id or choose a folder' });
    expect(errorsForStep(errors, 'data')).toEqual({ train: 'Choose a data file', validPercent: 'Between 0 and 100 %, e.g. 5' });
    expect(stepOfField('lr')).toBe('recipe');
    expect(stepOfField('threads')).toBe('hardware');
    expect(stepOfField('config')).toBe('review');
  });

  it('parses the held-out share and counts sentences', () => {
    expect(parseValidPercent('5')).toEqual({ value: 0.05 });
    expect(parseValidPercent('0')).toEqual({ error: 'Between 0 and 100 %, e.g. 5' });
    expect(sentenceCounts({ dataSource: 'sst2', validMode: 'holdout', validPercent: '5' }, { train: null, valid: null }, { train: 67_349, valid: 872 })).toEqual({ train: 67_349, valid: 872 });
    expect(sentenceCounts({ dataSource: 'file', validMode: 'holdout', validPercent: '10' }, { train: 1000, valid: null }, { train: 1, valid: 1 })).toEqual({ train: 900, valid: 100 });
    expect(sentenceCounts({ dataSource: 'file', validMode: 'file', validPercent: '10' }, { train: 1000, valid: 50 }, { train: 1, valid: 1 })).toEqual({ train: 1000, valid: 50 });
    expect(sentenceCounts({ dataSource: 'file', validMode: 'holdout', validPercent: '10' }, { train: null, valid: null }, { train: 1, valid: 1 })).toBeNull();
  });

  it('tells local paths from Hub ids', () => {
    expect(isLocalPath('/home/me/model')).toBe(true);
    expect(isLocalPath('C:\\models\\teacher')).toBe(true);
    expect(isLocalPath('./model')).toBe(true);
    expect(isLocalPath('prajjwal1/bert-tiny')).toBe(false);
    expect(isLocalPath('distilbert-base-uncased-finetuned-sst-2-english')).toBe(false);
  });
});

describe('stepBlockers', () => {
  const teacher = { source: 'distilbert-base-uncased-finetuned-sst-2-english', role: 'teacher' as const, arch: 'distilbert', parameters: 66_955_010, labels: ['NEGATIVE', 'POSITIVE'], maxLength: 512, vocabSize: 30_522, sizeBytes: 268e6, notes: [] };
  const student = { source: 'prajjwal1/bert-tiny', role: 'student' as const, arch: 'bert', parameters: 4_386_178, labels: null, maxLength: 512, vocabSize: 30_522, sizeBytes: 17.7e6, notes: [] };
  const ready = () => {
    const w = initialWizardState();
    w.teacher = { source: teacher.source, info: teacher, error: null, loading: false };
    w.student = { source: student.source, info: student, error: null, loading: false };
    return w;
  };

  it('lets the reference job through every step', () => {
    const w = ready();
    for (const s of ['hardware', 'models', 'data', 'recipe', 'review'] as const) expect(stepBlockers(s, w)).toEqual([]);
  });

  it('models: not checked yet, still checking, unreadable, incompatible', () => {
    const w = initialWizardState();
    expect(stepBlockers('models', w)).toEqual([
      'The teacher has not been checked yet: press "Check models".',
      'The student has not been checked yet: press "Check models".',
    ]);
    w.teacher = { source: teacher.source, info: null, error: null, loading: true };
    w.student = { source: student.source, info: null, error: 'No model named prajjwal1/bert-tiny', loading: false };
    expect(stepBlockers('models', w)).toEqual(['The teacher is still being checked.', 'The student could not be read: No model named prajjwal1/bert-tiny']);
    const r = ready();
    r.student.info = { ...student, arch: 'gpt2' };
    expect(stepBlockers('models', r)[0]).toContain('only BERT and DistilBERT students');
    // an edited source needs a new check
    r.form.student = 'someone/else';
    expect(stepBlockers('models', r)).toContain('The student has not been checked yet: press "Check models".');
  });

  it('data: file chosen, readable, labels matching, valid share', () => {
    const w = ready();
    w.form.dataSource = 'file';
    expect(stepBlockers('data', w)).toEqual(['Choose a data file.']);
    w.form.dataPath = '/d/x.csv';
    w.data = { path: '/d/x.csv', preview: null, error: 'x.csv is empty', loading: false };
    expect(stepBlockers('data', w)).toEqual(['The data file cannot be used: x.csv is empty']);
    w.data = {
      path: '/d/x.csv',
      preview: { path: '/d/x.csv', format: 'csv', rows: 10, columns: ['text', 'label'], textColumn: 'text', labelColumn: 'label', sample: [], labelCounts: { good: 5, bad: 5 }, notes: [] },
      error: null,
      loading: false,
    };
    expect(stepBlockers('data', w)[0]).toContain('"good", "bad" are not among the teacher');
    w.data.preview!.labelCounts = { positive: 5, negative: 5 };
    w.form.validPercent = 'x';
    expect(stepBlockers('data', w)).toEqual(['Held-out share: Enter a number, e.g. 0.5 or 3e-4.']);
    w.form.validPercent = '10';
    expect(stepBlockers('data', w)).toEqual([]);
  });

  it('recipe and review: bad fields, and everything at once on review', () => {
    const w = ready();
    w.form.recipe = { ...w.form.recipe, lr: 'x', alpha: '3' };
    expect(stepBlockers('recipe', w)).toEqual(['2 recipe fields need attention.']);
    w.form.recipe.maxLength = '1024';
    w.student.info = { ...student, maxLength: 512 };
    expect(stepBlockers('recipe', w)).toContain('Max length 1024 is more than the student accepts (512 tokens): lower it in the recipe.');
    w.form.teacher = '';
    const all = stepBlockers('review', w);
    expect(all).toContain('Teacher: Enter a Hugging Face model id or choose a folder.');
    expect(all.some((m) => m.includes('recipe fields need attention'))).toBe(true);
  });
});
