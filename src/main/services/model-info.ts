// The model step of the wizard: what a teacher or student is, from a local folder (or a teacher's
// .onnx file), or for a Hugging Face id from what is known without downloading anything (the
// download cache, and the facts of the reference models).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ModelInfo } from '../../shared/api';
import { id2labelFromConfig } from '../../engine/data/datasets';
import { loadTokenizer } from '../../engine/data/tokenizer';
import { downloadFileDetailed } from '../../engine/hub/download';
import { parseModelConfig, type ModelConfig } from '../../engine/models/config';
import { parameterCount, parameterSpecs } from '../../engine/models/params';
import { openTeacher, teacherOnnxPath } from '../../engine/teacher/teacher-model';
import { REFERENCE_STUDENT, REFERENCE_TEACHER } from '../../shared/job-config';
import { isHubId } from './ipc-schemas';

type Role = 'teacher' | 'student';

/** Short Hub names the engine maps to their canonical repositories (src/engine/pipeline/sources.ts). */
const CANONICAL: Record<string, string> = { [REFERENCE_TEACHER]: `distilbert/${REFERENCE_TEACHER}` };

/** What is known of the reference models without downloading them (their published config.json). */
const KNOWN_CONFIGS: Record<string, Record<string, unknown>> = {
  [`distilbert/${REFERENCE_TEACHER}`]: {
    model_type: 'distilbert',
    architectures: ['DistilBertForSequenceClassification'],
    vocab_size: 30522,
    dim: 768,
    n_layers: 6,
    n_heads: 12,
    hidden_dim: 3072,
    max_position_embeddings: 512,
    id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
    label2id: { NEGATIVE: 0, POSITIVE: 1 },
  },
  [REFERENCE_STUDENT]: {
    hidden_size: 128,
    hidden_act: 'gelu',
    vocab_size: 30522,
    num_attention_heads: 2,
    type_vocab_size: 2,
    max_position_embeddings: 512,
    num_hidden_layers: 2,
    intermediate_size: 512,
  },
};

function dirBytes(p: string, depth = 0): number {
  if (depth > 8) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((s, f) => s + dirBytes(path.join(p, f), depth + 1), 0);
}

function orderedLabels(config: unknown): string[] | null {
  const m = id2labelFromConfig(config);
  if (!m || Object.keys(m).length === 0) return null;
  return Object.keys(m)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => m[k]!);
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function fromConfig(json: Record<string, unknown>, source: string, role: Role, notes: string[]): Pick<ModelInfo, 'arch' | 'parameters' | 'labels' | 'maxLength' | 'vocabSize'> {
  let cfg: ModelConfig | null = null;
  try {
    cfg = parseModelConfig(json, source);
  } catch (e) {
    notes.push(message(e));
  }
  const labels = orderedLabels(json);
  if (role === 'student') notes.push("The student's classification head is sized to the teacher's labels when the run starts.");
  return {
    arch: cfg?.arch ?? (typeof json.model_type === 'string' ? json.model_type : null),
    parameters: cfg ? parameterCount(parameterSpecs(cfg)) : null,
    labels: role === 'teacher' ? (labels ?? (cfg ? Object.values(cfg.id2label) : null)) : labels,
    maxLength: cfg?.maxPositions ?? null,
    vocabSize: cfg?.vocabSize ?? (typeof json.vocab_size === 'number' ? json.vocab_size : null),
  };
}

