// pytorch_model.bin: what torch.save (PyTorch >= 1.6) writes: a zip archive holding
//   <archive>/data.pkl        the pickled state_dict (tensors as persistent-id storage refs)
//   <archive>/data/<key>      each storage's raw little-endian bytes (STORED, 64-byte aligned)
//   <archive>/version, <archive>/byteorder (newer torch), ...
// <archive> is "archive" or the file's stem (e.g. "pytorch_model").
//
// data.pkl is read with the restricted pickle reader: the only globals allowed are the ones
// a state_dict of tensors needs, and this file interprets each of them itself. Anything else
// is refused as 'unsafe-pickle' before any storage is read. Nothing from the file is executed.
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { CheckpointError, formatBytes } from './errors';
import { unpickle, isPickleGlobal, type PickleGlobal } from './pickle';
import {
  DTYPES,
  HOST_IS_LITTLE_ENDIAN,
  dataFromBuffer,
  materializeView,
  maxViewIndex,
  numelOf,
  type CheckpointDtype,
  type CheckpointTensor,
  type TensorMap,
} from './tensor';

/** torch.<Name>Storage -> element type. */
const STORAGE_DTYPES: Readonly<Record<string, CheckpointDtype>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  // Raw byte storages (torch >= 2 calls them UntypedStorage).
  UntypedStorage: 'uint8',
};

/** Real torch storage types this reader does not convert: named in an 'unsupported' error, not an 'unsafe-pickle' one. */
const KNOWN_UNREADABLE_STORAGES = [
  'ComplexFloatStorage',
  'ComplexDoubleStorage',
  'QInt8Storage',
  'QUInt8Storage',
  'QInt32Storage',
  'QUInt4x2Storage',
  'QUInt2x4Storage',
];

/** A storage the pickle refers to; its bytes are read only after the whole pickle was accepted. */
class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: CheckpointDtype,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it: a strided view of a storage. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** The globals a state_dict pickle may name, and what calling each means. */
function allowlist(fail: (problem: string) => never): (module: string, name: string) => PickleGlobal | undefined {
  const asInts = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v) || !v.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      return fail(`a tensor's ${what} is not a tuple of non-negative integers`);
    }
    return [...(v as number[])];
  };
  const rebuildTensor = (args: unknown[]): TensorRef => {
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) return fail('a tensor is rebuilt from something that is not a storage');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return fail('a tensor has a bad storage offset');
    const shape = asInts(size, 'size');
    const strides = asInts(stride, 'stride');
    if (strides.length !== shape.length) fail(`a tensor has ${shape.length} dimensions but ${strides.length} strides`);
    return new TensorRef(storage, offset, shape, strides);
  };
  const unwrapTensor = (args: unknown[]): TensorRef => {
    // _rebuild_parameter(data, requires_grad, backward_hooks[, state])
    if (!(args[0] instanceof TensorRef)) return fail('a parameter wraps something that is not a tensor');
    return args[0];
  };
  const table: Record<string, PickleGlobal['call'] | null> = {
    'collections.OrderedDict': (args) => {
      const map = new Map<unknown, unknown>();
      if (args.length === 0) return map;
      if (args.length === 1 && Array.isArray(args[0])) {
        for (const pair of args[0] as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) fail('an OrderedDict is built from items that are not pairs');
          map.set((pair as unknown[])[0], (pair as unknown[])[1]);
        }
        return map;
      }
      return fail('an OrderedDict is built with unexpected arguments');
    },
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_tensor': rebuildTensor,
    'torch._utils._rebuild_parameter': unwrapTensor,
    'torch._utils._rebuild_parameter_with_state': unwrapTensor,
    'torch._tensor._rebuild_from_type_v2': (args) => {
      // _rebuild_from_type_v2(func, new_type, args, state): func(*args), retyped (ignored here).
      const [func, newType, inner] = args;
      if (!isPickleGlobal(newType) || !['torch.Tensor', 'torch.nn.parameter.Parameter'].includes(`${newType.module}.${newType.name}`)) {
        return fail('a tensor is rebuilt as a type that is not a plain tensor or parameter');
      }
      if (!isPickleGlobal(func) || func.call === undefined || !Array.isArray(inner)) return fail('a tensor is rebuilt by something that is not a tensor function');
      return func.call(inner as unknown[]);
    },
    // Markers: named, never called.
    'torch.Tensor': null,
    'torch.nn.parameter.Parameter': null,
  };
  for (const storage of [...Object.keys(STORAGE_DTYPES), ...KNOWN_UNREADABLE_STORAGES]) table[`torch.${storage}`] = null;
  table['torch.storage.UntypedStorage'] = null;

  return (module, name) => {
    const qualified = `${module}.${name}`;
    if (!Object.prototype.hasOwnProperty.call(table, qualified)) return undefined;
    const call = table[qualified];
    return { module, name, call: call ?? undefined };
  };
}

