// The shape of every IPC call's arguments, checked with zod before anything reaches a service.
// (Whether a path may be used at all is PathGrants' job: see ipc-handlers.ts.)
import path from 'node:path';
import { z } from 'zod';
import type { InvokableMethod } from '../../shared/api';
import { JobConfigSchema } from '../../shared/job-config';
import { SettingsPatchSchema } from './settings-store';

export class IpcValidationError extends Error {
  constructor(
    message: string,
    readonly method: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'IpcValidationError';
  }
}

const notNul = (p: string) => !p.includes('\0');

/** An absolute path (whether it may be used is checked separately). */
export const AbsolutePathSchema = z
  .string({ error: 'expected a path (a string)' })
  .min(1, 'the path is empty')
  .max(4096, 'the path is longer than 4096 characters')
  .refine(notNul, 'the path contains a NUL character')
  .refine((p) => path.isAbsolute(p), 'expected an absolute path (choose it with the dialog)');

/** A Hugging Face repository id: "owner/name" or a legacy bare "name" (the engine's validateRepoId rule). */
const HUB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export function isHubId(s: string): boolean {
  const parts = s.split('/');
  return s.length <= 200 && parts.length >= 1 && parts.length <= 2 && parts.every((p) => HUB_NAME.test(p) && !p.includes('..'));
}

/** A model: an absolute path (folder, or a teacher's .onnx file) or a Hub id. */
export const ModelSourceSchema = z
  .string({ error: 'expected a model folder or a Hugging Face model id (a string)' })
  .min(1, 'the model is empty')
  .max(4096, 'the model is longer than 4096 characters')
  .refine(notNul, 'the model contains a NUL character')
  .refine((s) => path.isAbsolute(s) || isHubId(s), 'expected a model folder chosen in the dialog or a Hugging Face model id like owner/name');

