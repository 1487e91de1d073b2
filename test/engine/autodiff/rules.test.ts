// Every gradient rule against central finite differences (./fd.ts), in float64 where ORT
// has a float64 kernel (Erf has none: its cases run in float32 with a 4-point stencil).
import { afterAll, describe, expect, it } from 'vitest';
import { backward } from '../../../src/engine/autodiff/backward';
import { GRAD_RULES } from '../../../src/engine/autodiff/rules';
import { Graph, tensor, type Value } from '../../../src/engine/onnx/graph';
import { checkGrads, unusedParts, type FdInput, type GradCheckOptions } from './fd';

const TOL = { float64: 1e-6, float32: 1e-3 };

interface Case {
  name: string;
  check: GradCheckOptions;
}

const inp = (name: string, shape: FdInput['shape'], more: Partial<FdInput> = {}): FdInput => ({ name, shape, ...more });
const positive: Partial<FdInput> = { range: [0.5, 2] };
const bool = (b: number) => tensor('bool', [], [b]);
const erfGelu = (g: Graph, h: Value) =>
  g.times(g.times(h, g.lit(0.5, h)), g.plus(g.lit(1, h), g.op1('Erf', [g.over(h, g.lit(Math.SQRT2, h))])));

const cases: Case[] = [
  // Elementwise, with broadcasting.
  { name: 'Identity', check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.op1('Identity', [x]) } },
  { name: 'Add same shape', check: { inputs: [inp('a', [2, 3]), inp('b', [2, 3])], build: (g, { a, b }) => g.plus(a, b) } },
  { name: 'Add bias (H) to (B,T,H)', check: { inputs: [inp('x', [2, 3, 4]), inp('bias', [4])], build: (g, { x, bias }) => g.plus(x, bias) } },
  {
    name: 'Add mask (B,1,1,T) to (B,nh,T,T), symbolic batch/seq',
    check: {
      inputs: [inp('scores', ['batch', 2, 'seq', 'seq'], { dims: [2, 2, 3, 3] }), inp('mask', ['batch', 1, 1, 'seq'], { dims: [2, 1, 1, 3] })],
      build: (g, { scores, mask }) => g.plus(scores, mask),
    },
  },
  { name: 'Sub (3,1) - (1,4)', check: { inputs: [inp('a', [3, 1]), inp('b', [1, 4])], build: (g, { a, b }) => g.minus(a, b) } },
  { name: 'Mul (2,3,4) * (3,1)', check: { inputs: [inp('a', [2, 3, 4]), inp('b', [3, 1])], build: (g, { a, b }) => g.times(a, b) } },
  { name: 'Div (2,3) / (3)', check: { inputs: [inp('a', [2, 3]), inp('b', [3], positive)], build: (g, { a, b }) => g.over(a, b) } },
  { name: 'Div by a scalar input', check: { inputs: [inp('a', ['batch', 3], { dims: [2, 3] }), inp('b', [], positive)], build: (g, { a, b }) => g.over(a, b) } },
  { name: 'Sum (variadic, broadcast)', check: { inputs: [inp('a', [2, 3]), inp('b', [3]), inp('c', [2, 1])], build: (g, { a, b, c }) => g.op1('Sum', [a, b, c]) } },
  { name: 'Max (2,3) vs (3)', check: { inputs: [inp('a', [2, 3]), inp('b', [3])], build: (g, { a, b }) => g.op1('Max', [a, b]) } },
  { name: 'Min (2,3) vs (3)', check: { inputs: [inp('a', [2, 3]), inp('b', [3])], build: (g, { a, b }) => g.op1('Min', [a, b]) } },
  { name: 'Neg', check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.neg(x) } },
  { name: 'Exp', check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.exp(x) } },
  { name: 'Log', check: { inputs: [inp('x', [2, 3], positive)], build: (g, { x }) => g.log(x) } },
  { name: 'Sqrt', check: { inputs: [inp('x', [2, 3], positive)], build: (g, { x }) => g.sqrt(x) } },
  { name: 'Pow x^2', check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.op1('Pow', [x, g.lit(2, x)]) } },
  { name: 'Pow x^-1.5', check: { inputs: [inp('x', [2, 3], positive)], build: (g, { x }) => g.op1('Pow', [x, g.lit(-1.5, x)]) } },
  { name: 'Tanh', check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.op1('Tanh', [x]) } },
  { name: 'Sigmoid', check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.op1('Sigmoid', [x]) } },
  { name: 'Reciprocal', check: { inputs: [inp('x', [2, 3], positive)], build: (g, { x }) => g.op1('Reciprocal', [x]) } },
  { name: 'Abs', check: { inputs: [inp('x', [3, 4])], build: (g, { x }) => g.op1('Abs', [x]) } },
  // Sign has a zero gradient: only the Mul path reaches x.
  { name: 'Sign', check: { inputs: [inp('x', [3, 4])], build: (g, { x }) => g.times(g.op1('Sign', [x]), g.exp(x)) } },
  { name: 'Relu', check: { inputs: [inp('x', [3, 4])], build: (g, { x }) => g.op1('Relu', [x]) } },
  { name: 'Erf (float32)', check: { dtype: 'float32', inputs: [inp('x', [2, 3], { range: [-2, 2] })], build: (g, { x }) => g.op1('Erf', [x]) } },
  { name: 'Cast float32 -> float64', check: { dtype: 'float32', inputs: [inp('x', [2, 3])], build: (g, { x }) => g.cast(x, 'float64') } },
  {
    name: 'Cast bool -> float (no gradient through the mask)',
    check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.times(x, g.cast(g.op1('Greater', [x, g.lit(0, x)]), 'float64')) },
  },
  {
    name: 'Where (cond (B,1,H), x (B,T,H), y (H))',
    check: {
      inputs: [inp('cond', [2, 1, 4], { dtype: 'bool', data: [1, 0, 0, 1, 1, 1, 0, 0] }), inp('x', [2, 3, 4]), inp('y', [4])],
      build: (g, { cond, x, y }) => g.op1('Where', [cond, x, y]),
    },
  },
  { name: 'Expand (3,1) -> (2,3,4)', check: { inputs: [inp('x', [3, 1])], build: (g, { x }) => g.op1('Expand', [x, g.ints([2, 3, 4])]) } },

  // Linear algebra.
  { name: 'MatMul 2-D', check: { inputs: [inp('a', [3, 4]), inp('b', [4, 5])], build: (g, { a, b }) => g.matmul(a, b) } },
  {
    name: 'MatMul (batch, T, K) @ weight (K, N)',
    check: { inputs: [inp('a', ['batch', 3, 4], { dims: [2, 3, 4] }), inp('b', [4, 5])], build: (g, { a, b }) => g.matmul(a, b) },
  },
  { name: 'MatMul batched both sides', check: { inputs: [inp('a', [2, 3, 4]), inp('b', [2, 4, 2])], build: (g, { a, b }) => g.matmul(a, b) } },
  { name: 'MatMul batch broadcast (2,1,3,4) @ (3,4,2)', check: { inputs: [inp('a', [2, 1, 3, 4]), inp('b', [3, 4, 2])], build: (g, { a, b }) => g.matmul(a, b) } },
  { name: 'MatMul, only the right side differentiated', check: { inputs: [inp('a', [2, 3, 4], { grad: false }), inp('b', [4, 5])], build: (g, { a, b }) => g.matmul(a, b) } },
  { name: 'MatMul (2,3) @ (4,3,2)', check: { inputs: [inp('a', [2, 3]), inp('b', [4, 3, 2])], build: (g, { a, b }) => g.matmul(a, b) } },
  ...[0, 1].flatMap((transA) =>
    [0, 1].map((transB) => ({
      name: `Gemm transA=${transA} transB=${transB} alpha/beta, C (N)`,
      check: {
        inputs: [inp('a', transA ? [4, 3] : [3, 4]), inp('b', transB ? [5, 4] : [4, 5]), inp('c', [5])],
        build: (g: Graph, { a, b, c }: Record<string, Value>) => g.op1('Gemm', [a, b, c], { transA, transB, alpha: 0.7, beta: 1.3 }),
      },
    })),
  ),
  { name: 'Gemm C (M,1)', check: { inputs: [inp('a', [3, 4]), inp('b', [4, 5]), inp('c', [3, 1])], build: (g, { a, b, c }) => g.op1('Gemm', [a, b, c]) } },
  { name: 'Gemm without C', check: { inputs: [inp('a', [3, 4]), inp('b', [5, 4])], build: (g, { a, b }) => g.op1('Gemm', [a, b], { transB: 1 }) } },

  // Indexing.
  {
    name: 'Gather axis 0, repeated and negative indices',
    check: {
      inputs: [inp('emb', [5, 3]), inp('ids', ['batch', 3], { dtype: 'int64', dims: [2, 3], data: [0, 2, 0, 4, 2, -1] })],
      build: (g, { emb, ids }) => g.op1('Gather', [emb, ids], { axis: 0 }),
    },
  },
  {
    name: 'Gather axis 1, int32 repeated indices',
    check: {
      inputs: [inp('x', [2, 5, 3]), inp('idx', [2, 2], { dtype: 'int32', data: [1, 3, 1, 0] })],
      build: (g, { x, idx }) => g.op1('Gather', [x, idx], { axis: 1 }),
    },
  },
  {
    name: 'Gather axis -1, scalar index',
    check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.op1('Gather', [x, g.constant(tensor('int64', [], [2]))], { axis: -1 }) },
  },
  {
    name: 'GatherElements axis 1, repeated indices',
    check: {
      inputs: [inp('x', [3, 4]), inp('idx', [3, 2], { dtype: 'int64', data: [1, 1, 0, 3, 2, 2] })],
      build: (g, { x, idx }) => g.op1('GatherElements', [x, idx], { axis: 1 }),
    },
  },

  // Shape ops.
  { name: 'Reshape (2,3,4) -> [0,-1]', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.reshape(x, [0, -1]) } },
  { name: 'Reshape symbolic (batch,6) -> (-1,2,3)', check: { inputs: [inp('x', ['batch', 6], { dims: [2, 6] })], build: (g, { x }) => g.reshape(x, [-1, 2, 3]) } },
  { name: 'Transpose perm [2,0,1]', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.transpose(x, [2, 0, 1]) } },
  { name: 'Transpose default perm', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.op1('Transpose', [x]) } },
  { name: 'Unsqueeze axes [0,-1]', check: { inputs: [inp('x', ['batch', 3], { dims: [2, 3] })], build: (g, { x }) => g.unsqueeze(x, [0, -1]) } },
  { name: 'Squeeze axes [1]', check: { inputs: [inp('x', ['batch', 1, 3], { dims: [2, 1, 3] })], build: (g, { x }) => g.squeeze(x, [1]) } },
  { name: 'Squeeze axes [-1, 1]', check: { inputs: [inp('x', [2, 1, 3, 1])], build: (g, { x }) => g.squeeze(x, [-1, 1]) } },
  {
    name: 'Slice static dims, negative start, end past the dim',
    check: { inputs: [inp('x', [4, 5])], build: (g, { x }) => g.op1('Slice', [x, g.ints([1, -3]), g.ints([3, 100]), g.ints([0, 1])]) },
  },
  {
    name: 'Slice first token on a symbolic seq (x[:, 0:1])',
    check: {
      inputs: [inp('x', ['batch', 'seq', 3], { dims: [2, 5, 3] })],
      build: (g, { x }) => g.op1('Slice', [x, g.ints([0]), g.ints([1]), g.ints([1])]),
    },
  },
  {
    name: 'Slice symbolic seq x[:, 1:-1] and x[:, -2:]',
    check: {
      inputs: [inp('x', ['batch', 'seq', 3], { dims: [2, 5, 3] })],
      build: (g, { x }) =>
        g.plus(
          g.reduceSum(g.op1('Slice', [x, g.ints([1]), g.ints([-1]), g.ints([1])]), [1], true),
          g.reduceSum(g.op1('Slice', [x, g.ints([-2]), g.ints([2 ** 31 - 1]), g.ints([-2])]), [1], true),
        ),
    },
  },
  {
    name: 'Concat static axis 1',
    check: { inputs: [inp('a', [2, 3]), inp('b', [2, 1]), inp('c', [2, 2])], build: (g, { a, b, c }) => g.op1('Concat', [a, b, c], { axis: 1 }) },
  },
  {
    name: 'Concat along a symbolic seq ([CLS] + tokens)',
    check: {
      inputs: [inp('cls', ['batch', 1, 2], { dims: [2, 1, 2] }), inp('tok', ['batch', 'seq', 2], { dims: [2, 3, 2] })],
      build: (g, { cls, tok }) => g.op1('Concat', [cls, tok], { axis: -2 }),
    },
  },
  {
    name: 'Concat along symbolic dims, first input not differentiated',
    check: {
      inputs: [
        inp('a', ['batch', 'n', 2], { dims: [2, 2, 2], grad: false }),
        inp('b', ['batch', 'seq', 2], { dims: [2, 3, 2] }),
        inp('c', ['batch', 1, 2], { dims: [2, 1, 2] }),
      ],
      build: (g, { a, b, c }) => g.op1('Concat', [a, b, c], { axis: 1 }),
    },
  },

  // Reductions.
  { name: 'ReduceSum axes [1] keepdims 0', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.reduceSum(x, [1], false) } },
  { name: 'ReduceSum all axes (empty list)', check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.reduceSum(x, [], false) } },
  { name: 'ReduceMean axes [-1] keepdims 1', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.reduceMean(x, [-1], true) } },
  {
    name: 'ReduceMean over a symbolic dim',
    check: { inputs: [inp('x', ['batch', 'seq', 2], { dims: [2, 3, 2] })], build: (g, { x }) => g.reduceMean(x, [0, 1], false) },
  },

  // Normalisation, softmax, dropout.
  { name: 'Softmax axis -1', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.op1('Softmax', [x], { axis: -1 }) } },
  { name: 'Softmax axis 1', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.op1('Softmax', [x], { axis: 1 }) } },
  { name: 'LogSoftmax default axis', check: { inputs: [inp('x', [2, 3, 4])], build: (g, { x }) => g.op1('LogSoftmax', [x]) } },
  { name: 'LogSoftmax axis 0', check: { inputs: [inp('x', [3, 2])], build: (g, { x }) => g.op1('LogSoftmax', [x], { axis: 0 }) } },
  {
    name: 'LayerNormalization float64, symbolic batch',
    check: {
      inputs: [inp('x', ['batch', 3, 4], { dims: [2, 3, 4] }), inp('scale', [4]), inp('bias', [4])],
      build: (g, { x, scale, bias }) => g.op1('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: 1e-5 }),
    },
  },
  {
    name: 'LayerNormalization without bias, over the last two axes',
    check: { inputs: [inp('x', [2, 3, 4]), inp('scale', [3, 4])], build: (g, { x, scale }) => g.op1('LayerNormalization', [x, scale], { axis: 1 }) },
  },
  {
    name: 'LayerNormalization, only scale and bias differentiated',
    check: {
      inputs: [inp('x', [2, 3, 4], { grad: false }), inp('scale', [4]), inp('bias', [4])],
      build: (g, { x, scale, bias }) => g.op1('LayerNormalization', [x, scale, bias]),
    },
  },
  {
    name: 'LayerNormalization float32 using its Mean/InvStdDev outputs',
    check: {
      dtype: 'float32',
      inputs: [inp('x', [2, 4]), inp('scale', [4]), inp('bias', [4])],
      build: (g, { x, scale, bias }) => g.add('LayerNormalization', [x, scale, bias], { epsilon: 1e-5 }, { outputs: 3 })[0],
    },
  },
  {
    name: 'Dropout training mode (constant), ratio 0.3',
    check: {
      freshSessions: true,
      inputs: [inp('x', [4, 5])],
      build: (g, { x }) => g.add('Dropout', [x, g.lit(0.3, x), g.constant(bool(1))], { seed: 7 }, { outputs: 2 })[0],
    },
  },
  {
    name: 'Dropout training mode as a run-time input, default ratio',
    check: {
      freshSessions: true,
      inputs: [inp('x', [4, 5]), inp('training', [], { dtype: 'bool', data: [1] })],
      build: (g, { x, training }) => g.add('Dropout', [x, null, training], { seed: 11 }, { outputs: 2 })[0],
    },
  },
  {
    name: 'Dropout training mode off at run time',
    check: {
      inputs: [inp('x', [4, 5]), inp('training', [], { dtype: 'bool', data: [0] })],
      build: (g, { x, training }) => g.add('Dropout', [x, g.lit(0.4, x), training], { seed: 11 }, { outputs: 2 })[0],
    },
  },
  {
    name: 'Dropout inference mode (pass-through)',
    check: { inputs: [inp('x', [2, 3])], build: (g, { x }) => g.op1('Dropout', [x, g.lit(0.5, x), g.constant(bool(0))]) },
  },

  // Composites.
  {
    name: 'composite: attention block (Reshape/Transpose/MatMul/mask/Softmax), symbolic batch and seq',
    check: {
      inputs: [
        inp('x', ['batch', 'seq', 4], { dims: [2, 3, 4] }),
        inp('wq', [4, 4]),
        inp('wk', [4, 4]),
        inp('wv', [4, 4]),
        inp('mask', ['batch', 1, 1, 'seq'], { dims: [2, 1, 1, 3], range: [-2, 0] }),
      ],
      build: (g, { x, wq, wk, wv, mask }) => {
        const heads = (w: Value) => g.transpose(g.reshape(g.matmul(x, w), [0, 0, 2, 2]), [0, 2, 1, 3]); // (B, nh, T, dh)
        const [q, k, v] = [heads(wq), heads(wk), heads(wv)];
        const scores = g.plus(g.over(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.lit(Math.SQRT2, x)), mask);
        const ctx = g.matmul(g.op1('Softmax', [scores], { axis: -1 }), v);
        return g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [0, 0, 4]);
      },
    },
  },
  {
    name: 'composite: embedding + 2-layer MLP + LayerNorm + GELU(erf) + cross-entropy (float32)',
    check: {
      dtype: 'float32',
      inputs: [
        inp('ids', ['batch', 'seq'], { dtype: 'int64', dims: [2, 3], data: [1, 4, 1, 6, 4, 4] }),
        inp('labels', ['batch'], { dtype: 'int64', dims: [2], data: [2, 0] }),
        inp('emb', [7, 4]),
        inp('w1', [4, 6]),
        inp('b1', [6]),
        inp('gamma', [6], { range: [0.5, 1.5] }),
        inp('beta', [6]),
        inp('w2', [6, 3]),
        inp('b2', [3]),
      ],
      build: (g, { ids, labels, emb, w1, b1, gamma, beta, w2, b2 }) => {
        const pooled = g.reduceMean(g.op1('Gather', [emb, ids]), [1]); // (B, 4)
        const h = g.op1('LayerNormalization', [g.plus(g.matmul(pooled, w1), b1), gamma, beta], { epsilon: 1e-5 });
        const logits = g.plus(g.matmul(erfGelu(g, h), w2), b2); // (B, 3)
        const logp = g.op1('LogSoftmax', [logits], { axis: -1 });
        const onehot = g.cast(g.op1('OneHot', [labels, g.ints([3]), g.constant(tensor('float32', [2], [0, 1]))], { axis: -1 }), logp.dtype);
        const nll = g.neg(g.reduceSum(g.times(onehot, logp), [1])); // (B)
        const picked = g.squeeze(g.op1('GatherElements', [logp, g.unsqueeze(labels, [1])], { axis: 1 }), [1]); // (B)
        return g.minus(nll, g.times(picked, g.lit(0.5, logp)));
      },
    },
  },
];

