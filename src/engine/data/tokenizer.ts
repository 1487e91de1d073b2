// Text -> token ids for the teacher and the student, with Hugging Face semantics.
//
// The tokenization itself is done by @huggingface/tokenizers (Tokenizers.js 0.2), which matches
// the reference uncased BERT tokenizer (shared/tools/oracle/wordpiece.py, HF BertTokenizer) on
// every SST-2 sentence. A model folder provides either
//   - tokenizer.json (+ optional tokenizer_config.json): loaded as is; or
//   - vocab.txt (+ tokenizer_config.json / special_tokens_map.json): the equivalent BERT
//     WordPiece tokenizer.json is built in memory (what transformers' BertConverter writes:
//     BertNormalizer, BertPreTokenizer, WordPiece '##', TemplateProcessing [CLS] $A [SEP])
//     and loaded the same way.
//
// Encoding follows `tokenizer(text, truncation=True, max_length=L)` for one sentence: the
// content tokens are cut to L minus the number of special tokens the template adds, then the
// template is applied ([CLS] ... [SEP] for BERT). Rows are Int32Array; `pad` builds the (B, T)
// int64 tensors ONNX Runtime wants (input_ids, attention_mask, token_type_ids = 0).

import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { Tokenizer } from '@huggingface/tokenizers';

export type TokenizerErrorCode =
  /** The folder does not exist (or is not a folder). */
  | 'not-found'
  /** The folder has neither tokenizer.json nor vocab.txt. */
  | 'missing-files'
  /** A tokenizer file is not valid JSON / not a tokenizer the library can build. */
  | 'malformed'
  /** A well-formed tokenizer this module does not handle (e.g. no [CLS]/[SEP], do_basic_tokenize=false). */
  | 'unsupported'
  /** The caller passed a bad argument (maxLength too small, ...). */
  | 'invalid-argument';

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  readonly code: TokenizerErrorCode;
  /** The folder or file concerned, when there is one. */
  readonly file: string | undefined;

  constructor(code: TokenizerErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
  }
}

export function isTokenizerError(e: unknown, code?: TokenizerErrorCode): e is TokenizerError {
  return e instanceof TokenizerError && (code === undefined || e.code === code);
}

export interface EncodeOptions {
  /**
   * Longest row, special tokens included (HF `truncation=True, max_length`). Defaults to the
   * folder's `model_max_length` when it is a real limit, else 512.
   */
  maxLength?: number;
}

/** A (B, T) batch, row-major, ready to become ONNX Runtime int64 tensors. */
export interface PaddedBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** All zeros (single-sentence inputs). Feed it only to graphs that declare token_type_ids. */
  tokenTypeIds: BigInt64Array;
  batchSize: number;
  seqLen: number;
  /** [batchSize, seqLen], for `new ort.Tensor('int64', data, dims)`. */
  dims: [number, number];
}

export interface PadOptions {
  /** Pad every row to this length instead of the longest row (it must be >= the longest row). */
  padTo?: number;
}

export interface TextTokenizer {
  /** The folder it was loaded from. */
  readonly dir: string;
  /** Which definition was used. */
  readonly source: 'tokenizer.json' | 'vocab.txt';
  readonly padId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  /** Largest token id + 1 (added tokens included): the embedding table must have at least this many rows. */
  readonly vocabSize: number;
  /** `model_max_length` from tokenizer_config.json when it is a real limit, else null. */
  readonly modelMaxLength: number | null;
  /** The maxLength used when none is given. */
  readonly defaultMaxLength: number;
  /**
   * sha256 (hex) of the parts of the definition that determine ids (normalizer, pre-tokenizer,
   * model + vocab, post-processor, added tokens, and the few tokenizer_config keys the library
   * reads), canonical JSON. The same for equal definitions whatever their key order or source
   * file; maxLength is not part of it (add it to your cache key yourself).
   */
  readonly fingerprint: string;
  /** Non-fatal remarks from loading (e.g. "no tokenizer_config.json: assumed do_lower_case=true"). */
  readonly warnings: readonly string[];
  /** Ids of one text, special tokens included, truncated to maxLength. */
  encode(text: string, options?: EncodeOptions): Int32Array;
  /** `encode` for each text. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): Int32Array[];
  /** Token strings of one text, without special tokens and without truncation (for display and debugging). */
  tokenize(text: string): string[];
  /** `pad(rows, this.padId, options)`. */
  pad(rows: readonly Int32Array[], options?: PadOptions): PaddedBatch;
  /** The token.json-shaped definition the library was built from (do not mutate). */
  readonly definition: Readonly<Record<string, unknown>>;
}

