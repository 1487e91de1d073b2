// Checkpoint I/O for Hugging Face model folders: safetensors (read and write) and
// torch.save's pytorch_model.bin (read, through a restricted pickle reader).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from './errors';
import { readPytorchBin } from './pytorch-bin';
import { readSafetensors } from './safetensors';
import type { TensorMap } from './tensor';

export { CheckpointError, isCheckpointError, type CheckpointErrorCode } from './errors';
export {
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './safetensors';
export { parsePytorchBin, readPytorchBin } from './pytorch-bin';
export type { CheckpointDtype, CheckpointTensor, CheckpointTensorData, TensorMap } from './tensor';

export const SAFETENSORS_FILE = 'model.safetensors';
export const PYTORCH_BIN_FILE = 'pytorch_model.bin';

export type CheckpointFormat = 'safetensors' | 'pytorch-bin';

export interface LoadedCheckpoint {
  format: CheckpointFormat;
  /** The weights file that was read. */
  path: string;
  tensors: TensorMap;
}

/** Says why a folder without model.safetensors / pytorch_model.bin has no usable weights. */
function noWeights(dir: string, names: string[]): CheckpointError {
  const has = (n: string): boolean => names.includes(n);
  const listed = names.length === 0 ? 'nothing' : names.slice(0, 12).join(', ') + (names.length > 12 ? `, and ${names.length - 12} more` : '');
  let hint: string;
  if (has('model.safetensors.index.json') || has('pytorch_model.bin.index.json')) {
    return new CheckpointError(
      'unsupported',
      `${dir} holds a sharded checkpoint (${has('model.safetensors.index.json') ? 'model.safetensors.index.json' : 'pytorch_model.bin.index.json'}), which Distill Studio does not load: ` +
        'the student models it trains fit in one file. Save the model as one file (model.save_pretrained(folder, max_shard_size="10GB")) and pick that folder.',
      { file: dir },
    );
  }
  if (has('tf_model.h5') || has('flax_model.msgpack')) {
    hint = 'It holds only TensorFlow or Flax weights: convert them to PyTorch format (model.save_pretrained(folder) after loading with from_tf=True / from_flax=True).';
  } else if (has('onnx') || names.some((n) => n.endsWith('.onnx'))) {
    hint = 'It looks like an ONNX export, which can be a teacher but not a student: pick the folder of the Hugging Face checkpoint instead.';
  } else {
    hint = 'Download the model again, or pick the folder that holds its weights.';
  }
  return new CheckpointError(
    'not-found',
    `No model weights in ${dir}: expected ${SAFETENSORS_FILE} or ${PYTORCH_BIN_FILE}, but the folder holds ${listed}. ${hint}`,
    { file: dir },
  );
}

/** Which weights file a model folder would be loaded from (model.safetensors preferred). */
export async function findCheckpointFile(dir: string): Promise<{ format: CheckpointFormat; path: string }> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError('not-found', `The model folder ${dir} does not exist.`, { file: dir, cause: e });
    if (code === 'ENOTDIR') throw new CheckpointError('not-found', `${dir} is a file, not a model folder: pick the folder that holds ${SAFETENSORS_FILE} or ${PYTORCH_BIN_FILE}.`, { file: dir, cause: e });
    throw e;
  }
  for (const [file, format] of [
    [SAFETENSORS_FILE, 'safetensors'],
    [PYTORCH_BIN_FILE, 'pytorch-bin'],
  ] as const) {
    if (names.includes(file)) {
      const path = join(dir, file);
      if ((await stat(path)).isFile()) return { format, path };
    }
  }
  throw noWeights(dir, names);
}

/**
 * Loads the weights of a Hugging Face model folder: model.safetensors when present,
 * otherwise pytorch_model.bin. A damaged model.safetensors is reported, not skipped.
 * Throws CheckpointError (see its codes).
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const { format, path } = await findCheckpointFile(dir);
  const tensors = format === 'safetensors' ? await readSafetensors(path) : await readPytorchBin(path);
  return { format, path, tensors };
}

