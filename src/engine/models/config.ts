// A Hugging Face config.json, parsed into the typed configuration the model builders use.
// Supported: BERT (model_type 'bert') and DistilBERT (model_type 'distilbert') sequence
// classifiers. Missing fields take Hugging Face's defaults (BertConfig / DistilBertConfig),
// as `from_pretrained` does; what we cannot run is refused with a ModelConfigError that
// names the file, what it found and what is supported.
import { readFile } from 'node:fs/promises';

export type Arch = 'bert' | 'distilbert';
/** Activations we implement exactly: 'gelu' is the erf form (HF "gelu"), 'relu'. */
export type Activation = 'gelu' | 'relu';

interface CommonConfig {
  /** Where the config came from (a path, or a label for inline configs): used in messages. */
  source: string;
  /** The `architectures[0]` entry, or null when the file has none (e.g. prajjwal1/bert-tiny). */
  architecture: string | null;
  /** True when the checkpoint declares a sequence-classification head (its weights are in the file). */
  hasClassifierHead: boolean;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  /** hidden / heads. */
  headDim: number;
  intermediate: number;
  maxPositions: number;
  layerNormEps: number;
  hiddenAct: Activation;
  /** Dropout after embeddings, attention output and FFN output. */
  hiddenDropout: number;
  /** Dropout on attention probabilities. */
  attentionDropout: number;
  /** Dropout before the classifier (BERT: classifier_dropout ?? hidden_dropout_prob; DistilBERT: seq_classif_dropout). */
  classifierDropout: number;
  numLabels: number;
  id2label: Record<number, string>;
  label2id: Record<string, number>;
  padTokenId: number;
  initializerRange: number;
  /** Notes on defaults or inferences made while parsing (shown to users, never fatal). */
  notes: string[];
}

export interface BertConfig extends CommonConfig {
  arch: 'bert';
  typeVocabSize: number;
}

export interface DistilBertConfig extends CommonConfig {
  arch: 'distilbert';
}

export type ModelConfig = BertConfig | DistilBertConfig;

export const SUPPORTED_MODELS =
  "BERT (model_type 'bert', e.g. BertForSequenceClassification) and " +
  "DistilBERT (model_type 'distilbert', e.g. DistilBertForSequenceClassification)";

/** Model types users will try that we know about but do not run yet. */
const NOT_YET: Record<string, string> = {
  roberta: 'RoBERTa is not supported yet',
  xlm_roberta: 'XLM-RoBERTa is not supported yet',
  camembert: 'CamemBERT is not supported yet',
  albert: 'ALBERT is not supported yet',
  electra: 'ELECTRA is not supported yet',
  deberta: 'DeBERTa is not supported yet',
  'deberta-v2': 'DeBERTa-v2 is not supported yet',
  mobilebert: 'MobileBERT is not supported yet',
};

export class ModelConfigError extends Error {
  override readonly name = 'ModelConfigError';
  constructor(
    readonly file: string,
    /** What the file declares that we cannot use (e.g. "model_type 'gpt2'"). */
    readonly found: string,
    /** What is supported instead. */
    readonly supported: string,
    detail?: string,
  ) {
    super(`${file}: ${found} is not supported${detail ? ` (${detail})` : ''}. Supported: ${supported}.`);
  }
}

type Json = Record<string, unknown>;

