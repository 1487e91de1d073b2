// Reading the text datasets users bring: GLUE-style TSV, CSV, JSONL and parquet, with a column
// mapping and labels checked against the teacher's id2label.
//
//   const ds = await readDataset('train.tsv', { id2label: teacherConfig.id2label });
//   ds.texts[i], ds.labels[i] (a class id, or null when the row is unlabeled)
//
// Line numbers in errors are 1-based physical lines of the file; for TSV and CSV the header is
// line 1 (the first data row is line 2). Parquet has no lines: there `line` is the 1-based row
// number and messages say "row N".

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';

import { parse as parseCsv } from 'csv-parse/sync';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';

import { heldOutSplit, type HeldOutSplit } from './split';

export { heldOutSplit, mulberry32, seededPermutation, type HeldOutSplit } from './split';

// ---------------------------------------------------------------------------------------------
// Errors

export type DatasetErrorCode =
  | 'not-found'
  | 'unknown-format'
  | 'invalid-utf8'
  | 'missing-column'
  | 'empty-text'
  | 'empty-label'
  | 'unknown-label'
  | 'empty-dataset'
  /** Structure is wrong: bad JSON line, wrong field count, unparseable CSV or parquet. */
  | 'malformed'
  | 'invalid-argument';

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly code: DatasetErrorCode;
  /** The dataset file, as the caller named it. */
  readonly file: string;
  /** 1-based line (TSV/CSV: header = line 1; JSONL: physical line; parquet: row number), when known. */
  readonly line: number | undefined;

  constructor(code: DatasetErrorCode, message: string, options: { file: string; line?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
    this.line = options.line;
  }
}

export function isDatasetError(e: unknown, code?: DatasetErrorCode): e is DatasetError {
  return e instanceof DatasetError && (code === undefined || e.code === code);
}

// ---------------------------------------------------------------------------------------------
// Types

export type DatasetFormat = 'tsv' | 'csv' | 'jsonl' | 'parquet';

export interface ColumnMapping {
  /** Text column. Default: 'sentence', else 'text' (exact name first, then any case). */
  text?: string;
  /** Label column. Default: 'label' when present, else none (unlabeled). null: ignore labels. */
  label?: string | null;
}

/**
 * The teacher's labels: config.json's `id2label` ({"0": "NEGATIVE", "1": "POSITIVE"}), an
 * array of names indexed by id, or a Map.
 */
export type Id2Label = Readonly<Record<string, string>> | readonly string[] | ReadonlyMap<number, string>;

export interface ReadDatasetOptions {
  /** Default: from the extension (.tsv, .csv, .jsonl / .ndjson, .parquet). */
  format?: DatasetFormat;
  columns?: ColumnMapping;
  /**
   * Labels are checked against it: integer ids in range, numeric strings, or label names (any
   * case). Without it only non-negative integer ids (or numeric strings) are accepted.
   */
  id2label?: Id2Label;
  /** Empty label cells become null instead of an error (partly labeled data). Default false. */
  allowEmptyLabels?: boolean;
  /** Every row must have a label (validation sets). Default false. */
  requireLabels?: boolean;
}

export interface DatasetSource {
  path: string;
  format: DatasetFormat;
  /** Data rows read (header excluded). */
  rows: number;
  /** sha256 (hex) of the file's bytes. */
  sha256: string;
}

export interface DatasetColumns {
  text: string;
  /** null: the dataset is read unlabeled. */
  label: string | null;
  /** true when the column was chosen automatically (no mapping given). */
  textDetected: boolean;
  labelDetected: boolean;
  /** The columns the file has (TSV/CSV header, first JSONL record's keys, parquet schema). */
  available: string[];
}

