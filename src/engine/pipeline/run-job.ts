// A whole distillation job: sources -> tokenization -> teacher pass (cached) -> training ->
// evaluation -> export, in a run folder:
//   config.json   the resolved configuration, versions, hashes
//   metrics.jsonl one JSON object per step / evaluation (append-only)
//   checkpoints/  resumable state + the best weights
//   export/       model.onnx (fp32) of the best weights
//   summary.json  final and best metrics, hardware, provider, per-stage timings
import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EvalMetrics, JobEvent, Stage } from '../../shared/events';
import { parseJobConfig, type JobConfig } from '../../shared/job-config';
import { loadCheckpoint, readSafetensors } from '../checkpoint';
import { heldOutSplit, readDataset, readValidation, type Dataset } from '../data/datasets';
import { loadTokenizer } from '../data/tokenizer';
import { exportStudentOnnx, studentOnnxBytes } from '../export/onnx-export';
import { writeFileAtomic, writeJsonAtomic } from '../fsutil/atomic';
import { classifyTexts } from '../infer/classify';
import { parseModelConfig, type ModelConfig } from '../models/config';
import { parameterCount, parameterSpecs } from '../models/params';
import { prepareStudentWeights } from '../models/student-weights';
import { doctorReport } from '../hardware/decide';
import { sessionOptionsFor } from '../runtime/providers';
import { openTeacher } from '../teacher/teacher-model';
import { teacherLogits } from '../teacher/teacher-pass';
import { argmaxRows } from '../infer/metrics';
import { compareLogits } from '../export/verify';
import { trainStudent } from '../train/trainer';
import type { RunJobOptions, RunSummary } from './api';
import { defaultCacheDir, resolveModelDir, resolveSst2 } from './sources';

export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderError';
  }
}

export const ENGINE_VERSION = '0.1.0';

