// The setup wizard's form model: what each step edits, and the job configuration it becomes
// (validated with the shared zod schema, problems mapped back to the step and field).
import type { DataPreview, DoctorReport, ModelInfo, ProviderChoice } from '../../../shared/api';
import { dataChecks, modelChecks, type Check } from './compat';
import { REFERENCE_STUDENT, REFERENCE_TEACHER, SST2_DATASET, type JobConfigInput } from '../../../shared/job-config';
import { defaultRecipe, RECIPE_KEYS } from './presets';
import { issuesToFieldErrors, parseNumberInput, parseRecipeForm, recipeToForm, type FieldErrors, type RecipeForm } from './validation';
import { JobConfigSchema } from '../../../shared/job-config';
import { formatCount } from './format';

export type StepId = 'hardware' | 'models' | 'data' | 'recipe' | 'review';

export const WIZARD_STEPS: readonly { id: StepId; title: string }[] = [
  { id: 'hardware', title: 'Hardware' },
  { id: 'models', title: 'Models' },
  { id: 'data', title: 'Data' },
  { id: 'recipe', title: 'Recipe' },
  { id: 'review', title: 'Review' },
];

export interface WizardForm {
  /** Hub id or local folder. */
  teacher: string;
  student: string;
  dataSource: 'sst2' | 'file';
  dataPath: string | null;
  /** Column mapping for a local file; null: detected. */
  textColumn: string | null;
  labelColumn: string | null;
  /** 'holdout': a seeded slice of the training file; 'file': a separate labelled file. SST-2 uses its own validation split. */
  validMode: 'holdout' | 'file';
  /** Held-out share in percent, as typed. */
  validPercent: string;
  validPath: string | null;
  recipe: RecipeForm;
  provider: ProviderChoice;
}

export function initialWizardForm(provider: ProviderChoice = 'auto'): WizardForm {
  return {
    teacher: REFERENCE_TEACHER,
    student: REFERENCE_STUDENT,
    dataSource: 'sst2',
    dataPath: null,
    textColumn: null,
    labelColumn: null,
    validMode: 'holdout',
    validPercent: '5',
    validPath: null,
    recipe: recipeToForm(defaultRecipe()),
    provider,
  };
}

/** Which step owns each field, so a schema problem sends the user to the right place. */
export const STEP_FIELDS: Record<StepId, readonly string[]> = {
  hardware: ['provider', 'threads'],
  models: ['teacher', 'student'],
  data: ['train', 'valid', 'validFraction', 'validPercent', 'textColumn', 'labelColumn'],
  recipe: RECIPE_KEYS.filter((k) => k !== 'threads'),
  review: ['config'],
};

export function stepOfField(field: string): StepId {
  for (const s of WIZARD_STEPS) if (STEP_FIELDS[s.id].includes(field)) return s.id;
  return 'review';
}

export function errorsForStep(errors: FieldErrors, step: StepId): FieldErrors {
  const out: FieldErrors = {};
  for (const [k, v] of Object.entries(errors)) if (stepOfField(k) === step) out[k] = v;
  return out;
}

/** The held-out share as a fraction, or a message. */
export function parseValidPercent(raw: string): { value: number } | { error: string } {
  const r = parseNumberInput(raw, { kind: 'number', emptyMeans: null });
  if ('error' in r) return r;
  const v = r.value as number;
  if (!(v > 0 && v < 100)) return { error: 'Between 0 and 100 %, e.g. 5' };
  return { value: v / 100 };
}

/** The job configuration the wizard describes, or the problems per field. */
export function buildJobConfig(form: WizardForm): { config: JobConfigInput | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  if (!form.teacher.trim()) errors.teacher = 'Enter a Hugging Face model id or choose a folder';
  if (!form.student.trim()) errors.student = 'Enter a Hugging Face model id or choose a folder';
  if (form.dataSource === 'file' && !form.dataPath) errors.train = 'Choose a data file';
  let validFraction = 0.05;
  let valid: string | null = null;
  if (form.dataSource === 'file') {
    if (form.validMode === 'holdout') {
      const p = parseValidPercent(form.validPercent);
      if ('error' in p) errors.validPercent = p.error;
      else validFraction = p.value;
    } else if (!form.validPath) {
      errors.valid = 'Choose a validation file';
    } else {
      valid = form.validPath;
    }
  }
  const recipe = parseRecipeForm(form.recipe);
  Object.assign(errors, recipe.errors);
  if (Object.keys(errors).length || !recipe.values) return { config: null, errors };

  const config: JobConfigInput = {
    teacher: form.teacher.trim(),
    student: form.student.trim(),
    train: form.dataSource === 'sst2' ? SST2_DATASET : (form.dataPath as string),
    valid,
    validFraction,
    // A local file's mapping; null lets the engine detect the columns ('text'/'sentence', 'label').
    textColumn: form.dataSource === 'file' ? form.textColumn : null,
    labelColumn: form.dataSource === 'file' ? form.labelColumn : null,
    ...recipe.values,
    provider: form.provider,
  };
  const checked = JobConfigSchema.safeParse(config);
  if (!checked.success) return { config: null, errors: issuesToFieldErrors(checked.error.issues) };
  return { config, errors: {} };
}

/** Training and validation sentence counts for the estimates. */
export function sentenceCounts(
  form: Pick<WizardForm, 'dataSource' | 'validMode' | 'validPercent'>,
  rows: { train: number | null; valid: number | null },
  sst2: { train: number; valid: number },
): { train: number; valid: number } | null {
  if (form.dataSource === 'sst2') return { train: sst2.train, valid: sst2.valid };
  if (rows.train === null) return null;
  if (form.validMode === 'file') return { train: rows.train, valid: rows.valid ?? 0 };
  const p = parseValidPercent(form.validPercent);
  const f = 'value' in p ? p.value : 0.05;
  const valid = Math.max(1, Math.round(rows.train * f));
  return { train: rows.train - valid, valid };
}

