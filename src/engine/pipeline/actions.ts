// Evaluate and predict with any trained model (run folder, .onnx file, HF folder).
import { readDataset } from '../data/datasets';
import { classifyTexts } from '../infer/classify';
import { argmaxRows, softmax } from '../infer/metrics';
import type { EvalResult, Prediction } from './api';
import { openModel } from './models';

export async function evaluateModel(o: { model: string; data: string; textColumn?: string; labelColumn?: string; onProgress?: (done: number, total: number) => void }): Promise<EvalResult> {
  const m = await openModel(o.model);
  try {
    const id2label = Object.fromEntries(m.labels.map((l, i) => [String(i), l]));
    const ds = await readDataset(o.data, { columns: { text: o.textColumn, label: o.labelColumn }, id2label, allowEmptyLabels: true });
    const logits = await classifyTexts({ session: m.session, tokenizer: m.tokenizer, texts: ds.texts, maxLength: m.maxLength, numLabels: m.labels.length, onProgress: o.onProgress, label: o.model });
    const pred = argmaxRows(logits, m.labels.length);
    const labelled = ds.labels.map((y, i) => [y, pred[i]] as const).filter(([y]) => y !== null);
    const accuracy = labelled.length ? labelled.filter(([y, p]) => y === p).length / labelled.length : null;
    return { model: o.model, sentences: ds.texts.length, accuracy, predictions: Array.from(pred), logits, labels: m.labels };
  } finally {
    await m.session.release();
  }
}

export async function predictTexts(o: { model: string; texts: string[] }): Promise<Prediction[]> {
  const m = await openModel(o.model);
  try {
    const C = m.labels.length;
    const logits = await classifyTexts({ session: m.session, tokenizer: m.tokenizer, texts: o.texts, maxLength: m.maxLength, numLabels: C, label: o.model });
    const probs = softmax(logits, C);
    const pred = argmaxRows(logits, C);
    return o.texts.map((text, i) => ({
      text,
      label: m.labels[pred[i]],
      probabilities: Object.fromEntries(m.labels.map((l, c) => [l, probs[i * C + c]])),
    }));
  } finally {
    await m.session.release();
  }
}
