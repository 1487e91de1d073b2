// Time and disk estimates for the wizard's Review step. Deliberately simple models, shown as
// estimates: time = sentences × epochs / samples-per-second, where samples per second comes
// from the provider the hardware decision picked and is scaled by cores, input length and
// student size. Pure functions, unit-tested in test/renderer/estimate.test.ts.

export const SST2_TRAIN_SENTENCES = 67_349;
export const SST2_VALID_SENTENCES = 872;
/** BERT-Tiny (2 layers, hidden 128) with a two-class head. */
export const BERT_TINY_PARAMS = 4_386_178;
/** DistilBERT base with a two-class head. */
export const DISTILBERT_PARAMS = 66_955_010;

/**
 * Reference speeds at batch 32, max length 64 on SST-2 sentences:
 * - CPU: about 400 training samples/s for BERT-Tiny on 2 cores; scaled by (cores / 2)^0.85
 *   (more cores help, a little less than linearly: memory bandwidth and serial parts).
 * - CUDA / DirectML: small models are bound by kernel launches, not arithmetic, so the gain
 *   over the CPU is a constant factor rather than a FLOP ratio.
 * - The teacher pass (forward only, about 15× the student's arithmetic per sentence).
 */
export const SPEED = {
  cpu: { trainSamplesPerSecond: 400, referenceCores: 2, coreExponent: 0.85, teacherSentencesPerSecond: 150 },
  cuda: { trainSamplesPerSecond: 6000, teacherSentencesPerSecond: 3000 },
  dml: { trainSamplesPerSecond: 2500, teacherSentencesPerSecond: 1200 },
} as const;

/** Evaluation runs forward only, on the validation sentences; about 3× faster per sentence than a training step. */
const EVAL_SPEEDUP = 3;

export type Provider = 'cpu' | 'cuda' | 'dml';

export interface SpeedInput {
  provider: Provider;
  cores: number;
  maxLength: number;
  batchSize: number;
  studentParams: number | null;
}

/** Cost of longer inputs (attention and activations grow with length; most sentences are short). */
function lengthFactor(maxLength: number): number {
  return Math.max(0.5, maxLength / 64) ** 0.7;
}

/** Small batches waste the provider's width; large ones gain a little. */
function batchFactor(batchSize: number): number {
  return Math.min(1.3, Math.max(0.4, (batchSize / 32) ** 0.25));
}

/** Training samples per second for the student on this hardware. */
export function trainSamplesPerSecond(s: SpeedInput): number {
  const base =
    s.provider === 'cpu'
      ? SPEED.cpu.trainSamplesPerSecond * (Math.max(1, s.cores) / SPEED.cpu.referenceCores) ** SPEED.cpu.coreExponent
      : SPEED[s.provider].trainSamplesPerSecond;
  const sizeFactor = Math.max(1, (s.studentParams ?? BERT_TINY_PARAMS) / BERT_TINY_PARAMS);
  return (base * batchFactor(s.batchSize)) / lengthFactor(s.maxLength) / sizeFactor;
}

/** Teacher sentences per second (forward pass, cached afterwards). */
export function teacherSentencesPerSecond(s: Omit<SpeedInput, 'studentParams' | 'batchSize'> & { teacherParams: number | null }): number {
  const base =
    s.provider === 'cpu'
      ? SPEED.cpu.teacherSentencesPerSecond * (Math.max(1, s.cores) / SPEED.cpu.referenceCores) ** SPEED.cpu.coreExponent
      : SPEED[s.provider].teacherSentencesPerSecond;
  const sizeFactor = Math.max(0.25, (s.teacherParams ?? DISTILBERT_PARAMS) / DISTILBERT_PARAMS);
  return base / lengthFactor(s.maxLength) / sizeFactor;
}

export interface RunShape {
  trainSentences: number;
  validSentences: number;
  epochs: number;
  maxSteps: number | null;
  batchSize: number;
  /** Evaluate every N steps; null: at epoch ends only. */
  evalEvery: number | null;
}