/** Reads and parses a config.json file. */
export async function loadModelConfig(path: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelConfigError(path, 'a missing or unreadable config.json', SUPPORTED_MODELS, (e as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(path, 'a file that is not valid JSON', SUPPORTED_MODELS, (e as Error).message);
  }
  return parseModelConfig(json, path);
}

/** Parses the contents of a Hugging Face config.json. `source` names the file in messages. */
export function parseModelConfig(json: unknown, source = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelConfigError(source, 'a config that is not a JSON object', SUPPORTED_MODELS);
  }
  const c = json as Json;
  const notes: string[] = [];
  const archs = Array.isArray(c.architectures) ? c.architectures.filter((a): a is string => typeof a === 'string') : [];
  const architecture = archs[0] ?? null;
  let modelType = typeof c.model_type === 'string' ? c.model_type.toLowerCase() : null;

  if (!modelType) {
    // Some Hub checkpoints (prajjwal1/bert-tiny) have neither model_type nor architectures;
    // transformers then guesses from the repo name. We guess from the fields.
    modelType = inferModelType(c, architecture);
    if (!modelType) {
      throw new ModelConfigError(
        source,
        `a config without model_type${architecture ? ` (architectures: ${archs.join(', ')})` : ''}`,
        SUPPORTED_MODELS,
        'cannot tell the architecture from its fields',
      );
    }
    notes.push(`no model_type in the file; treated as '${modelType}' from its fields`);
  }

  const found = `model_type '${modelType}'${archs.length ? ` (architectures: ${archs.join(', ')})` : ''}`;
  if (modelType !== 'bert' && modelType !== 'distilbert') {
    throw new ModelConfigError(source, found, SUPPORTED_MODELS, NOT_YET[modelType]);
  }
  // The architecture must belong to the same family (BertFor..., DistilBertFor..., BertModel).
  const family = modelType === 'bert' ? /^Bert(For|Model|LMHead)/ : /^DistilBert(For|Model)/;
  const foreign = archs.filter((a) => !family.test(a));
  if (foreign.length) {
    throw new ModelConfigError(source, found, SUPPORTED_MODELS, `architecture ${foreign.join(', ')} does not match model_type '${modelType}'`);
  }
  const hasClassifierHead = archs.some((a) => a.endsWith('ForSequenceClassification'));

  const p = new FieldReader(c, source, found);
  const labels = parseLabels(c, source, found, notes);

  if (modelType === 'bert') {
    const hidden = p.int('hidden_size', 768);
    const heads = p.int('num_attention_heads', 12);
    const posType = c.position_embedding_type ?? 'absolute';
    if (posType !== 'absolute') {
      throw new ModelConfigError(source, `position_embedding_type '${String(posType)}'`, "BERT with position_embedding_type 'absolute'");
    }
    if (c.is_decoder === true || c.add_cross_attention === true) {
      throw new ModelConfigError(source, 'a BERT decoder (is_decoder / add_cross_attention)', 'BERT encoders');
    }
    const hiddenDropout = p.prob('hidden_dropout_prob', 0.1);
    const cd = c.classifier_dropout;
    const cfg: BertConfig = {
      arch: 'bert',
      source,
      architecture,
      hasClassifierHead,
      vocabSize: p.int('vocab_size', 30522),
      hidden,
      layers: p.int('num_hidden_layers', 12),
      heads,
      headDim: headDim(hidden, heads, source, found),
      intermediate: p.int('intermediate_size', 3072),
      maxPositions: p.int('max_position_embeddings', 512),
      typeVocabSize: p.int('type_vocab_size', 2),
      layerNormEps: p.num('layer_norm_eps', 1e-12),
      hiddenAct: activation(c.hidden_act ?? 'gelu', 'hidden_act', source),
      hiddenDropout,
      attentionDropout: p.prob('attention_probs_dropout_prob', 0.1),
      classifierDropout: cd === null || cd === undefined ? hiddenDropout : p.prob('classifier_dropout', hiddenDropout),
      ...labels,
      padTokenId: p.int('pad_token_id', 0, true),
      initializerRange: p.num('initializer_range', 0.02),
      notes,
    };
    return cfg;
  }

  if (c.sinusoidal_pos_embds === true) {
    throw new ModelConfigError(source, 'DistilBERT with sinusoidal_pos_embds: true', 'DistilBERT with learned position embeddings (sinusoidal_pos_embds: false)');
  }
  const hidden = p.int('dim', 768);
  const heads = p.int('n_heads', 12);
  const cfg: DistilBertConfig = {
    arch: 'distilbert',
    source,
    architecture,
    hasClassifierHead,
    vocabSize: p.int('vocab_size', 30522),
    hidden,
    layers: p.int('n_layers', 6),
    heads,
    headDim: headDim(hidden, heads, source, found),
    intermediate: p.int('hidden_dim', 3072),
    maxPositions: p.int('max_position_embeddings', 512),
    layerNormEps: 1e-12, // fixed in HF's modeling_distilbert
    hiddenAct: activation(c.activation ?? 'gelu', 'activation', source),
    hiddenDropout: p.prob('dropout', 0.1),
    attentionDropout: p.prob('attention_dropout', 0.1),
    classifierDropout: p.prob('seq_classif_dropout', 0.2),
    ...labels,
    padTokenId: p.int('pad_token_id', 0, true),
    initializerRange: p.num('initializer_range', 0.02),
    notes,
  };
  return cfg;
}