export interface Dataset {
  texts: string[];
  /** Class id per row, or null where the row has no label. */
  labels: (number | null)[];
  source: DatasetSource;
  columns: DatasetColumns;
  /** Rows with a label. */
  labeled: number;
  /** Human-readable remarks for the UI/log, e.g. which columns were auto-detected. */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Labels

interface LabelSpace {
  ids: number[];
  idSet: Set<number>;
  byName: Map<string, number>;
  describe: string;
}

function labelSpace(id2label: Id2Label | undefined): LabelSpace | null {
  if (id2label === undefined) return null;
  const entries: [number, string][] = [];
  if (id2label instanceof Map) {
    for (const [k, v] of id2label) entries.push([Number(k), String(v)]);
  } else if (Array.isArray(id2label)) {
    (id2label as readonly string[]).forEach((v, i) => entries.push([i, String(v)]));
  } else {
    for (const [k, v] of Object.entries(id2label as Record<string, string>)) entries.push([Number(k), String(v)]);
  }
  for (const [id] of entries) {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`id2label has a key that is not a class id: ${JSON.stringify(id)}.`);
  }
  entries.sort((a, b) => a[0] - b[0]);
  const byName = new Map<string, number>();
  for (const [id, name] of entries) {
    const key = name.trim().toLowerCase();
    if (!byName.has(key)) byName.set(key, id);
  }
  return {
    ids: entries.map((e) => e[0]),
    idSet: new Set(entries.map((e) => e[0])),
    byName,
    describe:
      entries
        .slice(0, 20)
        .map(([id, name]) => `${id} (${name})`)
        .join(', ') + (entries.length > 20 ? ` and ${entries.length - 20} more` : ''),
  };
}

/** "'foo'" with long values cut and control characters escaped, for one-line messages. */
function show(value: unknown): string {
  let s = typeof value === 'string' ? value : typeof value === 'bigint' ? `${value}` : JSON.stringify(value) ?? String(value);
  if (s.length > 40) s = `${s.slice(0, 37)}...`;
  // eslint-disable-next-line no-control-regex
  return `'${s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

type Where = (line: number) => string;

class LabelMapper {
  constructor(
    private readonly space: LabelSpace | null,
    private readonly file: string,
    private readonly where: Where,
    private readonly allowEmpty: boolean,
    private readonly column: string,
  ) {}

  private unknown(value: unknown, line: number, why = ''): never {
    const valid = this.space
      ? `valid labels are ${this.space.describe}, as ids or names in any case`
      : 'without the teacher\u2019s id2label only non-negative integer ids are accepted';
    throw new DatasetError(
      'unknown-label',
      `Unknown label ${show(value)} in ${this.file} ${this.where(line)}${why}; ${valid}: fix the value or use the teacher these labels belong to.`,
      { file: this.file, line },
    );
  }

  private fromId(id: number, raw: unknown, line: number): number {
    if (!Number.isSafeInteger(id) || id < 0) this.unknown(raw, line);
    if (this.space && !this.space.idSet.has(id)) this.unknown(raw, line);
    return id;
  }

  map(value: unknown, line: number): number | null {
    if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) {
      if (this.allowEmpty) return null;
      throw new DatasetError(
        'empty-label',
        `Empty label in ${this.file} ${this.where(line)} (column '${this.column}'); fill it in, or allow unlabeled rows (the teacher labels them).`,
        { file: this.file, line },
      );
    }
    if (typeof value === 'number') return Number.isInteger(value) ? this.fromId(value, value, line) : this.unknown(value, line);
    if (typeof value === 'bigint') return this.fromId(Number(value), value, line);
    if (typeof value === 'string') {
      const s = value.trim();
      const byName = this.space?.byName.get(s.toLowerCase());
      if (byName !== undefined) return byName;
      if (/^[+-]?\d+$/.test(s)) return this.fromId(Number(s), value, line);
      return this.unknown(value, line);
    }
    return this.unknown(value, line, ` (a ${typeof value}, expected an id or a name)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Column choice

function findColumn(available: readonly string[], name: string): string | undefined {
  if (available.includes(name)) return name;
  const lower = name.toLowerCase();
  return available.find((c) => c.toLowerCase() === lower);
}

function chooseColumns(
  available: readonly string[],
  mapping: ColumnMapping | undefined,
  file: string,
  where: string,
  requireLabels: boolean,
): DatasetColumns {
  const found = available.length > 0 ? available.map((c) => `'${c}'`).join(', ') : 'none';
  let text: string | undefined;
  const textDetected = mapping?.text === undefined;
  if (mapping?.text !== undefined) {
    text = findColumn(available, mapping.text);
    if (text === undefined) {
      throw new DatasetError(
        'missing-column',
        `${file} has no text column '${mapping.text}' (${where}); columns found: ${found}: pick one of them as the text column.`,
        { file, line: 1 },
      );
    }
  } else {
    text = findColumn(available, 'sentence') ?? findColumn(available, 'text');
    if (text === undefined) {
      throw new DatasetError(
        'missing-column',
        `${file} has no 'sentence' or 'text' column (${where}); columns found: ${found}: choose the text column in the column mapping.`,
        { file, line: 1 },
      );
    }
  }
  let label: string | null = null;
  const labelDetected = mapping?.label === undefined;
  if (typeof mapping?.label === 'string') {
    label = findColumn(available, mapping.label) ?? null;
    if (label === null) {
      throw new DatasetError(
        'missing-column',
        `${file} has no label column '${mapping.label}' (${where}); columns found: ${found}: pick one of them, or none to read the data unlabeled.`,
        { file, line: 1 },
      );
    }
  } else if (mapping?.label === undefined) {
    label = findColumn(available, 'label') ?? null;
  }
  if (label === text) label = null;
  if (requireLabels && label === null) {
    throw new DatasetError(
      'missing-column',
      `${file} has no label column (${where}); columns found: ${found}: a validation set needs labels, add a 'label' column or map one.`,
      { file, line: 1 },
    );
  }
  return { text, label, textDetected, labelDetected, available: [...available] };
}

// ---------------------------------------------------------------------------------------------
// Bytes -> text

const FORMAT_BY_EXT: Record<string, DatasetFormat> = {
  '.tsv': 'tsv',
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
};

export function formatFromPath(path: string): DatasetFormat | undefined {
  return FORMAT_BY_EXT[extname(path).toLowerCase()];
}

function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Find the first line that does not decode (slow path, errors only).
    const dec = new TextDecoder('utf-8', { fatal: true });
    let start = 0;
    let line = 1;
    while (start <= bytes.length) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      try {
        dec.decode(bytes.subarray(start, end));
      } catch {
        break;
      }
      start = end + 1;
      line++;
    }
    throw new DatasetError(
      'invalid-utf8',
      `${file} line ${line} is not valid UTF-8; re-save the file as UTF-8 (e.g. from a spreadsheet choose "CSV UTF-8").`,
      { file, line },
    );
  }
}