/**
 * Pads rows to the longest one (or `padTo`) with `padId`: input_ids, attention_mask (1 on real
 * tokens, 0 on padding) and token_type_ids (zeros), each (B, T) BigInt64Array row-major.
 */
export function pad(rows: readonly Int32Array[], padId: number, options: PadOptions = {}): PaddedBatch {
  let longest = 0;
  for (const r of rows) if (r.length > longest) longest = r.length;
  let seqLen = longest;
  if (options.padTo !== undefined) {
    if (!Number.isInteger(options.padTo) || options.padTo < longest) {
      throw new TokenizerError(
        'invalid-argument',
        `pad: padTo ${options.padTo} is shorter than the longest row (${longest} tokens); use padTo >= ${longest} or leave it out.`,
      );
    }
    seqLen = options.padTo;
  }
  const b = rows.length;
  const inputIds = new BigInt64Array(b * seqLen);
  const attentionMask = new BigInt64Array(b * seqLen);
  const tokenTypeIds = new BigInt64Array(b * seqLen);
  const padBig = BigInt(padId);
  for (let i = 0; i < b; i++) {
    const r = rows[i]!;
    const base = i * seqLen;
    for (let j = 0; j < r.length; j++) {
      inputIds[base + j] = BigInt(r[j]!);
      attentionMask[base + j] = 1n;
    }
    if (padBig !== 0n) inputIds.fill(padBig, base + r.length, base + seqLen);
  }
  return { inputIds, attentionMask, tokenTypeIds, batchSize: b, seqLen, dims: [b, seqLen] };
}

// ---------------------------------------------------------------------------------------------
// Building a tokenizer.json from vocab.txt

/** The subset of tokenizer_config.json / special_tokens_map.json this module reads. */
export interface BertTokenizerConfig {
  do_lower_case?: boolean;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  do_basic_tokenize?: boolean;
  unk_token?: SpecialTokenSpec;
  sep_token?: SpecialTokenSpec;
  pad_token?: SpecialTokenSpec;
  cls_token?: SpecialTokenSpec;
  mask_token?: SpecialTokenSpec;
  additional_special_tokens?: SpecialTokenSpec[];
  model_max_length?: number;
  [key: string]: unknown;
}

/** A special token as transformers saves it: a string or an AddedToken dict. */
export type SpecialTokenSpec = string | { content: string; [key: string]: unknown } | null;

function tokenName(spec: unknown): string | undefined {
  if (typeof spec === 'string') return spec;
  if (spec !== null && typeof spec === 'object' && typeof (spec as { content?: unknown }).content === 'string') {
    return (spec as { content: string }).content;
  }
  return undefined;
}

/**
 * vocab.txt -> token -> id, as transformers' `load_vocab` reads it (Python text mode: lines end
 * at \n, \r\n or \r; on a duplicate the last index wins). The map has no prototype, so tokens
 * like "__proto__" are ordinary keys.
 */
export function parseVocab(text: string): Record<string, number> {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab: Record<string, number> = Object.create(null);
  for (let i = 0; i < lines.length; i++) vocab[lines[i]!] = i;
  return vocab;
}

/**
 * The tokenizer.json transformers would write for a BertTokenizer with this vocab and config
 * (BertConverter): uncased by default, accents stripped when lowercasing unless
 * strip_accents=false, CJK split, punctuation split, '##' WordPiece (100 chars max per word),
 * [CLS] $A [SEP].
 */
