// The building blocks against plain references: float64 erf (no ORT kernel, built from
// Cephes' rational approximations), GELU and LayerNorm in both dtypes.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph, type Value } from '../../../src/engine/onnx/graph';
import { erf, gelu, layerNorm } from '../../../src/engine/models/layers';
import { session } from './helpers';

/** erf in double from series: Taylor for |x| <= 2.5, continued fraction of erfc beyond. */
function erfRef(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a <= 2.5) {
    // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (2n+1)!!  (all terms positive)
    let term = a, sum = a;
    for (let n = 1; n < 200 && term > 1e-18 * sum; n++) {
      term *= (2 * a * a) / (2 * n + 1);
      sum += term;
    }
    r = (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
  } else {
    // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
    let f = 0;
    for (let k = 200; k >= 1; k--) f = (k / 2) / (a + f);
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  }
  return x < 0 ? -r : r;
}

async function run(dtype: 'float32' | 'float64', build: (g: Graph, x: Value) => Value, xs: number[], shape: number[]) {
  const g = new Graph('t');
  const x = g.input('x', dtype, shape);
  g.output(build(g, x), 'y');
  const s = await session(g.toBytes(), dtype === 'float64' ? 'basic' : 'all');
  const data = dtype === 'float32' ? Float32Array.from(xs) : Float64Array.from(xs);
  const y = Array.from((await s.run({ x: new ort.Tensor(dtype, data, shape) })).y.data as Float64Array);
  await s.release();
  return y;
}

describe('layers', () => {
  const xs = Array.from({ length: 4001 }, (_, i) => -10 + i / 200).concat([0, -0, 1, -1, 8, -8, 1e-8, 40, -1e3]);

  it('float64 erf matches a series reference to 1e-15', async () => {
    const y = await run('float64', (g, x) => erf(g, x), xs, [xs.length]);
    let worst = 0;
    xs.forEach((x, i) => (worst = Math.max(worst, Math.abs(y[i] - erfRef(x)))));
    console.log(`models/layers: float64 erf max abs error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-15);
    expect(y.every(Number.isFinite)).toBe(true);
  });

  it('GELU: float64 and float32 agree, and match x * Phi(x)', async () => {
    const y64 = await run('float64', (g, x) => gelu(g, x), xs, [xs.length]);
    const y32 = await run('float32', (g, x) => gelu(g, x), xs, [xs.length]);
    xs.forEach((x, i) => {
      const want = 0.5 * x * (1 + erfRef(x / Math.SQRT2));
      expect(Math.abs(y64[i] - want)).toBeLessThanOrEqual(4e-15 * Math.max(1, Math.abs(want)));
      expect(Math.abs(y32[i] - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
    });
  });

  it('layerNorm: float64 decomposition and float32 LayerNormalization agree with the formula', async () => {
    const H = 24, N = 6;
    const vals = Array.from({ length: N * H }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5)) + 3);
    const w = Array.from({ length: H }, (_, i) => 1 + 0.1 * Math.cos(i));
    const b = Array.from({ length: H }, (_, i) => 0.05 * i);
    const f = (dtype: 'float32' | 'float64') => (g: Graph, x: Value) =>
      layerNorm(g, x, g.constant({ dtype, dims: [H], data: dtype === 'float32' ? Float32Array.from(w) : Float64Array.from(w) }),
        g.constant({ dtype, dims: [H], data: dtype === 'float32' ? Float32Array.from(b) : Float64Array.from(b) }), 1e-12);
    const y64 = await run('float64', f('float64'), vals, [2, 3, H]);
    const y32 = await run('float32', f('float32'), vals, [2, 3, H]);
    for (let r = 0; r < N; r++) {
      const row = vals.slice(r * H, (r + 1) * H);
      const mean = row.reduce((p, c) => p + c, 0) / H;
      const variance = row.reduce((p, c) => p + (c - mean) ** 2, 0) / H;
      row.forEach((v, j) => {
        const want = ((v - mean) / Math.sqrt(variance + 1e-12)) * w[j] + b[j];
        expect(Math.abs(y64[r * H + j] - want)).toBeLessThan(1e-13);
        expect(Math.abs(y32[r * H + j] - want)).toBeLessThan(2e-6);
      });
    }
  });
});
