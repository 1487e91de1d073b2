// Finite-difference gradient checks for graphs built with the ONNX Graph builder.
//
//   const res = await checkGrads({
//     inputs: [{ name: 'x', shape: ['batch', 3], dims: [2, 3] }],
//     build: (g, { x }) => g.exp(x),
//   });
//   // res.inputs.x.error: max |analytic - numeric| / max |numeric|
//
// The loss is ReduceSum(out * R) with a fixed random R, so every output element takes
// part with a different weight. Analytic gradients come from `backward` in one session;
// numeric ones from central differences over a forward-only session.
import * as ort from 'onnxruntime-node';
import { backward } from '../../../src/engine/autodiff/backward';
import { Graph, type Shape, type Value } from '../../../src/engine/onnx/graph';
import type { DType } from '../../../src/engine/onnx/proto';
import { mulberry32 } from '../../../src/engine/data/split';

export interface FdInput {
  name: string;
  /** Declared shape; may hold symbols such as 'batch'. */
  shape: Shape;
  /** Concrete dims fed at run time (default: `shape`, which must then be all numbers). */
  dims?: number[];
  /** Element type (default: the check's dtype). */
  dtype?: DType;
  /** Contents (default: uniform random in `range`). */
  data?: ArrayLike<number>;
  /** Range of the random contents (default [-1, 1]). */
  range?: [number, number];
  /** Differentiate w.r.t. this input (default: true for float inputs). */
  grad?: boolean;
}

export interface GradCheckOptions {
  /** Float type of the graph (default float64). */
  dtype?: 'float32' | 'float64';
  inputs: FdInput[];
  /** Builds the forward graph; returns the value whose weighted sum is the loss. */
  build: (g: Graph, ins: Record<string, Value>) => Value;
  /** Finite-difference step (default 1e-6 for float64, 1e-2 with a 4-point stencil for float32). */
  eps?: number;
  seed?: number;
  /**
   * A fresh forward session per evaluation: for ops whose output depends on per-run
   * state, e.g. a seeded Dropout, whose first run in a new session is reproducible.
   */
  freshSessions?: boolean;
}

export interface InputGradCheck {
  analytic: Float64Array;
  numeric: Float64Array;
  /** max_i |analytic_i - numeric_i| / max_i |numeric_i| (absolute when the gradient is ~0). */
  error: number;
  /** Dims of the analytic gradient at run time. */
  dims: number[];
  /** Static (symbolic) shape the builder inferred for the gradient value. */
  staticShape: Shape;
}

export interface GradCheckResult {
  loss: number;
  inputs: Record<string, InputGradCheck>;
  /** The graph with its backward pass (for inspection). */
  graph: Graph;
  /** How many of `graph.nodes` are the forward pass (the rest is backward). */
  forwardNodes: number;
  /** Forward evaluations used for the numeric gradients. */
  evaluations: number;
}

/** A small deterministic PRNG (mulberry32). */
export const rng = mulberry32;

const isFloat = (d: DType) => d === 'float32' || d === 'float64';
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

function toTensor(dtype: DType, data: ArrayLike<number>, dims: number[]): ort.Tensor {
  switch (dtype) {
    case 'float32': return new ort.Tensor('float32', Float32Array.from(data), dims);
    case 'float64': return new ort.Tensor('float64', Float64Array.from(data), dims);
    case 'int64': return new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (x) => BigInt(x))), dims);
    case 'int32': return new ort.Tensor('int32', Int32Array.from(data), dims);
    case 'int8': return new ort.Tensor('int8', Int8Array.from(data), dims);
    case 'uint8': return new ort.Tensor('uint8', Uint8Array.from(data), dims);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(data), dims);
  }
}

/** Backward nodes whose outputs nobody reads, and initializers no node reads (ORT runs / warns about both). */
export function unusedParts(g: Graph, forwardNodes: number): string[] {
  const read = new Set(g.outputs.map((o) => o.name));
  for (const n of g.nodes) for (const i of n.inputs) read.add(i);
  const deadNodes = g.nodes.slice(forwardNodes).filter((n) => !n.outputs.some((o) => read.has(o)));
  return [
    ...deadNodes.map((n) => `node ${n.op} -> ${n.outputs.join(', ')}`),
    ...[...g.initializers.keys()].filter((k) => !read.has(k)).map((k) => `initializer ${k}`),
  ];
}

const toNumbers = (t: ort.Tensor) => Float64Array.from(t.data as ArrayLike<number | bigint>, Number);