export function bertTokenizerJson(vocab: Record<string, number>, config: BertTokenizerConfig = {}): Record<string, unknown> {
  if (config.do_basic_tokenize === false) {
    throw new TokenizerError(
      'unsupported',
      'tokenizer_config.json sets do_basic_tokenize=false, which this app does not support; provide a tokenizer.json instead.',
    );
  }
  const name = (key: 'unk_token' | 'sep_token' | 'pad_token' | 'cls_token' | 'mask_token', dflt: string) =>
    tokenName(config[key]) ?? dflt;
  const unk = name('unk_token', '[UNK]');
  const sep = name('sep_token', '[SEP]');
  const padTok = name('pad_token', '[PAD]');
  const cls = name('cls_token', '[CLS]');
  const mask = name('mask_token', '[MASK]');
  const has = (t: string) => Object.prototype.hasOwnProperty.call(vocab, t);
  for (const [what, t] of [['unk_token', unk], ['cls_token', cls], ['sep_token', sep]] as const) {
    if (!has(t)) {
      throw new TokenizerError(
        'unsupported',
        `vocab.txt has no ${what} '${t}'; a BERT vocabulary needs [UNK], [CLS] and [SEP] (or set ${what} in tokenizer_config.json).`,
      );
    }
  }
  const specials = new Set<string>([padTok, unk, cls, sep, mask]);
  for (const s of config.additional_special_tokens ?? []) {
    const n = tokenName(s);
    if (n !== undefined) specials.add(n);
  }
  const addedTokens = [...specials]
    .filter(has)
    .map((content) => ({
      id: vocab[content]!,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }))
    .sort((a, b) => a.id - b.id);
  const lowercase = config.do_lower_case ?? true;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars ?? true,
      strip_accents: config.strip_accents ?? null,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [vocab[cls]!], tokens: [cls] },
        [sep]: { id: sep, ids: [vocab[sep]!], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Loading

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

// Keys of tokenizer_config.json that Tokenizers.js reads when encoding.
const ENCODING_CONFIG_KEYS = ['remove_space', 'do_lowercase_and_remove_accent', 'additional_special_tokens'] as const;

function fingerprintOf(definition: Record<string, unknown>, config: Record<string, unknown>): string {
  const addedTokens = Array.isArray(definition.added_tokens)
    ? [...(definition.added_tokens as { id?: number }[])].sort((a, b) => (a.id ?? 0) - (b.id ?? 0))
    : [];
  const relevantConfig: Record<string, unknown> = {};
  for (const k of ENCODING_CONFIG_KEYS) if (config[k] !== undefined && config[k] !== null) relevantConfig[k] = config[k];
  const payload = canonicalJson({
    kind: 'distill-studio/tokenizer-fingerprint/1',
    normalizer: definition.normalizer ?? null,
    pre_tokenizer: definition.pre_tokenizer ?? null,
    model: definition.model ?? null,
    post_processor: definition.post_processor ?? null,
    added_tokens: addedTokens,
    config: relevantConfig,
  });
  return createHash('sha256').update(payload).digest('hex');
}

async function readJsonFile(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TokenizerError('not-found', `Cannot read ${what} ${path}: ${(e as Error).message}.`, { file: path, cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(
      'malformed',
      `${path} is not valid JSON (${(e as Error).message}); re-download the model's tokenizer files.`,
      { file: path, cause: e },
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TokenizerError('malformed', `${path} is not a JSON object; re-download the model's tokenizer files.`, { file: path });
  }
  return parsed as Record<string, unknown>;
}

const HUGE_MAX_LENGTH = 1e9; // transformers writes int(1e30) when a model declares no limit

export interface LoadTokenizerOptions {
  /** Ignore tokenizer.json and build from vocab.txt (tests, or a broken tokenizer.json). */
  preferVocab?: boolean;
}

/**
 * Loads the tokenizer of a Hugging Face model folder: tokenizer.json when present, otherwise
 * vocab.txt + tokenizer_config.json (+ special_tokens_map.json) as an uncased-by-default BERT
 * WordPiece tokenizer. Throws TokenizerError (`not-found`, `missing-files`, `malformed`,
 * `unsupported`).
 */
export async function loadTokenizer(dir: string, options: LoadTokenizerOptions = {}): Promise<TextTokenizer> {
  let names: string[];
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new Error('not a folder');
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw new TokenizerError(
      'not-found',
      `Tokenizer folder ${dir} does not exist or is not a folder; choose the model folder that holds tokenizer.json or vocab.txt.`,
      { file: dir, cause: e },
    );
  }
  const present = new Set(names);
  const warnings: string[] = [];

  let config: Record<string, unknown> = {};
  if (present.has('tokenizer_config.json')) config = await readJsonFile(join(dir, 'tokenizer_config.json'), 'tokenizer config');
  if (present.has('special_tokens_map.json')) {
    const map = await readJsonFile(join(dir, 'special_tokens_map.json'), 'special tokens map');
    for (const [k, v] of Object.entries(map)) if (config[k] === undefined || config[k] === null) config[k] = v;
  }

  let definition: Record<string, unknown>;
  let source: 'tokenizer.json' | 'vocab.txt';
  if (present.has('tokenizer.json') && !(options.preferVocab && present.has('vocab.txt'))) {
    definition = await readJsonFile(join(dir, 'tokenizer.json'), 'tokenizer');
    source = 'tokenizer.json';
  } else if (present.has('vocab.txt')) {
    const vocabPath = join(dir, 'vocab.txt');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(vocabPath));
    } catch (e) {
      throw new TokenizerError('malformed', `${vocabPath} is not UTF-8 text; re-download the model's vocab.txt.`, {
        file: vocabPath,
        cause: e,
      });
    }
    if (!present.has('tokenizer_config.json')) {
      warnings.push(`${dir} has no tokenizer_config.json: assumed BERT uncased (do_lower_case=true).`);
    }
    definition = bertTokenizerJson(parseVocab(text), config as BertTokenizerConfig);
    source = 'vocab.txt';
  } else {
    const listing = names.length === 0 ? 'it is empty' : `it holds ${names.join(', ')}`;
    throw new TokenizerError(
      'missing-files',
      `No tokenizer in ${dir}: neither tokenizer.json nor vocab.txt (${listing}); copy the model's tokenizer files into it.`,
      { file: dir },
    );
  }

  const file = source === 'tokenizer.json' ? join(dir, 'tokenizer.json') : join(dir, 'vocab.txt');
  const fingerprint = fingerprintOf(definition, config);
  let lib: Tokenizer;
  try {
    // The library keeps references into the definition; give it its own copy of the config.
    lib = new Tokenizer(definition, { ...config });
  } catch (e) {
    throw new TokenizerError(
      'malformed',
      `${file} cannot be loaded as a tokenizer (${(e as Error).message}); check that it is a Hugging Face tokenizer file.`,
      { file, cause: e },
    );
  }
  return new LoadedTokenizer(lib, { dir, source, file, definition, config, fingerprint, warnings });
}

