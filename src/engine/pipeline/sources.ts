// Where models and data come from: a local folder or file, or the Hugging Face Hub.
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobEventSink } from '../../shared/events';
import { REFERENCE_STUDENT, REFERENCE_TEACHER, SST2_DATASET } from '../../shared/job-config';
import { downloadFile, downloadRepoFiles } from '../hub/download';

/** The per-user cache folder (downloads, teacher logits). */
export function defaultCacheDir(): string {
  if (process.env.DISTILL_STUDIO_CACHE) return process.env.DISTILL_STUDIO_CACHE;
  if (process.platform === 'win32') return path.join(process.env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'DistillStudio', 'cache');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'DistillStudio');
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'distill-studio');
}

/** Short Hub names of the reference job, as their canonical repositories. */
const CANONICAL: Record<string, string> = {
  [REFERENCE_TEACHER]: `distilbert/${REFERENCE_TEACHER}`,
  [REFERENCE_STUDENT]: REFERENCE_STUDENT,
};

export const isLocal = (spec: string) => existsSync(spec);

function progressReporter(onEvent: JobEventSink | undefined) {
  let last = 0;
  return (p: { file: string; received: number; total: number | null; bytesPerSecond: number; etaSeconds: number | null }) => {
    const now = Date.now();
    if (now - last < 250 && p.received !== p.total) return;
    last = now;
    onEvent?.({ type: 'progress', stage: 'download', done: p.received, total: p.total ?? 0, unit: 'bytes', rate: p.bytesPerSecond, etaSeconds: p.etaSeconds });
  };
}

export interface SourceOptions {
  cacheDir: string;
  offline: boolean;
  onEvent?: JobEventSink;
  signal?: AbortSignal;
}

/** A model folder: the local folder itself, or a Hub snapshot downloaded into the cache. */
export async function resolveModelDir(spec: string, role: 'teacher' | 'student', o: SourceOptions): Promise<string> {
  if (isLocal(spec)) {
    if (!statSync(spec).isDirectory() && !(role === 'teacher' && spec.endsWith('.onnx'))) {
      throw new SourceError(`${spec} is a file: the ${role} must be a model folder${role === 'teacher' ? ' (or its .onnx file)' : ''}.`);
    }
    return spec.endsWith('.onnx') ? path.dirname(path.dirname(spec)) : spec;
  }
  if (/^[./\\]|^[A-Za-z]:[\\/]/.test(spec)) throw new SourceError(`The ${role} folder ${spec} does not exist.`);
  const repo = CANONICAL[spec] ?? spec;
  o.onEvent?.({ type: 'log', level: 'info', message: `Fetching the ${role} ${repo} from the Hugging Face Hub${o.offline ? ' (offline: cache only)' : ''}.` });
  const files =
    role === 'teacher'
      ? ['config.json', { file: 'onnx/model.onnx' }, { file: 'tokenizer.json', optional: true }, { file: 'tokenizer_config.json', optional: true }, { file: 'vocab.txt', optional: true }, { file: 'special_tokens_map.json', optional: true }]
      : ['config.json', { file: ['model.safetensors', 'pytorch_model.bin'] }, { file: 'tokenizer.json', optional: true }, { file: 'tokenizer_config.json', optional: true }, { file: 'vocab.txt', optional: true }, { file: 'special_tokens_map.json', optional: true }];
  const r = await downloadRepoFiles(repo, files, { cacheDir: path.join(o.cacheDir, 'hub'), offline: o.offline, onProgress: progressReporter(o.onEvent), signal: o.signal });
  return r.dir;
}

/** GLUE SST-2 from the Hub (parquet), or null when `spec` is not 'sst2'. */
export async function resolveSst2(spec: string, o: SourceOptions): Promise<{ train: string; validation: string } | null> {
  if (spec !== SST2_DATASET || isLocal(spec)) return null;
  const get = (file: string) =>
    downloadFile({ repo: 'nyu-mll/glue', repoType: 'dataset', file, cacheDir: path.join(o.cacheDir, 'hub'), offline: o.offline, onProgress: progressReporter(o.onEvent), signal: o.signal });
  return { train: await get('sst2/train-00000-of-00001.parquet'), validation: await get('sst2/validation-00000-of-00001.parquet') };
}

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}
