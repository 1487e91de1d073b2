// The small model that every execution provider must run correctly before Distill Studio
// trusts it: MatMul + Add + LayerNormalization + Erf + MatMul + Softmax on an (8, 64)
// float32 input, with fixed pseudo-random weights. A float64 reference in plain
// JavaScript checks the CPU result itself, so the CPU is not trusted blindly either.
import { mulberry32 } from '../data/split';
import { Graph, tensor } from '../onnx/graph';

export const SMOKE_ROWS = 8;
export const SMOKE_WIDTH = 64;
const EPSILON = 1e-5;

/** Deterministic numbers in [-1, 1). */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() * 2 - 1;
}

function floats(n: number, scale: number, offset: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = offset + scale * rand();
  return out;
}

export interface SmokeWeights {
  w1: Float32Array; // (64, 64)
  b1: Float32Array; // (64)
  gamma: Float32Array; // (64)
  beta: Float32Array; // (64)
  w2: Float32Array; // (64, 64)
}

export interface SmokeModel {
  bytes: Uint8Array;
  inputName: string;
  input: Float32Array; // (8, 64)
  dims: [number, number];
  /** Output names, in the order of `reference`. */
  outputNames: string[];
  /** float64 reference values per output (computed from the float32 weights). */
  reference: Record<string, Float64Array>;
}

let cached: SmokeModel | undefined;

/** The smoke-test model, its input and its reference outputs (built once). */
export function smokeModel(): SmokeModel {
  if (cached) return cached;
  const n = SMOKE_WIDTH;
  const rand = prng(0x5eed1234);
  const w: SmokeWeights = {
    w1: floats(n * n, 1 / Math.sqrt(n), 0, rand),
    b1: floats(n, 0.1, 0, rand),
    gamma: floats(n, 0.25, 1, rand),
    beta: floats(n, 0.1, 0, rand),
    w2: floats(n * n, 6 / Math.sqrt(n), 0, rand),
  };
  const input = floats(SMOKE_ROWS * n, 1, 0, rand);

  const g = new Graph('provider_smoke_test');
  const x = g.input('x', 'float32', [SMOKE_ROWS, n]);
  const h = g.plus(g.matmul(x, g.constant(tensor('float32', [n, n], w.w1), 'w1')), g.constant(tensor('float32', [n], w.b1), 'b1'));
  const ln = g.op1('LayerNormalization', [h, g.constant(tensor('float32', [n], w.gamma), 'gamma'), g.constant(tensor('float32', [n], w.beta), 'beta')], {
    axis: -1,
    epsilon: EPSILON,
  });
  const e = g.op1('Erf', [ln]);
  const p = g.op1('Softmax', [g.matmul(e, g.constant(tensor('float32', [n, n], w.w2), 'w2'))], { axis: -1 });
  g.output(e, 'hidden');
  g.output(p, 'probs');

  cached = {
    bytes: g.toBytes({ producer: 'distill-studio provider smoke test' }),
    inputName: 'x',
    input,
    dims: [SMOKE_ROWS, n],
    outputNames: ['hidden', 'probs'],
    reference: reference(input, w),
  };
  return cached;
}

/** The model computed in float64. */
function reference(x: Float32Array, w: SmokeWeights): Record<string, Float64Array> {
  const n = SMOKE_WIDTH;
  const hidden = new Float64Array(SMOKE_ROWS * n);
  const probs = new Float64Array(SMOKE_ROWS * n);
  const row = new Float64Array(n);
  for (let r = 0; r < SMOKE_ROWS; r++) {
    for (let j = 0; j < n; j++) {
      let s = w.b1[j];
      for (let k = 0; k < n; k++) s += x[r * n + k] * w.w1[k * n + j];
      row[j] = s;
    }
    let mean = 0;
    for (let j = 0; j < n; j++) mean += row[j];
    mean /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (row[j] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / n + EPSILON);
    for (let j = 0; j < n; j++) hidden[r * n + j] = erf((row[j] - mean) * inv * w.gamma[j] + w.beta[j]);
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += hidden[r * n + k] * w.w2[k * n + j];
      row[j] = s;
      max = Math.max(max, s);
    }
    let z = 0;
    for (let j = 0; j < n; j++) z += Math.exp(row[j] - max);
    for (let j = 0; j < n; j++) probs[r * n + j] = Math.exp(row[j] - max) / z;
  }
  return { hidden, probs };
}

/** erf to about 1e-15 (Maclaurin series for |x| < 2.5, continued fraction beyond). */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = a;
    let sum = a;
    for (let k = 1; k < 60; k++) {
      term *= (-a * a) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + ...)))))
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}