function storageDtype(g: unknown): CheckpointDtype | undefined {
  if (!isPickleGlobal(g)) return undefined;
  if (g.module !== 'torch' && g.module !== 'torch.storage') return undefined;
  return Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, g.name) ? STORAGE_DTYPES[g.name] : undefined;
}

/** Parses data.pkl into tensor views, without reading any storage. */
function parseStateDict(pickle: Uint8Array, name: string): Map<string, TensorRef> {
  const fail = (problem: string): never => {
    throw new CheckpointError(
      'malformed',
      `${name} is not a valid PyTorch checkpoint: ${problem}. Download or save it again, or use model.safetensors.`,
      { file: name },
    );
  };
  const storages = new Map<string, StorageRef>();
  const value = unpickle(pickle, {
    sourceName: name,
    findGlobal: allowlist(fail),
    persistentLoad: (pid) => {
      // ('storage', storage_type, key, location, numel)
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') return fail('it refers to external data that is not a tensor storage');
      const [, type, key, , numel] = pid as unknown[];
      const dtype = storageDtype(type);
      if (dtype === undefined) {
        const what = isPickleGlobal(type) ? `${type.module}.${type.name}` : 'an unknown type';
        throw new CheckpointError('unsupported', `${name} holds a storage of type ${what}, which Distill Studio cannot read. Convert the checkpoint to float32 safetensors.`, {
          file: name,
        });
      }
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) return fail('a storage has a bad key');
      if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return fail(`storage ${key} has a bad element count`);
      const known = storages.get(key);
      if (known) {
        if (known.dtype !== dtype || known.numel !== numel) fail(`storage ${key} is described twice, differently`);
        return known;
      }
      const ref = new StorageRef(key, dtype, numel);
      storages.set(key, ref);
      return ref;
    },
  });

  if (!(value instanceof Map)) {
    return fail('its pickle does not hold a dict of tensors (a state_dict)');
  }
  const tensors = new Map<string, TensorRef>();
  const others: string[] = [];
  for (const [key, v] of value) {
    if (typeof key !== 'string') return fail('its state_dict has a key that is not a string');
    if (v instanceof TensorRef) tensors.set(key, v);
    else others.push(key);
  }
  if (others.length > 0) {
    const listed = others.slice(0, 5).map((k) => `"${k}"`).join(', ') + (others.length > 5 ? ', ...' : '');
    throw new CheckpointError(
      'unsupported',
      `${name} is not a plain state_dict: ${others.length === value.size ? 'none' : 'some'} of its entries are tensors (${listed} ${others.length === 1 ? 'is' : 'are'} not). ` +
        'Save just the weights, e.g. torch.save(model.state_dict(), "pytorch_model.bin"), or use model.save_pretrained(folder).',
      { file: name },
    );
  }
  return tensors;
}

// --- the zip archive ------------------------------------------------------------------

interface Archive {
  zip: ZipFile;
  entries: Map<string, Entry>;
}

function zipError(e: unknown, name: string): CheckpointError {
  if (e instanceof CheckpointError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (/end of central directory record signature not found|unexpected EOF|overflows file bounds/i.test(message)) {
    return new CheckpointError(
      'truncated',
      `${name} is truncated: the end of its zip archive is missing (${message}). The download or copy was probably interrupted: download it again.`,
      { file: name, cause: e },
    );
  }
  return new CheckpointError('malformed', `${name} is a damaged zip archive (${message}). Download or save it again.`, { file: name, cause: e });
}

async function listEntries(zip: ZipFile, name: string): Promise<Archive> {
  const entries = new Map<string, Entry>();
  try {
    for await (const entry of zip.eachEntry()) {
      if (entries.has(entry.fileName)) throw new CheckpointError('malformed', `${name} is a damaged zip archive: it holds two entries named ${entry.fileName}. Download or save it again.`, { file: name });
      entries.set(entry.fileName, entry);
    }
  } catch (e) {
    zip.close();
    throw zipError(e, name);
  }
  return { zip, entries };
}

async function readEntry(archive: Archive, entry: Entry, name: string): Promise<Uint8Array<ArrayBuffer>> {
  if (entry.isEncrypted()) {
    throw new CheckpointError('unsupported', `${name} holds an encrypted entry (${entry.fileName}); PyTorch never writes those. Save the weights again.`, { file: name });
  }
  if (!entry.canDecodeFileData()) {
    throw new CheckpointError(
      'unsupported',
      `${name} compresses ${entry.fileName} with zip method ${entry.compressionMethod}, which Distill Studio cannot read. Save the weights again with torch.save.`,
      { file: name },
    );
  }
  const out = new Uint8Array(entry.uncompressedSize);
  let at = 0;
  try {
    const stream = await archive.zip.openReadStreamPromise(entry);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (at + chunk.byteLength > out.byteLength) throw new Error(`${entry.fileName} holds more bytes than its size says`);
      out.set(chunk, at);
      at += chunk.byteLength;
    }
  } catch (e) {
    throw zipError(e, name);
  }
  if (at !== out.byteLength) throw zipError(new Error(`${entry.fileName} ended after ${at} of ${out.byteLength} bytes (unexpected EOF)`), name);
  return out;
}

