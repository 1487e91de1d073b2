// A small ONNX graph builder: typed values with symbolic shapes, one method per use,
// serialised to ModelProto bytes. Shapes are tracked so that the differentiator can
// undo broadcasting and so that every value in the written model carries its shape.
import { DTYPE_TO_ONNX, onnx, type AnyTypedArray, type DType } from './proto';
import { inferShapes } from './shapes';

/** A dimension: a number, or a symbol such as 'batch' / 'seq' ('?' when unknown). */
export type Dim = number | string;
export type Shape = Dim[];

export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** A tensor with known contents (initializers and constants). */
export interface TensorData {
  dtype: DType;
  dims: number[];
  data: AnyTypedArray;
}

export type AttrValue = number | number[] | string | TensorData | boolean;

export interface Node {
  op: string;
  name: string;
  inputs: string[]; // '' marks an omitted optional input
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain?: string;
}

// Attribute names whose numbers are floats even when integral (1.0, 0.0).
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'gamma', 'value_float']);

export const OPSET = 18;
export const IR_VERSION = 8;

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, TensorData>();
  /** Every named value with its type. */
  readonly values = new Map<string, Value>();
  /** Contents of values known at build time (initializers and constants): shape inference reads them. */
  readonly known = new Map<string, TensorData>();
  private counter = 0;
  private scopes: string[] = [];

  constructor(readonly name = 'graph') {}

  // --- naming -------------------------------------------------------------------

  /** Runs `fn` with value names prefixed by `scope/`, for readable graphs. */
  scope<T>(scope: string, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** A fresh value name, readable: `scope/hint_N`. */
  fresh(hint: string): string {
    const prefix = this.scopes.length ? this.scopes.join('/') + '/' : '';
    let name = `${prefix}${hint}`;
    while (this.values.has(name)) name = `${prefix}${hint}_${++this.counter}`;
    return name;
  }

  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new Error(`graph ${this.name}: unknown value '${name}'`);
    return v;
  }

  private define(name: string, dtype: DType, shape: Shape): Value {
    if (this.values.has(name)) throw new Error(`graph ${this.name}: value '${name}' defined twice`);
    const v: Value = { name, dtype, shape: [...shape] };
    this.values.set(name, v);
    return v;
  }

  // --- sources ------------------------------------------------------------------

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.define(name, dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** A named tensor stored in the model (weights of an exported model). */
  initializer(name: string, t: TensorData): Value {
    const v = this.define(name, t.dtype, t.dims);
    this.initializers.set(name, t);
    this.known.set(name, t);
    return v;
  }

  /** A constant tensor (an initializer with a generated name). */
  constant(t: TensorData, hint = 'const'): Value {
    return this.initializer(this.fresh(hint), t);
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant(tensor(dtype, [], [x]), 'scalar');
  }

  ints(xs: number[], hint = 'ints'): Value {
    return this.constant(tensor('int64', [xs.length], xs), hint);
  }

  // --- nodes --------------------------------------------------------------------

  /**
   * Adds a node. Output types come from shape inference (./shapes.ts) unless given.
   * Returns the node's outputs.
   */
  add(
    op: string,
    inputs: (Value | null)[],
    attrs: Record<string, AttrValue> = {},
    opts: { outputs?: number; names?: string[]; domain?: string } = {},
  ): Value[] {
    const nOut = opts.names?.length ?? opts.outputs ?? 1;
    const ins = inputs.map((v) => v);
    const types = inferShapes(this, op, ins, attrs, nOut);
    const outs = types.map((t, i) => this.define(opts.names?.[i] ?? this.fresh(op.toLowerCase()), t.dtype, t.shape));
    this.nodes.push({
      op,
      name: `${outs[0]?.name ?? op}#${this.nodes.length}`,
      inputs: ins.map((v) => (v ? v.name : '')),
      outputs: outs.map((o) => o.name),
      attrs,
      domain: opts.domain,
    });
    return outs;
  }

  /** Adds a single-output node. */
  op1(op: string, inputs: (Value | null)[], attrs: Record<string, AttrValue> = {}, name?: string): Value {
    return this.add(op, inputs, attrs, name ? { names: [name] } : {})[0];
  }

  /**
   * Marks `v` as a graph output named `name`. A value computed by a node is renamed in
   * place (no copy: an Identity would cost a pass over the tensor every run); graph inputs,
   * initializers and values that are already outputs go through an Identity.
   */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name && name !== v.name) {
      const computed = !this.initializers.has(v.name) && !this.inputs.includes(v) && !this.outputs.includes(v);
      if (computed) this.rename(v, name);
      else out = this.add('Identity', [v], {}, { names: [name] })[0];
    }
    this.outputs.push(out);
    return out;
  }

  /** Renames a value everywhere; Value objects are shared, so every holder sees the new name. */
  private rename(v: Value, name: string): void {
    if (this.values.has(name)) throw new Error(`graph ${this.name}: value '${name}' defined twice`);
    const old = v.name;
    for (const n of this.nodes) {
      n.inputs = n.inputs.map((i) => (i === old ? name : i));
      n.outputs = n.outputs.map((o) => (o === old ? name : o));
    }
    this.values.delete(old);
    (v as { name: string }).name = name;
    this.values.set(name, v);
    const k = this.known.get(old);
    if (k) {
      this.known.delete(old);
      this.known.set(name, k);
    }
  }

  // --- common ops (readable model code) -----------------------------------------

  matmul(a: Value, b: Value, name?: string): Value { return this.op1('MatMul', [a, b], {}, name); }
  plus(a: Value, b: Value, name?: string): Value { return this.op1('Add', [a, b], {}, name); }
  minus(a: Value, b: Value, name?: string): Value { return this.op1('Sub', [a, b], {}, name); }
  times(a: Value, b: Value, name?: string): Value { return this.op1('Mul', [a, b], {}, name); }
  over(a: Value, b: Value, name?: string): Value { return this.op1('Div', [a, b], {}, name); }
  neg(a: Value): Value { return this.op1('Neg', [a]); }
  sqrt(a: Value): Value { return this.op1('Sqrt', [a]); }
  exp(a: Value): Value { return this.op1('Exp', [a]); }
  log(a: Value): Value { return this.op1('Log', [a]); }
  cast(a: Value, to: DType): Value { return a.dtype === to ? a : this.op1('Cast', [a], { to: DTYPE_TO_ONNX[to] }); }
  reshape(a: Value, shape: number[], name?: string): Value { return this.op1('Reshape', [a, this.ints(shape, 'shape')], {}, name); }
  transpose(a: Value, perm: number[], name?: string): Value { return this.op1('Transpose', [a], { perm }, name); }
  reduceSum(a: Value, axes: number[], keepdims = false): Value {
    return this.op1('ReduceSum', [a, this.ints(axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
  }
  reduceMean(a: Value, axes: number[], keepdims = false): Value {
    return this.op1('ReduceMean', [a, this.ints(axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
  }
  unsqueeze(a: Value, axes: number[]): Value { return this.op1('Unsqueeze', [a, this.ints(axes, 'axes')]); }
  squeeze(a: Value, axes: number[]): Value { return this.op1('Squeeze', [a, this.ints(axes, 'axes')]); }
  /** A scalar of `like`'s dtype. */
  lit(x: number, like: Value): Value { return this.scalar(x, like.dtype); }

  // --- serialisation ------------------------------------------------------------

  toModelProto(opts: { producer?: string; docString?: string } = {}): InstanceType<typeof onnx.ModelProto> {
    const valueInfo = (v: Value) =>
      onnx.ValueInfoProto.create({
        name: v.name,
        type: {
          tensorType: {
            elemType: DTYPE_TO_ONNX[v.dtype],
            shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
          },
        },
      });
    const ioNames = new Set([...this.inputs, ...this.outputs].map((v) => v.name));
    const annotated = [...this.values.values()].filter(
      (v) => !ioNames.has(v.name) && !this.initializers.has(v.name) && v.shape.every((d) => d !== '?'),
    );
    const graph = onnx.GraphProto.create({
      name: this.name,
      node: this.nodes.map((n) =>
        onnx.NodeProto.create({
          opType: n.op,
          name: n.name,
          input: n.inputs,
          output: n.outputs,
          domain: n.domain ?? '',
          attribute: Object.entries(n.attrs).map(([k, v]) => attributeProto(k, v)),
        }),
      ),
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
      initializer: [...this.initializers.entries()].map(([name, t]) => tensorProto(name, t)),
      valueInfo: annotated.map(valueInfo),
    });
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: opts.producer ?? 'distill-studio',
      docString: opts.docString ?? '',
      opsetImport: [{ domain: '', version: OPSET }],
      graph,
    });
  }

  /** The model as protobuf bytes, ready for `InferenceSession.create`. */
  toBytes(opts: { producer?: string; docString?: string } = {}): Uint8Array {
    return onnx.ModelProto.encode(this.toModelProto(opts)).finish();
  }
}

/** Builds a TensorData from plain numbers. */
export function tensor(dtype: DType, dims: number[], values: ArrayLike<number> | AnyTypedArray): TensorData {
  const n = dims.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw new Error(`tensor: ${values.length} values for shape [${dims}]`);
  let data: AnyTypedArray;
  switch (dtype) {
    case 'float32': data = Float32Array.from(values as ArrayLike<number>); break;
    case 'float64': data = Float64Array.from(values as ArrayLike<number>); break;
    case 'int64': data = BigInt64Array.from(Array.from(values as ArrayLike<number>, (x) => BigInt(x))); break;
    case 'int32': data = Int32Array.from(values as ArrayLike<number>); break;
    case 'int8': data = Int8Array.from(values as ArrayLike<number>); break;
    case 'uint8':
    case 'bool': data = Uint8Array.from(values as ArrayLike<number>); break;
  }
  return { dtype, dims, data };
}

/** Numeric contents of a known int tensor (shape targets, axes). */
export function knownInts(t: TensorData): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
}

function tensorProto(name: string, t: TensorData) {
  // raw_data is little-endian on every platform we ship to.
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return onnx.TensorProto.create({ name, dims: t.dims, dataType: DTYPE_TO_ONNX[t.dtype], rawData: bytes });
}

function attributeProto(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'boolean') return onnx.AttributeProto.create({ name, type: T.INT, i: v ? 1 : 0 });
  if (typeof v === 'number') {
    if (FLOAT_ATTRS.has(name) || !Number.isInteger(v)) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v });
    return onnx.AttributeProto.create({ name, type: T.INT, i: v });
  }
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) {
    if (FLOAT_ATTRS.has(name) || v.some((x) => !Number.isInteger(x))) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: v });
    return onnx.AttributeProto.create({ name, type: T.INTS, ints: v });
  }
  return onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorProto('', v) });
}
