// Exporting a run's best model, verified on the run's validation sentences:
// fp32 predictions must be identical to the trained model's; int8 agreement is reported.
import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readSafetensors } from '../checkpoint';
import { loadTokenizer } from '../data/tokenizer';
import { exportStudentOnnx, studentOnnxBytes } from '../export/onnx-export';
import { exportStudentOnnxInt8 } from '../export/quantize';
import { classifyTexts } from '../infer/classify';
import { argmaxRows } from '../infer/metrics';
import { compareLogits } from '../export/verify';
import { parseModelConfig, type ModelConfig } from '../models/config';
import type { ExportFormat, ExportResult } from './api';

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

interface RunConfig {
  job: { maxLength: number; teacher: string; student: string; train: string };
  resolved: { student: { dir: string }; teacher: { labels: string[] } };
}

export interface RunModel {
  cfg: ModelConfig;
  configJson: Record<string, unknown>;
  weights: Map<string, Float32Array>;
  studentDir: string;
  labels: string[];
  valid: { texts: string[]; labels: number[] };
  maxLength: number;
  run: RunConfig;
}

/** The best weights of a run with everything needed to use and verify them. */
export async function loadRunModel(runDir: string): Promise<RunModel> {
  const cfgFile = path.join(runDir, 'config.json');
  const best = path.join(runDir, 'checkpoints', 'best', 'model.safetensors');
  if (!existsSync(cfgFile)) throw new ExportError(`${runDir} is not a run folder (no config.json).`);
  if (!existsSync(best)) throw new ExportError(`${runDir} has no best checkpoint yet: let the run reach its first evaluation (or resume it with --resume).`);
  const run = JSON.parse(readFileSync(cfgFile, 'utf8')) as RunConfig;
  const labels = run.resolved.teacher.labels;
  const studentDir = run.resolved.student.dir;
  const original = JSON.parse(readFileSync(path.join(studentDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const configJson = { ...original, id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])), num_labels: labels.length };
  const cfg = parseModelConfig(configJson, path.join(studentDir, 'config.json'));
  const weights = new Map([...(await readSafetensors(best))].map(([k, t]) => [k, t.data as Float32Array]));
  const lines = readFileSync(path.join(runDir, 'validation.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { text: string; label: number });
  return { cfg, configJson, weights, studentDir, labels, valid: { texts: lines.map((l) => l.text), labels: lines.map((l) => l.label) }, maxLength: run.job.maxLength, run };
}

function bytesOf(p: string): number {
  const st = statSync(p);
  return st.isDirectory() ? readdirSync(p).reduce((s, f) => s + bytesOf(path.join(p, f)), 0) : st.size;
}

/** Writes the export into `out` (a folder); an existing export there is replaced only with `overwrite`. */
export async function exportRun(o: { run: string; format: ExportFormat; out: string; overwrite?: boolean }): Promise<ExportResult> {
  const m = await loadRunModel(o.run);
  const C = m.labels.length;
  const tokenizer = await loadTokenizer(m.studentDir);
  const rows = tokenizer.encodeBatch(m.valid.texts, { maxLength: m.maxLength });
  const logitsOf = async (model: string | Uint8Array) => {
    const session = await ort.InferenceSession.create(model as string);
    try {
      return await classifyTexts({ session, inputs: session.inputNames, rows, padId: tokenizer.padId, numLabels: C, batchSize: 128 });
    } finally {
      await session.release();
    }
  };
  const trained = await logitsOf(studentOnnxBytes(m.cfg, m.weights));

  let file: string;
  let checkFile: string;
  const refuseExisting = (target: string) => {
    if (!o.overwrite && existsSync(target)) throw new ExportError(`${target} already exists: choose another output folder, or overwrite it (--force).`);
  };
  if (o.format !== 'hf') await mkdir(o.out, { recursive: true });
  if (o.format === 'onnx') {
    file = checkFile = path.join(o.out, 'model.onnx');
    refuseExisting(file);
    await exportStudentOnnx(m.cfg, m.weights, file);
  } else if (o.format === 'onnx-int8') {
    file = checkFile = path.join(o.out, 'model_quantized.onnx');
    refuseExisting(file);
    await exportStudentOnnxInt8(m.cfg, m.weights, file);
  } else {
    const { exportHfFolder } = await import('../export/hf-folder');
    const summary = existsSync(path.join(o.run, 'summary.json')) ? (JSON.parse(readFileSync(path.join(o.run, 'summary.json'), 'utf8')) as Record<string, unknown>) : {};
    file = o.out;
    await exportHfFolder({
      cfg: m.cfg,
      configJson: m.configJson,
      weights: m.weights,
      tokenizerDir: m.studentDir,
      out: o.out,
      id2label: Object.fromEntries(m.labels.map((l, i) => [String(i), l])),
      overwrite: o.overwrite ?? false,
      card: { teacher: m.run.job.teacher, dataset: m.run.job.train, metrics: (summary.best as Record<string, unknown>) ?? {}, recipe: m.run.job as unknown as Record<string, unknown> },
    });
    checkFile = path.join(o.out, 'onnx', 'model.onnx');
  }
  const exported = await logitsOf(checkFile);
  const cmp = compareLogits(exported, trained, C);
  const n = cmp.rows;
  const predictions = argmaxRows(exported, C);
  const correct = predictions.filter((p, i) => p === m.valid.labels[i]).length;
  if (o.format !== 'onnx-int8' && !cmp.identicalPredictions) {
    throw new ExportError(`The ${o.format} export disagrees with the trained model on ${cmp.disagreements} of ${n} validation sentences; it was left at ${file} for inspection.`);
  }
  return {
    format: o.format,
    path: file,
    bytes: bytesOf(file),
    verification: { sentences: n, agreementWithTrained: cmp.agreement, identicalPredictions: cmp.identicalPredictions, accuracy: n ? correct / n : null },
  };
}
