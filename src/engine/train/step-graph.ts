// The whole training step as one ONNX graph:
//   student forward -> distillation loss -> backward -> global-norm clipping -> AdamW
// Inputs : the parameter buffers of the layout (./param-layout.ts) and their AdamW moments,
//          the batch, and the per-step optimizer scalars.
// Outputs: `next/<buffer>` for every buffer, the loss terms, the gradient norm, the logits.
import { backward } from '../autodiff/backward';
import { Graph, tensor, type Value } from '../onnx/graph';
import type { DType } from '../onnx/proto';
import type { ModelConfig } from '../models/config';
import { buildClassifier } from '../models/classifier';
import { adamwApply, adamwMoments, adamwRowMoments, ADAMW_SCALAR_NAMES, type AdamWConfig } from './adamw';
import { distillationLoss } from './loss';
import { bufferName, paramLayout, type ParamLayout } from './param-layout';

export interface StepGraphOptions {
  temperature: number;
  alpha: number;
  adamw: AdamWConfig;
  /** Clip the global gradient norm to this value; 0 or null disables clipping. */
  maxGradNorm: number | null;
  /** Dropout in training mode (fresh masks every step) or off. */
  dropout: boolean;
  /** Also output each parameter's gradient (before clipping) as `grad/<name>` — for parity checks. */
  exposeGrads?: boolean;
}

export interface StepGraph {
  graph: Graph;
  layout: ParamLayout;
  /** Names of the batch inputs the graph declares. */
  batchInputs: string[];
}

export const gradName = (p: string) => `grad/${p}`;