function checkText(value: unknown, file: string, where: string, line: number, column: string): string {
  if (typeof value === 'string') {
    if (value.trim() === '') {
      throw new DatasetError(
        'empty-text',
        `Empty text in ${file} ${where} (column '${column}'); remove the row or fill in its text.`,
        { file, line },
      );
    }
    return value;
  }
  if (value === null || value === undefined) {
    throw new DatasetError('empty-text', `Empty text in ${file} ${where} (column '${column}'); remove the row or fill in its text.`, {
      file,
      line,
    });
  }
  throw new DatasetError(
    'malformed',
    `Text in ${file} ${where} (column '${column}') is a ${typeof value}, not a string; map the text column to a column of strings.`,
    { file, line },
  );
}

interface Parsed {
  texts: string[];
  labels: (number | null)[];
  columns: DatasetColumns;
}

interface ParseContext {
  file: string;
  options: ReadDatasetOptions;
  space: LabelSpace | null;
}

function labelMapper(ctx: ParseContext, columns: DatasetColumns, where: Where): LabelMapper | null {
  if (columns.label === null) return null;
  return new LabelMapper(ctx.space, ctx.file, where, ctx.options.allowEmptyLabels === true && !ctx.options.requireLabels, columns.label);
}

const lineWhere: Where = (line) => `line ${line}`;

// ---------------------------------------------------------------------------------------------
// TSV (GLUE layout): header row, no quoting; the text column absorbs extra tabs, so with
// `sentence<TAB>label` a row is split on its last tab.

