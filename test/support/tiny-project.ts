// A complete tiny distillation project made by the engine itself: a word-level vocabulary,
// labelled sentences, a small DistilBERT teacher trained here on those labels (so it really
// knows the task) and exported to ONNX like an Optimum export, and a random BERT student.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSafetensors } from '../../src/engine/checkpoint';
import { mulberry32 } from '../../src/engine/data/split';
import { loadTokenizer } from '../../src/engine/data/tokenizer';
import { studentOnnxBytes } from '../../src/engine/export/onnx-export';
import { parseModelConfig } from '../../src/engine/models/config';
import { initParams, parameterSpecs } from '../../src/engine/models/params';
import { ADAMW_DEFAULTS } from '../../src/engine/train/adamw';
import { makeBatch } from '../../src/engine/train/trainer';
import { StepRunner } from '../../src/engine/train/step-runner';
import { tinyBertConfigJson, tinyDistilBertConfigJson } from './tiny-models';

const POSITIVE = ['good', 'great', 'wonderful', 'brilliant', 'moving', 'funny', 'charming', 'superb'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull', 'terrible', 'weak', 'tedious', 'bland'];
const NEUTRAL = ['the', 'a', 'movie', 'film', 'story', 'actors', 'plot', 'is', 'was', 'and', 'very', 'quite', 'really', 'this', 'it', 'with', 'music', 'ending', 'script', 'cast'];
export const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', ',', '!', ...POSITIVE, ...NEGATIVE, ...NEUTRAL];
export const LABELS = { 0: 'NEGATIVE', 1: 'POSITIVE' };

export function sentences(n: number, seed: number): { text: string; label: number }[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  return Array.from({ length: n }, () => {
    const label = rnd() < 0.5 ? 0 : 1;
    const words = Array.from({ length: 3 + Math.floor(rnd() * 8) }, () => pick(NEUTRAL));
    words.splice(Math.floor(rnd() * words.length), 0, pick(label ? POSITIVE : NEGATIVE));
    if (rnd() < 0.3) words.splice(Math.floor(rnd() * words.length), 0, pick(label ? POSITIVE : NEGATIVE));
    return { text: `${words.join(' ')}${pick(['.', '!', ''])}`, label };
  });
}

function writeTokenizerFiles(dir: string) {
  writeFileSync(path.join(dir, 'vocab.txt'), VOCAB.join('\n') + '\n');
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 64, tokenizer_class: 'BertTokenizer' }));
}

export interface TinyProject {
  teacherDir: string;
  studentDir: string;
  trainFile: string;
  validFile: string;
}

export async function makeTinyProject(root: string, opts: { trainRows?: number; validRows?: number } = {}): Promise<TinyProject> {
  const teacherDir = path.join(root, 'teacher');
  const studentDir = path.join(root, 'student');
  mkdirSync(path.join(teacherDir, 'onnx'), { recursive: true });
  mkdirSync(studentDir, { recursive: true });
  writeTokenizerFiles(teacherDir);
  writeTokenizerFiles(studentDir);

  const train = sentences(opts.trainRows ?? 480, 1);
  const valid = sentences(opts.validRows ?? 96, 2);
  const trainFile = path.join(root, 'train.tsv');
  const validFile = path.join(root, 'valid.tsv');
  writeFileSync(trainFile, 'sentence\tlabel\n' + train.map((r) => `${r.text}\t${r.label}`).join('\n') + '\n');
  writeFileSync(validFile, 'sentence\tlabel\n' + valid.map((r) => `${r.text}\t${r.label}`).join('\n') + '\n');

  // The teacher: a small DistilBERT trained on the labels (alpha = 0: plain cross-entropy).
  const teacherJson = tinyDistilBertConfigJson({ vocab_size: VOCAB.length, id2label: LABELS, label2id: { NEGATIVE: 0, POSITIVE: 1 } });
  writeFileSync(path.join(teacherDir, 'config.json'), JSON.stringify(teacherJson, null, 1));
  const tcfg = parseModelConfig(teacherJson, 'teacher/config.json');
  const tok = await loadTokenizer(teacherDir);
  const ids = tok.encodeBatch(train.map((r) => r.text), { maxLength: 64 });
  const runner = await StepRunner.create(tcfg, initParams(tcfg, 11), { temperature: 1, alpha: 0, adamw: ADAMW_DEFAULTS, maxGradNorm: 1, dropout: false });
  const data = { ids, labels: train.map((r) => r.label), teacherLogits: new Float32Array(train.length * 2) };
  for (let step = 0; step < 90; step++) {
    const start = (step * 16) % train.length;
    const rows = Array.from({ length: 16 }, (_, i) => (start + i) % train.length);
    await runner.run(makeBatch(rows, data, 2, tok.padId), 3e-3);
  }
  writeFileSync(path.join(teacherDir, 'onnx', 'model.onnx'), studentOnnxBytes(tcfg, runner.currentState().params));
  await runner.release();

  // The student: a random BERT checkpoint in Hugging Face format.
  const studentJson = tinyBertConfigJson({ vocab_size: VOCAB.length, architectures: ['BertForMaskedLM'] });
  delete (studentJson as Record<string, unknown>).id2label;
  delete (studentJson as Record<string, unknown>).label2id;
  writeFileSync(path.join(studentDir, 'config.json'), JSON.stringify(studentJson, null, 1));
  const scfg = parseModelConfig({ ...studentJson, num_labels: 2 }, 'student/config.json');
  const weights = initParams(scfg, 5);
  const shapes = new Map(parameterSpecs(scfg).map((s) => [s.name, s.shape]));
  // A base checkpoint: no classification head (the pipeline adds one), like prajjwal1/bert-tiny.
  const entries = [...weights].filter(([k]) => !k.startsWith('classifier.')).map(([k, data]) => [k, { dtype: 'float32' as const, shape: shapes.get(k)!, data }] as [string, { dtype: 'float32'; shape: number[]; data: Float32Array }]);
  await writeSafetensors(path.join(studentDir, 'model.safetensors'), entries, { format: 'pt' });
  return { teacherDir, studentDir, trainFile, validFile };
}
