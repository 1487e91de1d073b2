// Reverse-mode differentiation over a Graph: a reverse topological walk that asks each
// node's gradient rule (./rules.ts) for its input gradients and sums gradients that
// reach the same value. Backward nodes are appended to the same graph.
import type { Graph, Node, Value } from '../onnx/graph';
import type { DType } from '../onnx/proto';
import { GRAD_RULES, ZERO_GRADIENT_OPS } from './rules';

export interface BackwardResult {
  /** Gradient of the loss for each requested value, by name (same shape and dtype as the value). */
  grads: Map<string, Value>;
}

/**
 * Adds the backward pass of `loss` (a scalar) with respect to `wrt`.
 * `seed` is the gradient of the final objective with respect to `loss` (default 1).
 * Values that `loss` does not depend on get a zero gradient.
 */
export function backward(g: Graph, loss: Value, wrt: Value[], seed?: Value): BackwardResult {
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);

  // Nodes on a path from some `wrt` value to `loss`. Gradients flow through float values
  // only, and not out of ops whose gradient is zero (Sign), so that no rule builds a
  // gradient that would be dropped.
  const wrtNames = new Set(wrt.map((v) => v.name));
  const dependsOnWrt = new Set<string>(wrtNames);
  for (const n of g.nodes) {
    if (ZERO_GRADIENT_OPS.has(n.op) || !n.inputs.some((i) => dependsOnWrt.has(i))) continue;
    for (const o of n.outputs) if (isFloat(g.value(o).dtype)) dependsOnWrt.add(o);
  }
  const needed = new Set<Node>();
  const stack = [loss.name];
  const seen = new Set<string>();
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const n = producer.get(name);
    if (!n || !dependsOnWrt.has(name)) continue;
    // A `wrt` value computed from values that do not depend on `wrt` (the output of an
    // embedding lookup, say): the walk stops there, its producer needs no backward.
    if (!n.inputs.some((i) => dependsOnWrt.has(i))) continue;
    needed.add(n);
    for (const i of n.inputs) if (i) stack.push(i);
  }

  // Partial gradients per value, summed lazily.
  const partials = new Map<string, Value[]>();
  const push = (name: string, gv: Value) => {
    const list = partials.get(name);
    if (list) list.push(gv);
    else partials.set(name, [gv]);
  };
  const total = (name: string): Value | null => {
    const list = partials.get(name);
    if (!list || list.length === 0) return null;
    if (list.length === 1) return list[0];
    const sum = g.scope('grad', () => g.op1('Sum', list, {}, g.fresh(`${baseName(name)}_grad_sum`)));
    partials.set(name, [sum]);
    return sum;
  };

  push(loss.name, seed ?? g.lit(1, loss));
  const order = g.nodes.filter((n) => needed.has(n)).reverse();
  for (const node of order) {
    const gOuts = node.outputs.map((o) => total(o));
    if (gOuts.every((x) => x === null)) continue;
    const rule = GRAD_RULES[node.op];
    if (!rule) throw new Error(`autodiff: no gradient rule for ${node.op} (node ${node.name})`);
    const ins = node.inputs.map((i) => (i ? g.value(i) : null));
    const outs = node.outputs.map((o) => g.value(o));
    // Inputs off every path from `wrt` need no gradient: ONNX Runtime does not prune unused
    // nodes, so rules skip building them.
    const needs = node.inputs.map((i) => i !== '' && dependsOnWrt.has(i));
    const gIns = g.scope('grad', () => rule({ g, node, ins, outs, gOuts, needs }));
    gIns.forEach((gv, k) => {
      const inName = node.inputs[k];
      if (gv && inName && dependsOnWrt.has(inName)) push(inName, gv);
    });
  }

  const grads = new Map<string, Value>();
  for (const v of wrt) {
    const gv = total(v.name) ?? g.scope('grad', () => zerosLike(g, v));
    grads.set(v.name, gv);
  }
  return { grads };
}

const isFloat = (d: DType) => d === 'float32' || d === 'float64';

function baseName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(-40);
}

/** Zeros with the shape of `v` (a constant when the shape is static, Mul-by-0 otherwise). */
export function zerosLike(g: Graph, v: Value): Value {
  return g.times(g.op1('Identity', [v]), g.lit(0, v));
}
