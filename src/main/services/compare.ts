// Teacher vs student on a run's validation sentences: accuracy, agreement, confusion matrices,
// where they disagree, and per-sentence latency and throughput measured now, on this computer.
import type { BothPredictions, Comparison, ModelSide } from '../../shared/api';
import { classifyTexts, latencyStats } from '../../engine/infer/classify';
import { accuracy, agreement, argmaxRows, softmax } from '../../engine/infer/metrics';
import type { OpenedRun, OpenedSide } from './run-models';

/** At most this many disagreements are listed (the counts cover all of them). */
export const MAX_DISAGREEMENTS = 500;

export interface CompareOptions {
  /** Sentences timed one at a time (default 100). */
  latencySamples?: number;
  /** Sentences for the throughput run (default: all validation sentences, at most 1024). */
  throughputSentences?: number;
  signal?: AbortSignal;
}

/** confusion[true][predicted]. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, numLabels: number): number[][] {
  const m = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    const p = predictions[i]!;
    if (y >= 0 && y < numLabels && p >= 0 && p < numLabels) m[y]![p]!++;
  }
  return m;
}

async function side(s: OpenedSide, rows: Int32Array[], r: OpenedRun, o: CompareOptions) {
  const C = r.labels.length;
  const logits = await classifyTexts({ session: s.session, inputs: s.inputs, rows, padId: s.tokenizer.padId, numLabels: C, batchSize: 64, signal: o.signal, label: s.source });
  const lat = await latencyStats({
    session: s.session,
    inputs: s.inputs,
    rows,
    padId: s.tokenizer.padId,
    samples: o.latencySamples ?? 100,
    warmup: 3,
    batchSize: 64,
    throughputSentences: o.throughputSentences ?? Math.min(1024, rows.length),
    signal: o.signal,
  });
  return { logits, lat };
}

export async function compareRun(r: OpenedRun, o: CompareOptions = {}): Promise<Comparison> {
  const C = r.labels.length;
  const texts = r.valid.texts;
  if (texts.length === 0) throw new Error(`${r.runDir} has no validation sentences to compare on.`);
  const enc = (s: OpenedSide) => s.tokenizer.encodeBatch(texts, { maxLength: r.maxLength });
  const t = await side(r.teacher, enc(r.teacher), r, o);
  const s = await side(r.student, enc(r.student), r, o);
  const tPred = argmaxRows(t.logits, C);
  const sPred = argmaxRows(s.logits, C);
  const tProb = softmax(t.logits, C);
  const sProb = softmax(s.logits, C);
  const labels = r.valid.labels;
  const make = (model: OpenedSide, measured: { lat: Awaited<ReturnType<typeof latencyStats>> }, pred: Int32Array): ModelSide => ({
    label: model.source,
    parameters: model.parameters,
    sizeBytes: model.sizeBytes,
    accuracy: accuracy(pred, labels),
    latencyP50Ms: measured.lat.p50Ms,
    latencyP95Ms: measured.lat.p95Ms,
    sentencesPerSecond: measured.lat.sentencesPerSecond,
    confusion: confusionMatrix(labels, pred, C),
  });
  const disagreements: Comparison['disagreements'] = [];
  for (let i = 0; i < texts.length && disagreements.length < MAX_DISAGREEMENTS; i++) {
    if (tPred[i] === sPred[i]) continue;
    disagreements.push({
      text: texts[i]!,
      label: labels[i]!,
      teacher: Array.from(tProb.subarray(i * C, (i + 1) * C)),
      student: Array.from(sProb.subarray(i * C, (i + 1) * C)),
    });
  }
  return {
    labels: [...r.labels],
    teacher: make(r.teacher, t, tPred),
    student: make(r.student, s, sPred),
    agreement: agreement(tPred, sPred),
    disagreements,
  };
}

/** Both models' prediction for one sentence. */
export async function predictWithBoth(r: OpenedRun, text: string): Promise<BothPredictions> {
  const C = r.labels.length;
  const one = async (s: OpenedSide) => {
    const rows = [s.tokenizer.encode(text, { maxLength: r.maxLength })];
    const logits = await classifyTexts({ session: s.session, inputs: s.inputs, rows, padId: s.tokenizer.padId, numLabels: C, label: s.source });
    const probabilities = Array.from(softmax(logits, C));
    return { label: r.labels[argmaxRows(logits, C)[0]!]!, probabilities };
  };
  return { text, teacher: await one(r.teacher), student: await one(r.student) };
}
