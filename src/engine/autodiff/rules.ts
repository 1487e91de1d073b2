// One gradient rule per forward operator: given the output gradients, return one
// gradient per input (null where an input takes no gradient, e.g. indices).
//
// Rules read the static (symbolic) shapes of the node's values, never the shapes of
// the incoming gradients. Broadcasting ops reduce their gradients back to each input's
// shape with `unbroadcast`; symbolic dims with different names are assumed equal there.
import { knownInts, type AttrValue, type Dim, type Graph, type Node, type Shape, type Value } from '../onnx/graph';
import type { DType } from '../onnx/proto';

export interface GradContext {
  g: Graph;
  node: Node;
  /** The node's inputs (null for omitted optional inputs). */
  ins: (Value | null)[];
  outs: Value[];
  /** Gradient of the loss for each output; null where no gradient reaches it. */
  gOuts: (Value | null)[];
  /**
   * Whether each input needs a gradient (it depends on a differentiated value). Rules
   * return null for the others rather than build nodes nobody reads: ONNX Runtime runs
   * unused nodes too.
   */
  needs: boolean[];
}

export type GradRule = (c: GradContext) => (Value | null)[];

// --- helpers ----------------------------------------------------------------------

const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float64']);
const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const attr = (node: Node, name: string, dflt: number) => (node.attrs[name] === undefined ? dflt : Number(node.attrs[name]));

/** Contents of a build-time constant (initializer), or null. */
function knownValues(g: Graph, v: Value | null | undefined): number[] | null {
  const t = v ? g.known.get(v.name) : undefined;
  return t ? knownInts(t) : null;
}

function constantInts(g: Graph, v: Value, what: string): number[] {
  const xs = knownValues(g, v);
  if (!xs) throw new Error(`autodiff: ${what} must be a constant (got '${v.name}')`);
  return xs;
}

/** The gradient arriving at a single-output node. */
function gradOut(c: GradContext): Value {
  if (c.gOuts.slice(1).some((gv) => gv !== null)) {
    throw new Error(`autodiff: ${c.node.op} (node ${c.node.name}): only its first output can be differentiated`);
  }
  return c.gOuts[0]!;
}

/** Zeros with the shape and dtype of `v`, without reading `v`'s contents. */
export function zeros(g: Graph, v: Value): Value {
  const value: AttrValue = { dtype: v.dtype, dims: [1], data: v.dtype === 'float64' ? new Float64Array(1) : new Float32Array(1) };
  return g.op1('ConstantOfShape', [g.op1('Shape', [v])], { value });
}

/**
 * Sums a gradient of (broadcast) shape `outShape` back to `inShape`: leading dims the
 * input lacks are summed away; dims that are 1 in the input but not in the output are
 * summed with keepdims.
 */
export function unbroadcast(g: Graph, grad: Value, inShape: Shape, outShape: Shape): Value {
  const lead = outShape.length - inShape.length;
  const kept = range(lead, outShape.length).filter((i) => inShape[i - lead] === 1 && outShape[i] !== 1);
  let out = grad;
  if (kept.length) out = g.reduceSum(out, kept, true);
  if (lead > 0) out = g.reduceSum(out, range(0, lead), false);
  return out;
}

/** Swaps the last two axes. */
function mT(g: Graph, v: Value): Value {
  const r = v.shape.length;
  return g.transpose(v, [...range(0, r - 2), r - 1, r - 2]);
}