/** Finds "<archive>/data.pkl"; returns "<archive>/". */
function archivePrefix(entries: Map<string, Entry>, name: string): string {
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length === 1) return pickles[0].slice(0, -'data.pkl'.length);
  const listed = [...entries.keys()].slice(0, 8).join(', ') + (entries.size > 8 ? ', ...' : '');
  if (pickles.length === 0) {
    throw new CheckpointError(
      'malformed',
      `${name} is a zip archive but not a PyTorch checkpoint: it has no <name>/data.pkl (it holds ${entries.size === 0 ? 'nothing' : listed}). Pick the model's pytorch_model.bin or model.safetensors.`,
      { file: name },
    );
  }
  throw new CheckpointError('malformed', `${name} holds ${pickles.length} pickles (${pickles.join(', ')}); a PyTorch checkpoint holds one. Save the weights again.`, {
    file: name,
  });
}

async function loadFromArchive(archive: Archive, name: string): Promise<TensorMap> {
  const prefix = archivePrefix(archive.entries, name);
  const byteorder = archive.entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await readEntry(archive, byteorder, name)).trim();
    if (order !== 'little') {
      throw new CheckpointError('unsupported', `${name} was saved on a ${order}-endian machine, which Distill Studio cannot read. Save it again on a little-endian machine (x86, ARM) or as safetensors.`, {
        file: name,
      });
    }
  }
  const pickle = await readEntry(archive, archive.entries.get(`${prefix}data.pkl`)!, name);
  const refs = parseStateDict(pickle, name); // refuses unsafe pickles before any storage is read

  // Read each storage once (tensors may share one: tied weights, views) and cut its views.
  const byStorage = new Map<StorageRef, string[]>();
  for (const [key, ref] of refs) {
    const list = byStorage.get(ref.storage);
    if (list) list.push(key);
    else byStorage.set(ref.storage, [key]);
  }
  const built = new Map<string, CheckpointTensor>();
  for (const [storage, keys] of byStorage) {
    const size = DTYPES[storage.dtype].size;
    const entryName = `${prefix}data/${storage.key}`;
    const entry = archive.entries.get(entryName);
    if (!entry) {
      throw new CheckpointError('malformed', `${name} is missing the data of tensor "${keys[0]}" (no ${entryName} in the archive). Download or save it again.`, { file: name });
    }
    if (entry.uncompressedSize < storage.numel * size) {
      throw new CheckpointError(
        'malformed',
        `${name} is damaged: the data of tensor "${keys[0]}" should take ${formatBytes(storage.numel * size)} but ${entryName} holds ${formatBytes(entry.uncompressedSize)}. Download or save it again.`,
        { file: name },
      );
    }
    const bytes = await readEntry(archive, entry, name);
    for (const key of keys) {
      const ref = refs.get(key)!;
      const numel = numelOf(ref.shape);
      if (numel === undefined) throw new CheckpointError('malformed', `${name}: tensor "${key}" has an impossible shape [${ref.shape.join(', ')}].`, { file: name });
      if (numel > 0 && maxViewIndex(ref.offset, ref.shape, ref.stride) >= storage.numel) {
        throw new CheckpointError(
          'malformed',
          `${name} is not a valid PyTorch checkpoint: tensor "${key}" (shape [${ref.shape.join(', ')}], stride [${ref.stride.join(', ')}], offset ${ref.offset}) reaches past the end of its storage of ${storage.numel} elements. Download or save it again.`,
          { file: name },
        );
      }
      const buffer = materializeView(bytes.buffer, size, storage.numel, ref.offset, ref.shape, ref.stride);
      built.set(key, { dtype: storage.dtype, shape: ref.shape, data: dataFromBuffer(storage.dtype, buffer, numel) });
    }
  }
  // Keep the pickle's order.
  const tensors: TensorMap = new Map();
  for (const key of refs.keys()) tensors.set(key, built.get(key)!);
  return tensors;
}

