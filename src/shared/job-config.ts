// The distillation job's configuration: one plain object with defaults, validated with zod.
// Shared by the CLI, the desktop app's main process and its renderer (the wizard).
import { z } from 'zod';

/** The reference job: DistilBERT fine-tuned on SST-2 -> BERT-Tiny, on GLUE SST-2. */
export const REFERENCE_TEACHER = 'distilbert-base-uncased-finetuned-sst-2-english';
export const REFERENCE_STUDENT = 'prajjwal1/bert-tiny';
export const SST2_DATASET = 'sst2';

/**
 * The default recipe and why:
 * - batch 32 and lr 3e-4: BERT-Tiny is small and shallow, it tolerates (and needs) a larger
 *   rate than the 5e-5 of big models; the best public BERT-Tiny SST-2 students used batches
 *   of 32-64 with rates of 1e-4 to 1e-3, where the reference run (batch 16, lr 5e-5) stopped at 82.45 %.
 * - 5 epochs with the best evaluation kept: students keep improving past the reference's 3
 *   epochs; keeping the best checkpoint guards against the late epochs overfitting.
 * - T = 2, alpha = 0.5: the reference's distillation loss; soft targets carry most signal.
 * - warm-up 6 % then linear decay (Hugging Face's get_linear_schedule_with_warmup).
 * - clip 1.0 and weight decay 0.01 on weights only: the Hugging Face Trainer's defaults.
 * - dropout off: with a teacher providing soft targets for every sentence, dropout slows
 *   convergence of a 4M-parameter student more than it regularises it.
 */
export const JobConfigSchema = z.object({
  teacher: z.string().min(1).default(REFERENCE_TEACHER),
  student: z.string().min(1).default(REFERENCE_STUDENT),
  /** A data file, or 'sst2' for GLUE SST-2 from the Hub. */
  train: z.string().min(1).default(SST2_DATASET),
  /** A labelled validation file; null: a seeded held-out slice of `train`. */
  valid: z.string().min(1).nullable().default(null),
  validFraction: z.number().gt(0).lt(1).default(0.05),
  textColumn: z.string().min(1).nullable().default(null),
  labelColumn: z.string().min(1).nullable().default(null),
  epochs: z.number().int().positive().default(5),
  /** Stop after this many optimizer steps (overrides epochs for the schedule length). */
  maxSteps: z.number().int().positive().nullable().default(null),
  batchSize: z.number().int().positive().max(4096).default(32),
  lr: z.number().positive().max(1).default(3e-4),
  warmupRatio: z.number().min(0).max(1).default(0.06),
  weightDecay: z.number().min(0).max(1).default(0.01),
  maxGradNorm: z.number().min(0).default(1.0),
  temperature: z.number().positive().max(100).default(2),
  alpha: z.number().min(0).max(1).default(0.5),
  maxLength: z.number().int().min(8).max(512).default(64),
  seed: z.number().int().min(0).default(42),
  dropout: z.boolean().default(false),
  /** 'bucketed': seeded shuffle with length buckets; 'file': consecutive rows, same every epoch. */
  order: z.enum(['bucketed', 'file']).default('bucketed'),
  /** Evaluate every N steps (and at each epoch end); null: at epoch ends only. */
  evalEvery: z.number().int().positive().nullable().default(null),
  /** Write a resumable checkpoint every N steps. */
  checkpointEvery: z.number().int().positive().default(500),
  /** Stop when this many evaluations in a row bring no improvement; null: never. */
  earlyStoppingPatience: z.number().int().positive().nullable().default(null),
  provider: z.enum(['auto', 'cpu', 'cuda', 'dml']).default('auto'),
  threads: z.number().int().positive().max(256).nullable().default(null),
  /** Cache folder for downloads and teacher logits; null: the default per-user cache. */
  cacheDir: z.string().min(1).nullable().default(null),
  offline: z.boolean().default(false),
});

export type JobConfig = z.infer<typeof JobConfigSchema>;
export type JobConfigInput = z.input<typeof JobConfigSchema>;

/** Parses a job configuration; errors list every bad field in one message. */
export function parseJobConfig(input: unknown): JobConfig {
  const r = JobConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
  throw new JobConfigError(`Invalid job configuration — ${problems.join('; ')}`, problems);
}

export class JobConfigError extends Error {
  constructor(message: string, readonly problems: string[]) {
    super(message);
    this.name = 'JobConfigError';
  }
}
