// The distilled student as a Hugging Face model folder, loadable by transformers
// (AutoModelForSequenceClassification.from_pretrained), ONNX Runtime and Transformers.js:
//
//   config.json              the student's original config, with the classifier's labels,
//                            architectures = [BertForSequenceClassification | DistilBert...]
//   model.safetensors        float32 weights under their Hugging Face names, {format: 'pt'}
//   tokenizer.json, tokenizer_config.json, vocab.txt, special_tokens_map.json
//                            copied from the tokenizer folder (tokenizer.json and
//                            tokenizer_config.json are written when it has none: Transformers.js needs both)
//   onnx/model.onnx          float32 ONNX (export/onnx-export.ts)
//   onnx/model_quantized.onnx int8 ONNX (export/quantize.ts), Transformers.js' dtype 'q8'
//   README.md                model card: YAML front matter, labels, metrics, recipe, usage
//
// The folder is written as a hidden sibling and renamed into place at the end, so `out` is
// either absent (or as it was) or complete; a failure removes the partial sibling. An
// existing non-empty `out` is refused unless `overwrite: true`.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeSafetensors, type CheckpointTensor } from '../checkpoint';
import { loadTokenizer } from '../data/tokenizer';
import { fsyncDir, renameWithRetry, writeFileAtomic } from '../fsutil/atomic';
import { parseModelConfig, type ModelConfig } from '../models/config';
import { parameterCount, parameterSpecs } from '../models/params';
import { studentOnnxBytes } from './onnx-export';
import { studentOnnxInt8, type QuantizeOptions, type QuantizeReport } from './quantize';

export type HfExportErrorCode =
  /** `out` exists and is not empty (and overwrite was not asked), or is a file. */
  | 'exists'
  /** The arguments do not describe one consistent model (labels, weights, config, tokenizer). */
  | 'invalid-argument'
  /** The tokenizer folder has neither tokenizer.json nor vocab.txt, or cannot be read. */
  | 'tokenizer'
  /** Cancelled through `signal`. */
  | 'aborted';

