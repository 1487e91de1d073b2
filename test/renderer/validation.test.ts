import { describe, expect, it } from 'vitest';
import { JobConfigSchema } from '../../src/shared/job-config';
import { defaultRecipe } from '../../src/renderer/src/lib/presets';
import {
  issuesToFieldErrors,
  NUMBER_FIELDS,
  numberToInput,
  parseNumberInput,
  parseRecipeForm,
  recipeToForm,
  validateJobConfig,
} from '../../src/renderer/src/lib/validation';

describe('number inputs', () => {
  it('parses plain, scientific and decimal-comma numbers', () => {
    const num = { kind: 'number' as const, emptyMeans: null };
    expect(parseNumberInput('3e-4', num)).toEqual({ value: 3e-4 });
    expect(parseNumberInput(' 0.0003 ', num)).toEqual({ value: 0.0003 });
    expect(parseNumberInput('0,5', num)).toEqual({ value: 0.5 });
    expect(parseNumberInput('.5', num)).toEqual({ value: 0.5 });
    expect(parseNumberInput('1_000', num)).toEqual({ value: 1000 });
    expect(parseNumberInput('abc', num)).toEqual({ error: 'Enter a number, e.g. 0.5 or 3e-4' });
    expect(parseNumberInput('', num)).toEqual({ error: 'Required' });
  });

  it('requires whole numbers for integer fields and allows empty optional fields', () => {
    expect(parseNumberInput('2.5', { kind: 'int', emptyMeans: null })).toEqual({ error: 'Enter a whole number' });
    expect(parseNumberInput('1e3', { kind: 'int', emptyMeans: null })).toEqual({ value: 1000 });
    expect(parseNumberInput('', { kind: 'int', emptyMeans: 'never' })).toEqual({ value: null });
  });

  it('shows numbers the way people type them', () => {
    expect(numberToInput(3e-4)).toBe('3e-4');
    expect(numberToInput(0.06)).toBe('0.06');
    expect(numberToInput(32)).toBe('32');
    expect(numberToInput(null)).toBe('');
  });
});

describe('zod issues -> field messages', () => {
  it('words each kind of issue for its field', () => {
    const r = JobConfigSchema.safeParse({ epochs: 0, batchSize: 1.5, lr: 2, alpha: -0.1, temperature: 0, maxLength: 1000, validFraction: 1, teacher: '', order: 'random', evalEvery: 0 });
    expect(r.success).toBe(false);
    const e = issuesToFieldErrors(r.success ? [] : r.error.issues);
    expect(e.epochs).toBe('Must be at least 1');
    expect(e.batchSize).toBe('Enter a whole number');
    expect(e.lr).toBe('Must be at most 1');
    expect(e.alpha).toBe('Must be at least 0');
    expect(e.temperature).toBe('Must be more than 0');
    expect(e.maxLength).toBe('Must be at most 512');
    expect(e.validFraction).toBe('Must be less than 1');
    expect(e.teacher).toBe('Required');
    expect(e.order).toBe('Choose one of: bucketed, file');
    expect(e.evalEvery).toBe('Must be at least 1');
  });

  it('validates whole configurations', () => {
    expect(validateJobConfig({})).toEqual({ ok: true });
    expect(validateJobConfig({ seed: -1 })).toEqual({ ok: false, errors: { seed: 'Must be at least 0' } });
  });
});

describe('recipe form', () => {
  it('round-trips the default recipe', () => {
    const form = recipeToForm(defaultRecipe());
    expect(form.lr).toBe('3e-4');
    expect(form.evalEvery).toBe('');
    const r = parseRecipeForm(form);
    expect(r.errors).toEqual({});
    expect(r.values).toEqual(defaultRecipe());
  });

  it('has an input for every numeric recipe field', () => {
    const keys = NUMBER_FIELDS.map((f) => f.key).sort();
    expect(keys).toEqual(['alpha', 'batchSize', 'checkpointEvery', 'earlyStoppingPatience', 'epochs', 'evalEvery', 'lr', 'maxGradNorm', 'maxLength', 'maxSteps', 'seed', 'temperature', 'threads', 'warmupRatio', 'weightDecay']);
  });

  it('reports parse errors and schema errors per field', () => {
    const form = { ...recipeToForm(defaultRecipe()), epochs: 'five', alpha: '1.5', maxLength: '4', batchSize: '', evalEvery: '0' };
    const r = parseRecipeForm(form);
    expect(r.values).toBeNull();
    expect(r.errors).toEqual({ epochs: 'Enter a whole number', alpha: 'Must be at most 1', maxLength: 'Must be at least 8', batchSize: 'Required', evalEvery: 'Must be at least 1' });
  });
});
