// Shape and type inference for the operators the engine builds, with symbolic dims.
// A rule returns one {dtype, shape} per output. '?' stands for a dim we cannot know.
import { ONNX_TO_DTYPE, type DType } from './proto';
import { knownInts, type AttrValue, type Dim, type Graph, type Shape, type Value } from './graph';

export interface TypeInfo {
  dtype: DType;
  shape: Shape;
}

type Rule = (g: Graph, ins: (Value | null)[], attrs: Record<string, AttrValue>, nOut: number) => TypeInfo[];

const UNARY = ['Identity', 'Neg', 'Exp', 'Log', 'Sqrt', 'Erf', 'Tanh', 'Relu', 'Sigmoid', 'Abs', 'Reciprocal', 'Not', 'Sign',
  'Softmax', 'LogSoftmax', 'Floor', 'Ceil', 'IsNaN', 'IsInf'];
const BINARY_SAME = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'And', 'Or'];
const COMPARE = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual'];

/** numpy broadcasting over symbolic dims. */
export function broadcastShapes(...shapes: Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      const e = s[k];
      if (e === 1) continue;
      if (d === 1 || d === '?') d = e;
      else if (typeof d === 'number' && typeof e === 'number' && d !== e) {
        throw new Error(`shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`);
      } else if (typeof d === 'string' && typeof e === 'number') d = e;
    }
    out.push(d);
  }
  return out;
}

function known(g: Graph, v: Value | null | undefined): number[] | null {
  if (!v) return null;
  const t = g.known.get(v.name);
  return t ? knownInts(t) : null;
}

/** The dims a shape tensor holds when it is `Shape(x)` (no start/end): x's static shape. */
function shapeOfProducer(g: Graph, v: Value | null | undefined): Shape | null {
  if (!v) return null;
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.includes(v.name)) continue;
    const whole = n.op === 'Shape' && n.attrs.start === undefined && n.attrs.end === undefined;
    return whole ? g.value(n.inputs[0]).shape : null;
  }
  return null;
}

const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const attrInt = (attrs: Record<string, AttrValue>, k: string, d: number) => (attrs[k] === undefined ? d : Number(attrs[k]));

function product(dims: Dim[]): Dim {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return '?';
    p *= d;
  }
  return p;
}