export function buildStepGraph(cfg: ModelConfig, opts: StepGraphOptions): StepGraph {
  const dtype: DType = 'float32';
  const g = new Graph(`${cfg.arch}_distillation_step`);
  const layout = paramLayout(cfg);

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

  // Buffers in, and each parameter as a view of its buffer.
  const buf = new Map<string, { p: Value; m: Value; v: Value }>();
  const table = layout.table;
  buf.set(table.key, {
    p: g.input(bufferName.param(table.key), dtype, [table.rows, table.width]),
    m: g.input(bufferName.m(table.key), dtype, [table.rows, table.width]),
    v: g.input(bufferName.v(table.key), dtype, [table.rows, table.width]),
  });
  const params = new Map<string, Value>([[table.key, buf.get(table.key)!.p]]);
  for (const gr of layout.groups) {
    const b = {
      p: g.input(bufferName.param(gr.key), dtype, [gr.size]),
      m: g.input(bufferName.m(gr.key), dtype, [gr.size]),
      v: g.input(bufferName.v(gr.key), dtype, [gr.size]),
    };
    buf.set(gr.key, b);
    g.scope('params', () => {
      for (const m of gr.members) {
        const flat = g.op1('Slice', [b.p, g.ints([m.offset]), g.ints([m.offset + m.size]), g.ints([0])]); // (n)
        params.set(m.spec.name, g.reshape(flat, m.spec.shape, m.spec.name));
      }
    });
  }

  const { logits } = buildClassifier(g, cfg, {
    params,
    inputIds,
    attentionMask,
    tokenTypeIds,
    dtype,
    dropout: opts.dropout ? { training: g.constant({ dtype: 'bool', dims: [], data: new Uint8Array([1]) }, 'dropout_training') } : null,
  }); // (B, C)

  // The word-embedding lookup: its output's gradient is the table's gradient, row by row.
  const tableInput = buf.get(table.key)!.p.name;
  const lookup = g.nodes.find((n) => n.op === 'Gather' && n.inputs[0] === tableInput);
  if (!lookup) throw new Error(`step graph: the model does not look up ${table.key}`);
  const tokenEmbeddings = g.value(lookup.outputs[0]); // (B, T, H)

  const terms = distillationLoss(g, logits, teacherLogits, labels, ceWeight, batchSize, opts);
  const members = layout.groups.flatMap((gr) => gr.members.map((m) => params.get(m.spec.name)!));
  const { grads } = backward(g, terms.loss, [...members, tokenEmbeddings]);

  // Table gradient as (distinct rows, their summed gradient). The padding row gets none, as
  // with nn.Embedding(padding_idx).
  const { rows, rowGrad } = g.scope('word_embeddings_grad', () => {
    const ids = g.reshape(inputIds, [-1]); // (N)
    let tokenGrad = g.reshape(grads.get(tokenEmbeddings.name)!, [-1, table.width]); // (N, H)
    const isPad = g.unsqueeze(g.op1('Equal', [ids, g.constant(tensor('int64', [], [cfg.padTokenId]), 'pad_id')]), [1]); // (N, 1)
    tokenGrad = g.op1('Where', [isPad, g.lit(0, tokenGrad), tokenGrad]); // (N, H)
    const [uniq, , inverse] = g.add('Unique', [ids], { sorted: 1 }, { outputs: 3 }); // (U), _, (N)
    const zerosShape = g.op1('Concat', [g.op1('Shape', [uniq]), g.ints([table.width])], { axis: 0 }); // [U, H]
    const zeros = g.op1('ConstantOfShape', [zerosShape], { value: tensor(dtype, [1], [0]) }); // (U, H)
    const rowGrad = g.op1('ScatterND', [zeros, g.unsqueeze(inverse, [1]), tokenGrad], { reduction: 'add' }, g.fresh('row_grad')); // (U, H)
    return { rows: g.unsqueeze(uniq, [1]) /* (U, 1) */, rowGrad };
  });

  // Flat gradient per group, in the buffer's order.
  const groupGrad = new Map<string, Value>();
  g.scope('flat_grads', () => {
    for (const gr of layout.groups) {
      const parts = gr.members.map((m) => g.reshape(grads.get(params.get(m.spec.name)!.name)!, [-1])); // (n_i)
      groupGrad.set(gr.key, parts.length === 1 ? parts[0] : g.op1('Concat', parts, { axis: 0 })); // (n)
    }
  });

  // Global gradient norm and torch's clip_grad_norm_ coefficient.
  const gradNorm = g.scope('clip', () => {
    const sq = [rowGrad, ...groupGrad.values()].map((x) => g.op1('ReduceSumSquare', [x, g.ints([], 'all_axes')], { keepdims: 0 }));
    return g.sqrt(g.op1('Sum', sq));
  }); // ()
  const clip =
    opts.maxGradNorm && opts.maxGradNorm > 0
      ? g.scope('clip', () => g.op1('Min', [g.over(g.lit(opts.maxGradNorm!, gradNorm), g.plus(gradNorm, g.lit(1e-6, gradNorm))), g.lit(1, gradNorm)]))
      : null;

  g.scope('adamw', () => {
    const out = (key: string, p: Value, m: Value, v: Value) => {
      g.output(p, bufferName.next(bufferName.param(key)));
      g.output(m, bufferName.next(bufferName.m(key)));
      g.output(v, bufferName.next(bufferName.v(key)));
    };
    const tb = buf.get(table.key)!;
    const tm = adamwRowMoments(g, opts.adamw, { rows, rowGrad, m: tb.m, v: tb.v, gradScale: clip });
    out(table.key, adamwApply(g, opts.adamw, scalars, { param: tb.p, ...tm, decay: table.spec.decay }), tm.m, tm.v);
    for (const gr of layout.groups) {
      const b = buf.get(gr.key)!;
      const mo = adamwMoments(g, opts.adamw, { grad: groupGrad.get(gr.key)!, m: b.m, v: b.v, gradScale: clip });
      out(gr.key, adamwApply(g, opts.adamw, scalars, { param: b.p, ...mo, decay: gr.decay }), mo.m, mo.v);
    }
  });
  g.output(terms.loss, 'loss');
  g.output(terms.kl, 'kl');
  g.output(terms.ce, 'ce');
  g.output(gradNorm, 'grad_norm');
  g.output(logits, 'logits');
  if (opts.exposeGrads) {
    for (const gr of layout.groups) for (const m of gr.members) g.output(grads.get(params.get(m.spec.name)!.name)!, gradName(m.spec.name));
    const dense = g.op1('ScatterND', [g.times(buf.get(table.key)!.p, g.lit(0, rowGrad)), rows, rowGrad]); // (V, H)
    g.output(dense, gradName(table.key));
  }

  const batchInputs = ['input_ids', 'attention_mask', ...(tokenTypeIds ? ['token_type_ids'] : []), 'labels', 'ce_weight', 'teacher_logits', 'batch_size'];
  return { graph: g, layout, batchInputs };
}
