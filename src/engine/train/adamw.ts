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
 * Adds one parameter's update. `gradScale` (a () value, e.g. the clipping coefficient) multiplies
 * the gradient; it is folded into the moment scalars so the (possibly huge) gradient is read once.
 */
export function adamwUpdate(
  g: Graph,
  cfg: AdamWConfig,
  s: AdamWScalars,
  x: { param: Value; grad: Value; m: Value; v: Value; decay: boolean; gradScale: Value | null },
): { param: Value; m: Value; v: Value } {
  const { param, grad, m, v } = x;
  const c1 = x.gradScale ? g.times(g.lit(1 - cfg.beta1, grad), x.gradScale) : g.lit(1 - cfg.beta1, grad); // ()
  const c2 = x.gradScale ? g.times(g.lit(1 - cfg.beta2, grad), g.times(x.gradScale, x.gradScale)) : g.lit(1 - cfg.beta2, grad); // ()
  const m2 = g.plus(g.times(m, g.lit(cfg.beta1, m)), g.times(grad, c1)); // same shape as param
  const v2 = g.plus(g.times(v, g.lit(cfg.beta2, v)), g.times(g.times(grad, grad), c2));
  const decayed = x.decay && cfg.weightDecay !== 0 ? g.times(param, s.decayFactor) : param;
  const denom = g.plus(g.over(g.sqrt(v2), s.bc2Sqrt), g.lit(cfg.eps, v2));
  const p2 = g.minus(decayed, g.times(g.over(m2, denom), s.stepSize));
  return { param: p2, m: m2, v: v2 };
}
