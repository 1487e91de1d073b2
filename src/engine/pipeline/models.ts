// Opening a trained model for inference, whatever the user points at: a run folder, an
// .onnx file (with its tokenizer beside it), or a Hugging Face folder.
import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../checkpoint';
import { loadTokenizer, type TextTokenizer } from '../data/tokenizer';
import { studentOnnxBytes } from '../export/onnx-export';
import { parseModelConfig, type ModelConfig } from '../models/config';
import { prepareStudentWeights } from '../models/student-weights';

export class ModelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelSpecError';
  }
}

export interface OpenedModel {
  /** What the user named. */
  spec: string;
  session: ort.InferenceSession;
  tokenizer: TextTokenizer;
  labels: string[];
  maxLength: number;
  /** The ONNX file, when there is one on disk. */
  file: string | null;
  /** Student config and weights, when known (run folders, HF folders). */
  cfg: ModelConfig | null;
  weights: Map<string, Float32Array> | null;
  /** The run folder, when the spec is one. */
  runDir: string | null;
}

function labelsOf(config: Record<string, unknown>): string[] {
  const id2label = (config.id2label as Record<string, string> | undefined) ?? {};
  const keys = Object.keys(id2label).sort((a, b) => Number(a) - Number(b));
  return keys.length ? keys.map((k) => id2label[k]) : ['LABEL_0', 'LABEL_1'];
}

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;

export async function openModel(spec: string, options: ort.InferenceSession.SessionOptions = {}): Promise<OpenedModel> {
  if (!existsSync(spec)) throw new ModelSpecError(`${spec} does not exist: give a run folder, an .onnx file or a Hugging Face model folder.`);
  const abs = path.resolve(spec);

  // A run folder: its exported ONNX model and the student's tokenizer.
  if (statSync(abs).isDirectory() && existsSync(path.join(abs, 'summary.json')) && existsSync(path.join(abs, 'config.json'))) {
    const run = readJson(path.join(abs, 'config.json')) as { job: { maxLength: number }; resolved: { student: { dir: string }; teacher: { labels: string[] } } };
    const file = path.join(abs, 'export', 'model.onnx');
    if (!existsSync(file)) throw new ModelSpecError(`${spec} has no export/model.onnx: the run did not finish. Resume it with --resume.`);
    const tokenizer = await loadTokenizer(run.resolved.student.dir);
    const session = await ort.InferenceSession.create(file, options);
    return { spec, session, tokenizer, labels: run.resolved.teacher.labels, maxLength: run.job.maxLength, file, cfg: null, weights: null, runDir: abs };
  }

  // An .onnx file: tokenizer and config in its folder or the folder above (onnx/model.onnx layout).
  if (abs.endsWith('.onnx')) {
    const dir = [path.dirname(abs), path.dirname(path.dirname(abs))].find((d) => existsSync(path.join(d, 'config.json')));
    if (!dir) throw new ModelSpecError(`No config.json and tokenizer found next to ${spec}: keep the ONNX file in its model folder (onnx/model.onnx).`);
    const tokenizer = await loadTokenizer(dir);
    const session = await ort.InferenceSession.create(abs, options);
    return { spec, session, tokenizer, labels: labelsOf(readJson(path.join(dir, 'config.json'))), maxLength: tokenizer.defaultMaxLength, file: abs, cfg: null, weights: null, runDir: null };
  }

  // A Hugging Face folder: its ONNX export if it has one, else the weights compiled here.
  if (!existsSync(path.join(abs, 'config.json'))) throw new ModelSpecError(`${spec} has no config.json: it is not a model folder.`);
  const config = readJson(path.join(abs, 'config.json'));
  const tokenizer = await loadTokenizer(abs);
  const onnxFile = path.join(abs, 'onnx', 'model.onnx');
  if (existsSync(onnxFile)) {
    const session = await ort.InferenceSession.create(onnxFile, options);
    return { spec, session, tokenizer, labels: labelsOf(config), maxLength: tokenizer.defaultMaxLength, file: onnxFile, cfg: null, weights: null, runDir: null };
  }
  const cfg = parseModelConfig(config, path.join(abs, 'config.json'));
  const ckpt = await loadCheckpoint(abs);
  const { weights } = prepareStudentWeights(cfg, ckpt.tensors, { seed: 0, source: ckpt.path });
  const session = await ort.InferenceSession.create(studentOnnxBytes(cfg, weights), options);
  return { spec, session, tokenizer, labels: labelsOf(config), maxLength: tokenizer.defaultMaxLength, file: null, cfg, weights, runDir: null };
}