function parseTsv(text: string, ctx: ParseContext): Parsed {
  const { file } = ctx;
  const lines = text.split('\n');
  let h = 0;
  while (h < lines.length && lines[h]!.replace(/\r$/, '') === '') h++;
  if (h >= lines.length) throw emptyDataset(file, 'tsv');
  const header = lines[h]!.replace(/\r$/, '').split('\t').map((c) => c.trim());
  const columns = chooseColumns(header, ctx.options.columns, file, `header on line ${h + 1}`, ctx.options.requireLabels === true);
  const k = header.length;
  const t = header.indexOf(columns.text);
  const l = columns.label === null ? -1 : header.indexOf(columns.label);
  const labels = labelMapper(ctx, columns, lineWhere);
  const texts: string[] = [];
  const ys: (number | null)[] = [];
  for (let i = h + 1; i < lines.length; i++) {
    let row = lines[i]!;
    if (row.endsWith('\r')) row = row.slice(0, -1);
    if (row === '') continue;
    const line = i + 1;
    const fields = row.split('\t');
    if (fields.length < k) {
      throw new DatasetError(
        'malformed',
        `${file} line ${line} has ${fields.length} tab-separated field(s), the header has ${k}; fix the row (fields are separated by one tab, no quoting).`,
        { file, line },
      );
    }
    const extra = fields.length - k;
    const at = (c: number) => (c < t ? fields[c]! : c === t ? fields.slice(t, t + extra + 1).join('\t') : fields[c + extra]!);
    texts.push(checkText(at(t), file, `line ${line}`, line, columns.text));
    ys.push(labels ? labels.map(at(l), line) : null);
  }
  return { texts, labels: ys, columns };
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180 via csv-parse): header row; quoted fields may span lines.

interface CsvRecord {
  record: string[];
  raw: string;
  info: { lines: number };
}

function parseCsvText(text: string, ctx: ParseContext): Parsed {
  const { file } = ctx;
  let records: CsvRecord[];
  try {
    records = parseCsv(text, {
      info: true,
      raw: true,
      skip_empty_lines: true,
      bom: true,
      record_delimiter: ['\r\n', '\n'],
    }) as unknown as CsvRecord[];
  } catch (e) {
    const err = e as { code?: string; lines?: number; message?: string };
    const line = typeof err.lines === 'number' ? err.lines : undefined;
    const at = line === undefined ? '' : ` line ${line}`;
    const hint =
      err.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH' || err.code === 'CSV_RECORD_DONT_MATCH_COLUMNS_LENGTH'
        ? 'every row needs as many fields as the header; quote fields that contain commas'
        : 'check the quoting (a field with commas, quotes or line breaks must be in double quotes, with inner quotes doubled)';
    const what = (err.message ?? String(e)).replace(/\s+/g, ' ').replace(/[.]$/, '');
    throw new DatasetError('malformed', `${file}${at} is not valid CSV (${what}); ${hint}.`, { file, line, cause: e });
  }
  if (records.length === 0) throw emptyDataset(file, 'csv');
  // First line of each record: info.lines is the line where the record ends.
  const startLine = (r: CsvRecord) => {
    const body = r.raw.replace(/^(?:\r?\n)+/, '').replace(/\r?\n$/, '');
    let nl = 0;
    for (let i = 0; i < body.length; i++) if (body.charCodeAt(i) === 10) nl++;
    return r.info.lines - nl;
  };
  const headerRec = records[0]!;
  const header = headerRec.record.map((c) => c.trim());
  const headerLine = startLine(headerRec);
  const columns = chooseColumns(header, ctx.options.columns, file, `header on line ${headerLine}`, ctx.options.requireLabels === true);
  const t = header.indexOf(columns.text);
  const l = columns.label === null ? -1 : header.indexOf(columns.label);
  const labels = labelMapper(ctx, columns, lineWhere);
  const texts: string[] = [];
  const ys: (number | null)[] = [];
  for (let i = 1; i < records.length; i++) {
    const r = records[i]!;
    const line = startLine(r);
    texts.push(checkText(r.record[t], file, `line ${line}`, line, columns.text));
    ys.push(labels ? labels.map(r.record[l], line) : null);
  }
  return { texts, labels: ys, columns };
}

// ---------------------------------------------------------------------------------------------
// JSONL: one JSON object per line; blank lines are skipped. The columns are the union of the
// records' keys (in order of first appearance).