const rules: Record<string, Rule> = {
  Cast: (_g, [x], a) => [{ dtype: ONNX_TO_DTYPE[Number(a.to)], shape: x!.shape }],
  MatMul: (_g, [a, b]) => {
    const sa = a!.shape, sb = b!.shape;
    if (sa.length < 2 || sb.length < 2) throw new Error('MatMul: the engine uses rank >= 2 operands only');
    const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2));
    return [{ dtype: a!.dtype, shape: [...batch, sa[sa.length - 2], sb[sb.length - 1]] }];
  },
  Gemm: (_g, [a, b], at) => {
    const sa = attrInt(at, 'transA', 0) ? [...a!.shape].reverse() : a!.shape;
    const sb = attrInt(at, 'transB', 0) ? [...b!.shape].reverse() : b!.shape;
    return [{ dtype: a!.dtype, shape: [sa[0], sb[1]] }];
  },
  Gather: (_g, [x, idx], a) => {
    const axis = norm(attrInt(a, 'axis', 0), x!.shape.length);
    return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)] }];
  },
  GatherElements: (_g, [x, idx]) => [{ dtype: x!.dtype, shape: idx!.shape }],
  ScatterND: (_g, [x]) => [{ dtype: x!.dtype, shape: x!.shape }],
  ScatterElements: (_g, [x]) => [{ dtype: x!.dtype, shape: x!.shape }],
  Where: (_g, [c, x, y]) => [{ dtype: x!.dtype, shape: broadcastShapes(c!.shape, x!.shape, y!.shape) }],
  Reshape: (g, [x, s]) => {
    const like = shapeOfProducer(g, s);
    if (like) return [{ dtype: x!.dtype, shape: [...like] }];
    const target = known(g, s);
    if (!target) return [{ dtype: x!.dtype, shape: s!.shape[0] === '?' ? [] : Array(Number(s!.shape[0])).fill('?') }];
    const out: Dim[] = target.map((d, i) => (d === 0 ? x!.shape[i] : d));
    const minus = out.indexOf(-1);
    if (minus >= 0) {
      const total = product(x!.shape), rest = product(out.filter((_, i) => i !== minus));
      out[minus] = typeof total === 'number' && typeof rest === 'number' ? total / rest : '?';
    }
    return [{ dtype: x!.dtype, shape: out }];
  },
  Transpose: (_g, [x], a) => {
    const perm = (a.perm as number[] | undefined) ?? x!.shape.map((_, i) => x!.shape.length - 1 - i);
    return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]) }];
  },
  Unsqueeze: (g, [x, axes]) => {
    const ax = known(g, axes);
    if (!ax) throw new Error('Unsqueeze: axes must be a constant');
    const rank = x!.shape.length + ax.length;
    const set = new Set(ax.map((v) => norm(v, rank)));
    const out: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : x!.shape[k++]);
    return [{ dtype: x!.dtype, shape: out }];
  },
  Squeeze: (g, [x, axes]) => {
    const ax = known(g, axes);
    if (!ax) throw new Error('Squeeze: axes must be a constant');
    const set = new Set(ax.map((v) => norm(v, x!.shape.length)));
    return [{ dtype: x!.dtype, shape: x!.shape.filter((_, i) => !set.has(i)) }];
  },
  Concat: (_g, ins, a) => {
    const first = ins[0]!;
    const axis = norm(Number(a.axis), first.shape.length);
    const out = [...first.shape];
    out[axis] = product(ins.map((v) => v!.shape[axis]).filter((d) => d !== undefined)) === '?' ? '?' : ins.reduce((s, v) => s + Number(v!.shape[axis]), 0);
    return [{ dtype: first.dtype, shape: out }];
  },
  Slice: (g, [x, starts, ends, axes, steps]) => {
    const s = known(g, starts), e = known(g, ends);
    const ax = axes ? known(g, axes) : x!.shape.map((_, i) => i);
    const st = steps ? known(g, steps) : null;
    const out = [...x!.shape];
    if (!s || !e || !ax) return [{ dtype: x!.dtype, shape: out.map(() => '?') }];
    ax.forEach((axRaw, i) => {
      const axis = norm(axRaw, out.length);
      const dim = out[axis];
      const step = st ? st[i] : 1;
      if (typeof dim !== 'number') {
        // start/end on a symbolic dim: only a fixed-length window from the start is known
        out[axis] = s[i] >= 0 && e[i] >= 0 && e[i] < 2 ** 31 && step === 1 ? e[i] - s[i] : '?';
        return;
      }
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      out[axis] = Math.max(0, Math.ceil((clamp(e[i]) - clamp(s[i])) / step));
    });
    return [{ dtype: x!.dtype, shape: out }];
  },
  LayerNormalization: (_g, [x], a, nOut) => {
    const axis = norm(attrInt(a, 'axis', -1), x!.shape.length);
    const stat = x!.shape.map((d, i) => (i < axis ? d : 1));
    const stash = ONNX_TO_DTYPE[attrInt(a, 'stash_type', 1)];
    return [{ dtype: x!.dtype, shape: x!.shape }, { dtype: stash, shape: stat }, { dtype: stash, shape: stat }].slice(0, nOut);
  },
  Dropout: (_g, [x], _a, nOut) => [{ dtype: x!.dtype, shape: x!.shape }, { dtype: 'bool' as DType, shape: x!.shape }].slice(0, nOut),
  OneHot: (g, [idx, depth, values]) => {
    const d = known(g, depth);
    return [{ dtype: values!.dtype, shape: [...idx!.shape, d ? d[0] : '?'] }];
  },
  Pad: (g, [x, pads, , axes]) => {
    const p = known(g, pads);
    const rank = x!.shape.length;
    const ax = axes ? known(g, axes) : x!.shape.map((_, i) => i);
    if (!p || !ax) return [{ dtype: x!.dtype, shape: x!.shape.map(() => '?') }];
    const out = [...x!.shape];
    ax.forEach((a, i) => {
      const k = norm(a, rank), d = out[k], add = p[i] + p[i + ax.length];
      out[k] = typeof d === 'number' ? d + add : add === 0 ? d : '?';
    });
    return [{ dtype: x!.dtype, shape: out }];
  },
  Shape: (_g, [x]) => [{ dtype: 'int64', shape: [x!.shape.length] }],
  Size: () => [{ dtype: 'int64', shape: [] }],
  Expand: (g, [x, s]) => {
    const target = known(g, s) ?? shapeOfProducer(g, s);
    if (!target) return [{ dtype: x!.dtype, shape: Array(Number(s!.shape[0])).fill('?') }];
    return [{ dtype: x!.dtype, shape: broadcastShapes(x!.shape, target) }];
  },
  ConstantOfShape: (g, [s], a) => {
    const target = known(g, s) ?? shapeOfProducer(g, s);
    const t = a.value as { dtype: DType } | undefined;
    return [{ dtype: t?.dtype ?? 'float32', shape: target ?? Array(Number(s!.shape[0])).fill('?') }];
  },
  Range: (_g, [start]) => [{ dtype: start!.dtype, shape: ['?'] }],
  // Flattened (no axis): unique values, first indices, inverse indices, counts.
  Unique: (_g, [x]) => [
    { dtype: x!.dtype, shape: ['unique'] },
    { dtype: 'int64', shape: ['unique'] },
    { dtype: 'int64', shape: [product(x!.shape)] },
    { dtype: 'int64', shape: ['unique'] },
  ],
  ArgMax: (_g, [x], a) => reduceShape(x!, [attrInt(a, 'axis', 0)], attrInt(a, 'keepdims', 1), 'int64'),
};