/** A local model folder (or a teacher's .onnx file). */
async function inspectLocal(spec: string, role: Role, shownAs: string, checkTeacher: boolean): Promise<ModelInfo> {
  const notes: string[] = [];
  const abs = path.resolve(spec);
  let dir = abs;
  if (!statSync(abs).isDirectory()) {
    if (role !== 'teacher' || !abs.endsWith('.onnx')) {
      throw new Error(`${spec} is a file: the ${role} must be a model folder${role === 'teacher' ? ' (or its .onnx file)' : ''}.`);
    }
    dir = [path.dirname(abs), path.dirname(path.dirname(abs))].find((d) => existsSync(path.join(d, 'config.json'))) ?? path.dirname(path.dirname(abs));
  }
  const info: ModelInfo = { source: shownAs, role, arch: null, parameters: null, labels: null, maxLength: null, vocabSize: null, sizeBytes: null, notes };
  const configFile = path.join(dir, 'config.json');
  if (existsSync(configFile)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (e) {
      notes.push(`${configFile} is not valid JSON (${message(e)}).`);
    }
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) Object.assign(info, fromConfig(json as Record<string, unknown>, configFile, role, notes));
    else if (json !== undefined) notes.push(`${configFile} does not hold a JSON object.`);
  } else {
    notes.push(`${dir} has no config.json: it is not a Hugging Face model folder.`);
  }
  try {
    const tok = await loadTokenizer(dir);
    if (tok.modelMaxLength !== null) info.maxLength = info.maxLength === null ? tok.modelMaxLength : Math.min(info.maxLength, tok.modelMaxLength);
    info.vocabSize ??= tok.vocabSize;
    notes.push(...tok.warnings);
  } catch (e) {
    notes.push(message(e));
  }
  if (role === 'teacher') {
    try {
      const file = teacherOnnxPath(abs.endsWith('.onnx') ? abs : dir);
      if (!existsSync(file)) notes.push(`${file} does not exist.`);
      else if (checkTeacher) {
        const t = await openTeacher(file);
        await t.session.release();
        notes.push(`ONNX model ${path.relative(dir, file) || file}: a text classifier with inputs ${t.inputs.join(', ')}.`);
      }
    } catch (e) {
      notes.push(message(e));
    }
  } else if (!['model.safetensors', 'pytorch_model.bin'].some((f) => existsSync(path.join(dir, f)))) {
    notes.push(`${dir} has no model.safetensors or pytorch_model.bin: the student needs its weights.`);
  }
  try {
    info.sizeBytes = dirBytes(abs.endsWith('.onnx') ? abs : dir);
  } catch {
    info.sizeBytes = null;
  }
  return info;
}

export interface InspectOptions {
  /** The cache folder: Hub models downloaded before are read from <cacheDir>/hub. */
  cacheDir: string;
  /** Open the teacher's ONNX file to check it is a classifier we can run (default true). */
  checkTeacher?: boolean;
}

/** What a model is; never downloads. Throws when `source` is neither an existing absolute path nor a Hub id. */
export async function inspectModel(source: string, role: Role, o: InspectOptions): Promise<ModelInfo> {
  const checkTeacher = o.checkTeacher ?? true;
  if (path.isAbsolute(source)) {
    if (existsSync(source)) return inspectLocal(source, role, source, checkTeacher);
    throw new Error(`${source} does not exist: choose the ${role} folder, or give a Hugging Face model id like owner/name.`);
  }
  if (!isHubId(source)) throw new Error(`${source} is neither a model folder (an absolute path) nor a Hugging Face model id like owner/name.`);
  const repo = CANONICAL[source] ?? source;
  // Downloaded before? Then its files are in the cache: read them, still without the network.
  try {
    const hit = await downloadFileDetailed({ repo, file: 'config.json', cacheDir: path.join(o.cacheDir, 'hub'), offline: true });
    const info = await inspectLocal(hit.snapshotDir, role, source, checkTeacher);
    info.notes.unshift(`${repo} from the download cache (${hit.snapshotDir}).`);
    return info;
  } catch {
    // not cached: fall through
  }
  const notes = [`${repo} is on the Hugging Face Hub and not downloaded yet: it is downloaded when the run starts${role === 'teacher' ? ' (the teacher must ship an ONNX export, onnx/model.onnx)' : ''}.`];
  const known = KNOWN_CONFIGS[repo];
  const info: ModelInfo = { source, role, arch: null, parameters: null, labels: null, maxLength: null, vocabSize: null, sizeBytes: null, notes };
  if (known) {
    Object.assign(info, fromConfig(known, `${repo} config.json`, role, []));
    if (role === 'student') notes.push("The student's classification head is sized to the teacher's labels when the run starts.");
    notes.push(`The details shown are those published for ${repo}.`);
  } else {
    notes.push('Its architecture, size and labels are known once it is downloaded.');
  }
  return info;
}
