// Dynamic int8 quantization of an inference graph, in the manner of onnxruntime's
// `quantize_dynamic`: weights are stored as int8 with float scales; activations are quantized
// to uint8 at run time, per call, by DynamicQuantizeLinear.
//
//   MatMul(x, W)                       with W a 2-D float initializer [K, N], or the Transpose of
//                                      one (how models/layers.ts `linear` writes x @ W^T)
//   ->  x_q, x_scale, x_zp = DynamicQuantizeLinear(x)        (one per x, shared by Q/K/V)
//       y = Mul(Cast<float>(MatMulInteger(x_q, W_q, x_zp, W_zp)), Mul(x_scale, W_scale))
//
//   Gather(E, ids)                     with E a 2-D float initializer (embedding tables)
//   ->  y = Mul(Cast<float>(Gather(E_q, ids)), Unsqueeze(Gather(E_scale, ids), -1))
//
// Weights are symmetric (zero point 0) int8: per output column for MatMul (the default; one
// scale per matrix with perChannel: false) and per row for embeddings. MatMuls between two
// activations (attention scores and context) stay float, as do LayerNorm, biases and softmax.
//
// ONNX Runtime's CPU provider runs MatMulInteger with uint8 activations and int8 weights, and
// at graph-optimization level 'extended'/'all' fuses DynamicQuantizeLinear -> MatMulInteger ->
// Cast -> Mul (-> Add bias) into its DynamicQuantizeMatMul kernel. The node pattern is the one
// quantize_dynamic writes, so Transformers.js and onnxruntime-web run it as well.
//
// On x86 CPUs with AVX2 but without VNNI, ONNX Runtime multiplies uint8 x int8 with VPMADDUBSW,
// whose 16-bit intermediate sums can saturate; `reduceRange` keeps weights in [-64, 64] so they
// cannot (one bit of weight precision less), as quantize_dynamic's reduce_range does.
import { writeFileAtomic } from '../fsutil/atomic';
import type { ModelConfig } from '../models/config';
import type { Graph, Node, Shape, TensorData, Value } from '../onnx/graph';
import { DTYPE_TO_ONNX, type DType } from '../onnx/proto';
import { studentGraph, type OnnxExportOptions } from './onnx-export';

export interface QuantizeOptions {
  /** One scale per output column of each weight matrix (default true) or one per matrix. */
  perChannel?: boolean;
  /** Weights in [-64, 64] instead of [-127, 127] (see the header). Default false. */
  reduceRange?: boolean;
  /** Also store embedding tables (Gather from a 2-D float initializer) as int8, one scale per row. Default true. */
  embeddings?: boolean;
  /** Weights (initializer names) to leave in float. */
  exclude?: (initializer: string) => boolean;
}

export interface QuantizeReport {
  /** MatMul nodes replaced (one per Linear layer). */
  matmuls: number;
  /** Gather nodes replaced (embedding lookups). */
  gathers: number;
  /** DynamicQuantizeLinear nodes added (activations quantized at run time). */
  dynamicQuantizers: number;
  /** Float weights (names) now stored as int8. */
  quantized: string[];
  /** Bytes of initializers before and after. */
  initializerBytes: { before: number; after: number };
}

type Float = Float32Array | Float64Array;

/**
 * Quantizes `g` in place (see the header). Graph inputs, outputs and the names of all values
 * that remain are unchanged; replaced float weights are removed from the graph.
 */