/** Looks like a local path rather than a Hub id ("org/name"). */
export function isLocalPath(spec: string): boolean {
  return /^([./~\\]|[A-Za-z]:[\\/])/.test(spec.trim()) || /[\\]/.test(spec);
}

/** A model the wizard inspected (inspectModel), for the source it was inspected for. */
export interface ModelCheckState {
  source: string | null;
  info: ModelInfo | null;
  error: string | null;
  loading: boolean;
}

/** A data file the wizard previewed (previewData). */
export interface PreviewState {
  path: string | null;
  preview: DataPreview | null;
  error: string | null;
  loading: boolean;
}

/** Everything the wizard knows besides the form: what the app reported back. */
export interface WizardState {
  form: WizardForm;
  doctor: DoctorReport | null;
  doctorError: string | null;
  doctorLoading: boolean;
  teacher: ModelCheckState;
  student: ModelCheckState;
  data: PreviewState;
  valid: PreviewState;
}

export const emptyModelCheck = (): ModelCheckState => ({ source: null, info: null, error: null, loading: false });
export const emptyPreview = (): PreviewState => ({ path: null, preview: null, error: null, loading: false });

export function initialWizardState(provider: ProviderChoice = 'auto'): WizardState {
  return {
    form: initialWizardForm(provider),
    doctor: null,
    doctorError: null,
    doctorLoading: false,
    teacher: emptyModelCheck(),
    student: emptyModelCheck(),
    data: emptyPreview(),
    valid: emptyPreview(),
  };
}

/** The recipe's max length as typed, or the default (for checks that need it before the Recipe step). */
export function formMaxLength(form: WizardForm): number {
  const r = parseNumberInput(form.recipe.maxLength, { kind: 'int', emptyMeans: null });
  return 'value' in r && r.value !== null ? r.value : 64;
}

/** Compatibility checks for the models as inspected (empty until both are known). */
export function wizardModelChecks(w: WizardState): Check[] {
  const t = w.teacher.source === w.form.teacher.trim() ? w.teacher.info : null;
  const s = w.student.source === w.form.student.trim() ? w.student.info : null;
  return modelChecks(t, s, { maxLength: formMaxLength(w.form) });
}

export function wizardDataChecks(w: WizardState): { data: Check[]; valid: Check[] } {
  const labels = w.teacher.info?.labels ?? null;
  if (w.form.dataSource !== 'file') return { data: [], valid: [] };
  return {
    data: w.data.path === w.form.dataPath ? dataChecks(w.data.preview, labels) : [],
    valid: w.form.validMode === 'file' && w.valid.path === w.form.validPath ? dataChecks(w.valid.preview, labels, { isValidation: true }) : [],
  };
}

/**
 * What keeps the user from leaving a step, as sentences (empty: the step is complete). The
 * Review step lists every step's problems.
 */
export function stepBlockers(step: StepId, w: WizardState): string[] {
  const f = w.form;
  const out: string[] = [];
  const errors = buildJobConfig(f).errors;
  const own = Object.entries(errorsForStep(errors, step));
  if (step === 'models') {
    for (const [k, m] of own) out.push(`${k === 'teacher' ? 'Teacher' : 'Student'}: ${m}.`);
    for (const role of ['teacher', 'student'] as const) {
      const m = w[role];
      const name = role === 'teacher' ? 'The teacher' : 'The student';
      if (!f[role].trim()) continue;
      if (m.loading) out.push(`${name} is still being checked.`);
      else if (m.source === f[role].trim() && m.error) out.push(`${name} could not be read: ${m.error}`);
      else if (m.source !== f[role].trim()) out.push(`${name} has not been checked yet: press "Check models".`);
    }
    for (const c of wizardModelChecks(w)) if (c.level === 'error') out.push(c.message);
  } else if (step === 'data') {
    if (f.dataSource === 'file') {
      if (!f.dataPath) out.push('Choose a data file.');
      else if (w.data.loading) out.push('The data file is still being read.');
      else if (w.data.error && w.data.path === f.dataPath) out.push(`The data file cannot be used: ${w.data.error}`);
      if (f.validMode === 'file') {
        if (!f.validPath) out.push('Choose a validation file, or hold out part of the training data.');
        else if (w.valid.loading) out.push('The validation file is still being read.');
        else if (w.valid.error && w.valid.path === f.validPath) out.push(`The validation file cannot be used: ${w.valid.error}`);
      } else if (errors.validPercent) {
        out.push(`Held-out share: ${errors.validPercent}.`);
      }
      const checks = wizardDataChecks(w);
      for (const c of [...checks.data, ...checks.valid]) if (c.level === 'error') out.push(c.message);
    }
  } else if (step === 'recipe') {
    if (own.length) out.push(`${own.length === 1 ? 'One recipe field needs' : `${formatCount(own.length)} recipe fields need`} attention.`);
    for (const c of wizardModelChecks(w)) if (c.level === 'error' && (c.id === 'student-length' || c.id === 'teacher-length')) out.push(c.message);
  } else if (step === 'review') {
    for (const s of WIZARD_STEPS) if (s.id !== 'review') out.push(...stepBlockers(s.id, w));
    if (errors.config) out.push(errors.config);
  }
  return [...new Set(out)];
}
