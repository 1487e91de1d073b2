// Turns whatever a student checkpoint holds into exactly the parameters the classifier
// needs: pretraining heads dropped, old names mapped, a missing or mismatched classifier
// head created fresh (as Hugging Face does when fine-tuning a base model).
import type { TensorMap } from '../checkpoint/tensor';
import type { ModelConfig } from './config';
import { NormalRng, parameterSpecs } from './params';

export class StudentWeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StudentWeightsError';
  }
}

export interface PreparedWeights {
  weights: Map<string, Float32Array>;
  /** What was adapted, in plain words (for the log). */
  notes: string[];
}

/** Candidate checkpoint keys for a parameter name (prefix-less, TF-style gamma/beta). */
function aliases(name: string, prefix: string): string[] {
  const out = [name];
  if (name.startsWith(prefix + '.')) out.push(name.slice(prefix.length + 1));
  for (const n of [...out]) {
    if (n.endsWith('LayerNorm.weight')) out.push(n.replace(/weight$/, 'gamma'));
    if (n.endsWith('LayerNorm.bias')) out.push(n.replace(/bias$/, 'beta'));
  }
  return out;
}

export function prepareStudentWeights(cfg: ModelConfig, tensors: TensorMap, opts: { seed: number; source: string }): PreparedWeights {
  const prefix = cfg.arch === 'bert' ? 'bert' : 'distilbert';
  const specs = parameterSpecs(cfg);
  const weights = new Map<string, Float32Array>();
  const notes: string[] = [];
  const used = new Set<string>();
  const rng = new NormalRng(opts.seed);
  const head = (n: string) => n.startsWith('classifier.') || n.startsWith('pre_classifier.') || n.startsWith(`${prefix}.pooler.`);
  const fresh: string[] = [];

  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const key = aliases(s.name, prefix).find((k) => tensors.has(k));
    const t = key ? tensors.get(key)! : null;
    const fits = t && t.data.length === size && t.shape.length === s.shape.length && t.shape.every((d, i) => d === s.shape[i]);
    if (t && fits) {
      if (!(t.data instanceof Float32Array)) throw new StudentWeightsError(`${opts.source}: tensor ${key} is ${t.dtype}; expected floating-point weights.`);
      weights.set(s.name, t.data);
      used.add(key!);
      continue;
    }
    if (!head(s.name)) {
      throw new StudentWeightsError(
        t
          ? `${opts.source}: tensor ${key} has shape [${t.shape}] but the student's config.json implies [${s.shape}]. The config and the weights do not belong together.`
          : `${opts.source}: the checkpoint has no tensor ${s.name}. Is it a ${cfg.arch === 'bert' ? 'BERT' : 'DistilBERT'} checkpoint matching its config.json?`,
      );
    }
    // A new head: Hugging Face's initialisation (normal(0, initializer_range) weights, zero biases).
    const data = new Float32Array(size);
    if (s.role === 'weight') for (let i = 0; i < size; i++) data[i] = rng.next() * cfg.initializerRange;
    weights.set(s.name, data);
    if (t) used.add(key!);
    fresh.push(s.name);
  }
  if (fresh.length) {
    notes.push(`New classification head for ${cfg.numLabels} labels (${fresh.map((f) => f.replace(/\.(weight|bias)$/, '')).filter((v, i, a) => a.indexOf(v) === i).join(', ')}), initialised as Hugging Face does.`);
  }
  const dropped = [...tensors.keys()].filter((k) => !used.has(k) && !/position_ids$|token_type_ids$/.test(k));
  if (dropped.length) notes.push(`Ignored ${dropped.length} checkpoint tensor(s) the classifier does not use (e.g. ${dropped.slice(0, 3).join(', ')}).`);
  return { weights, notes };
}
