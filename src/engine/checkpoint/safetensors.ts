// safetensors: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}), then the
// tensor bytes, little-endian, row-major, offsets relative to the end of the header.
// https://github.com/huggingface/safetensors#format
//
// Reading checks everything the format promises (and what the reference implementation
// checks: the tensors tile the data buffer exactly, no gaps, no overlaps, nothing after)
// and reports damage as a CheckpointError with a message a user can act on.
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { CheckpointError, formatBytes } from './errors';
import { writeFileAtomic } from '../fsutil/atomic';
import {
  DTYPES,
  HOST_IS_LITTLE_ENDIAN,
  bytesOfData,
  copyToFreshBuffer,
  dataFromBuffer,
  dataMatchesDtype,
  isCheckpointDtype,
  numelOf,
  type CheckpointDtype,
  type CheckpointTensor,
  type TensorMap,
} from './tensor';

/** The reference implementation refuses headers above 100 MB; so do we (a damaged length field). */
const MAX_HEADER_BYTES = 100_000_000;

const FROM_SAFETENSORS: Readonly<Record<string, CheckpointDtype>> = Object.fromEntries(
  Object.entries(DTYPES).map(([dtype, info]) => [info.safetensors, dtype as CheckpointDtype]),
);

const READABLE = Object.keys(FROM_SAFETENSORS).join(', ');

export interface SafetensorsEntry {
  name: string;
  dtype: CheckpointDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Where the data section starts in the file: 8 + header length. */
  dataStart: number;
  /** Tensors in the order their bytes appear in the file. */
  entries: SafetensorsEntry[];
  /** The optional `__metadata__` string map (e.g. {format: 'pt'}). */
  metadata: Record<string, string>;
}

function malformed(name: string, problem: string, fix = 'Download or export it again.'): CheckpointError {
  return new CheckpointError('malformed', `${name} is not a valid safetensors file: ${problem}. ${fix}`, {
    file: name,
  });
}

function truncated(name: string, problem: string): CheckpointError {
  return new CheckpointError(
    'truncated',
    `${name} is truncated: ${problem}. The download or copy was probably interrupted: download it again.`,
    { file: name },
  );
}

function ensureLittleEndianHost(name: string): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw new CheckpointError('unsupported', `Cannot read ${name}: this computer is big-endian, and tensor files are little-endian.`, {
      file: name,
    });
  }
}