export async function checkGrads(opts: GradCheckOptions): Promise<GradCheckResult> {
  const dtype = opts.dtype ?? 'float64';
  const random = rng(opts.seed ?? 1234);
  const fourPoint = dtype === 'float32';
  const eps = opts.eps ?? (fourPoint ? 1e-2 : 1e-6);

  // Concrete input data.
  const specs = opts.inputs.map((inp) => {
    const dt = inp.dtype ?? dtype;
    const dims = inp.dims ?? inp.shape.map((d) => {
      if (typeof d !== 'number') throw new Error(`checkGrads: input ${inp.name} has symbolic dims: give its dims`);
      return d;
    });
    const n = dims.reduce((a, b) => a * b, 1);
    const [lo, hi] = inp.range ?? [-1, 1];
    const data = inp.data ? Float64Array.from(inp.data) : Float64Array.from({ length: n }, () => lo + (hi - lo) * random());
    if (data.length !== n) throw new Error(`checkGrads: input ${inp.name}: ${data.length} values for dims [${dims}]`);
    return { ...inp, dtype: dt, dims, data, grad: inp.grad ?? isFloat(dt) };
  });
  const feedsFor = (override?: { name: string; data: Float64Array }) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const s of specs) feeds[s.name] = toTensor(s.dtype, override?.name === s.name ? override.data : s.data, s.dims);
    return feeds;
  };
  const declare = (g: Graph) => Object.fromEntries(specs.map((s) => [s.name, g.input(s.name, s.dtype, s.shape)]));

  // Pass 1: the output's run-time dims, to draw R.
  const g0 = new Graph('fd_probe');
  g0.output(opts.build(g0, declare(g0)), 'out');
  const probe = await ort.InferenceSession.create(g0.toBytes(), SESSION_OPTIONS);
  const outDims = [...(await probe.run(feedsFor())).out.dims];
  await probe.release();
  const rData = Float64Array.from({ length: outDims.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1);

  // Pass 2: loss = ReduceSum(out * R); forward-only model, then backward.
  const g = new Graph('fd_check');
  const ins = declare(g);
  const out = opts.build(g, ins);
  const R = g.input('fd_R', out.dtype, out.shape);
  const loss = g.reduceSum(g.times(out, R), out.shape.map((_, i) => i));
  g.output(loss, 'loss');
  const forwardBytes = g.toBytes();
  const forwardNodes = g.nodes.length;
  const wrt = specs.filter((s) => s.grad).map((s) => ins[s.name]);
  const { grads } = backward(g, loss, wrt);
  for (const v of wrt) g.output(grads.get(v.name)!, `grad/${v.name}`);

  const rTensor = () => toTensor(out.dtype, rData, outDims);
  const full = await ort.InferenceSession.create(g.toBytes(), SESSION_OPTIONS);
  const res = await full.run({ ...feedsFor(), fd_R: rTensor() });
  await full.release();

  const forward = opts.freshSessions ? null : await ort.InferenceSession.create(forwardBytes, SESSION_OPTIONS);
  let evaluations = 0;
  const evalLoss = async (name: string, data: Float64Array) => {
    evaluations++;
    const s = forward ?? (await ort.InferenceSession.create(forwardBytes, SESSION_OPTIONS));
    const r = await s.run({ ...feedsFor({ name, data }), fd_R: rTensor() });
    if (!forward) await s.release();
    return Number(r.loss.data[0]);
  };

  const inputs: Record<string, InputGradCheck> = {};
  for (const s of specs.filter((x) => x.grad)) {
    const gradT = res[`grad/${s.name}`];
    const analytic = toNumbers(gradT);
    const numeric = new Float64Array(s.data.length);
    const round = s.dtype === 'float32' ? Math.fround : (x: number) => x;
    for (let i = 0; i < s.data.length; i++) {
      const at = async (k: number) => {
        const d = Float64Array.from(s.data);
        d[i] = round(s.data[i] + k * eps);
        return { x: d[i], f: await evalLoss(s.name, d) };
      };
      const [p1, m1] = [await at(1), await at(-1)];
      if (fourPoint) {
        const [p2, m2] = [await at(2), await at(-2)];
        numeric[i] = (8 * (p1.f - m1.f) - (p2.f - m2.f)) / (12 * eps);
      } else {
        numeric[i] = (p1.f - m1.f) / (p1.x - m1.x); // the step actually taken
      }
    }
    let scale = 0, worst = 0;
    for (let i = 0; i < numeric.length; i++) {
      scale = Math.max(scale, Math.abs(numeric[i]));
      worst = Math.max(worst, Math.abs(analytic[i] - numeric[i]));
    }
    const mismatch = analytic.length !== numeric.length || gradT.dims.join() !== s.dims.join();
    inputs[s.name] = {
      analytic,
      numeric,
      error: mismatch ? Infinity : worst / Math.max(scale, 1e-8),
      dims: [...gradT.dims],
      staticShape: grads.get(ins[s.name].name)!.shape,
    };
  }
  await forward?.release();
  return { loss: Number(res.loss.data[0]), inputs, graph: g, forwardNodes, evaluations };
}
