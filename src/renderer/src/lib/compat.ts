// Checks run before training, shown in the wizard: does the teacher/student pair fit together
// (labels, tokenizers/vocabularies, sizes, input length) and do the data's labels match the
// teacher's? Errors block the wizard; warnings and notes are shown. Pure functions.
import type { DataPreview, ModelInfo } from '../../../shared/api';
import { formatCompact, formatCount, formatRatio } from './format';

export type CheckLevel = 'ok' | 'info' | 'warn' | 'error';

export interface Check {
  id: string;
  level: CheckLevel;
  /** One sentence. */
  message: string;
}

/** Student architectures the trainer can build. */
export const TRAINABLE_ARCHS = ['bert', 'distilbert'] as const;

const GENERIC_LABEL = /^LABEL_\d+$/i;

const sameLabels = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((l, i) => l.toLowerCase() === b[i].toLowerCase());

export function modelChecks(teacher: ModelInfo | null, student: ModelInfo | null, opts: { maxLength: number }): Check[] {
  const checks: Check[] = [];
  if (teacher) {
    if (!teacher.labels || teacher.labels.length === 0) {
      checks.push({ id: 'teacher-labels', level: 'warn', message: 'The teacher names no labels (its config.json has no id2label): two classes, LABEL_0 and LABEL_1, are assumed.' });
    } else if (teacher.labels.length < 2) {
      checks.push({ id: 'teacher-labels', level: 'error', message: `The teacher has a single label (${teacher.labels[0]}): a classifier needs at least two.` });
    } else {
      checks.push({ id: 'teacher-labels', level: 'ok', message: `The teacher predicts ${teacher.labels.length} labels: ${teacher.labels.join(', ')}.` });
    }
    if (teacher.maxLength !== null && opts.maxLength > teacher.maxLength) {
      checks.push({ id: 'teacher-length', level: 'error', message: `Max length ${opts.maxLength} is more than the teacher accepts (${teacher.maxLength} tokens): lower it in the recipe.` });
    }
  }
  if (student) {
    if (student.arch !== null && !TRAINABLE_ARCHS.includes(student.arch.toLowerCase() as (typeof TRAINABLE_ARCHS)[number])) {
      checks.push({ id: 'student-arch', level: 'error', message: `The student is a ${student.arch} model; only BERT and DistilBERT students can be trained.` });
    }
    if (student.maxLength !== null && opts.maxLength > student.maxLength) {
      checks.push({ id: 'student-length', level: 'error', message: `Max length ${opts.maxLength} is more than the student accepts (${student.maxLength} tokens): lower it in the recipe.` });
    }
  }
  if (teacher && student) {
    const tl = teacher.labels ?? [];
    const sl = student.labels ?? [];
    if (sl.length === 0 || sl.every((l) => GENERIC_LABEL.test(l))) {
      checks.push({ id: 'label-sets', level: 'ok', message: `The student gets a new classification head for the teacher's ${Math.max(tl.length, 2)} labels.` });
    } else if (tl.length > 0 && sameLabels(tl, sl)) {
      checks.push({ id: 'label-sets', level: 'ok', message: 'Teacher and student have the same labels.' });
    } else if (tl.length > 0) {
      checks.push({
        id: 'label-sets',
        level: 'warn',
        message: `The student's labels (${sl.join(', ')}) differ from the teacher's (${tl.join(', ')}): its classification head is replaced with one for the teacher's labels.`,
      });
    }
    if (teacher.vocabSize !== null && student.vocabSize !== null) {
      if (teacher.vocabSize === student.vocabSize) {
        checks.push({ id: 'vocab', level: 'ok', message: `Same vocabulary size (${formatCount(teacher.vocabSize)} tokens).` });
      } else {
        checks.push({
          id: 'vocab',
          level: 'info',
          message: `Different vocabularies (teacher ${formatCount(teacher.vocabSize)}, student ${formatCount(student.vocabSize)} tokens): each reads the text with its own tokenizer, which works because the student learns from the teacher's probabilities.`,
        });
      }
    } else {
      checks.push({ id: 'vocab', level: 'info', message: 'Vocabulary sizes are unknown; each model will use its own tokenizer.' });
    }
    if (teacher.parameters !== null && student.parameters !== null && student.parameters > 0) {
      const ratio = teacher.parameters / student.parameters;
      if (ratio > 1) {
        checks.push({
          id: 'params',
          level: 'ok',
          message: `The student is ${formatRatio(ratio)} smaller (${formatCompact(student.parameters)} vs ${formatCompact(teacher.parameters)} parameters).`,
        });
      } else {
        checks.push({
          id: 'params',
          level: 'warn',
          message: `The student (${formatCompact(student.parameters)} parameters) is not smaller than the teacher (${formatCompact(teacher.parameters)}): distillation will not make it faster.`,
        });
      }
    }
  }
  return checks;
}

/** True when a data label is one the engine maps onto the teacher's labels (name in any case, or id). */
export function labelKnown(value: string, teacherLabels: readonly string[]): boolean {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) < Math.max(teacherLabels.length, 2);
  return teacherLabels.some((l) => l.toLowerCase() === v.toLowerCase());
}

/** Checks on the data preview against the teacher's labels. */
export function dataChecks(preview: DataPreview | null, teacherLabels: readonly string[] | null, opts: { isValidation?: boolean } = {}): Check[] {
  if (!preview) return [];
  const checks: Check[] = [];
  const what = opts.isValidation ? 'validation file' : 'training data';
  if (preview.rows === 0) checks.push({ id: 'rows', level: 'error', message: `The ${what} has no rows.` });
  if (preview.labelColumn === null) {
    checks.push(
      opts.isValidation
        ? { id: 'label-column', level: 'error', message: 'A validation file needs a label column: map one above.' }
        : { id: 'label-column', level: 'info', message: 'No label column: the student learns from the teacher alone, and accuracy is measured against held-out labels if there are any, else against the teacher.' },
    );
    return checks;
  }
  const labels = Object.keys(preview.labelCounts).filter((l) => l !== '');
  const known = teacherLabels && teacherLabels.length ? teacherLabels : null;
  if (known) {
    const unknown = labels.filter((l) => !labelKnown(l, known));
    if (unknown.length) {
      checks.push({
        id: 'label-values',
        level: 'error',
        message: `Label${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).map((l) => `"${l}"`).join(', ')}${unknown.length > 5 ? ' …' : ''} ${unknown.length > 1 ? 'are' : 'is'} not among the teacher's (${known.join(', ')}): pick the matching teacher or fix the ${what}.`,
      });
    } else {
      checks.push({ id: 'label-values', level: 'ok', message: `All labels in the ${what} match the teacher's.` });
    }
  }
  const counts = Object.values(preview.labelCounts);
  const total = counts.reduce((a, b) => a + b, 0);
  if (counts.length > 1 && total > 0 && Math.max(...counts) / total > 0.9) {
    checks.push({ id: 'balance', level: 'warn', message: 'One label covers more than 90 % of the rows: accuracy alone will look better than the model is.' });
  }
  return checks;
}

/** True when any check blocks the wizard. */
export const hasErrors = (checks: readonly Check[]) => checks.some((c) => c.level === 'error');