function reduceShape(x: Value, axes: number[] | null, keepdims: number, dtype?: DType): TypeInfo[] {
  const rank = x.shape.length;
  // No axes (or an empty list) reduces over every axis.
  const set = new Set((axes && axes.length ? axes : x.shape.map((_, i) => i)).map((a) => norm(a, rank)));
  const shape = keepdims ? x.shape.map((d, i) => (set.has(i) ? 1 : d)) : x.shape.filter((_, i) => !set.has(i));
  return [{ dtype: dtype ?? x.dtype, shape }];
}

for (const op of ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSumSquare', 'ReduceL2']) {
  rules[op] = (g, [x, axes], a) => {
    const ax = axes ? known(g, axes) : null;
    if (axes && !ax) throw new Error(`${op}: axes must be a constant`);
    return reduceShape(x!, ax, attrInt(a, 'keepdims', 1));
  };
}
for (const op of UNARY) rules[op] = (_g, [x]) => [{ dtype: x!.dtype, shape: x!.shape }];
for (const op of BINARY_SAME)
  rules[op] = (_g, ins) => [{ dtype: ins[0]!.dtype, shape: broadcastShapes(...ins.map((v) => v!.shape)) }];
for (const op of COMPARE)
  rules[op] = (_g, ins) => [{ dtype: 'bool', shape: broadcastShapes(...ins.map((v) => v!.shape)) }];

export function inferShapes(
  g: Graph,
  op: string,
  ins: (Value | null)[],
  attrs: Record<string, AttrValue>,
  nOut: number,
): TypeInfo[] {
  const rule = rules[op];
  if (!rule) throw new Error(`graph builder: no shape rule for operator ${op}`);
  const out = rule(g, ins, attrs, nOut);
  if (out.length < nOut) throw new Error(`graph builder: ${op} has ${out.length} outputs, ${nOut} asked`);
  return out.slice(0, nOut);
}
