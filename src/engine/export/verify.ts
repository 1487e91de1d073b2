// Checks an exported model against the trained one: both score the same sentences, and their
// (N, C) logits are compared row by row. The pipeline reports the result as "fp32 predictions
// identical to the trained model's, int8 agreement N %".
import { argmaxRows } from '../infer/metrics';

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

export { argmaxRows };

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
