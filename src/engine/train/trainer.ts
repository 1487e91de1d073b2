// The training loop: batches -> compiled step -> evaluation -> checkpoints, with
// pause / cancel and exact resume after a kill (same batches, same weights and moments).
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { EvalMetrics, JobEventSink } from '../../shared/events';
import type { JobConfig } from '../../shared/job-config';
import type { ModelConfig } from '../models/config';
import { parameterSpecs } from '../models/params';
import { ADAMW_DEFAULTS } from './adamw';
import { epochBatches, stepsPerEpoch } from './batching';
import { evalMetrics } from './metrics';
import { latestCheckpoint, saveBest, saveCheckpoint, type TrainerProgress } from './checkpoints';
import { linearWarmupDecay, warmupSteps } from './schedule';
import { StepRunner, type Batch } from './step-runner';

/** Training rows: student token ids ([CLS] … [SEP]), labels (null: unlabelled), teacher logits (N, C). */
export interface TrainData {
  ids: Int32Array[];
  labels: (number | null)[];
  teacherLogits: Float32Array;
}

/** Validation rows (labelled). */
export interface EvalData {
  ids: Int32Array[];
  labels: number[];
  teacherLogits: Float32Array;
}

export interface TrainerOptions {
  runDir: string;
  cfg: ModelConfig;
  weights: Map<string, Float32Array>;
  job: JobConfig;
  train: TrainData;
  valid: EvalData;
  padId: number;
  /** Student logits (N, C) for the validation rows under the given weights. */
  evaluate: (weights: Map<string, Float32Array>) => Promise<Float32Array>;
  sessionOptions?: InferenceSession.SessionOptions;
  onEvent?: JobEventSink;
  signal?: AbortSignal;
  isPaused?: () => boolean;
  resume?: boolean;
}

export type Scored = EvalMetrics & { step: number; epoch: number };

export interface TrainOutcome {
  status: 'completed' | 'cancelled' | 'early-stopped';
  steps: number;
  totalSteps: number;
  epochs: number;
  final: Scored | null;
  best: (Scored & { checkpoint: string }) | null;
  trainSeconds: number;
  evalSeconds: number;
  /** Weights at the end of training. */
  weights: Map<string, Float32Array>;
}

/** Optimizer steps of a job over n rows: --max-steps when given, else whole epochs. */
export function totalSteps(job: JobConfig, n: number): number {
  return job.maxSteps ?? stepsPerEpoch(n, job.batchSize) * job.epochs;
}

/** Builds a padded batch from row indices. */
export function makeBatch(rows: number[], data: TrainData, numLabels: number, padId: number): Batch {
  const B = rows.length;
  const T = Math.max(...rows.map((r) => data.ids[r].length));
  const inputIds = new BigInt64Array(B * T).fill(BigInt(padId)); // (B, T)
  const attentionMask = new BigInt64Array(B * T); // (B, T)
  const labels = new BigInt64Array(B); // (B)
  const labelled: boolean[] = [];
  const teacherLogits = new Float32Array(B * numLabels); // (B, C)
  rows.forEach((r, i) => {
    const ids = data.ids[r];
    for (let t = 0; t < ids.length; t++) {
      inputIds[i * T + t] = BigInt(ids[t]);
      attentionMask[i * T + t] = 1n;
    }
    const y = data.labels[r];
    labels[i] = BigInt(y ?? 0);
    labelled.push(y !== null);
    teacherLogits.set(data.teacherLogits.subarray(r * numLabels, (r + 1) * numLabels), i * numLabels);
  });
  return { size: B, seq: T, inputIds, attentionMask, tokenTypeIds: new BigInt64Array(B * T), labels, labelled, teacherLogits };
}

