// One gradient rule per forward operator: given the output gradients, return one
// gradient per input (null where an input takes no gradient, e.g. indices).
import type { Graph, Node, Value } from '../onnx/graph';

export interface GradContext {
  g: Graph;
  node: Node;
  /** The node's inputs (null for omitted optional inputs). */
  ins: (Value | null)[];
  outs: Value[];
  /** Gradient of the loss for each output; null where no gradient reaches it. */
  gOuts: (Value | null)[];
}

export type GradRule = (c: GradContext) => (Value | null)[];

export const GRAD_RULES: Record<string, GradRule> = {};