// --- not a zip: legacy torch.save or something else ----------------------------------

const LEGACY_MESSAGE =
  'was written by PyTorch older than 1.6 (the legacy, non-zip torch.save format), which Distill Studio does not read. ' +
  'Re-save it with a current PyTorch: torch.save(torch.load(path), path) — only for a file you trust — or better, ' +
  'convert it to model.safetensors (model.save_pretrained(folder, safe_serialization=True)).';

/** Explains why a file that is not a zip archive cannot be read. Refuses a malicious pickle as such. */
function notZip(head: Uint8Array, name: string): CheckpointError {
  if (head.byteLength === 0) return new CheckpointError('truncated', `${name} is empty. Download it again.`, { file: name });
  if (head[0] === 0x80) {
    // A raw pickle: the legacy format starts with one (a magic number). Scan it with the
    // restricted reader so that a malicious one is reported for what it is.
    try {
      unpickle(head, { sourceName: name, findGlobal: allowlist(() => { throw new Error('stop'); }), persistentLoad: () => null });
    } catch (e) {
      if (e instanceof CheckpointError && e.code === 'unsafe-pickle') return e;
    }
    return new CheckpointError('unsupported', `${name} ${LEGACY_MESSAGE}`, { file: name });
  }
  if (head.byteLength > 262 && new TextDecoder('latin1').decode(head.subarray(257, 262)) === 'ustar') {
    return new CheckpointError('unsupported', `${name} ${LEGACY_MESSAGE}`, { file: name });
  }
  return new CheckpointError(
    'malformed',
    `${name} is not a PyTorch checkpoint (it is neither a zip archive nor a pickle). Download it again, or pick the model's model.safetensors.`,
    { file: name },
  );
}

function isZip(head: Uint8Array): boolean {
  return head.byteLength >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05) && (head[3] === 0x04 || head[3] === 0x06);
}

function ensureLittleEndianHost(name: string): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw new CheckpointError('unsupported', `Cannot read ${name}: this computer is big-endian, and tensor files are little-endian.`, { file: name });
  }
}

/** How much of a non-zip file to scan for an explanation. */
const SCAN_BYTES = 1 << 20;

/**
 * Reads a torch.save checkpoint (pytorch_model.bin) into named, contiguous tensors. Reads
 * the zip's directory, then data.pkl, then only the storages the state_dict uses.
 * Throws CheckpointError: 'unsafe-pickle' (a pickle that names anything but tensor types),
 * 'unsupported' (legacy format, unknown storage type), 'truncated', 'malformed', 'not-found'.
 */
export async function readPytorchBin(path: string): Promise<TensorMap> {
  const name = basename(path);
  ensureLittleEndianHost(name);
  let head: Uint8Array<ArrayBuffer>;
  try {
    const fh = await open(path, 'r');
    try {
      head = new Uint8Array(SCAN_BYTES);
      const { bytesRead } = await fh.read(head, 0, SCAN_BYTES, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CheckpointError('not-found', `${path} does not exist.`, { file: path, cause: e });
    throw e;
  }
  if (!isZip(head)) throw notZip(head, name);
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(path, { autoClose: false, lazyEntries: true });
  } catch (e) {
    throw zipError(e, name);
  }
  const archive = await listEntries(zip, name);
  try {
    return await loadFromArchive(archive, name);
  } finally {
    archive.zip.close();
  }
}

/** readPytorchBin for bytes in memory; `sourceName` names them in error messages. */
export async function parsePytorchBin(bytes: Uint8Array, sourceName: string): Promise<TensorMap> {
  ensureLittleEndianHost(sourceName);
  if (!isZip(bytes)) throw notZip(bytes.subarray(0, SCAN_BYTES), sourceName);
  let zip: ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { lazyEntries: true });
  } catch (e) {
    throw zipError(e, sourceName);
  }
  const archive = await listEntries(zip, sourceName);
  try {
    return await loadFromArchive(archive, sourceName);
  } finally {
    archive.zip.close();
  }
}