/** Reads and checks the header length field. */
function headerLength(first8: Uint8Array, fileSize: number, name: string): number {
  if (fileSize < 8) {
    throw truncated(name, `the file is ${formatBytes(fileSize)} long, too short even for the 8-byte header length`);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw malformed(
      name,
      `its first 8 bytes say the JSON header is ${n} bytes long, far more than any safetensors header (it may be another format renamed, or damaged)`,
    );
  }
  const len = Number(n);
  if (len < 2) throw malformed(name, `its header length is ${len} bytes, too short for a JSON header`);
  if (len > fileSize - 8) {
    throw truncated(name, `its header says the JSON header is ${formatBytes(len)} long but the file holds ${formatBytes(fileSize - 8)} after the length field`);
  }
  return len;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isOffset(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and checks the JSON header against the size of the data section that follows it. */
function parseHeaderJson(json: Uint8Array, dataStart: number, dataAvailable: number, name: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw malformed(name, 'its header is not valid UTF-8 text');
  }
  if (!text.startsWith('{')) throw malformed(name, 'its header does not start with "{" (it is not a JSON object)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw malformed(name, `its header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw malformed(name, 'its header is not a JSON object');

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    if (key === '__metadata__') {
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw malformed(name, '"__metadata__" in its header is not a map of strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const where = `tensor "${key}"`;
    if (!isPlainObject(value)) throw malformed(name, `the header entry of ${where} is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string') throw malformed(name, `${where} has no "dtype" string`);
    if (!Array.isArray(shape)) throw malformed(name, `${where} has no "shape" array`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !isOffset(offsets[0]) || !isOffset(offsets[1])) {
      throw malformed(name, `${where} has no valid "data_offsets" (two non-negative integers)`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw malformed(name, `${where} has data_offsets [${begin}, ${end}] that end before they begin`);
    const ours = FROM_SAFETENSORS[dtype];
    if (ours === undefined || !Object.prototype.hasOwnProperty.call(FROM_SAFETENSORS, dtype)) {
      throw new CheckpointError(
        'unsupported',
        `${name} stores ${where} as ${dtype}, which Distill Studio cannot read (it reads ${READABLE}). ` +
          'Convert the checkpoint to float32 first, e.g. in Python: model.float().save_pretrained(folder).',
        { file: name },
      );
    }
    const numel = numelOf(shape);
    if (numel === undefined) throw malformed(name, `${where} has shape ${JSON.stringify(shape)}, which is not a list of non-negative integers`);
    const need = numel * DTYPES[ours].size;
    if (need !== end - begin) {
      throw malformed(
        name,
        `${where} has shape [${shape.join(', ')}] of ${dtype}, which takes ${need} bytes, but its data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
      );
    }
    entries.push({ name: key, dtype: ours, shape: shape as number[], begin, end });
  }

  // The tensors must tile the data section: sorted by offset, each starts where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: SafetensorsEntry | undefined;
  for (const e of entries) {
    if (e.begin < covered) {
      throw malformed(name, `the data of tensors "${previous!.name}" and "${e.name}" overlap (bytes ${e.begin}–${covered})`);
    }
    if (e.begin > covered) {
      throw malformed(name, `bytes ${covered}–${e.begin} of its data belong to no tensor (the data_offsets leave a gap before "${e.name}")`);
    }
    covered = e.end;
    previous = e;
  }
  if (covered > dataAvailable) {
    throw truncated(name, `its header says ${formatBytes(covered)} of tensor data but the file holds ${formatBytes(dataAvailable)}`);
  }
  if (covered < dataAvailable) {
    throw malformed(
      name,
      `it holds ${formatBytes(dataAvailable - covered)} after the last tensor's data (the header describes ${formatBytes(covered)} of tensor data, the file holds ${formatBytes(dataAvailable)})`,
    );
  }
  return { dataStart, entries, metadata };
}

// --- reading ------------------------------------------------------------------------

async function readExactly(fh: FileHandle, length: number, position: number, name: string): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const chunk = Math.min(1 << 30, length - done);
    const { bytesRead } = await fh.read(bytes, done, chunk, position + done);
    if (bytesRead === 0) throw truncated(name, `the file ended at byte ${position + done} while reading it (did it change while being read?)`);
    done += bytesRead;
  }
  return bytes;
}

async function openForReading(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CheckpointError('not-found', `${path} does not exist.`, { file: path, cause: e });
    }
    throw e;
  }
}

async function readHeaderFrom(fh: FileHandle, name: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  const first8 = size >= 8 ? await readExactly(fh, 8, 0, name) : new Uint8Array(8);
  const len = headerLength(first8, size, name);
  const json = await readExactly(fh, len, 8, name);
  return parseHeaderJson(json, 8 + len, size - 8 - len, name);
}

/** Reads and checks only the header of a safetensors file (names, dtypes, shapes, metadata). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await openForReading(path);
  try {
    return await readHeaderFrom(fh, basename(path));
  } finally {
    await fh.close();
  }
}

/**
 * Reads a `.safetensors` file: every tensor, read straight from disk into its own buffer.
 * Throws CheckpointError ('truncated' | 'malformed' | 'unsupported' | 'not-found').
 */
export async function readSafetensors(path: string): Promise<TensorMap> {
  const name = basename(path);
  ensureLittleEndianHost(name);
  const fh = await openForReading(path);
  try {
    const header = await readHeaderFrom(fh, name);
    const tensors: TensorMap = new Map();
    for (const e of header.entries) {
      const bytes = await readExactly(fh, e.end - e.begin, header.dataStart + e.begin, name);
      tensors.set(e.name, {
        dtype: e.dtype,
        shape: e.shape,
        data: dataFromBuffer(e.dtype, bytes.buffer, (e.end - e.begin) / DTYPES[e.dtype].size),
      });
    }
    return tensors;
  } finally {
    await fh.close();
  }
}

/** Parses safetensors bytes held in memory; `sourceName` names them in error messages. */
export function parseSafetensors(bytes: Uint8Array, sourceName: string): TensorMap {
  ensureLittleEndianHost(sourceName);
  const len = headerLength(bytes.subarray(0, 8), bytes.byteLength, sourceName);
  const header = parseHeaderJson(bytes.subarray(8, 8 + len), 8 + len, bytes.byteLength - 8 - len, sourceName);
  const tensors: TensorMap = new Map();
  for (const e of header.entries) {
    const buffer = copyToFreshBuffer(bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end));
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: dataFromBuffer(e.dtype, buffer, (e.end - e.begin) / DTYPES[e.dtype].size),
    });
  }
  return tensors;
}

