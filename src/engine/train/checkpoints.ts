// Resumable checkpoints of a run folder:
//   checkpoints/step-000500/state.safetensors   parameters + AdamW moments (HF names, prefixed)
//   checkpoints/step-000500/trainer.json         where the loop stands (step, epoch, batch, best …)
//   checkpoints/latest.json                      {"dir": "step-000500"} — written last
//   checkpoints/best/model.safetensors + metrics.json
// A checkpoint folder is written under a temporary name and renamed into place, and the
// pointer is replaced atomically, so a kill at any moment leaves the previous one usable.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { readSafetensors, writeSafetensors } from '../checkpoint';
import type { CheckpointTensor } from '../checkpoint/tensor';
import { fsyncDir, writeJsonAtomic } from '../fsutil/atomic';
import type { EvalMetrics } from '../../shared/events';
import type { TrainState } from './step-runner';

type Scored = EvalMetrics & { step: number; epoch: number };

export interface TrainerProgress {
  /** Optimizer steps done. */
  step: number;
  /** The epoch in progress and the next batch index within it. */
  epoch: number;
  batchInEpoch: number;
  best: (Scored & { checkpoint: string }) | null;
  final: Scored | null;
  evalsWithoutImprovement: number;
  trainSeconds: number;
  evalSeconds: number;
}

const CHECKPOINT_FORMAT = 1;
const stepDir = (step: number) => `step-${String(step).padStart(6, '0')}`;

function* stateTensors(state: TrainState): Generator<[string, CheckpointTensor]> {
  for (const [prefix, map] of [['param', state.params], ['adam.m', state.m], ['adam.v', state.v]] as const) {
    for (const [name, data] of map) yield [`${prefix}/${name}`, { dtype: 'float32', shape: [data.length], data }];
  }
}

/** Writes a resumable checkpoint and points latest.json at it; keeps only the newest two. */
export async function saveCheckpoint(runDir: string, state: TrainState, progress: TrainerProgress): Promise<string> {
  const root = path.join(runDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const name = stepDir(state.step);
  const tmp = path.join(root, `.tmp-${name}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  await writeSafetensors(path.join(tmp, 'state.safetensors'), stateTensors(state), { format: 'distill-studio-train-state' });
  await writeJsonAtomic(path.join(tmp, 'trainer.json'), { format: CHECKPOINT_FORMAT, ...progress });
  const final = path.join(root, name);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await fsyncDir(root);
  await writeJsonAtomic(path.join(root, 'latest.json'), { dir: name, step: state.step });
  // Older step folders are no longer needed (the previous one goes once the new pointer is durable).
  for (const f of await readdir(root)) {
    if (f.startsWith('step-') && f !== name) await rm(path.join(root, f), { recursive: true, force: true });
  }
  return final;
}

/** The newest complete checkpoint, or null. */
export async function latestCheckpoint(runDir: string): Promise<{ dir: string; state: TrainState; progress: TrainerProgress } | null> {
  const root = path.join(runDir, 'checkpoints');
  if (!existsSync(root)) return null;
  const candidates: string[] = [];
  try {
    const ptr = JSON.parse(await readFile(path.join(root, 'latest.json'), 'utf8')) as { dir: string };
    candidates.push(ptr.dir);
  } catch {
    // no pointer: fall back to scanning
  }
  candidates.push(...(await readdir(root)).filter((f) => f.startsWith('step-')).sort().reverse());
  for (const name of candidates) {
    const dir = path.join(root, name);
    try {
      const progress = JSON.parse(await readFile(path.join(dir, 'trainer.json'), 'utf8')) as TrainerProgress & { format: number };
      const tensors = await readSafetensors(path.join(dir, 'state.safetensors'));
      const state: TrainState = { step: progress.step, params: new Map(), m: new Map(), v: new Map() };
      for (const [key, t] of tensors) {
        const slash = key.indexOf('/');
        const prefix = key.slice(0, slash), name2 = key.slice(slash + 1);
        const target = prefix === 'param' ? state.params : prefix === 'adam.m' ? state.m : prefix === 'adam.v' ? state.v : null;
        target?.set(name2, t.data as Float32Array);
      }
      return { dir, state, progress };
    } catch {
      // incomplete or damaged: try the next one
    }
  }
  return null;
}

/** Saves the best weights so far (HF names, loadable as model.safetensors). */
export async function saveBest(runDir: string, params: Map<string, Float32Array>, shapes: Map<string, number[]>, metrics: Scored): Promise<string> {
  const dir = path.join(runDir, 'checkpoints', 'best');
  await mkdir(dir, { recursive: true });
  const tensors = [...params].map(([name, data]) => [name, { dtype: 'float32', shape: shapes.get(name) ?? [data.length], data }] as [string, CheckpointTensor]);
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await writeJsonAtomic(path.join(dir, 'metrics.json'), metrics);
  return dir;
}
