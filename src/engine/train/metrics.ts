// Validation metrics computed on the host from logits (float64 arithmetic).
import type { EvalMetrics } from '../../shared/events';
import { argmaxRows } from '../infer/metrics';

function logSoftmaxRow(x: Float32Array, off: number, C: number, scale: number, out: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, x[off + c] / scale);
  let sum = 0;
  for (let c = 0; c < C; c++) sum += Math.exp(x[off + c] / scale - max);
  const lse = max + Math.log(sum);
  for (let c = 0; c < C; c++) out[c] = x[off + c] / scale - lse;
}

/** Accuracy, teacher accuracy, agreement and the distillation objective's terms on a labelled set. */
export function evalMetrics(student: Float32Array, teacher: Float32Array, labels: number[], C: number, T: number, alpha: number): EvalMetrics {
  const n = labels.length;
  const ps = argmaxRows(student, C), pt = argmaxRows(teacher, C);
  let correct = 0, teacherCorrect = 0, agree = 0, kl = 0, ce = 0;
  const ls = new Float64Array(C), lt = new Float64Array(C), l1 = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    if (ps[i] === labels[i]) correct++;
    if (pt[i] === labels[i]) teacherCorrect++;
    if (ps[i] === pt[i]) agree++;
    logSoftmaxRow(student, i * C, C, T, ls);
    logSoftmaxRow(teacher, i * C, C, T, lt);
    for (let c = 0; c < C; c++) kl += Math.exp(lt[c]) * (lt[c] - ls[c]);
    logSoftmaxRow(student, i * C, C, 1, l1);
    ce -= l1[labels[i]];
  }
  kl /= Math.max(1, n);
  ce /= Math.max(1, n);
  return {
    accuracy: correct / Math.max(1, n),
    teacherAccuracy: teacherCorrect / Math.max(1, n),
    agreement: agree / Math.max(1, n),
    loss: alpha * T * T * kl + (1 - alpha) * ce,
    kl,
    ce,
    sentences: n,
  };
}
