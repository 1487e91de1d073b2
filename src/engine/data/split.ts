// Seeded, reproducible train / held-out splits.
//
// The PRNG is mulberry32 (Tommy Ettinger's 32-bit generator, public domain): one uint32 of
// state, period 2^32, passes gjrand/PractRand to a few hundred MB, fast in JS with Math.imul.
// It is not cryptographic and does not need to be: it only has to give the same permutation
// for the same seed on every machine and every Node version, which integer-only arithmetic
// guarantees.

/** mulberry32: returns a function giving uniform floats in [0, 1), 2^-32 resolution. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded permutation of 0..n-1 (Fisher-Yates driven by mulberry32(seed)). */
export function seededPermutation(n: number, seed: number): Uint32Array {
  const rand = mulberry32(seed);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export interface HeldOutSplit {
  /** Row indices to train on, ascending. */
  train: number[];
  /** Held-out row indices, ascending; disjoint from `train`, together they cover 0..n-1. */
  valid: number[];
  seed: number;
  fraction: number;
}

/**
 * Splits rows 0..n-1 into train and held-out sets: the first round(n * fraction) entries of
 * `seededPermutation(n, seed)` (at least 1, at most n - 1) are held out. The same (n, fraction,
 * seed) always gives the same split. `seed` is an integer (used modulo 2^32).
 */
export function heldOutSplit(n: number, fraction: number, seed: number): HeldOutSplit {
  if (!Number.isInteger(n) || n < 2) {
    throw new RangeError(`heldOutSplit: need at least 2 rows to hold some out, got ${n}.`);
  }
  if (!(fraction > 0 && fraction < 1)) {
    throw new RangeError(`heldOutSplit: fraction must be between 0 and 1 (exclusive), got ${fraction}; e.g. 0.1 holds out 10%.`);
  }
  if (!Number.isInteger(seed)) {
    throw new RangeError(`heldOutSplit: seed must be an integer, got ${seed}.`);
  }
  const nValid = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  const perm = seededPermutation(n, seed);
  const isValid = new Uint8Array(n);
  for (let i = 0; i < nValid; i++) isValid[perm[i]!] = 1;
  const train: number[] = [];
  const valid: number[] = [];
  for (let i = 0; i < n; i++) (isValid[i] ? valid : train).push(i);
  return { train, valid, seed, fraction };
}