function parseJsonl(text: string, ctx: ParseContext): Parsed {
  const { file } = ctx;
  const lines = text.split('\n');
  const records: { rec: Record<string, unknown>; line: number }[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const row = lines[i]!.trim();
    if (row === '') continue;
    const line = i + 1;
    let obj: unknown;
    try {
      obj = JSON.parse(row);
    } catch (e) {
      throw new DatasetError(
        'malformed',
        `${file} line ${line} is not valid JSON (${(e as Error).message}); each line must be one JSON object like {"text": "...", "label": 1}.`,
        { file, line, cause: e },
      );
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new DatasetError(
        'malformed',
        `${file} line ${line} is not a JSON object; each line must be one object like {"text": "...", "label": 1}.`,
        { file, line },
      );
    }
    const rec = obj as Record<string, unknown>;
    for (const k of Object.keys(rec)) keys.add(k);
    records.push({ rec, line });
  }
  if (records.length === 0) throw emptyDataset(file, 'jsonl');
  const columns = chooseColumns([...keys], ctx.options.columns, file, `keys of the records from line ${records[0]!.line}`, ctx.options.requireLabels === true);
  const labels = labelMapper(ctx, columns, lineWhere);
  const texts: string[] = [];
  const ys: (number | null)[] = [];
  for (const { rec, line } of records) {
    if (!Object.prototype.hasOwnProperty.call(rec, columns.text)) {
      const found = Object.keys(rec).map((c) => `'${c}'`).join(', ') || 'none';
      throw new DatasetError(
        'missing-column',
        `${file} line ${line} has no '${columns.text}' field; fields found: ${found}: give every record the text field.`,
        { file, line },
      );
    }
    texts.push(checkText(rec[columns.text], file, `line ${line}`, line, columns.text));
    ys.push(labels && columns.label !== null ? labels.map(rec[columns.label], line) : null);
  }
  return { texts, labels: ys, columns };
}

// ---------------------------------------------------------------------------------------------
// Parquet (hyparquet): only the mapped columns are read.

const INVALID_UTF8 = Symbol('invalid-utf8');

async function parseParquet(bytes: Uint8Array, ctx: ParseContext): Promise<Parsed> {
  const { file } = ctx;
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const parsers = {
    stringFromBytes(b: Uint8Array): unknown {
      if (!b) return b;
      try {
        return fatal.decode(b);
      } catch {
        return INVALID_UTF8;
      }
    },
  };
  let available: string[];
  let metadata: ReturnType<typeof parquetMetadata>;
  try {
    metadata = parquetMetadata(buffer, { parsers });
    available = parquetSchema(metadata).children.map((c) => c.element.name);
  } catch (e) {
    throw new DatasetError(
      'malformed',
      `${file} is not a readable parquet file (${(e as Error).message}); re-export it, or save the data as CSV or JSONL.`,
      { file, cause: e },
    );
  }
  const columns = chooseColumns(available, ctx.options.columns, file, 'parquet schema', ctx.options.requireLabels === true);
  const wanted = columns.label === null ? [columns.text] : [columns.text, columns.label];
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: buffer, metadata, columns: wanted, parsers });
  } catch (e) {
    throw new DatasetError(
      'malformed',
      `${file} could not be decoded (${(e as Error).message}); re-export it with snappy/gzip compression or no compression, or save the data as CSV or JSONL.`,
      { file, cause: e },
    );
  }
  if (rows.length === 0) throw emptyDataset(file, 'parquet');
  const rowWhere: Where = (row) => `row ${row}`;
  const labels = labelMapper(ctx, columns, rowWhere);
  const texts: string[] = [];
  const ys: (number | null)[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const row = i + 1;
    for (const c of wanted) {
      if (r[c] === INVALID_UTF8) {
        throw new DatasetError(
          'invalid-utf8',
          `${file} row ${row} (column '${c}') is not valid UTF-8; re-export the file with UTF-8 strings.`,
          { file, line: row },
        );
      }
    }
    texts.push(checkText(r[columns.text], file, `row ${row}`, row, columns.text));
    ys.push(labels && columns.label !== null ? labels.map(r[columns.label], row) : null);
  }
  return { texts, labels: ys, columns };
}

// ---------------------------------------------------------------------------------------------
// Entry points

