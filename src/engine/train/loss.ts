// The distillation objective, built from LogSoftmax (the CUDA provider has no
// SoftmaxCrossEntropyLoss kernel):
//   loss = alpha * T^2 * KL(softmax(t/T) || softmax(s/T))  (sum over batch and classes / B)
//        + (1 - alpha) * CE(s, y)                           (mean over labelled rows)
import type { Graph, Value } from '../onnx/graph';

export interface LossTerms {
  /** The objective that is differentiated. () */
  loss: Value;
  /** KL(teacher || student) at temperature T, without the T^2 factor. () */
  kl: Value;
  /** Cross-entropy with the hard labels. () */
  ce: Value;
}

/**
 * @param student   (B, C) student logits
 * @param teacher   (B, C) teacher logits
 * @param labels    (B) int64 class ids (any valid id where a row has no label)
 * @param ceWeight  (B) weight of each row's cross-entropy: 1/L for the L labelled rows, 0 otherwise
 * @param batchSize (B) float scalar: KL is divided by it ("batchmean")
 */
export function distillationLoss(
  g: Graph,
  student: Value,
  teacher: Value,
  labels: Value,
  ceWeight: Value,
  batchSize: Value,
  hp: { temperature: number; alpha: number },
): LossTerms {
  return g.scope('loss', () => {
    const T = g.lit(hp.temperature, student);
    const logPs = g.op1('LogSoftmax', [g.over(student, T)], { axis: -1 }, g.fresh('student_log_probs_T')); // (B, C)
    const logPt = g.op1('LogSoftmax', [g.over(teacher, T)], { axis: -1 }, g.fresh('teacher_log_probs_T')); // (B, C)
    const pt = g.exp(logPt); // (B, C)
    const klRows = g.times(pt, g.minus(logPt, logPs)); // (B, C)
    const kl = g.over(g.reduceSum(klRows, [0, 1]), batchSize, g.fresh('kl')); // ()

    const logP = g.op1('LogSoftmax', [student], { axis: -1 }, g.fresh('student_log_probs')); // (B, C)
    const picked = g.op1('GatherElements', [logP, g.unsqueeze(labels, [1])], { axis: 1 }); // (B, 1)
    const nll = g.neg(g.squeeze(picked, [1])); // (B)
    const ce = g.reduceSum(g.times(nll, ceWeight), [0]); // ()
    const ceNamed = g.op1('Identity', [ce], {}, g.fresh('ce'));

    const kd = g.times(kl, g.lit(hp.alpha * hp.temperature * hp.temperature, student));
    const hard = g.times(ceNamed, g.lit(1 - hp.alpha, student));
    const loss = g.plus(kd, hard, g.fresh('total'));
    return { loss, kl, ce: ceNamed };
  });
}
