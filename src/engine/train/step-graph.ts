// The whole training step as one ONNX graph:
//   student forward -> distillation loss -> backward -> global-norm clipping -> AdamW
// Inputs : every parameter P, its moments `adam.m/P`, `adam.v/P`, the batch, the step scalars.
// Outputs: `next/P`, `next/adam.m/P`, `next/adam.v/P`, loss terms, grad norm, student logits.
import { backward } from '../autodiff/backward';
import { Graph, type Value } from '../onnx/graph';
import type { DType } from '../onnx/proto';
import type { ModelConfig } from '../models/config';
import { buildClassifier } from '../models/classifier';
import { parameterSpecs, type ParamSpec } from '../models/params';
import { adamwUpdate, ADAMW_SCALAR_NAMES, type AdamWConfig } from './adamw';
import { distillationLoss } from './loss';

export interface StepGraphOptions {
  temperature: number;
  alpha: number;
  adamw: AdamWConfig;
  /** Clip the global gradient norm to this value; 0 or null disables clipping. */
  maxGradNorm: number | null;
  /** Dropout in training mode (fresh masks every step) or off. */
  dropout: boolean;
  /** Also output each parameter's gradient (before clipping) as `grad/P` — for parity checks. */
  exposeGrads?: boolean;
  /** float64 graphs are used by checks only. */
  dtype?: DType;
}

export interface StepGraph {
  graph: Graph;
  specs: ParamSpec[];
  /** Names of the batch inputs the graph declares, in order. */
  batchInputs: string[];
}

export const stateName = {
  param: (p: string) => p,
  m: (p: string) => `adam.m/${p}`,
  v: (p: string) => `adam.v/${p}`,
  next: (name: string) => `next/${name}`,
  grad: (p: string) => `grad/${p}`,
};

export function buildStepGraph(cfg: ModelConfig, opts: StepGraphOptions): StepGraph {
  const dtype = opts.dtype ?? 'float32';
  const g = new Graph(`${cfg.arch}_distillation_step`);
  const specs = parameterSpecs(cfg);

  // Batch: (B, T) token tensors, (B) labels and CE weights, (B, C) teacher logits.
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const tokenTypeIds = cfg.arch === 'bert' ? g.input('token_type_ids', 'int64', ['batch', 'seq']) : null;
  const labels = g.input('labels', 'int64', ['batch']);
  const ceWeight = g.input('ce_weight', dtype, ['batch']);
  const teacherLogits = g.input('teacher_logits', dtype, ['batch', cfg.numLabels]);
  const batchSize = g.input('batch_size', dtype, []);
  const scalars = {
    decayFactor: g.input(ADAMW_SCALAR_NAMES.decayFactor, dtype, []),
    stepSize: g.input(ADAMW_SCALAR_NAMES.stepSize, dtype, []),
    bc2Sqrt: g.input(ADAMW_SCALAR_NAMES.bc2Sqrt, dtype, []),
  };

  const params = new Map<string, Value>();
  const moments = new Map<string, { m: Value; v: Value }>();
  for (const s of specs) {
    params.set(s.name, g.input(stateName.param(s.name), dtype, s.shape));
    moments.set(s.name, { m: g.input(stateName.m(s.name), dtype, s.shape), v: g.input(stateName.v(s.name), dtype, s.shape) });
  }

  const training = g.constant({ dtype: 'bool', dims: [], data: new Uint8Array([opts.dropout ? 1 : 0]) }, 'dropout_training');
  const { logits } = buildClassifier(g, cfg, {
    params,
    inputIds,
    attentionMask,
    tokenTypeIds,
    dtype,
    dropout: opts.dropout ? { training } : null,
  }); // (B, C)

  const terms = distillationLoss(g, logits, teacherLogits, labels, ceWeight, batchSize, opts);
  const wrt = specs.map((s) => params.get(s.name)!);
  const { grads } = backward(g, terms.loss, wrt);

  // Global gradient norm over every parameter, and torch's clip_grad_norm_ coefficient.
  const gradNorm = g.scope('clip', () => {
    const sq = specs.map((s) => g.op1('ReduceSumSquare', [grads.get(s.name)!, g.ints([], 'all_axes')], { keepdims: 0 }));
    return g.sqrt(g.op1('Sum', sq));
  }); // ()
  let clip: Value | null = null;
  if (opts.maxGradNorm && opts.maxGradNorm > 0) {
    clip = g.scope('clip', () =>
      g.op1('Min', [g.over(g.lit(opts.maxGradNorm!, gradNorm), g.plus(gradNorm, g.lit(1e-6, gradNorm))), g.lit(1, gradNorm)]),
    );
  }

  g.scope('adamw', () => {
    for (const s of specs) {
      const mo = moments.get(s.name)!;
      const up = adamwUpdate(g, opts.adamw, scalars, {
        param: params.get(s.name)!,
        grad: grads.get(s.name)!,
        m: mo.m,
        v: mo.v,
        decay: s.decay,
        gradScale: clip,
      });
      g.output(up.param, stateName.next(stateName.param(s.name)));
      g.output(up.m, stateName.next(stateName.m(s.name)));
      g.output(up.v, stateName.next(stateName.v(s.name)));
    }
  });
  g.output(terms.loss, 'loss');
  g.output(terms.kl, 'kl');
  g.output(terms.ce, 'ce');
  g.output(gradNorm, 'grad_norm');
  g.output(logits, 'logits');
  if (opts.exposeGrads) for (const s of specs) g.output(grads.get(s.name)!, stateName.grad(s.name));

  const batchInputs = ['input_ids', 'attention_mask', ...(tokenTypeIds ? ['token_type_ids'] : []), 'labels', 'ce_weight', 'teacher_logits', 'batch_size'];
  return { graph: g, specs, batchInputs };
}