export async function trainStudent(o: TrainerOptions): Promise<TrainOutcome> {
  const { job, cfg } = o;
  const emit = o.onEvent ?? (() => {});
  const C = cfg.numLabels;
  const n = o.train.ids.length;
  const perEpoch = stepsPerEpoch(n, job.batchSize);
  const total = totalSteps(job, n);
  const epochs = Math.ceil(total / perEpoch);
  const warmup = warmupSteps(total, job.warmupRatio);
  const lengths = Int32Array.from(o.train.ids, (r) => r.length);
  const metricsPath = path.join(o.runDir, 'metrics.jsonl');
  const shapes = new Map(parameterSpecs(cfg).map((s) => [s.name, s.shape]));
  mkdirSync(o.runDir, { recursive: true });
  const log = new MetricsLog(metricsPath);

  // Where we start: fresh, or the last checkpoint of this run.
  let progress: TrainerProgress = { step: 0, epoch: 0, batchInEpoch: 0, best: null, final: null, evalsWithoutImprovement: 0, trainSeconds: 0, evalSeconds: 0 };
  let resumed: Awaited<ReturnType<typeof latestCheckpoint>> = null;
  if (o.resume) {
    resumed = await latestCheckpoint(o.runDir);
    if (resumed) {
      progress = resumed.progress;
      log.append({ type: 'resume', from_step: progress.step, time: new Date().toISOString() });
      emit({ type: 'log', level: 'info', message: `Resuming from the checkpoint at step ${progress.step} of ${total}.` });
    } else {
      emit({ type: 'log', level: 'info', message: 'No checkpoint to resume from: starting this run from step 0.' });
    }
  }

  const runner = await StepRunner.create(
    cfg,
    o.weights,
    {
      temperature: job.temperature,
      alpha: job.alpha,
      adamw: { ...ADAMW_DEFAULTS, weightDecay: job.weightDecay },
      maxGradNorm: job.maxGradNorm,
      dropout: job.dropout,
      sessionOptions: o.sessionOptions,
    },
    resumed?.state,
  );

  const evaluateNow = async (epoch: number): Promise<Scored> => {
    emit({ type: 'stage', stage: 'evaluate', status: 'start' });
    const t0 = performance.now();
    const logits = await o.evaluate(runner.currentState().params);
    const m = evalMetrics(logits, o.valid.teacherLogits, o.valid.labels, C, job.temperature, job.alpha);
    const seconds = (performance.now() - t0) / 1000;
    progress.evalSeconds += seconds;
    emit({ type: 'stage', stage: 'evaluate', status: 'end', seconds });
    return { ...m, step: runner.step, epoch: Math.round(epoch * 1000) / 1000 };
  };

  const checkpoint = async () => {
    const dir = await saveCheckpoint(o.runDir, runner.currentState(), progress);
    log.sync();
    emit({ type: 'checkpoint', step: runner.step, path: dir, best: false });
  };

  let status: TrainOutcome['status'] = 'completed';
  let lastCheckpointStep = progress.step;
  let intervalStart = performance.now();
  let intervalSamples = 0;
  emit({ type: 'stage', stage: 'train', status: 'start', detail: `${total} steps, ${epochs} epoch(s) of ${perEpoch} batches of ${job.batchSize}` });
  try {
    outer: for (let epoch = progress.epoch; epoch < epochs && runner.step < total; epoch++) {
      progress.epoch = epoch;
      const batches = epochBatches({ lengths, batchSize: job.batchSize, seed: job.seed, epoch, order: job.order });
      for (let b = progress.batchInEpoch; b < batches.length && runner.step < total; b++) {
        if (o.isPaused?.()) {
          emit({ type: 'paused', step: runner.step });
          while (o.isPaused() && !o.signal?.aborted) await sleep(100);
          emit({ type: 'resumed', step: runner.step });
          intervalStart = performance.now();
          intervalSamples = 0;
        }
        if (o.signal?.aborted) {
          status = 'cancelled';
          progress.batchInEpoch = b;
          break outer;
        }
        const t0 = performance.now();
        const lr = job.lr * linearWarmupDecay(runner.step, warmup, total);
        const batch = makeBatch(batches[b], o.train, C, o.padId);
        const r = await runner.run(batch, lr);
        progress.trainSeconds += (performance.now() - t0) / 1000;
        progress.step = runner.step;
        progress.batchInEpoch = b + 1;
        if (!Number.isFinite(r.loss)) throw new TrainingDivergedError(runner.step, lr);
        intervalSamples += batch.size;
        const elapsed = (performance.now() - intervalStart) / 1000;
        const samplesPerSecond = elapsed > 0 ? intervalSamples / elapsed : 0;
        if (elapsed > 5) {
          intervalStart = performance.now();
          intervalSamples = 0;
        }
        const stepEvent = { type: 'step' as const, step: runner.step, totalSteps: total, epoch: epoch + (b + 1) / batches.length, loss: r.loss, kl: r.kl, ce: r.ce, lr, gradNorm: r.gradNorm, samplesPerSecond };
        emit(stepEvent);
        log.append(stepEvent);

        const epochEnd = b + 1 === batches.length || runner.step === total;
        if ((job.evalEvery && runner.step % job.evalEvery === 0) || epochEnd) {
          const m = await evaluateNow(epoch + (b + 1) / batches.length);
          // Better accuracy wins; at equal accuracy, the lower validation loss (closer to the teacher).
          const improved = !progress.best || m.accuracy > progress.best.accuracy || (m.accuracy === progress.best.accuracy && m.loss < progress.best.loss);
          progress.final = m;
          if (improved) {
            const dir = await saveBest(o.runDir, runner.currentState().params, shapes, m);
            progress.best = { ...m, checkpoint: dir };
            progress.evalsWithoutImprovement = 0;
          } else progress.evalsWithoutImprovement++;
          emit({ type: 'eval', ...m, best: improved });
          log.append({ type: 'eval', ...m, best: improved });
          if (job.earlyStoppingPatience && progress.evalsWithoutImprovement >= job.earlyStoppingPatience) {
            emit({ type: 'log', level: 'info', message: `No improvement in ${progress.evalsWithoutImprovement} evaluations: stopping early at step ${runner.step}.` });
            status = 'early-stopped';
            if (epochEnd) {
              progress.epoch = epoch + 1;
              progress.batchInEpoch = 0;
            }
            break outer;
          }
        }
        if (epochEnd) {
          progress.epoch = epoch + 1;
          progress.batchInEpoch = 0;
        }
        if (runner.step - lastCheckpointStep >= job.checkpointEvery) {
          await checkpoint();
          lastCheckpointStep = runner.step;
        }
      }
      progress.batchInEpoch = 0;
    }
    if (status !== 'completed' || lastCheckpointStep !== runner.step) await checkpoint();
    log.sync();
    emit({ type: 'stage', stage: 'train', status: 'end', seconds: progress.trainSeconds });
    const weights = new Map([...runner.currentState().params].map(([k, v]) => [k, Float32Array.from(v)]));
    return {
      status,
      steps: runner.step,
      totalSteps: total,
      epochs,
      final: progress.final,
      best: progress.best,
      trainSeconds: progress.trainSeconds,
      evalSeconds: progress.evalSeconds,
      weights,
    };
  } finally {
    await runner.release();
  }
}

export class TrainingDivergedError extends Error {
  constructor(readonly step: number, readonly lr: number) {
    super(`Training diverged at step ${step} (the loss is not a number at learning rate ${lr.toExponential(2)}): lower the learning rate or keep gradient clipping on.`);
    this.name = 'TrainingDivergedError';
  }
}

/**
 * metrics.jsonl: append-only, one JSON object per line. Lines are buffered in the OS and
 * flushed to disk (fsync) at checkpoints, so a kill loses at most what the checkpoint
 * would redo; after a resume a `{"type":"resume","from_step":N}` line marks where the
 * replayed steps start (readers keep the last line for a step).
 */
class MetricsLog {
  constructor(readonly file: string) {}
  append(obj: object): void {
    appendFileSync(this.file, JSON.stringify(obj) + '\n');
  }
  sync(): void {
    try {
      const fd = openSync(this.file, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // nothing written yet
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