export class HfExportError extends Error {
  override readonly name = 'HfExportError';
  constructor(readonly code: HfExportErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** One row of the model card's results table. */
export interface CardMetric {
  name: string;
  student: unknown;
  /** The teacher's value on the same data, when known. */
  teacher?: unknown;
}

export interface ModelCardInfo {
  /** The teacher: a Hub id or a description (local folder name, ...). */
  teacher: string;
  /** The training data: a Hub dataset id ('sst2', 'stanfordnlp/sst2') or a file name. */
  dataset: string;
  /** Evaluation results: rows with a teacher column, or name -> student value (numbers, strings; other values as JSON). */
  metrics: CardMetric[] | Record<string, unknown>;
  /** How the student was distilled: hyperparameters (name -> value) or free text. */
  recipe: Record<string, unknown> | string;
  /**
   * The student's starting checkpoint, for the card's `base_model` (a Hub id). Default: the
   * config's `_name_or_path` when it looks like a Hub id; null omits it.
   */
  baseModel?: string | null;
  /** Hub dataset id for the card's `datasets`; default: `dataset` when it looks like one; null omits it. */
  datasetId?: string | null;
  /** The card's title (default: "<name> (distilled)"). */
  title?: string;
  /** A license identifier for the front matter (omitted when absent). */
  license?: string;
  language?: string | string[];
}

export interface HfFolderOptions {
  /** The student's configuration (as trained). */
  cfg: ModelConfig;
  /** The student's original config.json, as parsed JSON: its fields are kept. */
  configJson: Record<string, unknown>;
  /** Trained float32 weights by Hugging Face name. */
  weights: Map<string, Float32Array>;
  /** The folder to copy the tokenizer from (the student's or the teacher's: they must share the vocabulary). */
  tokenizerDir: string;
  /** The folder to create. */
  out: string;
  /** Label names by class id (default: cfg.id2label); must have cfg.numLabels entries. */
  id2label?: Record<number, string> | readonly string[];
  card: ModelCardInfo;
  /** Replace an existing non-empty `out` (default false: refused). */
  overwrite?: boolean;
  /** Options of the int8 model (export/quantize.ts). */
  quantize?: QuantizeOptions;
  /** Called after each file is written (relative path, size). */
  onProgress?: (file: string, bytes: number) => void;
  signal?: AbortSignal;
}

export interface HfFolderResult {
  path: string;
  /** Every file written, relative to `path`, with its size. */
  files: { path: string; bytes: number }[];
  /** Total size. */
  bytes: number;
  /** What the int8 model quantized. */
  quantization: QuantizeReport;
  /** Things done on the caller's behalf (generated tokenizer.json, clamped model_max_length, ...). */
  notes: string[];
}

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'] as const;

const ARCHITECTURE = { bert: 'BertForSequenceClassification', distilbert: 'DistilBertForSequenceClassification' } as const;

/** Writes the Hugging Face folder (see the header); returns what it wrote. */
export async function exportHfFolder(opts: HfFolderOptions): Promise<HfFolderResult> {
  const out = resolve(opts.out);
  const { cfg } = opts;
  const notes: string[] = [];
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new HfExportError('aborted', `Export to ${out} cancelled; nothing was written there.`, { cause: opts.signal.reason });
  };

  // --- everything is checked before the disk is touched --------------------------------
  const id2label = labelsOf(opts.id2label ?? cfg.id2label, cfg.numLabels);
  const config = hfConfig(cfg, opts.configJson, id2label);
  const specs = parameterSpecs(cfg);
  for (const s of specs) {
    const w = opts.weights.get(s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!w) throw new HfExportError('invalid-argument', `exportHfFolder: no weights for ${s.name} (expected [${s.shape}])`);
    if (w.length !== n) throw new HfExportError('invalid-argument', `exportHfFolder: ${s.name} has ${w.length} values, expected [${s.shape}] = ${n}`);
  }
  const tokenizerFiles = await tokenizerFilesFor(opts.tokenizerDir, cfg, notes);
  const readme = modelCard({ ...opts, id2label, config, outName: basename(out) });
  await checkTarget(out, opts.overwrite ?? false);
  checkAbort();

  // --- write a hidden sibling, then rename it into place --------------------------------
  await mkdir(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  const files: { path: string; bytes: number }[] = [];
  let quantization: QuantizeReport | undefined;
  try {
    await mkdir(join(tmp, 'onnx'), { recursive: true });
    const put = async (rel: string, data: string | Uint8Array) => {
      checkAbort();
      await writeFileAtomic(join(tmp, rel), data);
      done(rel, typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
    };
    const done = (rel: string, bytes: number) => {
      files.push({ path: rel, bytes });
      opts.onProgress?.(rel, bytes);
    };

    await put('config.json', JSON.stringify(config, null, 2) + '\n');
    checkAbort();
    const tensors = specs.map((s): [string, CheckpointTensor] => [s.name, { dtype: 'float32', shape: [...s.shape], data: opts.weights.get(s.name)! }]);
    await writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt' });
    done('model.safetensors', (await stat(join(tmp, 'model.safetensors'))).size);
    for (const [name, data] of tokenizerFiles) await put(name, data);
    checkAbort();
    await put('onnx/model.onnx', studentOnnxBytes(cfg, opts.weights));
    checkAbort();
    const int8 = studentOnnxInt8(cfg, opts.weights, opts.quantize);
    quantization = int8.report;
    await put('onnx/model_quantized.onnx', int8.bytes);
    await put('README.md', readme);
    checkAbort();
    await fsyncDir(join(tmp, 'onnx'));
    await fsyncDir(tmp);
    await moveIntoPlace(tmp, out, opts.overwrite ?? false);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
  await fsyncDir(dirname(out));
  return { path: out, files, bytes: files.reduce((n, f) => n + f.bytes, 0), quantization: quantization!, notes };
}

// --- config.json ---------------------------------------------------------------------------

function labelsOf(labels: Record<number, string> | readonly string[], numLabels: number): string[] {
  const list = Array.isArray(labels)
    ? [...(labels as readonly string[])]
    : Array.from({ length: Object.keys(labels).length }, (_, i) => (labels as Record<number, string>)[i]);
  if (list.length !== numLabels || list.some((l) => typeof l !== 'string' || l === '')) {
    throw new HfExportError('invalid-argument', `exportHfFolder: id2label must name the model's ${numLabels} classes 0..${numLabels - 1}, got ${JSON.stringify(labels)}`);
  }
  if (new Set(list).size !== list.length) throw new HfExportError('invalid-argument', `exportHfFolder: label names must be distinct, got ${JSON.stringify(list)}`);
  return list;
}

/** The config.json to write: the original fields, with the head, labels and dtype of the trained model. */
function hfConfig(cfg: ModelConfig, original: Record<string, unknown>, labels: string[]): Record<string, unknown> {
  const c: Record<string, unknown> = { ...original };
  c.architectures = [ARCHITECTURE[cfg.arch]];
  c.model_type = cfg.arch;
  c.id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  c.label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  c.num_labels = labels.length;
  c.torch_dtype = 'float32';
  // The written config must describe the weights: same shapes as the configuration trained.
  let parsed: ModelConfig;
  try {
    parsed = parseModelConfig(c, 'config.json');
  } catch (e) {
    throw new HfExportError('invalid-argument', `exportHfFolder: the student's config.json cannot be written back: ${(e as Error).message}`, { cause: e });
  }
  const shape = (m: ModelConfig): Record<string, unknown> => ({
    arch: m.arch, vocabSize: m.vocabSize, hidden: m.hidden, layers: m.layers, heads: m.heads, intermediate: m.intermediate,
    maxPositions: m.maxPositions, hiddenAct: m.hiddenAct, layerNormEps: m.layerNormEps, numLabels: m.numLabels,
    typeVocabSize: m.arch === 'bert' ? m.typeVocabSize : null,
  });
  const [written, trained] = [shape(parsed), shape(cfg)];
  const diff = Object.keys(trained).filter((k) => written[k] !== trained[k]);
  if (diff.length) {
    throw new HfExportError(
      'invalid-argument',
      `exportHfFolder: configJson does not describe the trained model (${diff.map((k) => `${k}: ${String(written[k])} vs ${String(trained[k])}`).join(', ')})`,
    );
  }
  return c;
}

// --- tokenizer -------------------------------------------------------------------------------

/** The tokenizer files to write, [name, contents], read (and checked) up front. */
async function tokenizerFilesFor(dir: string, cfg: ModelConfig, notes: string[]): Promise<[string, string | Uint8Array][]> {
  let tok;
  try {
    tok = await loadTokenizer(dir);
  } catch (e) {
    throw new HfExportError('tokenizer', `exportHfFolder: cannot use the tokenizer in ${dir}: ${(e as Error).message}`, { cause: e });
  }
  if (tok.vocabSize > cfg.vocabSize) {
    throw new HfExportError(
      'invalid-argument',
      `exportHfFolder: the tokenizer in ${dir} produces ids up to ${tok.vocabSize - 1}, but the model's vocabulary has ${cfg.vocabSize} rows`,
    );
  }
  const present = new Set(await readdir(dir));
  const files: [string, string | Uint8Array][] = [];
  for (const name of TOKENIZER_FILES) if (present.has(name)) files.push([name, new Uint8Array(await readFile(join(dir, name)))]);
  if (!present.has('tokenizer.json')) {
    files.push(['tokenizer.json', JSON.stringify(tok.definition, null, 2) + '\n']);
    notes.push(`tokenizer.json written from ${dir}/vocab.txt (Transformers.js reads only tokenizer.json)`);
  }
  // tokenizer_config.json: model_max_length no longer than the position table, so that
  // `truncation=True` never produces a sequence the model cannot embed.
  const idx = files.findIndex(([n]) => n === 'tokenizer_config.json');
  let tc: Record<string, unknown>;
  if (idx >= 0) {
    try {
      tc = JSON.parse(new TextDecoder().decode(files[idx][1] as Uint8Array)) as Record<string, unknown>;
    } catch (e) {
      throw new HfExportError('tokenizer', `exportHfFolder: ${dir}/tokenizer_config.json is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  } else {
    tc = {
      tokenizer_class: cfg.arch === 'bert' ? 'BertTokenizer' : 'DistilBertTokenizer',
      do_lower_case: true,
      cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]',
    };
    notes.push(`tokenizer_config.json written (${dir} has none): ${tc.tokenizer_class}, uncased, as the tokenizer was read`);
  }
  const mml = typeof tc.model_max_length === 'number' ? tc.model_max_length : Infinity;
  if (mml > cfg.maxPositions) {
    tc.model_max_length = cfg.maxPositions;
    if (idx >= 0) notes.push(`tokenizer_config.json: model_max_length ${Number.isFinite(mml) ? mml : '(unset)'} lowered to the model's ${cfg.maxPositions} positions`);
  }
  const text = JSON.stringify(tc, null, 2) + '\n';
  if (idx >= 0) files[idx] = ['tokenizer_config.json', text];
  else files.push(['tokenizer_config.json', text]);
  return files;
}

// --- the target folder -------------------------------------------------------------------------

async function checkTarget(out: string, overwrite: boolean): Promise<void> {
  let st;
  try {
    st = await lstat(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isDirectory()) throw new HfExportError('exists', `Cannot export to ${out}: a file with that name exists. Choose another folder name.`);
  const names = await readdir(out);
  if (names.length && !overwrite) {
    throw new HfExportError(
      'exists',
      `Cannot export to ${out}: the folder exists and is not empty (${names.length} ${names.length === 1 ? 'entry' : 'entries'}). ` +
        'Choose a new folder, empty this one, or export with overwrite to replace it.',
    );
  }
}

/** Renames the finished `tmp` to `out`, replacing an empty `out`, or a full one when `overwrite`. */
async function moveIntoPlace(tmp: string, out: string, overwrite: boolean): Promise<void> {
  await checkTarget(out, overwrite); // again: the folder may have changed while we wrote
  let old: string | null = null;
  try {
    const names = await readdir(out);
    if (names.length === 0) await rmdir(out);
    else {
      old = join(dirname(out), `.${basename(out)}.replaced-${process.pid}-${randomBytes(4).toString('hex')}`);
      await renameWithRetry(out, old);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  try {
    await renameWithRetry(tmp, out);
  } catch (e) {
    if (old) await renameWithRetry(old, out).catch(() => {}); // put the previous folder back
    throw e;
  }
  if (old) await rm(old, { recursive: true, force: true });
}

// --- README.md (model card) ----------------------------------------------------------------

const HUB_ID = /^[A-Za-z0-9][\w.-]{0,95}(\/[A-Za-z0-9][\w.-]{0,95})?$/;
const FILE_EXT = /\.(csv|tsv|txt|jsonl?|parquet|arrow|onnx|bin|safetensors)$/i;

/** A Hub-style id (owner/name or a legacy name), not a local path or file. */
export function looksLikeHubId(s: string): boolean {
  return HUB_ID.test(s) && !s.includes('..') && !FILE_EXT.test(s);
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A table cell: no line breaks, `|` escaped. */
const cell = (v: unknown) => fmt(v).replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');

/** A YAML scalar: JSON strings are valid YAML double-quoted scalars. */
const yaml = (s: string) => (/^[A-Za-z0-9][\w./-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) ? s : JSON.stringify(s));

function modelCard(o: HfFolderOptions & { id2label: string[]; config: Record<string, unknown>; outName: string }): string {
  const { cfg, card } = o;
  const nameOrPath = typeof o.configJson._name_or_path === 'string' ? o.configJson._name_or_path : null;
  const baseModel = card.baseModel === null ? null : card.baseModel ?? (nameOrPath && looksLikeHubId(nameOrPath) ? nameOrPath : null);
  const datasetId = card.datasetId === null ? null : card.datasetId ?? (looksLikeHubId(card.dataset) ? card.dataset : null);
  const languages = card.language === undefined ? [] : Array.isArray(card.language) ? card.language : [card.language];

  const fm: string[] = ['---'];
  if (card.license) fm.push(`license: ${yaml(card.license)}`);
  if (languages.length) fm.push('language:', ...languages.map((l) => `- ${yaml(l)}`));
  fm.push('library_name: transformers', 'pipeline_tag: text-classification');
  fm.push('tags:', ...['distillation', 'knowledge-distillation', 'text-classification', cfg.arch, 'onnx', 'transformers.js', 'distill-studio'].map((t) => `- ${t}`));
  if (baseModel) fm.push(`base_model: ${yaml(baseModel)}`);
  if (datasetId) fm.push('datasets:', `- ${yaml(datasetId)}`);
  fm.push('---');

  const archName = cfg.arch === 'bert' ? 'BERT' : 'DistilBERT';
  const params = parameterCount(parameterSpecs(cfg));
  const title = card.title ?? `${o.outName} (distilled)`;
  const lines: string[] = [
    ...fm,
    '',
    `# ${title.replace(/\r?\n/g, ' ')}`,
    '',
    `A ${archName} text classifier (${(params / 1e6).toFixed(1)} M parameters: ${cfg.layers} layers, hidden size ${cfg.hidden}, ` +
      `${cfg.heads} attention heads) distilled from the teacher **${card.teacher}** on **${card.dataset}**` +
      `${baseModel ? `, starting from [${baseModel}](https://huggingface.co/${baseModel})` : ''}, with Distill Studio.`,
    '',
    '## Labels',
    '',
    '| id | label |',
    '| --- | --- |',
    ...o.id2label.map((l, i) => `| ${i} | ${cell(l)} |`),
    '',
    '## Results',
    '',
  ];
  const rows: CardMetric[] = Array.isArray(card.metrics)
    ? card.metrics
    : Object.entries(card.metrics).map(([name, student]) => ({ name, student }));
  if (rows.length === 0) lines.push('No evaluation results were recorded.');
  else if (rows.some((r) => r.teacher !== undefined)) {
    lines.push('| metric | student | teacher |', '| --- | --- | --- |', ...rows.map((r) => `| ${cell(r.name)} | ${cell(r.student)} | ${cell(r.teacher)} |`));
  } else {
    lines.push('| metric | value |', '| --- | --- |', ...rows.map((r) => `| ${cell(r.name)} | ${cell(r.student)} |`));
  }
  lines.push('', '## Distillation recipe', '');
  if (typeof card.recipe === 'string') lines.push(card.recipe.trim());
  else {
    const entries = Object.entries(card.recipe);
    if (entries.length === 0) lines.push('Not recorded.');
    else lines.push('| setting | value |', '| --- | --- |', ...entries.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`));
  }
  const id = `path/to/${o.outName}`;
  lines.push(
    '',
    '## Files',
    '',
    '| file | what |',
    '| --- | --- |',
    '| `config.json`, `model.safetensors` | the model for 🤗 Transformers (float32) |',
    '| `tokenizer.json`, `tokenizer_config.json`, ... | the tokenizer |',
    '| `onnx/model.onnx` | ONNX, float32 (ONNX Runtime, Transformers.js `dtype: "fp32"`) |',
    '| `onnx/model_quantized.onnx` | ONNX with int8 weights, dynamic quantization (Transformers.js `dtype: "q8"`): smaller and faster on CPUs, predictions may differ slightly |',
    '',
    '## Usage',
    '',
    'Python (🤗 Transformers):',
    '',
    '```python',
    'from transformers import pipeline',
    `classifier = pipeline("text-classification", model=${JSON.stringify(id)})`,
    'print(classifier("A gripping, beautifully made film."))',
    '```',
    '',
    'JavaScript (Transformers.js):',
    '',
    '```js',
    'import { pipeline } from "@huggingface/transformers";',
    `const classifier = await pipeline("text-classification", ${JSON.stringify(id)}, { dtype: "q8" });`,
    'console.log(await classifier("A gripping, beautifully made film."));',
    '```',
    '',
    'Exported by Distill Studio.',
    '',
  );
  return lines.join('\n');
}
