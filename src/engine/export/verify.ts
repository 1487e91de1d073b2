// Checks an exported model against the trained one: both score the same sentences, and their
// (N, C) logits are compared row by row. The pipeline reports the result as "fp32 predictions
// identical to the trained model's, int8 agreement N %".

export interface LogitComparison {
  /** Rows compared (N). */
  rows: number;
  /** Every row has the same predicted class (argmax) in both. */
  identicalPredictions: boolean;
  /** Fraction of rows with the same predicted class, in [0, 1] (1 when there are no rows). */
  agreement: number;
  /** Rows whose predicted classes differ. */
  disagreements: number;
  /** Largest |a - b| over all entries; Infinity when a value is NaN in one and not in the other, or infinite. */
  maxAbsDiff: number;
}

/** The predicted class of each row of row-major (N, C) logits: the first index of the largest value (NaN never wins). */
export function argmaxRows(logits: ArrayLike<number>, C: number): Int32Array {
  checkShape(logits.length, C, 'argmaxRows');
  const n = logits.length / C;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestV = -Infinity;
    for (let c = 0; c < C; c++) {
      const v = logits[i * C + c];
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Compares two row-major (N, C) logit arrays for the same N sentences. */
export function compareLogits(a: ArrayLike<number>, b: ArrayLike<number>, C: number): LogitComparison {
  if (a.length !== b.length) throw new RangeError(`compareLogits: ${a.length} values vs ${b.length}: the two models scored different inputs`);
  const pa = argmaxRows(a, C);
  const pb = argmaxRows(b, C);
  let maxAbsDiff = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const d = x === y ? 0 : Math.abs(x - y); // x === y also covers equal infinities
    maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
  }
  let disagreements = 0;
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) disagreements++;
  const rows = pa.length;
  return {
    rows,
    identicalPredictions: disagreements === 0,
    agreement: rows === 0 ? 1 : (rows - disagreements) / rows,
    disagreements,
    maxAbsDiff,
  };
}

function checkShape(length: number, C: number, who: string): void {
  if (!Number.isInteger(C) || C < 1) throw new RangeError(`${who}: the number of classes must be a positive integer, got ${C}`);
  if (length % C !== 0) throw new RangeError(`${who}: ${length} values do not form rows of ${C} classes`);
}
