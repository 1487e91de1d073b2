// The student as a standalone ONNX model with Hugging Face-style I/O (as Optimum exports):
// input_ids, attention_mask (+ token_type_ids for BERT), all (batch, seq) int64 -> logits (batch, C).
// Weights are initializers; batch and sequence axes are dynamic.
import { writeFileAtomic } from '../fsutil/atomic';
import { buildInferenceGraph } from '../models/classifier';
import type { ModelConfig } from '../models/config';
import { Graph } from '../onnx/graph';

export interface OnnxExportOptions {
  /** BERT only: declare token_type_ids (default true, as Optimum does). */
  tokenTypeIds?: boolean;
  docString?: string;
}

/** The inference graph, before serialisation (export/quantize.ts transforms it). */
export function studentGraph(cfg: ModelConfig, weights: Map<string, Float32Array>, opts: OnnxExportOptions = {}): Graph {
  const g = new Graph(`${cfg.arch}_for_sequence_classification`);
  buildInferenceGraph(g, cfg, weights, { tokenTypeIds: opts.tokenTypeIds });
  return g;
}

/** The inference model as ONNX bytes. */
export function studentOnnxBytes(cfg: ModelConfig, weights: Map<string, Float32Array>, opts: OnnxExportOptions = {}): Uint8Array {
  return studentGraph(cfg, weights, opts).toBytes({ docString: opts.docString ?? 'Distilled by Distill Studio' });
}

/** Writes the inference model to `path` atomically (never a half-written file). */
export async function exportStudentOnnx(cfg: ModelConfig, weights: Map<string, Float32Array>, path: string, opts: OnnxExportOptions = {}): Promise<void> {
  await writeFileAtomic(path, studentOnnxBytes(cfg, weights, opts));
}
