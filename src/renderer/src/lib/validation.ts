// Form validation for the wizard: text inputs -> numbers -> the shared zod schema, with each
// problem turned into a short message for the field it belongs to ("Must be at least 1").
import type { z } from 'zod';
import { JobConfigSchema } from '../../../shared/job-config';
import { RECIPE_KEYS, type RecipeValues } from './presets';

/** Field key -> message; a key is a JobConfig field or a wizard field such as 'validPercent'. */
export type FieldErrors = Record<string, string>;

type Issue = z.core.$ZodIssue;

export type NumericRecipeKey = Exclude<(typeof RECIPE_KEYS)[number], 'dropout' | 'order'>;

export interface NumberFieldSpec {
  key: NumericRecipeKey;
  label: string;
  kind: 'int' | 'number';
  /** Empty input means null; the text says what null does. */
  emptyMeans: string | null;
  help: string;
  /** Shown in the basic part of the panel; the rest are under "Advanced". */
  basic: boolean;
}

export const NUMBER_FIELDS: readonly NumberFieldSpec[] = [
  { key: 'epochs', label: 'Epochs', kind: 'int', emptyMeans: null, basic: true, help: 'Passes over the training sentences.' },
  { key: 'batchSize', label: 'Batch size', kind: 'int', emptyMeans: null, basic: true, help: 'Sentences per optimizer step.' },
  { key: 'lr', label: 'Learning rate', kind: 'number', emptyMeans: null, basic: true, help: 'Peak rate after warm-up (e.g. 3e-4); it then decays linearly to zero.' },
  { key: 'temperature', label: 'Temperature', kind: 'number', emptyMeans: null, basic: true, help: "Softens the teacher's probabilities so the student sees how sure it is." },
  { key: 'alpha', label: 'Distillation weight (alpha)', kind: 'number', emptyMeans: null, basic: true, help: "Share of the loss that follows the teacher, 0 to 1; the rest follows the labels." },
  { key: 'maxLength', label: 'Max length (tokens)', kind: 'int', emptyMeans: null, basic: true, help: 'Longer sentences are cut; 8 to 512.' },
  { key: 'seed', label: 'Seed', kind: 'int', emptyMeans: null, basic: true, help: 'Same seed, same data order and same result.' },
  { key: 'evalEvery', label: 'Evaluate every (steps)', kind: 'int', emptyMeans: 'at the end of each epoch', basic: true, help: 'Evaluations also happen at each epoch end; the best one is kept.' },
  { key: 'warmupRatio', label: 'Warm-up share', kind: 'number', emptyMeans: null, basic: false, help: 'Fraction of the steps over which the rate rises from zero, 0 to 1.' },
  { key: 'weightDecay', label: 'Weight decay', kind: 'number', emptyMeans: null, basic: false, help: 'AdamW decay on weights (not biases or layer norms).' },
  { key: 'maxGradNorm', label: 'Gradient clipping (max norm)', kind: 'number', emptyMeans: null, basic: false, help: '0 turns clipping off.' },
  { key: 'maxSteps', label: 'Stop after (steps)', kind: 'int', emptyMeans: 'all epochs', basic: false, help: 'Caps the run; the schedule is shortened to match.' },
  { key: 'checkpointEvery', label: 'Checkpoint every (steps)', kind: 'int', emptyMeans: null, basic: false, help: 'A run can be resumed from its last checkpoint.' },
  { key: 'earlyStoppingPatience', label: 'Early stopping patience', kind: 'int', emptyMeans: 'never stop early', basic: false, help: 'Stop after this many evaluations in a row without improvement.' },
  { key: 'threads', label: 'CPU threads', kind: 'int', emptyMeans: 'automatic', basic: false, help: 'Threads for training on the CPU.' },
];

export const FIELD_LABELS: Record<string, string> = {
  ...Object.fromEntries(NUMBER_FIELDS.map((f) => [f.key, f.label])),
  teacher: 'Teacher',
  student: 'Student',
  train: 'Training data',
  valid: 'Validation file',
  validFraction: 'Held-out share',
  textColumn: 'Text column',
  labelColumn: 'Label column',
  dropout: 'Dropout',
  order: 'Batch order',
  provider: 'Provider',
};

/** The text form of the recipe: numbers as the user typed them. */
export type RecipeForm = Record<NumericRecipeKey, string> & { dropout: boolean; order: 'bucketed' | 'file' };