/** Optimizer steps for the run (maxSteps caps the schedule, as in the trainer). */
export function totalSteps(r: Pick<RunShape, 'trainSentences' | 'epochs' | 'maxSteps' | 'batchSize'>): number {
  const perEpoch = Math.max(1, Math.ceil(r.trainSentences / Math.max(1, r.batchSize)));
  const full = perEpoch * Math.max(1, r.epochs);
  return r.maxSteps ? Math.min(r.maxSteps, full) : full;
}

/** How many evaluations: one per epoch end plus one every `evalEvery` steps. */
export function evaluationCount(r: RunShape): number {
  const steps = totalSteps(r);
  const perEpoch = Math.max(1, Math.ceil(r.trainSentences / Math.max(1, r.batchSize)));
  const epochEnds = Math.ceil(steps / perEpoch);
  return epochEnds + (r.evalEvery ? Math.floor(steps / r.evalEvery) : 0);
}

export interface TimeEstimate {
  steps: number;
  samplesPerSecond: number;
  teacherSeconds: number;
  trainSeconds: number;
  evalSeconds: number;
  totalSeconds: number;
}

export function estimateTime(r: RunShape, s: SpeedInput & { teacherParams: number | null; teacherCached?: boolean }): TimeEstimate {
  const steps = totalSteps(r);
  const sps = trainSamplesPerSecond(s);
  const samples = Math.min(steps * r.batchSize, r.trainSentences * Math.max(1, r.epochs));
  const trainSeconds = samples / sps;
  const evalSeconds = (evaluationCount(r) * r.validSentences) / (sps * EVAL_SPEEDUP);
  const teacherSeconds = s.teacherCached ? 0 : (r.trainSentences + r.validSentences) / teacherSentencesPerSecond({ ...s });
  return { steps, samplesPerSecond: sps, teacherSeconds, trainSeconds, evalSeconds, totalSeconds: teacherSeconds + trainSeconds + evalSeconds };
}

export interface DiskInput {
  /** Bytes to download for the teacher (0 when it is a local folder); null: unknown, estimated from parameters. */
  teacherDownloadBytes: number | null;
  teacherParams: number | null;
  teacherIsLocal: boolean;
  studentDownloadBytes: number | null;
  studentParams: number | null;
  studentIsLocal: boolean;
  /** SST-2 from the Hub: about 3.5 MB of parquet; a local file costs nothing extra. */
  datasetDownloadBytes: number;
  trainSentences: number;
  validSentences: number;
  numLabels: number;
}

export interface DiskEstimate {
  parts: { label: string; bytes: number }[];
  totalBytes: number;
}

/** SST-2's two parquet files on the Hub. */
export const SST2_DOWNLOAD_BYTES = 3_500_000;

/** Disk the run needs: downloads, the teacher-logit cache, checkpoints and the ONNX export. */
export function estimateDisk(d: DiskInput): DiskEstimate {
  const studentParams = d.studentParams ?? BERT_TINY_PARAMS;
  const fp32 = (p: number) => p * 4;
  const parts: { label: string; bytes: number }[] = [];
  if (!d.teacherIsLocal) parts.push({ label: 'Teacher download', bytes: d.teacherDownloadBytes ?? fp32(d.teacherParams ?? DISTILBERT_PARAMS) });
  if (!d.studentIsLocal) parts.push({ label: 'Student download', bytes: d.studentDownloadBytes ?? fp32(studentParams) });
  if (d.datasetDownloadBytes > 0) parts.push({ label: 'Dataset download', bytes: d.datasetDownloadBytes });
  parts.push({ label: "Teacher's answers (cache)", bytes: (d.trainSentences + d.validSentences) * Math.max(2, d.numLabels) * 4 + 4096 });
  // A resumable checkpoint holds weights and both Adam moments; one is kept while the next is
  // written, plus the best weights.
  parts.push({ label: 'Checkpoints', bytes: fp32(studentParams) * 3 * 2 + fp32(studentParams) });
  parts.push({ label: 'ONNX export', bytes: fp32(studentParams) });
  parts.push({ label: 'Validation copy and logs', bytes: d.validSentences * 300 + 1_000_000 });
  return { parts, totalBytes: parts.reduce((s, p) => s + p.bytes, 0) };
}