export function quantizeGraph(g: Graph, opts: QuantizeOptions = {}): QuantizeReport {
  const perChannel = opts.perChannel ?? true;
  const qmax = opts.reduceRange ? 64 : 127;
  const exclude = opts.exclude ?? (() => false);
  const before = initializerBytes(g);

  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);

  /** The float weight a MatMul's second input holds, as [K, N] row-major, or null. */
  const matmulWeight = (name: string): { source: string; K: number; N: number; w: Float; transposed: boolean } | null => {
    const direct = floatMatrix(g, name);
    if (direct) return { source: name, K: direct.dims[0], N: direct.dims[1], w: direct.data, transposed: false };
    const p = producer.get(name);
    if (p?.op !== 'Transpose' || !sameInts(p.attrs.perm, [1, 0])) return null;
    const t = floatMatrix(g, p.inputs[0]);
    // Transpose of W [N, K] gives [K, N].
    return t ? { source: p.inputs[0], K: t.dims[1], N: t.dims[0], w: t.data, transposed: true } : null;
  };

  const out: Node[] = [];
  const dql = new Map<string, [Value, Value, Value]>(); // activation name -> (x_q, x_scale, x_zp)
  const done = new Set<string>();
  const report: QuantizeReport = { matmuls: 0, gathers: 0, dynamicQuantizers: 0, quantized: [], initializerBytes: { before, after: 0 } };

  for (const n of g.nodes) {
    if (n.op === 'MatMul' && !n.domain) {
      const W = matmulWeight(n.inputs[1]);
      const x = g.value(n.inputs[0]);
      if (W && x.dtype === 'float32' && !exclude(W.source)) {
        const y = g.value(n.outputs[0]);
        const base = W.source;
        const { q, scale } = quantizeColumns(W.w, W.K, W.N, W.transposed, perChannel, qmax);
        const wq = g.initializer(g.fresh(`${base}_quantized`), { dtype: 'int8', dims: [W.K, W.N], data: q });
        const ws = g.initializer(g.fresh(`${base}_scale`), { dtype: 'float32', dims: perChannel ? [W.N] : [], data: scale });
        const wz = g.initializer(g.fresh(`${base}_zero_point`), {
          dtype: 'int8', dims: perChannel ? [W.N] : [], data: new Int8Array(perChannel ? W.N : 1),
        });
        let xq = dql.get(x.name);
        if (!xq) {
          xq = [def(g, `${x.name}_quantized`, 'uint8', x.shape), def(g, `${x.name}_scale`, 'float32', []), def(g, `${x.name}_zero_point`, 'uint8', [])];
          out.push(node('DynamicQuantizeLinear', [x.name], xq.map((v) => v.name)));
          dql.set(x.name, xq);
          report.dynamicQuantizers++;
        }
        const acc = def(g, `${y.name}_int32`, 'int32', y.shape);
        const accF = def(g, `${y.name}_int32_float`, 'float32', y.shape);
        const s = def(g, `${y.name}_scale`, 'float32', perChannel ? [W.N] : []);
        out.push(node('MatMulInteger', [xq[0].name, wq.name, xq[2].name, wz.name], [acc.name]));
        out.push(node('Mul', [xq[1].name, ws.name], [s.name]));
        out.push(node('Cast', [acc.name], [accF.name], { to: DTYPE_TO_ONNX.float32 }));
        out.push(node('Mul', [accF.name, s.name], [y.name]));
        report.matmuls++;
        if (!done.has(base)) report.quantized.push(base);
        done.add(base);
        continue;
      }
    }
    if ((opts.embeddings ?? true) && n.op === 'Gather' && !n.domain && (n.attrs.axis === undefined || Number(n.attrs.axis) === 0)) {
      const E = floatMatrix(g, n.inputs[0]);
      if (E && !exclude(n.inputs[0])) {
        const y = g.value(n.outputs[0]);
        const ids = g.value(n.inputs[1]);
        const base = n.inputs[0];
        const [V, H] = E.dims;
        const { q, scale } = quantizeRows(E.data, V, H, qmax);
        const eq = g.initializer(g.fresh(`${base}_quantized`), { dtype: 'int8', dims: [V, H], data: q });
        const es = g.initializer(g.fresh(`${base}_scale`), { dtype: 'float32', dims: [V], data: scale });
        const rows = def(g, `${y.name}_int8`, 'int8', y.shape);
        const rowsF = def(g, `${y.name}_int8_float`, 'float32', y.shape);
        const s = def(g, `${y.name}_row_scale`, 'float32', ids.shape);
        const s1 = def(g, `${y.name}_row_scale_1`, 'float32', [...ids.shape, 1]);
        const axes = g.initializer(g.fresh(`${y.name}_axes`), { dtype: 'int64', dims: [1], data: BigInt64Array.of(-1n) });
        out.push(node('Gather', [eq.name, ids.name], [rows.name], { axis: 0 }));
        out.push(node('Gather', [es.name, ids.name], [s.name], { axis: 0 }));
        out.push(node('Unsqueeze', [s.name, axes.name], [s1.name]));
        out.push(node('Cast', [rows.name], [rowsF.name], { to: DTYPE_TO_ONNX.float32 }));
        out.push(node('Mul', [rowsF.name, s1.name], [y.name]));
        report.gathers++;
        if (!done.has(base)) report.quantized.push(base);
        done.add(base);
        continue;
      }
    }
    out.push(n);
  }

  // Replace the node list, then drop what nothing reads any more (the Transposes of the float
  // weights, and the float weights themselves), repeatedly, since removing one frees another.
  g.nodes.splice(0, g.nodes.length, ...out);
  removeDead(g);
  report.initializerBytes.after = initializerBytes(g);
  return report;
}

/**
 * Symmetric int8 quantization of a [K, N] matrix by column (perChannel) or as a whole.
 * `transposed`: `w` holds the matrix transposed, [N, K] row-major (a torch Linear weight);
 * the result is [K, N] either way.
 */
