// AdamW with torch.optim.AdamW semantics (amsgrad off), as graph nodes:
//   p <- p * (1 - lr*wd)                      (decoupled decay; skipped for no-decay params)
//   m <- b1*m + (1-b1)*g ;  v <- b2*v + (1-b2)*g^2
//   p <- p - (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
// The step-dependent scalars are computed on the host in float64 (as torch does in
// Python) and fed each step, so one graph serves every step of the schedule.
import type { Graph, Value } from '../onnx/graph';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** Per-step scalar inputs of the optimizer, each () float32. */
export interface AdamWScalars {
  /** 1 - lr * weight_decay */
  decayFactor: Value;
  /** lr / (1 - b1^t) */
  stepSize: Value;
  /** sqrt(1 - b2^t) */
  bc2Sqrt: Value;
}

export const ADAMW_SCALAR_NAMES = { decayFactor: 'opt.decay_factor', stepSize: 'opt.step_size', bc2Sqrt: 'opt.bc2_sqrt' } as const;

/** Host-side values of the per-step scalars for 1-based step t at learning rate lr. */
export function adamwScalars(cfg: AdamWConfig, lr: number, t: number): { decayFactor: number; stepSize: number; bc2Sqrt: number } {
  return {
    decayFactor: 1 - lr * cfg.weightDecay,
    stepSize: lr / (1 - cfg.beta1 ** t),
    bc2Sqrt: Math.sqrt(1 - cfg.beta2 ** t),
  };
}

/**
 * The moments' gradient coefficients (1-b1)*s and (1-b2)*s^2, where s scales the gradient
 * (the clipping coefficient): folding s into scalars reads a large gradient only once.
 */
function momentCoefficients(g: Graph, cfg: AdamWConfig, like: Value, gradScale: Value | null): [Value, Value] {
  if (!gradScale) return [g.lit(1 - cfg.beta1, like), g.lit(1 - cfg.beta2, like)];
  return [g.times(g.lit(1 - cfg.beta1, like), gradScale), g.times(g.lit(1 - cfg.beta2, like), g.times(gradScale, gradScale))]; // ()
}

/** Dense moment update for a parameter whose gradient touches every element. */
export function adamwMoments(g: Graph, cfg: AdamWConfig, x: { grad: Value; m: Value; v: Value; gradScale: Value | null }): { m: Value; v: Value } {
  const [c1, c2] = momentCoefficients(g, cfg, x.grad, x.gradScale);
  const m = g.plus(g.times(x.m, g.lit(cfg.beta1, x.m)), g.times(x.grad, c1));
  const v = g.plus(g.times(x.v, g.lit(cfg.beta2, x.v)), g.times(g.times(x.grad, x.grad), c2));
  return { m, v };
}

/**
 * Moment update for a table whose gradient is zero except in `rows`: the decay of m and v
 * stays dense, the gradient terms are scatter-added into the touched rows only. For every
 * element this computes the same float32 operations as the dense rule (b1*m + c1*0 = b1*m).
 * @param rows    (U, 1) int64 distinct row ids
 * @param rowGrad (U, W) the gradient of those rows
 */
export function adamwRowMoments(
  g: Graph,
  cfg: AdamWConfig,
  x: { rows: Value; rowGrad: Value; m: Value; v: Value; gradScale: Value | null },
): { m: Value; v: Value } {
  const [c1, c2] = momentCoefficients(g, cfg, x.rowGrad, x.gradScale);
  const m = g.op1('ScatterND', [g.times(x.m, g.lit(cfg.beta1, x.m)), x.rows, g.times(x.rowGrad, c1)], { reduction: 'add' }); // (V, W)
  const v = g.op1('ScatterND', [g.times(x.v, g.lit(cfg.beta2, x.v)), x.rows, g.times(g.times(x.rowGrad, x.rowGrad), c2)], { reduction: 'add' }); // (V, W)
  return { m, v };
}

/** The parameter update from the new moments (decoupled decay first, as torch does). */
export function adamwApply(g: Graph, cfg: AdamWConfig, s: AdamWScalars, x: { param: Value; m: Value; v: Value; decay: boolean }): Value {
  const decayed = x.decay && cfg.weightDecay !== 0 ? g.times(x.param, s.decayFactor) : x.param;
  const denom = g.plus(g.over(g.sqrt(x.v), s.bc2Sqrt), g.lit(cfg.eps, x.v));
  return g.minus(decayed, g.times(g.over(x.m, denom), s.stepSize));
}