// --- writing ------------------------------------------------------------------------

function invalid(problem: string): CheckpointError {
  return new CheckpointError('invalid-argument', `Cannot write safetensors: ${problem}.`);
}

/** Checks the tensors and lays them out: the header bytes (padded to 8) and each tensor's bytes. */
function layout(tensors: Iterable<[string, CheckpointTensor]>, metadata: Record<string, string> | undefined): Uint8Array[] {
  const planned: { name: string; dtype: CheckpointDtype; shape: number[]; bytes: Uint8Array }[] = [];
  const seen = new Set<string>();
  for (const [name, t] of tensors) {
    if (typeof name !== 'string' || name === '' || name === '__metadata__') throw invalid(`"${String(name)}" is not a usable tensor name`);
    if (seen.has(name)) throw invalid(`tensor "${name}" appears twice`);
    seen.add(name);
    if (!isCheckpointDtype(t.dtype)) throw invalid(`tensor "${name}" has unknown dtype ${String(t.dtype)}`);
    if (!dataMatchesDtype(t.dtype, t.data)) {
      throw invalid(`tensor "${name}" is ${t.dtype} but its data is a ${t.data?.constructor?.name ?? typeof t.data}, not a ${DTYPES[t.dtype].jsArray}`);
    }
    const numel = Array.isArray(t.shape) ? numelOf(t.shape) : undefined;
    if (numel === undefined) throw invalid(`tensor "${name}" has shape ${JSON.stringify(t.shape)}, not a list of non-negative integers`);
    if (numel !== t.data.length) {
      throw invalid(`tensor "${name}" has shape [${t.shape.join(', ')}] (${numel} elements) but ${t.data.length} data elements`);
    }
    planned.push({ name, dtype: t.dtype, shape: [...t.shape], bytes: bytesOfData(t.dtype, t.data) });
  }
  if (metadata !== undefined) {
    if (!isPlainObject(metadata) || !Object.values(metadata).every((v) => typeof v === 'string')) {
      throw invalid('metadata must map strings to strings');
    }
  }
  // Wider elements first, then by name (as the reference writer does): with the header padded
  // to 8 bytes, every tensor then starts at a multiple of its element size.
  planned.sort((a, b) => DTYPES[b.dtype].size - DTYPES[a.dtype].size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const p of planned) {
    header[p.name] = { dtype: DTYPES[p.dtype].safetensors, shape: p.shape, data_offsets: [offset, offset + p.bytes.byteLength] };
    offset += p.bytes.byteLength;
  }
  // Object keys that look like array indices would be reordered by JSON.stringify; harmless,
  // since every entry carries its own offsets.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return [head, ...planned.map((p) => p.bytes)];
}

/** The complete file as bytes in memory (tests and small tensors; prefer writeSafetensors for files). */
export function serializeSafetensors(tensors: Iterable<[string, CheckpointTensor]>, metadata?: Record<string, string>): Uint8Array {
  const pieces = layout(tensors, metadata);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Writes tensors as a safetensors file, atomically (temporary file in the same folder,
 * fsync, rename): `path` holds either its old contents or the complete new file, never part
 * of one. float16 / bfloat16 tensors take Float32Array data and are rounded to nearest even.
 * Throws CheckpointError 'invalid-argument' (before touching the disk) for inconsistent tensors.
 */
export async function writeSafetensors(
  path: string,
  tensors: Iterable<[string, CheckpointTensor]>,
  metadata?: Record<string, string>,
): Promise<void> {
  if (!HOST_IS_LITTLE_ENDIAN) ensureLittleEndianHost(basename(path));
  await writeFileAtomic(path, inChunks(layout(tensors, metadata)));
}

/** One fs write takes at most 2 GiB: hand over large tensors in pieces. */
function* inChunks(pieces: Uint8Array[], chunk = 1 << 30): Generator<Uint8Array> {
  for (const p of pieces) {
    for (let at = 0; at < p.byteLength; at += chunk) yield p.subarray(at, Math.min(p.byteLength, at + chunk));
  }
}