function emptyDataset(file: string, format: DatasetFormat): DatasetError {
  const expect =
    format === 'tsv' || format === 'csv'
      ? 'a header row and at least one data row'
      : format === 'jsonl'
        ? 'at least one JSON object line'
        : 'at least one row';
  return new DatasetError('empty-dataset', `${file} has no data rows; a dataset needs ${expect}.`, { file });
}

/**
 * Reads a dataset file. Throws DatasetError for: a missing file, an unknown extension, bytes
 * that are not UTF-8, a missing column, an empty text, an unknown or (unless allowed) empty
 * label, no rows, or a structurally broken file.
 */
export async function readDataset(path: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const format = options.format ?? formatFromPath(path);
  if (format === undefined) {
    throw new DatasetError(
      'unknown-format',
      `${path}: unknown dataset format '${extname(path) || '(no extension)'}'; use a .tsv, .csv, .jsonl or .parquet file (or name the format).`,
      { file: path },
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DatasetError('not-found', `Cannot read dataset ${path} (${(e as Error).message}); check the path.`, { file: path, cause: e });
  }
  let space: LabelSpace | null;
  try {
    space = labelSpace(options.id2label);
  } catch (e) {
    throw new DatasetError('invalid-argument', `${(e as Error).message} Check the teacher's config.json.`, { file: path, cause: e });
  }
  const ctx: ParseContext = { file: path, options, space };
  let parsed: Parsed;
  if (format === 'parquet') {
    parsed = await parseParquet(bytes, ctx);
  } else {
    const text = decodeUtf8(bytes, path);
    parsed = format === 'tsv' ? parseTsv(text, ctx) : format === 'csv' ? parseCsvText(text, ctx) : parseJsonl(text, ctx);
  }
  if (parsed.texts.length === 0) throw emptyDataset(path, format);
  const { texts, labels, columns } = parsed;
  let labeled = 0;
  for (const y of labels) if (y !== null) labeled++;
  const notes: string[] = [];
  const name = basename(path);
  notes.push(
    `${name}: text column '${columns.text}'${columns.textDetected ? ' (auto-detected)' : ''}; ` +
      (columns.label === null
        ? 'no label column: unlabeled, the teacher supplies the targets'
        : `label column '${columns.label}'${columns.labelDetected ? ' (auto-detected)' : ''}, ${labeled} of ${texts.length} rows labeled`) +
      `; columns found: ${columns.available.join(', ')}.`,
  );
  return {
    texts,
    labels,
    columns,
    labeled,
    notes,
    source: { path, format, rows: texts.length, sha256: createHash('sha256').update(bytes).digest('hex') },
  };
}

/** A validation set: like readDataset, but every row must carry a label. */
export function readValidation(path: string, options: Omit<ReadDatasetOptions, 'requireLabels' | 'allowEmptyLabels'> = {}): Promise<Dataset> {
  return readDataset(path, { ...options, requireLabels: true, allowEmptyLabels: false });
}

/** The rows `indices` of a dataset (texts and labels), e.g. one side of a heldOutSplit. */
export function selectRows(ds: Pick<Dataset, 'texts' | 'labels'>, indices: readonly number[]): { texts: string[]; labels: (number | null)[] } {
  return { texts: indices.map((i) => ds.texts[i]!), labels: indices.map((i) => ds.labels[i]!) };
}

/**
 * Splits one labeled file into training rows and held-out validation rows (heldOutSplit), for
 * when no separate validation file exists.
 */
export function splitDataset(
  ds: Pick<Dataset, 'texts' | 'labels'>,
  fraction: number,
  seed: number,
): { split: HeldOutSplit; train: { texts: string[]; labels: (number | null)[] }; valid: { texts: string[]; labels: (number | null)[] } } {
  const split = heldOutSplit(ds.texts.length, fraction, seed);
  return { split, train: selectRows(ds, split.train), valid: selectRows(ds, split.valid) };
}

/** The id2label of a model's config.json object, or undefined when it has none. */
export function id2labelFromConfig(config: unknown): Record<string, string> | undefined {
  if (config === null || typeof config !== 'object') return undefined;
  const m = (config as { id2label?: unknown }).id2label;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) out[k] = String(v);
  return out;
}