interface Split {
  texts: string[];
  labels: (number | null)[];
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function dirBytes(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((s, f) => s + dirBytes(path.join(p, f)), 0);
}

export async function runJob(input: JobConfig, o: RunJobOptions): Promise<RunSummary> {
  const out = path.resolve(o.out);
  const emit = (e: JobEvent) => o.onEvent?.(e);
  const signal = o.control?.signal;
  const stages: RunSummary['stages'] = {};
  const timeStage = async <T>(stage: Stage, fn: () => Promise<T>, extra?: (r: T) => Record<string, number>): Promise<T> => {
    const t0 = performance.now();
    emit({ type: 'stage', stage, status: 'start' });
    const r = await fn();
    const seconds = (performance.now() - t0) / 1000;
    stages[stage] = { ...(stages[stage] ?? {}), seconds: (stages[stage]?.seconds ?? 0) + seconds, ...(extra ? extra(r) : {}) };
    emit({ type: 'stage', stage, status: 'end', seconds });
    return r;
  };

  // --- the run folder ------------------------------------------------------------------
  const configPath = path.join(out, 'config.json');
  let job = input;
  if (o.resume) {
    if (!existsSync(configPath)) throw new RunFolderError(`${out} holds no run to resume (no config.json). Start it without --resume.`);
    job = parseJobConfig((readJson(configPath) as { job: unknown }).job);
  } else if (existsSync(out) && readdirSync(out).some((f) => !o.hostFiles?.includes(f))) {
    throw new RunFolderError(`${out} already holds files${existsSync(configPath) ? ' from an earlier run' : ''}: pass --resume to continue that run, or choose another --out folder.`);
  }
  await mkdir(out, { recursive: true });
  const cacheDir = job.cacheDir ?? defaultCacheDir();
  const src = { cacheDir, offline: job.offline, onEvent: o.onEvent, signal };

  // --- execution provider ----------------------------------------------------------------
  const threads = job.threads ?? undefined;
  const { decision } = await doctorReport({ dataDir: cacheDir, requested: job.provider });
  if (job.provider !== 'auto' && decision.overrideHonoured === false) {
    // The user asked for this provider explicitly: stop and say why rather than train elsewhere.
    throw new RunFolderError(`The ${job.provider.toUpperCase()} execution provider cannot be used: ${decision.reasons.join(' ')} Use --provider auto or --provider cpu.`);
  }
  const choice = { provider: decision.provider, reasons: decision.reasons };
  for (const r of choice.reasons) emit({ type: 'log', level: 'info', message: r });
  const sessionOptions = sessionOptionsFor(choice.provider, { threads, deviceId: decision.deviceId });

  // --- models and data -------------------------------------------------------------------
  const { teacherDir, studentDir, sst2 } = await timeStage('download', async () => ({
    teacherDir: await resolveModelDir(job.teacher, 'teacher', src),
    studentDir: await resolveModelDir(job.student, 'student', src),
    sst2: await resolveSst2(job.train, src),
  }));
  const teacher = await openTeacher(teacherDir, sessionOptions);
  const teacherConfig = existsSync(path.join(teacherDir, 'config.json')) ? readJson(path.join(teacherDir, 'config.json')) : {};
  const id2label = (teacherConfig.id2label as Record<string, string> | undefined) ?? { 0: 'LABEL_0', 1: 'LABEL_1' };
  const labelNames = Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k]);
  const C = labelNames.length;

  const studentJson = readJson(path.join(studentDir, 'config.json'));
  const cfg: ModelConfig = parseModelConfig(
    { ...studentJson, id2label, label2id: Object.fromEntries(labelNames.map((l, i) => [l, i])), num_labels: C },
    path.join(studentDir, 'config.json'),
  );

  const columns = { text: job.textColumn ?? undefined, label: job.labelColumn ?? undefined };
  const trainPath = sst2?.train ?? job.train;
  const trainSet: Dataset = await readDataset(trainPath, { columns, id2label, allowEmptyLabels: true });
  for (const n of trainSet.notes) emit({ type: 'log', level: 'info', message: n });
  let train: Split, valid: Split;
  let validSource: string;
  if (job.valid || sst2) {
    const v = await readValidation(job.valid ?? sst2!.validation, { columns, id2label });
    train = { texts: trainSet.texts, labels: trainSet.labels };
    valid = { texts: v.texts, labels: v.labels };
    validSource = job.valid ?? 'GLUE SST-2 validation split';
  } else {
    const split = heldOutSplit(trainSet.texts.length, job.validFraction, job.seed);
    const pick = (idx: number[]) => ({ texts: idx.map((i) => trainSet.texts[i]), labels: idx.map((i) => trainSet.labels[i]) });
    train = pick(split.train);
    valid = pick(split.valid);
    validSource = `${(job.validFraction * 100).toFixed(1)} % of the training file held out (seed ${job.seed})`;
  }

  // --- tokenization (teacher and student each with their own tokenizer) --------------------
  const { studentTok, teacherTok, trainIds, validIds } = await timeStage(
    'tokenize',
    async () => {
      const studentTok = await loadTokenizer(studentDir);
      const teacherTok = await loadTokenizer(teacherDir);
      return {
        studentTok,
        teacherTok,
        trainIds: studentTok.encodeBatch(train.texts, { maxLength: job.maxLength }),
        validIds: studentTok.encodeBatch(valid.texts, { maxLength: job.maxLength }),
      };
    },
    (r) => ({ sentences: r.trainIds.length + r.validIds.length }),
  );

  // --- teacher pass (cached) -------------------------------------------------------------
  // When teacher and student share a tokenizer, the student's token ids serve the teacher too.
  const sameTokenizer = teacherTok.fingerprint === studentTok.fingerprint;
  const teacherRun = async (texts: string[], rows: Int32Array[]) =>
    teacherLogits({ teacher, tokenizer: teacherTok, texts, tokenized: sameTokenizer ? rows : undefined, maxLength: job.maxLength, cacheDir, onEvent: o.onEvent, signal, numLabels: C });
  const t0 = performance.now();
  const tTrain = await teacherRun(train.texts, trainIds);
  const tValid = await teacherRun(valid.texts, validIds);
  stages.teacher = {
    seconds: (performance.now() - t0) / 1000,
    sentences: train.texts.length + valid.texts.length,
    cached: tTrain.cached && tValid.cached ? 1 : 0,
  };
  await teacher.session.release();

  // Validation rows without a label are scored against the teacher's prediction.
  const teacherValidPred = argmaxRows(tValid.logits, C);
  const validLabels = valid.labels.map((y, i) => y ?? teacherValidPred[i]);
  if (valid.labels.some((y) => y === null)) emit({ type: 'log', level: 'warn', message: 'Some validation sentences have no label: their accuracy is measured against the teacher\'s prediction.' });

  // --- student ---------------------------------------------------------------------------
  const ckpt = await loadCheckpoint(studentDir);
  const prepared = prepareStudentWeights(cfg, ckpt.tensors, { seed: job.seed, source: ckpt.path });
  for (const n of prepared.notes) emit({ type: 'log', level: 'info', message: n });

  const studentInputs = cfg.arch === 'bert' ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask'];
  const studentLogits = async (weights: Map<string, Float32Array>, rows: Int32Array[]) => {
    const session = await ort.InferenceSession.create(studentOnnxBytes(cfg, weights), sessionOptions);
    try {
      return await classifyTexts({ session, inputs: studentInputs, rows, padId: studentTok.padId, numLabels: C, batchSize: 128 });
    } finally {
      await session.release();
    }
  };

  // The validation sentences travel with the run: exports are verified on them, and the
  // comparison view lists where student and teacher disagree.
  await writeFileAtomic(
    path.join(out, 'validation.jsonl'),
    valid.texts.map((t, i) => JSON.stringify({ text: t, label: validLabels[i], teacher: Array.from(tValid.logits.subarray(i * C, (i + 1) * C)) }) + '\n').join(''),
  );
  await writeJsonAtomic(configPath, {
    job,
    resolved: {
      teacher: { source: job.teacher, dir: teacherDir, onnx: teacher.file, inputs: teacher.inputs, labels: labelNames },
      student: { source: job.student, dir: studentDir, checkpoint: ckpt.path, arch: cfg.arch, parameters: parameterCount(parameterSpecs(cfg)) },
      data: { train: trainSet.source, validation: validSource, trainRows: train.texts.length, validRows: valid.texts.length },
      tokenizers: { student: studentTok.fingerprint, teacher: teacherTok.fingerprint },
      teacherLogitCache: { train: tTrain.key, validation: tValid.key },
      provider: choice.provider,
    },
    versions: versions(),
    createdAt: new Date().toISOString(),
  });

  const outcome = await trainStudent({
    runDir: out,
    cfg,
    weights: prepared.weights,
    job,
    train: { ids: trainIds, labels: train.labels, teacherLogits: tTrain.logits },
    valid: { ids: validIds, labels: validLabels, teacherLogits: tValid.logits },
    padId: studentTok.padId,
    evaluate: (w) => studentLogits(w, validIds),
    sessionOptions,
    onEvent: o.onEvent,
    signal,
    isPaused: o.control?.isPaused,
    resume: o.resume,
  });
  stages.train = { seconds: outcome.trainSeconds, steps: outcome.steps };
  stages.evaluate = { seconds: outcome.evalSeconds };

  // --- export the best weights (verified) ------------------------------------------------
  const exports: Record<string, string> = {};
  if (outcome.best) {
    await timeStage('export', async () => {
      const best = await readSafetensors(path.join(outcome.best!.checkpoint, 'model.safetensors'));
      const weights = new Map([...best].map(([k, t]) => [k, t.data as Float32Array]));
      const file = path.join(out, 'export', 'model.onnx');
      await mkdir(path.dirname(file), { recursive: true });
      await exportStudentOnnx(cfg, weights, file);
      const session = await ort.InferenceSession.create(file, sessionOptions);
      const exported = await classifyTexts({ session, inputs: session.inputNames, rows: validIds, padId: studentTok.padId, numLabels: C, batchSize: 128 });
      await session.release();
      const trained = await studentLogits(weights, validIds);
      const cmp = compareLogits(exported, trained, C);
      if (!cmp.identicalPredictions) throw new Error('The exported ONNX model does not reproduce the trained model\'s predictions; the export was kept for inspection at ' + file);
      emit({ type: 'log', level: 'info', message: `Exported ${path.relative(out, file)}: predictions identical to the trained model on all ${cmp.rows} validation sentences.` });
      exports.onnx = path.relative(out, file);
    });
  }

  const zero: EvalMetrics = { accuracy: 0, teacherAccuracy: 0, agreement: 0, loss: 0, kl: 0, ce: 0, sentences: 0 };
  const summary: RunSummary = {
    status: outcome.status,
    steps: outcome.steps,
    epochs: outcome.epochs,
    batch_size: job.batchSize,
    provider: choice.provider,
    provider_reasons: choice.reasons,
    hardware: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memory_gb: Math.round(os.totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}` },
    stages,
    final: { ...(outcome.final ?? zero), step: outcome.final?.step ?? 0 },
    best: { ...(outcome.best ?? zero), step: outcome.best?.step ?? 0, checkpoint: outcome.best ? path.relative(out, outcome.best.checkpoint) : '' },
    teacher: { source: job.teacher, parameters: teacherParameters(teacherConfig), size_bytes: dirBytes(teacher.file) },
    student: { source: job.student, parameters: parameterCount(parameterSpecs(cfg)), size_bytes: dirBytes(path.join(out, 'export', 'model.onnx')) },
    exports,
    versions: versions(),
  };
  const summaryPath = path.join(out, 'summary.json');
  await writeJsonAtomic(summaryPath, summary);
  emit({ type: 'done', status: outcome.status, summaryPath });
  return summary;
}

/** Parameter count of a BERT/DistilBERT teacher from its config (null for other architectures). */
function teacherParameters(config: Record<string, unknown>): number | null {
  try {
    return parameterCount(parameterSpecs(parseModelConfig(config, 'teacher config.json')));
  } catch {
    return null;
  }
}

function versions(): Record<string, string> {
  return { 'distill-studio': ENGINE_VERSION, node: process.versions.node, 'onnxruntime-node': ort.env.versions?.common ?? 'unknown' };
}
