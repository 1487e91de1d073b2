// Small helpers over (N, C) row-major logits: probabilities, predicted classes, and the two
// scores the comparison view shows (accuracy against labels, agreement between two models).

function checkWidth(logits: ArrayLike<number>, numLabels: number, what: string): number {
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new RangeError(`${what}: numLabels must be a positive integer, got ${numLabels}`);
  if (logits.length % numLabels !== 0) {
    throw new RangeError(`${what}: ${logits.length} values is not a whole number of rows of ${numLabels} labels`);
  }
  return logits.length / numLabels;
}

/**
 * Row-wise softmax of (N, C) logits, optionally at a temperature (softmax(logits / T)).
 * Numerically stable (the row maximum is subtracted first). Returns a new Float32Array.
 */
export function softmax(logits: ArrayLike<number>, numLabels: number, temperature = 1): Float32Array {
  const n = checkWidth(logits, numLabels, 'softmax');
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError(`softmax: temperature must be > 0, got ${temperature}`);
  const out = new Float32Array(logits.length);
  const inv = 1 / temperature;
  for (let i = 0; i < n; i++) {
    const base = i * numLabels;
    let max = -Infinity;
    for (let c = 0; c < numLabels; c++) max = Math.max(max, logits[base + c]! * inv);
    let sum = 0;
    for (let c = 0; c < numLabels; c++) {
      const e = Math.exp(logits[base + c]! * inv - max);
      out[base + c] = e;
      sum += e;
    }
    for (let c = 0; c < numLabels; c++) out[base + c] = out[base + c]! / sum;
  }
  return out;
}

/** Index of the largest value of each row of (N, C) logits (the first one on ties; NaN never wins). */
export function argmaxRows(logits: ArrayLike<number>, numLabels: number): Int32Array {
  const n = checkWidth(logits, numLabels, 'argmaxRows');
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * numLabels;
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < numLabels; c++) {
      const v = logits[base + c]!;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/**
 * Fraction of labeled rows whose prediction equals the label. Rows whose label is null (or
 * negative, e.g. -1 for "unlabeled") are left out. NaN when no row is labeled.
 */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number | null>): number {
  if (predictions.length !== labels.length) {
    throw new RangeError(`accuracy: ${predictions.length} predictions but ${labels.length} labels`);
  }
  let counted = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y === null || y === undefined || y < 0) continue;
    counted++;
    if (predictions[i] === y) correct++;
  }
  return counted === 0 ? NaN : correct / counted;
}

/** Fraction of rows where two models predict the same class. NaN for zero rows. */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`agreement: ${a.length} vs ${b.length} predictions`);
  if (a.length === 0) return NaN;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