describe('gradient rules match central finite differences', () => {
  const checkedOps = new Set<string>();

  // Each gradient must match numerically and carry its input's declared (symbolic) shape;
  // the backward pass must build nothing that goes unread.
  it.each(cases)('$name', async ({ check }) => {
    const res = await checkGrads(check);
    for (const n of res.graph.nodes) if (!n.outputs.some((o) => o.startsWith('grad/'))) checkedOps.add(n.op);
    const tol = TOL[check.dtype ?? 'float64'];
    const declared = Object.fromEntries(check.inputs.map((i) => [i.name, i.shape]));
    for (const [name, r] of Object.entries(res.inputs)) {
      expect(r.error, `${name}: analytic ${Array.from(r.analytic)} vs numeric ${Array.from(r.numeric)}`).toBeLessThan(tol);
      expect(r.staticShape, `static shape of grad ${name}`).toEqual(declared[name]);
    }
    expect(Object.keys(res.inputs).length).toBeGreaterThan(0);
    expect(unusedParts(res.graph, res.forwardNodes)).toEqual([]);
  });

  afterAll(() => {
    // Every rule in the table was exercised by some case above.
    const missing = Object.keys(GRAD_RULES).filter((op) => !checkedOps.has(op));
    expect(missing).toEqual([]);
  });
});

describe('gradient checks can fail', () => {
  it('a wrong rule is caught', async () => {
    const right = GRAD_RULES.Tanh;
    GRAD_RULES.Tanh = ({ g, outs: [y], gOuts: [gy] }) => [g.times(gy!, g.minus(g.lit(1, y), y))]; // 1 - y, not 1 - y^2
    try {
      const res = await checkGrads({ inputs: [inp('x', [2, 3])], build: (g, { x }) => g.op1('Tanh', [x]) });
      expect(res.inputs.x.error).toBeGreaterThan(1e-2);
    } finally {
      GRAD_RULES.Tanh = right;
    }
  });

  it('a Dropout in training mode without its mask output is refused with a hint', () => {
    const g = new Graph('dropout_no_mask');
    const x = g.input('x', 'float32', [2, 3]);
    const y = g.op1('Dropout', [x, g.lit(0.1, x), g.constant(bool(1))]);
    expect(() => backward(g, g.reduceSum(y, [0, 1]), [x])).toThrow(/outputs: 2/);
  });
});