class LoadedTokenizer implements TextTokenizer {
  readonly dir: string;
  readonly source: 'tokenizer.json' | 'vocab.txt';
  readonly padId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  readonly vocabSize: number;
  readonly modelMaxLength: number | null;
  readonly defaultMaxLength: number;
  readonly fingerprint: string;
  readonly warnings: readonly string[];
  readonly definition: Readonly<Record<string, unknown>>;
  private readonly lib: Tokenizer;
  private readonly prefix: Int32Array;
  private readonly suffix: Int32Array;

  constructor(
    lib: Tokenizer,
    info: {
      dir: string;
      source: 'tokenizer.json' | 'vocab.txt';
      file: string;
      definition: Record<string, unknown>;
      config: Record<string, unknown>;
      fingerprint: string;
      warnings: string[];
    },
  ) {
    this.lib = lib;
    this.dir = info.dir;
    this.source = info.source;
    this.definition = info.definition;
    this.fingerprint = info.fingerprint;
    this.warnings = info.warnings;
    const { config, file } = info;

    const vocab = lib.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const idOf = (tok: string | undefined): number | undefined => (tok === undefined ? undefined : lib.token_to_id(tok));
    const model = info.definition.model as { unk_token?: unknown } | undefined;
    const unkId = idOf(tokenName(config.unk_token)) ?? idOf(typeof model?.unk_token === 'string' ? model.unk_token : undefined) ?? idOf('[UNK]');
    this.unkId = unkId ?? -1;

    // Special tokens the post-processor wraps a single sequence with, found by running it on a marker.
    const marker = '\u0000distill-studio-marker\u0000';
    let prefixToks: string[] = [];
    let suffixToks: string[] = [];
    if (lib.post_processor) {
      const out = lib.post_processor.post_process([marker], null, true).tokens;
      const at = out.indexOf(marker);
      if (at < 0) {
        throw new TokenizerError('unsupported', `${file}: its post-processor drops the text itself; this tokenizer cannot be used.`, { file });
      }
      prefixToks = out.slice(0, at);
      suffixToks = out.slice(at + 1);
    }
    const toIds = (toks: string[]) =>
      Int32Array.from(toks, (t) => {
        const id = lib.token_to_id(t) ?? unkId;
        if (id === undefined) throw new TokenizerError('malformed', `${file}: special token '${t}' is not in the vocabulary.`, { file });
        return id;
      });
    this.prefix = toIds(prefixToks);
    this.suffix = toIds(suffixToks);

    const cls = this.prefix.length > 0 ? this.prefix[0] : (idOf(tokenName(config.cls_token)) ?? idOf('[CLS]') ?? idOf('<s>'));
    const sep =
      this.suffix.length > 0 ? this.suffix[this.suffix.length - 1] : (idOf(tokenName(config.sep_token)) ?? idOf('[SEP]') ?? idOf('</s>'));
    if (cls === undefined || sep === undefined) {
      throw new TokenizerError(
        'unsupported',
        `${file}: no classification start/end tokens ([CLS]/[SEP] or <s>/</s>); a sequence classifier needs them.`,
        { file },
      );
    }
    this.clsId = cls;
    this.sepId = sep;
    this.padId = idOf(tokenName(config.pad_token)) ?? idOf('[PAD]') ?? idOf('<pad>') ?? 0;

    const mml = config.model_max_length;
    this.modelMaxLength = typeof mml === 'number' && Number.isFinite(mml) && mml > 0 && mml < HUGE_MAX_LENGTH ? Math.floor(mml) : null;
    this.defaultMaxLength = this.modelMaxLength ?? 512;
  }