function inferModelType(c: Json, architecture: string | null): string | null {
  if (architecture?.startsWith('DistilBert')) return 'distilbert';
  if (architecture?.startsWith('Bert')) return 'bert';
  if (architecture) return null;
  if ('dim' in c && 'n_layers' in c && 'n_heads' in c) return 'distilbert';
  if ('hidden_size' in c && 'num_hidden_layers' in c && 'num_attention_heads' in c && 'type_vocab_size' in c) return 'bert';
  return null;
}

function activation(v: unknown, field: string, source: string): Activation {
  if (v === 'gelu' || v === 'relu') return v;
  throw new ModelConfigError(
    source,
    `${field} ${JSON.stringify(v)}`,
    "the activations 'gelu' (exact erf form) and 'relu'",
    v === 'gelu_new' || v === 'gelu_pytorch_tanh' ? 'the tanh approximation of GELU is not implemented' : undefined,
  );
}

function headDim(hidden: number, heads: number, source: string, found: string): number {
  if (hidden % heads !== 0) {
    throw new ModelConfigError(source, `hidden size ${hidden} with ${heads} attention heads in ${found}`, 'a hidden size divisible by the number of heads');
  }
  return hidden / heads;
}

function parseLabels(c: Json, source: string, found: string, notes: string[]): Pick<CommonConfig, 'numLabels' | 'id2label' | 'label2id'> {
  const bad = (detail: string) => new ModelConfigError(source, `${found} with ${detail}`, 'id2label as {"0": "NAME", ...} with ids 0..n-1');
  let id2label: Record<number, string>;
  if (c.id2label && typeof c.id2label === 'object' && !Array.isArray(c.id2label)) {
    id2label = {};
    for (const [k, v] of Object.entries(c.id2label as Json)) {
      const id = Number(k);
      if (!Number.isInteger(id) || id < 0) throw bad(`an id2label key ${JSON.stringify(k)}`);
      id2label[id] = String(v);
    }
    const n = Object.keys(id2label).length;
    for (let i = 0; i < n; i++) if (!(i in id2label)) throw bad(`id2label ids that are not 0..${n - 1}`);
    if (n === 0) throw bad('an empty id2label');
  } else {
    const n = c.num_labels === undefined ? 2 : Number(c.num_labels);
    if (!Number.isInteger(n) || n < 1) throw bad(`num_labels ${JSON.stringify(c.num_labels)}`);
    id2label = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, `LABEL_${i}`]));
    notes.push(`no id2label in the file; labels named LABEL_0..LABEL_${n - 1} (Hugging Face default)`);
  }
  const numLabels = Object.keys(id2label).length;
  let label2id: Record<string, number>;
  if (c.label2id && typeof c.label2id === 'object' && !Array.isArray(c.label2id)) {
    label2id = Object.fromEntries(Object.entries(c.label2id as Json).map(([k, v]) => [k, Number(v)]));
  } else {
    label2id = Object.fromEntries(Object.entries(id2label).map(([id, name]) => [name, Number(id)]));
  }
  return { numLabels, id2label, label2id };
}

class FieldReader {
  constructor(private c: Json, private source: string, private found: string) {}

  private get(field: string, dflt: number): number {
    const v = this.c[field];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.bad(field, v, 'a number');
    return v;
  }

  private bad(field: string, v: unknown, want: string) {
    return new ModelConfigError(this.source, `${field} = ${JSON.stringify(v)} in ${this.found}`, `${want} for ${field}`);
  }

  int(field: string, dflt: number, allowZero = false): number {
    const v = this.get(field, dflt);
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw this.bad(field, v, allowZero ? 'an integer >= 0' : 'a positive integer');
    return v;
  }

  num(field: string, dflt: number): number {
    const v = this.get(field, dflt);
    if (v <= 0) throw this.bad(field, v, 'a positive number');
    return v;
  }

  prob(field: string, dflt: number): number {
    const v = this.get(field, dflt);
    if (v < 0 || v >= 1) throw this.bad(field, v, 'a probability in [0, 1)');
    return v;
  }
}