function quantizeColumns(w: Float, K: number, N: number, transposed: boolean, perChannel: boolean, qmax: number): { q: Int8Array; scale: Float32Array } {
  const amax = new Float64Array(N);
  if (transposed) {
    for (let n = 0; n < N; n++) for (let k = 0, row = n * K; k < K; k++) amax[n] = Math.max(amax[n], Math.abs(w[row + k]));
  } else {
    for (let k = 0; k < K; k++) for (let n = 0, row = k * N; n < N; n++) amax[n] = Math.max(amax[n], Math.abs(w[row + n]));
  }
  if (!perChannel) amax.fill(amax.reduce((a, b) => Math.max(a, b), 0));
  const scales = Float32Array.from(amax, (a) => (a > 0 && Number.isFinite(a) ? a / qmax : 1));
  const q = new Int8Array(K * N);
  for (let n = 0; n < N; n++) {
    const s = scales[n];
    for (let k = 0; k < K; k++) {
      const r = roundHalfEven((transposed ? w[n * K + k] : w[k * N + n]) / s);
      q[k * N + n] = r > qmax ? qmax : r < -qmax ? -qmax : r;
    }
  }
  return { q, scale: perChannel ? scales : scales.subarray(0, 1) };
}

/** Symmetric int8 quantization of a [R, C] matrix with one scale per row; the result is [R, C]. */
function quantizeRows(w: Float, R: number, C: number, qmax: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(R);
  const q = new Int8Array(R * C);
  for (let r = 0; r < R; r++) {
    let amax = 0;
    for (let c = 0; c < C; c++) amax = Math.max(amax, Math.abs(w[r * C + c]));
    const s = (scale[r] = Math.fround(amax > 0 && Number.isFinite(amax) ? amax / qmax : 1));
    for (let c = 0; c < C; c++) q[r * C + c] = Math.max(-qmax, Math.min(qmax, roundHalfEven(w[r * C + c] / s)));
  }
  return { q, scale };
}

/** numpy's rounding (half to even), as quantize_dynamic uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x); // halves go up
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

function floatMatrix(g: Graph, name: string): (TensorData & { data: Float }) | null {
  const t = g.initializers.get(name);
  if (!t || t.dims.length !== 2 || (t.dtype !== 'float32' && t.dtype !== 'float64')) return null;
  return t as TensorData & { data: Float };
}

function sameInts(a: unknown, b: number[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => Number(x) === b[i]);
}

/** Declares a value whose type we know (the graph's shape rules do not cover the integer ops). */
function def(g: Graph, hint: string, dtype: DType, shape: Shape): Value {
  const v: Value = { name: g.fresh(hint), dtype, shape: [...shape] };
  g.values.set(v.name, v);
  return v;
}

/** A node named after its first output (value names are unique, so node names are too). */
function node(op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node {
  return { op, name: `${outputs[0]}#q`, inputs, outputs, attrs };
}

function removeDead(g: Graph): void {
  const outputs = new Set(g.outputs.map((v) => v.name));
  for (;;) {
    const read = new Set<string>(outputs);
    for (const n of g.nodes) for (const i of n.inputs) if (i) read.add(i);
    const deadNodes = g.nodes.filter((n) => n.outputs.every((o) => !read.has(o)));
    const deadInits = [...g.initializers.keys()].filter((k) => !read.has(k));
    if (!deadNodes.length && !deadInits.length) return;
    const dead = new Set(deadNodes);
    g.nodes.splice(0, g.nodes.length, ...g.nodes.filter((n) => !dead.has(n)));
    for (const n of deadNodes) for (const o of n.outputs) g.values.delete(o);
    for (const k of deadInits) {
      g.initializers.delete(k);
      g.known.delete(k);
      g.values.delete(k);
    }
  }
}

function initializerBytes(g: Graph): number {
  let n = 0;
  for (const t of g.initializers.values()) n += t.data.byteLength;
  return n;
}

// --- the student as an int8 model ----------------------------------------------------

export interface Int8ExportOptions extends OnnxExportOptions, QuantizeOptions {}

/** The inference model with int8 weights (see quantizeGraph), as ONNX bytes, and what was quantized. */
export function studentOnnxInt8(cfg: ModelConfig, weights: Map<string, Float32Array>, opts: Int8ExportOptions = {}): { bytes: Uint8Array; report: QuantizeReport } {
  const g = studentGraph(cfg, weights, opts);
  const report = quantizeGraph(g, opts);
  return { bytes: g.toBytes({ docString: opts.docString ?? 'Distilled by Distill Studio; int8 weights (dynamic quantization)' }), report };
}

/** The int8 inference model's bytes. */
export function studentOnnxInt8Bytes(cfg: ModelConfig, weights: Map<string, Float32Array>, opts: Int8ExportOptions = {}): Uint8Array {
  return studentOnnxInt8(cfg, weights, opts).bytes;
}

/** Writes the int8 inference model to `path` atomically (never a half-written file). */
export async function exportStudentOnnxInt8(cfg: ModelConfig, weights: Map<string, Float32Array>, path: string, opts: Int8ExportOptions = {}): Promise<QuantizeReport> {
  const { bytes, report } = studentOnnxInt8(cfg, weights, opts);
  await writeFileAtomic(path, bytes);
  return report;
}
