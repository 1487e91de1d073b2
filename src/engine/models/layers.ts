// Building blocks shared by the BERT and DistilBERT graphs, each the ONNX form of one torch
// module or function, with Hugging Face's numerics. Shapes in comments: B batch, T sequence,
// H hidden, nh heads, hd head size, `...` leading dims.
import type { Graph, Value } from '../onnx/graph';
import type { Activation } from './config';

export type FloatDType = 'float32' | 'float64';

/** torch.nn.Linear: x @ W^T + b, with W stored [out, in] as in torch checkpoints. */
export function linear(g: Graph, x: Value, w: Value, b: Value): Value {
  const wt = g.transpose(w, [1, 0]); // (in, out)
  const y = g.matmul(x, wt); // (..., out)
  return g.plus(y, b); // (..., out)
}

/**
 * torch.nn.LayerNorm over the last axis. float32: the opset-17 LayerNormalization op, with
 * its Mean and InvStdDev outputs requested so that a gradient rule can reuse them.
 * float64: the same formula written out (ONNX Runtime has no float64 LayerNormalization kernel).
 */
export function layerNorm(g: Graph, x: Value, w: Value, b: Value, eps: number): Value {
  if (x.dtype === 'float32') {
    const [y] = g.add('LayerNormalization', [x, w, b], { axis: -1, epsilon: eps }, {
      names: [g.fresh('layernorm'), g.fresh('mean'), g.fresh('inv_std')],
    }); // (..., H), (..., 1), (..., 1)
    return y;
  }
  const mean = g.reduceMean(x, [-1], true); // (..., 1)
  const d = g.minus(x, mean); // (..., H)
  const variance = g.reduceMean(g.times(d, d), [-1], true); // (..., 1)
  const std = g.sqrt(g.plus(variance, g.lit(eps, x))); // (..., 1)
  const xhat = g.over(d, std); // (..., H)
  return g.plus(g.times(xhat, w), b); // (..., H)
}

/** The exact (erf) GELU of torch / Hugging Face "gelu": x * 0.5 * (1 + erf(x / sqrt(2))). */
export function gelu(g: Graph, x: Value): Value {
  const e = erf(g, g.times(x, g.lit(Math.SQRT1_2, x))); // (...)
  const phi = g.times(g.plus(e, g.lit(1, x)), g.lit(0.5, x)); // (...)
  return g.times(x, phi); // (...)
}

export function activation(g: Graph, x: Value, act: Activation): Value {
  return act === 'gelu' ? gelu(g, x) : g.op1('Relu', [x]);
}

// Cephes (S. L. Moshier, public domain) rational approximations, the ones scipy compiles:
// erf(x) = x T(x^2) / U(x^2) for |x| < 1; erfc(x) = exp(-x^2) P(x) / Q(x) for 1 <= x < 8.
// Leading coefficients first; U and Q have an implicit leading 1.
const ERF_T = [9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3, 7.00332514112805075473e3,
  5.55923013010394962768e4];
const ERF_U = [1, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3, 2.26290000613890934246e4,
  4.92673942608635921086e4];
const ERFC_P = [2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0, 4.86371970985681366614e1,
  1.96520832956077098242e2, 5.26445194995477358631e2, 9.34528527171957607540e2, 1.02755188689515710272e3,
  5.57535335369399327526e2];
const ERFC_Q = [1, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2, 9.75708501743205489753e2,
  1.82390916687909736289e3, 2.24633760818710981792e3, 1.65666309194161350182e3, 5.57535340817727675546e2];

/**
 * erf. float32: the Erf op. float64: ONNX Runtime has no float64 Erf kernel, so erf is built
 * from Cephes' rational approximations (relative error ~1e-16) with Abs, Sign, Less, Where,
 * Exp and arithmetic; smooth within each branch, so finite differences see a smooth function.
 */
export function erf(g: Graph, x: Value): Value {
  if (x.dtype === 'float32') return g.op1('Erf', [x]);
  return g.scope('erf', () => {
    const one = g.lit(1, x);
    const a = g.op1('Abs', [x]); // (...)
    const small = g.op1('Less', [a, one]); // (...) bool: |x| < 1
    // |x| < 1: x T(x^2) / U(x^2), evaluated at 0 elsewhere so that no branch overflows
    const xs = g.op1('Where', [small, x, g.lit(0, x)]); // (...)
    const z = g.times(xs, xs); // (...)
    const erfSmall = g.over(g.times(xs, polynomial(g, z, ERF_T)), polynomial(g, z, ERF_U)); // (...)
    // |x| >= 1: sign(x) (1 - exp(-a^2) P(a) / Q(a)), a clamped to 8 (erfc(8) ~ 1e-29)
    const eight = g.lit(8, x);
    const al = g.op1('Where', [g.op1('Less', [a, eight]), a, eight]); // (...)
    const erfc = g.over(g.times(g.exp(g.neg(g.times(al, al))), polynomial(g, al, ERFC_P)), polynomial(g, al, ERFC_Q)); // (...)
    const erfLarge = g.times(g.op1('Sign', [x]), g.minus(one, erfc)); // (...)
    return g.op1('Where', [small, erfSmall, erfLarge]); // (...)
  });
}

/** Horner: c[0] x^n + c[1] x^(n-1) + ... + c[n]. */
function polynomial(g: Graph, x: Value, c: number[]): Value {
  let acc = c[0] === 1 ? x : g.times(x, g.lit(c[0], x));
  acc = g.plus(acc, g.lit(c[1], x));
  for (let i = 2; i < c.length; i++) acc = g.plus(g.times(acc, x), g.lit(c[i], x));
  return acc;
}

/** Dropout settings for a training graph. */
export interface DropoutOptions {
  /** bool scalar: true applies dropout (training), false passes values through. */
  training: Value;
  /** One ratio for every dropout site; default: the config's rate at each site. */
  ratio?: number;
}

/** One Dropout node of a built graph. */
export interface DropoutSite {
  output: Value;
  /** bool, same shape as the output: true where the value was kept. */
  mask: Value;
  ratio: number;
}

/**
 * Opset-13 Dropout(data, ratio, training_mode) with both outputs (output, mask), so that its
 * gradient rule can reuse the mask. Returns `x` itself when `ratio` is 0.
 */
export function dropout(g: Graph, x: Value, ratio: number, training: Value, sites?: DropoutSite[]): Value {
  if (ratio === 0) return x;
  const [output, mask] = g.add('Dropout', [x, g.lit(ratio, x), training], {}, {
    names: [g.fresh('dropout'), g.fresh('dropout_mask')],
  }); // (...), (...) bool
  sites?.push({ output, mask, ratio });
  return output;
}