/** Run ids as the job manager makes them: no separators, no "..". */
export const RunIdSchema = z
  .string({ error: 'expected a run id (a string)' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'expected a run id (letters, digits, ".", "_" and "-", at most 128)')
  .refine((s) => !s.includes('..'), 'a run id cannot contain ".."');

export const PickKindSchema = z.enum(['data-file', 'model-folder', 'run-folder', 'export-folder'], {
  error: 'expected one of data-file, model-folder, run-folder, export-folder',
});
export const RoleSchema = z.enum(['teacher', 'student'], { error: 'expected teacher or student' });
export const ExportFormatSchema = z.enum(['onnx', 'onnx-int8', 'hf'], { error: 'expected one of onnx, onnx-int8, hf' });

const ColumnName = z.string().min(1, 'a column name cannot be empty').max(256, 'the column name is too long');
export const ColumnsSchema = z.strictObject({ text: ColumnName.optional(), label: ColumnName.nullable().optional() });

export const PredictTextSchema = z
  .string({ error: 'expected a sentence (a string)' })
  .max(10_000, 'the text is longer than 10 000 characters')
  .refine((s) => s.trim() !== '', 'the text is empty');

/**
 * A job configuration from the renderer: JobConfigSchema with no unknown keys, and the fields
 * that name files restricted to absolute paths (or 'sst2' / Hub ids where those make sense).
 */
export const JobConfigInputSchema = JobConfigSchema.strict().superRefine((c, ctx) => {
  const bad = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
  for (const field of ['teacher', 'student'] as const) {
    const v = c[field];
    if (!(path.isAbsolute(v) || isHubId(v)) || v.includes('\0')) bad(field, 'expected a model folder chosen in the dialog or a Hugging Face model id like owner/name');
  }
  if (c.train !== 'sst2' && (!path.isAbsolute(c.train) || c.train.includes('\0'))) bad('train', "expected a data file chosen in the dialog, or 'sst2'");
  if (c.valid !== null && (!path.isAbsolute(c.valid) || c.valid.includes('\0'))) bad('valid', 'expected a data file chosen in the dialog, or null');
  if (c.cacheDir !== null && (!path.isAbsolute(c.cacheDir) || c.cacheDir.includes('\0'))) bad('cacheDir', 'expected a folder chosen in the dialog, or null');
});

/** Argument tuples per method, with the arguments' names for messages. */
export const IPC_ARGS = {
  getVersion: { names: [], schema: z.tuple([]) },
  doctor: { names: [], schema: z.tuple([]) },
  getSettings: { names: [], schema: z.tuple([]) },
  updateSettings: { names: ['patch'], schema: z.tuple([SettingsPatchSchema]) },
  pick: { names: ['kind'], schema: z.tuple([PickKindSchema]) },
  previewData: { names: ['path', 'columns'], schema: z.tuple([AbsolutePathSchema, ColumnsSchema.optional()]) },
  inspectModel: { names: ['source', 'role'], schema: z.tuple([ModelSourceSchema, RoleSchema]) },
  installGpuPack: { names: [], schema: z.tuple([]) },
  startRun: { names: ['config'], schema: z.tuple([JobConfigInputSchema]) },
  pauseRun: { names: ['runId'], schema: z.tuple([RunIdSchema]) },
  resumeRun: { names: ['runId'], schema: z.tuple([RunIdSchema]) },
  cancelRun: { names: ['runId'], schema: z.tuple([RunIdSchema]) },
  listRuns: { names: [], schema: z.tuple([]) },
  getRun: { names: ['runId'], schema: z.tuple([RunIdSchema]) },
  compare: { names: ['runId'], schema: z.tuple([RunIdSchema]) },
  predictBoth: { names: ['runId', 'text'], schema: z.tuple([RunIdSchema, PredictTextSchema]) },
  exportRun: { names: ['runId', 'format', 'outDir'], schema: z.tuple([RunIdSchema, ExportFormatSchema, AbsolutePathSchema]) },
  showInFolder: { names: ['path'], schema: z.tuple([AbsolutePathSchema]) },
  systemUsage: { names: [], schema: z.tuple([]) },
} as const satisfies Record<InvokableMethod, { names: readonly string[]; schema: z.ZodType<readonly unknown[]> }>;

export type IpcArgs<M extends InvokableMethod> = z.output<(typeof IPC_ARGS)[M]['schema']>;

function required(names: readonly string[], schema: z.ZodType): number {
  // Trailing optional elements may be left out.
  const items = (schema as unknown as { def: { items: z.ZodType[] } }).def.items;
  let n = items.length;
  while (n > 0 && items[n - 1]!.safeParse(undefined).success) n--;
  return Math.min(n, names.length);
}

/**
 * Validates the arguments of an IPC call; throws IpcValidationError with one message naming
 * every bad argument ("Invalid arguments for previewData — path: expected an absolute path ...").
 */
export function parseIpcArgs<M extends InvokableMethod>(method: M, args: readonly unknown[]): IpcArgs<M> {
  const spec = IPC_ARGS[method] as { names: readonly string[]; schema: z.ZodType } | undefined;
  if (!spec) throw new IpcValidationError(`Unknown IPC method ${String(method)}`, String(method), ['unknown method']);
  if (!Array.isArray(args)) throw new IpcValidationError(`Invalid arguments for ${method}: expected a list of arguments`, method, ['not a list']);
  // Trailing undefined arguments (an optional parameter left out) do not count.
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  const min = required(spec.names, spec.schema);
  const max = spec.names.length;
  if (n > max || n < min) {
    const expected = max === 0 ? 'no arguments' : min === max ? `${max} argument${max === 1 ? '' : 's'} (${spec.names.join(', ')})` : `${min} to ${max} arguments (${spec.names.join(', ')})`;
    const problem = `expected ${expected}, got ${n}`;
    throw new IpcValidationError(`Invalid arguments for ${method}: ${problem}`, method, [problem]);
  }
  const r = spec.schema.safeParse(args.slice(0, max));
  if (r.success) return r.data as IpcArgs<M>;
  const problems = r.error.issues.map((i) => {
    const [first, ...rest] = i.path;
    const name = typeof first === 'number' ? (spec.names[first] ?? `argument ${first + 1}`) : 'arguments';
    return `${[name, ...rest.map(String)].join('.')}: ${i.message}`;
  });
  throw new IpcValidationError(`Invalid arguments for ${method} — ${problems.join('; ')}`, method, problems);
}

/**
 * The fields the renderer actually sent, parsed: defaults of fields it left out are not
 * filled in here, so the services can still apply the user's settings to them.
 */
export function sentFields(input: unknown, parsed: Record<string, unknown>): Record<string, unknown> {
  const sent = input !== null && typeof input === 'object' ? Object.keys(input) : [];
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => sent.includes(k) && (input as Record<string, unknown>)[k] !== undefined));
}