/** How a number is shown in an input: 0.0003 -> "3e-4", 32 -> "32", null -> "". */
export function numberToInput(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (v !== 0 && Math.abs(v) < 0.001) {
    const [m, e] = v.toExponential().split('e');
    return `${Number(Number(m).toPrecision(6))}e${Number(e)}`;
  }
  return String(v);
}

export function recipeToForm(values: RecipeValues): RecipeForm {
  const form = { dropout: values.dropout, order: values.order } as RecipeForm;
  for (const f of NUMBER_FIELDS) form[f.key] = numberToInput(values[f.key]);
  return form;
}

/**
 * Parses one number input. Accepts "3e-4", "0.0003", " 32 " and a decimal comma ("0,5").
 * Returns the number (or null for an empty optional field) or a message.
 */
export function parseNumberInput(raw: string, spec: Pick<NumberFieldSpec, 'kind' | 'emptyMeans'>): { value: number | null } | { error: string } {
  let s = raw.trim().replace(/_/g, '');
  if (s === '') return spec.emptyMeans !== null ? { value: null } : { error: 'Required' };
  if (/^-?\d+,\d+$/.test(s)) s = s.replace(',', '.');
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return { error: spec.kind === 'int' ? 'Enter a whole number' : 'Enter a number, e.g. 0.5 or 3e-4' };
  const v = Number(s);
  if (!Number.isFinite(v)) return { error: 'Enter a number' };
  if (spec.kind === 'int' && !Number.isInteger(v)) return { error: 'Enter a whole number' };
  return { value: v };
}

const isIntField = (key: string) => NUMBER_FIELDS.some((f) => f.key === key && f.kind === 'int') || key === 'maxLength';

/** A short message for one zod issue, worded for the field it is about. */
export function issueMessage(issue: Issue): string {
  const key = String(issue.path[0] ?? '');
  switch (issue.code) {
    case 'too_small': {
      if (issue.origin === 'string' || issue.origin === 'array') return 'Required';
      const min = Number(issue.minimum);
      if (issue.inclusive) return `Must be at least ${min}`;
      return isIntField(key) ? `Must be at least ${Math.floor(min) + 1}` : `Must be more than ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.inclusive) return `Must be at most ${max}`;
      return isIntField(key) ? `Must be at most ${Math.ceil(max) - 1}` : `Must be less than ${max}`;
    }
    case 'invalid_type':
      if (issue.expected === 'int') return 'Enter a whole number';
      if (issue.expected === 'number') return 'Enter a number';
      if (issue.expected === 'string') return 'Required';
      return issue.message;
    case 'invalid_value':
      return `Choose one of: ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

/** Zod issues -> one message per field (the first issue of each field wins). */
export function issuesToFieldErrors(issues: readonly Issue[]): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of issues) {
    const key = issue.path.length ? String(issue.path[0]) : 'config';
    if (!(key in out)) out[key] = issueMessage(issue);
  }
  return out;
}

/** Parses the recipe form: every field's own message, then the schema's rules. */
export function parseRecipeForm(form: RecipeForm): { values: RecipeValues | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const values = { dropout: form.dropout, order: form.order } as Record<string, unknown>;
  for (const f of NUMBER_FIELDS) {
    const r = parseNumberInput(form[f.key] ?? '', f);
    if ('error' in r) errors[f.key] = r.error;
    else values[f.key] = r.value;
  }
  const checked = JobConfigSchema.safeParse(values);
  if (!checked.success) {
    for (const [k, m] of Object.entries(issuesToFieldErrors(checked.error.issues))) {
      if (RECIPE_KEYS.includes(k as (typeof RECIPE_KEYS)[number]) && !(k in errors)) errors[k] = m;
    }
  }
  if (Object.keys(errors).length) return { values: null, errors };
  const out = {} as Record<string, unknown>;
  for (const k of RECIPE_KEYS) out[k] = checked.success ? checked.data[k] : values[k];
  return { values: out as RecipeValues, errors };
}

/** Validates a whole job configuration input with the shared schema. */
export function validateJobConfig(input: unknown): { ok: true } | { ok: false; errors: FieldErrors } {
  const r = JobConfigSchema.safeParse(input);
  return r.success ? { ok: true } : { ok: false, errors: issuesToFieldErrors(r.error.issues) };
}