  private limit(options: EncodeOptions | undefined): number {
    const maxLength = options?.maxLength ?? this.defaultMaxLength;
    const specials = this.prefix.length + this.suffix.length;
    if (!Number.isInteger(maxLength) || maxLength < specials) {
      throw new TokenizerError(
        'invalid-argument',
        `maxLength ${maxLength} is not usable: it must be an integer >= ${specials} (the special tokens every row carries).`,
      );
    }
    return maxLength - specials;
  }

  private encodeWithin(text: string, room: number): Int32Array {
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    const n = Math.min(ids.length, room);
    const p = this.prefix.length;
    const out = new Int32Array(p + n + this.suffix.length);
    out.set(this.prefix, 0);
    for (let i = 0; i < n; i++) out[p + i] = ids[i]!;
    out.set(this.suffix, p + n);
    return out;
  }

  encode(text: string, options?: EncodeOptions): Int32Array {
    return this.encodeWithin(text, this.limit(options));
  }

  encodeBatch(texts: readonly string[], options?: EncodeOptions): Int32Array[] {
    const room = this.limit(options);
    const out = new Array<Int32Array>(texts.length);
    for (let i = 0; i < texts.length; i++) out[i] = this.encodeWithin(texts[i]!, room);
    return out;
  }

  tokenize(text: string): string[] {
    return this.lib.tokenize(text, { add_special_tokens: false });
  }

  pad(rows: readonly Int32Array[], options?: PadOptions): PaddedBatch {
    return pad(rows, this.padId, options);
  }
}