function inversePerm(perm: number[]): number[] {
  const inv: number[] = [];
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Binary elementwise rule from the gradient of input i before unbroadcasting. */
function binary(local: (c: GradContext, gy: Value, i: 0 | 1) => Value): GradRule {
  return (c) => {
    const gy = gradOut(c);
    return ([0, 1] as const).map((i) => (c.needs[i] ? unbroadcast(c.g, local(c, gy, i), c.ins[i]!.shape, c.outs[0].shape) : null));
  };
}

/** Unary elementwise rule: gx = gy * dy/dx. */
function unary(local: (g: Graph, x: Value, y: Value, gy: Value) => Value): GradRule {
  return (c) => [local(c.g, c.ins[0]!, c.outs[0], gradOut(c))];
}

/** Gradient of ReduceSum / ReduceMean: put the reduced axes back and expand. */
function reduceRule(mean: boolean): GradRule {
  return (c) => {
    const { g, node, ins: [x, axesIn], outs: [y] } = c;
    const gy = gradOut(c);
    const rank = x!.shape.length;
    let axes = axesIn ? constantInts(g, axesIn, `${node.op} axes`) : [];
    if (axes.length === 0) {
      if (attr(node, 'noop_with_empty_axes', 0)) return [gy, null];
      axes = range(0, rank);
    }
    axes = axes.map((a) => norm(a, rank)).sort((a, b) => a - b);
    let gk = attr(node, 'keepdims', 1) ? gy : g.unsqueeze(gy, axes);
    if (mean) {
      const dims = axes.map((a) => x!.shape[a]);
      const scale = dims.every((d): d is number => typeof d === 'number')
        ? g.lit(1 / dims.reduce((p, d) => p * d, 1), x!)
        : g.over(g.cast(g.op1('Size', [y]), x!.dtype), g.cast(g.op1('Size', [x!]), x!.dtype)); // 1/N = |y| / |x|
      gk = g.times(gk, scale);
    }
    return [g.op1('Expand', [gk, g.op1('Shape', [x!])]), null];
  };
}

/** Max / Min: the gradient goes to the inputs equal to the result, split evenly on ties. */
function extremumRule(): GradRule {
  return (c) => {
    const { g, ins, outs: [y] } = c;
    const gy = gradOut(c);
    if (ins.length === 1) return [gy];
    const masks = ins.map((x) => g.cast(g.op1('Equal', [x!, y]), y.dtype));
    const share = g.over(gy, g.op1('Sum', masks));
    return ins.map((x, i) => (c.needs[i] ? unbroadcast(g, g.times(share, masks[i]), x!.shape, y.shape) : null));
  };
}

/** Float-valued ops whose gradient is zero: backward does not differentiate through them. */
export const ZERO_GRADIENT_OPS: ReadonlySet<string> = new Set(['Sign', 'Floor', 'Ceil', 'Round']);

// --- the table --------------------------------------------------------------------

export const GRAD_RULES: Record<string, GradRule> = {
  Identity: (c) => [gradOut(c)],

  // Elementwise arithmetic (numpy broadcasting).
  Add: binary((_c, gy) => gy),
  Sub: binary(({ g }, gy, i) => (i === 0 ? gy : g.neg(gy))),
  Mul: binary(({ g, ins }, gy, i) => g.times(gy, ins[1 - i]!)),
  // y = a / b: da = gy / b, db = -gy * a / b^2 = -gy * y / b
  Div: binary(({ g, ins: [, b], outs: [y] }, gy, i) => (i === 0 ? g.over(gy, b!) : g.neg(g.over(g.times(gy, y), b!)))),
  Sum: (c) => {
    const gy = gradOut(c);
    return c.ins.map((x, i) => (c.needs[i] ? unbroadcast(c.g, gy, x!.shape, c.outs[0].shape) : null));
  },
  Max: extremumRule(),
  Min: extremumRule(),

  // Elementwise unary.
  Neg: unary((g, _x, _y, gy) => g.neg(gy)),
  Exp: unary((g, _x, y, gy) => g.times(gy, y)),
  Log: unary((g, x, _y, gy) => g.over(gy, x)),
  Sqrt: unary((g, _x, y, gy) => g.over(gy, g.times(y, g.lit(2, y)))),
  Tanh: unary((g, _x, y, gy) => g.times(gy, g.minus(g.lit(1, y), g.times(y, y)))),
  Sigmoid: unary((g, _x, y, gy) => g.times(gy, g.times(y, g.minus(g.lit(1, y), y)))),
  Reciprocal: unary((g, _x, y, gy) => g.neg(g.times(gy, g.times(y, y)))),
  Abs: unary((g, x, _y, gy) => g.times(gy, g.op1('Sign', [x]))),
  Sign: () => [null], // zero almost everywhere (see ZERO_GRADIENT_OPS)
  Relu: unary((g, x, _y, gy) => g.op1('Where', [g.op1('Greater', [x, g.lit(0, x)]), gy, g.lit(0, gy)])),
  // d erf(x)/dx = 2/sqrt(pi) * exp(-x^2)
  Erf: unary((g, x, _y, gy) => g.times(gy, g.times(g.lit(2 / Math.sqrt(Math.PI), x), g.exp(g.neg(g.times(x, x)))))),
  // y = x^p with a constant scalar p: dx = gy * p * x^(p-1)
  Pow: (c) => {
    const { g, ins: [x, p] } = c;
    const gy = gradOut(c);
    if (!c.needs[0]) return [null, null];
    const ps = knownValues(g, p);
    if (!ps || ps.length !== 1) throw new Error(`autodiff: Pow (node ${c.node.name}) needs a constant scalar exponent`);
    const e = ps[0];
    const dydx = e === 2 ? g.times(x!, g.lit(2, x!)) : g.times(g.op1('Pow', [x!, g.lit(e - 1, x!)]), g.lit(e, x!));
    return [unbroadcast(g, g.times(gy, dydx), x!.shape, c.outs[0].shape), null];
  },
  Cast: (c) => {
    const { g, ins: [x], outs: [y] } = c;
    if (!FLOAT_DTYPES.has(x!.dtype) || !FLOAT_DTYPES.has(y.dtype)) return [null];
    return [g.cast(gradOut(c), x!.dtype)];
  },

  // Linear algebra.
  MatMul: (c) => {
    const { g, ins: [a, b], outs: [y], needs } = c;
    const gy = gradOut(c);
    const batch = y.shape.slice(0, -2);
    const da = () => unbroadcast(g, g.matmul(gy, mT(g, b!)), a!.shape, [...batch, ...a!.shape.slice(-2)]);
    const db = () => {
      const [K, N] = b!.shape;
      if (b!.shape.length === 2 && a!.shape.length > 2 && typeof K === 'number' && typeof N === 'number') {
        // A weight shared over the batch dims: one (K, rows) @ (rows, N) product.
        return g.matmul(g.transpose(g.reshape(a!, [-1, K]), [1, 0]), g.reshape(gy, [-1, N]));
      }
      return unbroadcast(g, g.matmul(mT(g, a!), gy), b!.shape, [...batch, ...b!.shape.slice(-2)]);
    };
    return [needs[0] ? da() : null, needs[1] ? db() : null];
  },
  // Y = alpha * A' B' + beta * C, A' = transA ? A^T : A (same for B).
  Gemm: (c) => {
    const { g, node, ins: [a, b, cIn], outs: [y], needs } = c;
    const gy = gradOut(c);
    const alpha = attr(node, 'alpha', 1), beta = attr(node, 'beta', 1);
    const tA = attr(node, 'transA', 0), tB = attr(node, 'transB', 0);
    const gemm = (p: Value, q: Value, transA: number, transB: number) => g.op1('Gemm', [p, q], { alpha, transA, transB });
    // dA' = gy B'^T, dB' = A'^T gy, each transposed back when the input was.
    const ga = !needs[0] ? null : tA ? gemm(b!, gy, tB, 1) : gemm(gy, b!, 0, tB ? 0 : 1);
    const gb = !needs[1] ? null : tB ? gemm(gy, a!, 1, tA) : gemm(a!, gy, tA ? 0 : 1, 0);
    const gc = cIn && needs[2] ? unbroadcast(g, beta === 1 ? gy : g.times(gy, g.lit(beta, gy)), cIn.shape, y.shape) : null;
    return [ga, gb, gc];
  },

  // Indexing.
  // Gather rows: scatter-add the gradient back into zeros (repeated indices accumulate).
  Gather: (c) => {
    const { g, node, ins: [x, idx], outs: [y] } = c;
    const gy = gradOut(c);
    const r = x!.shape.length, q = idx!.shape.length;
    const axis = norm(attr(node, 'axis', 0), r);
    const rows = g.unsqueeze(g.cast(idx!, 'int64'), [-1]); // (...idx, 1)
    const scatter = (into: Value, updates: Value) => g.op1('ScatterND', [into, rows, updates], { reduction: 'add' });
    if (axis === 0) return [scatter(zeros(g, x!), gy), null];
    // Another axis: move it to the front (and the index dims of gy with it), scatter, move back.
    const xPerm = [axis, ...range(0, axis), ...range(axis + 1, r)];
    const yPerm = [...range(axis, axis + q), ...range(0, axis), ...range(axis + q, y.shape.length)];
    const gxT = scatter(g.transpose(zeros(g, x!), xPerm), g.transpose(gy, yPerm));
    return [g.transpose(gxT, inversePerm(xPerm)), null];
  },
  GatherElements: (c) => {
    const { g, node, ins: [x, idx] } = c;
    const into = zeros(g, x!);
    return [g.op1('ScatterElements', [into, g.cast(idx!, 'int64'), gradOut(c)], { axis: attr(node, 'axis', 0), reduction: 'add' }), null];
  },
  Where: (c) => {
    const { g, ins: [cond, x, y], outs: [out], needs } = c;
    const gy = gradOut(c);
    const zero = g.lit(0, gy);
    return [
      null,
      needs[1] ? unbroadcast(g, g.op1('Where', [cond!, gy, zero]), x!.shape, out.shape) : null,
      needs[2] ? unbroadcast(g, g.op1('Where', [cond!, zero, gy]), y!.shape, out.shape) : null,
    ];
  },

  // Shape ops.
  Reshape: (c) => [c.g.op1('Reshape', [gradOut(c), c.g.op1('Shape', [c.ins[0]!])]), null],
  Transpose: (c) => {
    const { g, node, ins: [x] } = c;
    const rank = x!.shape.length;
    const perm = (node.attrs.perm as number[] | undefined) ?? range(0, rank).reverse();
    return [g.transpose(gradOut(c), inversePerm(perm))];
  },
  // Unsqueeze and Squeeze undo each other with the same axes input.
  Unsqueeze: (c) => [c.g.op1('Squeeze', [gradOut(c), c.ins[1]!]), null],
  Squeeze: (c) => [c.g.op1('Unsqueeze', [gradOut(c), c.ins[1]!]), null],
  Expand: (c) => [unbroadcast(c.g, gradOut(c), c.ins[0]!.shape, c.outs[0].shape), null],
  // Slice (steps 1): pad the gradient with zeros back to the input's extent.
  Slice: (c) => {
    const { g, node, ins: [x, startsIn, endsIn, axesIn, stepsIn] } = c;
    const gy = gradOut(c);
    const rank = x!.shape.length;
    const starts = constantInts(g, startsIn!, 'Slice starts');
    const ends = constantInts(g, endsIn!, 'Slice ends');
    const axes = axesIn ? constantInts(g, axesIn, 'Slice axes') : range(0, starts.length);
    const steps = stepsIn ? constantInts(g, stepsIn, 'Slice steps') : starts.map(() => 1);
    if (steps.some((s) => s !== 1)) throw new Error(`autodiff: Slice (node ${node.name}) with steps other than 1`);
    // Pads per axis: a number when static; a (1)-shaped int64 value on symbolic dims.
    const before: (number | Value)[] = Array(rank).fill(0);
    const after: (number | Value)[] = Array(rank).fill(0);
    let shapeX: Value | null = null;
    const dimOf = (a: number) => g.op1('Slice', [(shapeX ??= g.op1('Shape', [x!])), g.ints([a]), g.ints([a + 1])]);
    axes.forEach((axRaw, i) => {
      const a = norm(axRaw, rank);
      const d: Dim = x!.shape[a];
      const [s, e] = [starts[i], ends[i]];
      if (typeof d === 'number') {
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
        before[a] = clamp(s);
        after[a] = d - Math.max(clamp(e), clamp(s));
      } else {
        // A symbolic dim: the bounds are assumed to lie within it.
        before[a] = s >= 0 ? s : g.plus(dimOf(a), g.ints([s]));
        after[a] = e >= 2 ** 31 - 1 ? 0 : e < 0 ? -e : g.minus(dimOf(a), g.ints([e]));
      }
    });
    const pads = [...before, ...after];
    if (pads.every((p): p is number => typeof p === 'number')) return [g.op1('Pad', [gy, g.ints(pads, 'pads')]), null, null, null, null];
    const padsV = g.op1('Concat', pads.map((p) => (typeof p === 'number' ? g.ints([p]) : p)), { axis: 0 });
    // Reshape to Shape(x) restores the static shape that the dynamic pads lose.
    return [g.op1('Reshape', [g.op1('Pad', [gy, padsV]), shapeX ?? g.op1('Shape', [x!])]), null, null, null, null];
  },
  // Concat: slice each input's part back out of the gradient.
  Concat: (c) => {
    const { g, node, ins } = c;
    const gy = gradOut(c);
    const axis = norm(attr(node, 'axis', 0), ins[0]!.shape.length);
    const lens = ins.map((x) => x!.shape[axis]);
    const axesV = g.ints([axis], 'axes');
    if (lens.every((d): d is number => typeof d === 'number')) {
      const offsets = lens.map((_, i) => lens.slice(0, i).reduce((s, d) => s + d, 0));
      return lens.map((len, i) => (c.needs[i] ? g.op1('Slice', [gy, g.ints([offsets[i]]), g.ints([offsets[i] + len]), axesV]) : null));
    }
    // A symbolic length: offsets from the inputs' run-time shapes.
    const shapes: Value[] = [], lengths: Value[] = [];
    const shapeOf = (i: number) => (shapes[i] ??= g.op1('Shape', [ins[i]!]));
    const lenOf = (i: number) => (lengths[i] ??= g.op1('Slice', [shapeOf(i), g.ints([axis]), g.ints([axis + 1])]));
    return ins.map((_, i) => {
      if (!c.needs[i]) return null;
      const start = i === 0 ? g.ints([0]) : range(1, i).reduce((s, k) => g.plus(s, lenOf(k)), lenOf(0));
      const part = g.op1('Slice', [gy, start, g.plus(start, lenOf(i)), axesV]);
      return g.op1('Reshape', [part, shapeOf(i)]); // restores the static shape
    });
  },

  // Reductions.
  ReduceSum: reduceRule(false),
  ReduceMean: reduceRule(true),

  // Normalisation and activations over an axis.
  // y = softmax(x): dx = y * (gy - sum(gy * y))
  Softmax: (c) => {
    const { g, node, ins: [x], outs: [y] } = c;
    const gy = gradOut(c);
    const axis = norm(attr(node, 'axis', -1), x!.shape.length);
    return [g.times(y, g.minus(gy, g.reduceSum(g.times(gy, y), [axis], true)))];
  },
  // y = log softmax(x): dx = gy - softmax(x) * sum(gy)
  LogSoftmax: (c) => {
    const { g, node, ins: [x], outs: [y] } = c;
    const gy = gradOut(c);
    const axis = norm(attr(node, 'axis', -1), x!.shape.length);
    return [g.minus(gy, g.times(g.exp(y), g.reduceSum(gy, [axis], true)))];
  },
  // y = xhat * scale + bias over the axes [axis, rank), xhat = (x - mean) * rstd:
  //   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = gy * scale.
  // Mean / InvStdDev come from the node when it outputs them in x's dtype, else are
  // recomputed from x (ORT has no LayerNormalization kernel with float64 statistics).
  LayerNormalization: (c) => {
    const { g, node, ins: [x, scale, bias], outs, needs } = c;
    const gy = gradOut(c);
    const rank = x!.shape.length;
    const axes = range(norm(attr(node, 'axis', -1), rank), rank);
    const y = outs[0];
    const gbias = needs[2] ? unbroadcast(g, gy, bias!.shape, y.shape) : null;
    if (!needs[0] && !needs[1]) return [null, null, gbias];
    let mean: Value, rstd: Value;
    if (outs.length >= 3 && outs[1].dtype === x!.dtype) [mean, rstd] = [outs[1], outs[2]];
    else {
      mean = g.reduceMean(x!, axes, true);
      const xc = g.minus(x!, mean);
      const variance = g.reduceMean(g.times(xc, xc), axes, true);
      rstd = g.over(g.lit(1, x!), g.sqrt(g.plus(variance, g.lit(attr(node, 'epsilon', 1e-5), x!))));
    }
    const xhat = g.times(g.minus(x!, mean), rstd);
    const dx = () => {
      const gxhat = g.times(gy, scale!);
      return g.times(rstd, g.minus(g.minus(gxhat, g.reduceMean(gxhat, axes, true)), g.times(xhat, g.reduceMean(g.times(gxhat, xhat), axes, true))));
    };
    return [needs[0] ? dx() : null, needs[1] ? unbroadcast(g, g.times(gy, xhat), scale!.shape, y.shape) : null, gbias];
  },
  // Dropout (opset 13): output = data * mask / (1 - ratio) in training mode, data otherwise.
  // In training mode the gradient needs the mask: the builder must request both outputs,
  // g.add('Dropout', [x, ratio, training], {...}, { outputs: 2 }).
  Dropout: (c) => {
    const { g, node, ins: [x, ratioIn, trainingIn], outs } = c;
    const gy = gradOut(c);
    const training = trainingIn ? knownValues(g, trainingIn) : [0];
    if (training && !training[0]) return [gy, null, null];
    if (outs.length < 2) {
      throw new Error(`autodiff: Dropout (node ${node.name}) in training mode: build it with { outputs: 2 } so its mask can be used`);
    }
    const ratio = ratioIn ? knownValues(g, ratioIn) : [0.5];
    let scale = ratio ? g.lit(1 / (1 - ratio[0]), x!) : g.over(g.lit(1, x!), g.minus(g.lit(1, x!), g.cast(ratioIn!, x!.dtype)));
    if (!training) scale = g.op1('Where', [trainingIn!, scale, g.lit(1, x!)]); // training mode decided at run time
    return [g.times(g.times(gy, g.cast(outs[1], x!.dtype)), scale), null, null];
  },
};
