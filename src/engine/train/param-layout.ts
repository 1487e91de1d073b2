// How parameters and AdamW moments are laid out between steps. Every small parameter
// lives in one flat buffer per weight-decay group, so the optimizer runs as a handful of
// large element-wise ops instead of ~15 tiny ops per tensor, and only a few tensors cross
// the session boundary per step. The word-embedding table (90 % of BERT-Tiny's values)
// has its own buffers: its gradient is sparse and gets a row-wise path in the step graph.
import type { ModelConfig } from '../models/config';
import { parameterSpecs, type ParamSpec } from '../models/params';

export interface GroupMember {
  spec: ParamSpec;
  /** Offset and length within the group's flat buffer. */
  offset: number;
  size: number;
}

export interface FlatGroup {
  /** Buffer name stem in the step graph: `params/<key>`, `adam.m/<key>`, `adam.v/<key>`. */
  key: string;
  decay: boolean;
  size: number;
  members: GroupMember[];
}

export interface ParamLayout {
  specs: ParamSpec[];
  /** The word-embedding table, updated with the sparse-aware rule. */
  table: { spec: ParamSpec; key: string; rows: number; width: number };
  groups: FlatGroup[];
}

export const bufferName = {
  param: (key: string) => `params/${key}`,
  m: (key: string) => `adam.m/${key}`,
  v: (key: string) => `adam.v/${key}`,
  next: (name: string) => `next/${name}`,
};

export function wordEmbeddingName(cfg: ModelConfig): string {
  return `${cfg.arch === 'bert' ? 'bert' : 'distilbert'}.embeddings.word_embeddings.weight`;
}

export function paramLayout(cfg: ModelConfig): ParamLayout {
  const specs = parameterSpecs(cfg);
  const tableName = wordEmbeddingName(cfg);
  const tableSpec = specs.find((s) => s.name === tableName);
  if (!tableSpec) throw new Error(`no word-embedding parameter ${tableName}`);
  const groups: FlatGroup[] = [];
  for (const decay of [true, false]) {
    const members: GroupMember[] = [];
    let offset = 0;
    for (const spec of specs) {
      if (spec === tableSpec || spec.decay !== decay) continue;
      const size = spec.shape.reduce((a, b) => a * b, 1);
      members.push({ spec, offset, size });
      offset += size;
    }
    if (members.length) groups.push({ key: decay ? 'decay' : 'no_decay', decay, size: offset, members });
  }
  return {
    specs,
    table: { spec: tableSpec, key: tableName, rows: tableSpec.shape[0], width: tableSpec.shape[1] },
    groups,
  };
}

/** Flat buffers of one kind (params, m or v), keyed by buffer key. */
export type Buffers = Map<string, Float32Array>;

/** Packs per-parameter tensors into the layout's buffers. */
export function packBuffers(layout: ParamLayout, tensors: Map<string, Float32Array>): Buffers {
  const out: Buffers = new Map();
  out.set(layout.table.key, Float32Array.from(tensors.get(layout.table.key)!));
  for (const gr of layout.groups) {
    const flat = new Float32Array(gr.size);
    for (const m of gr.members) flat.set(tensors.get(m.spec.name)!, m.offset);
    out.set(gr.key, flat);
  }
  return out;
}

/** Per-parameter views (no copies) into the layout's buffers. */
export function unpackViews(layout: ParamLayout, buffers: Buffers): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  out.set(layout.table.key, buffers.get(layout.table.key)!);
  for (const gr of layout.groups) {
    const flat = buffers.get(gr.key)!;
    for (const m of gr.members) out.set(m.spec.name, flat.subarray(m.offset, m.offset + m.size));
  }
  return out;
}

/** Zero-filled buffers (fresh AdamW moments). */
export function zeroBuffers(layout: ParamLayout): Buffers {
  const out: Buffers = new Map();
  out.set(layout.table.key, new Float32Array(layout.table.rows * layout.table.width));
  for (const gr of layout.groups) out.set(gr.key, new Float32Array(gr.size));
  return out;
}

/** Buffer keys in a fixed order. */
export function bufferKeys(layout: ParamLayout): string[] {
  return [layout.table.key, ...layout.groups.map((g) => g.key)];
}
