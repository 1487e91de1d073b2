// Reading a run folder as the job manager sees it: run.json (the manager's status file),
// summary.json / config.json / metrics.jsonl (the engine's), worker.log (the worker's and the
// manager's notes). Pure reads, no process state: the same answers after the app is reopened.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { RunStatus } from '../../shared/api';
import { JobConfigSchema, type JobConfig } from '../../shared/job-config';

export const RUN_FILE = 'run.json';
export const WORKER_LOG = 'worker.log';

/** run.json: what the manager knows about a run, rewritten atomically at each change of state. */
export interface RunFile {
  format: 1;
  id: string;
  createdAt: string;
  status: RunStatus;
  config: JobConfig;
  /** When the latest worker for this run was started (null: never started). */
  attemptStartedAt: string | null;
  updatedAt: string;
  step: number;
  totalSteps: number | null;
  bestAccuracy: number | null;
  error: string | null;
  log: string[];
}

const RunStatusSchema = z.enum(['queued', 'running', 'paused', 'completed', 'cancelled', 'early-stopped', 'failed', 'interrupted']);

const RunFileSchema = z.object({
  format: z.literal(1),
  id: z.string(),
  createdAt: z.string(),
  status: RunStatusSchema,
  config: JobConfigSchema,
  attemptStartedAt: z.string().nullable(),
  updatedAt: z.string(),
  step: z.number(),
  totalSteps: z.number().nullable(),
  bestAccuracy: z.number().nullable(),
  error: z.string().nullable(),
  log: z.array(z.string()),
});

/** summary.json, the fields read here. */
export interface SummaryFacts {
  status: 'completed' | 'cancelled' | 'early-stopped';
  steps: number;
  bestAccuracy: number | null;
  writtenAt: number;
  raw: Record<string, unknown>;
}

export function readJsonObject(file: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function readRunFile(dir: string): RunFile | null {
  const r = RunFileSchema.safeParse(readJsonObject(path.join(dir, RUN_FILE)));
  return r.success ? (r.data as RunFile) : null;
}

export function readSummary(dir: string): SummaryFacts | null {
  const file = path.join(dir, 'summary.json');
  const raw = readJsonObject(file);
  if (!raw) return null;
  const status = raw.status;
  if (status !== 'completed' && status !== 'cancelled' && status !== 'early-stopped') return null;
  const best = raw.best as { accuracy?: unknown; sentences?: unknown } | undefined;
  const bestAccuracy = typeof best?.accuracy === 'number' && typeof best.sentences === 'number' && best.sentences > 0 ? best.accuracy : null;
  let writtenAt = 0;
  try {
    writtenAt = statSync(file).mtimeMs;
  } catch {
    // vanished between the two reads: treat as old
  }
  return { status, steps: typeof raw.steps === 'number' ? raw.steps : 0, bestAccuracy, writtenAt, raw };
}

/** The job configuration of a folder without run.json (e.g. a CLI run copied in): config.json's `job`. */
export function readEngineConfig(dir: string): JobConfig | null {
  const r = JobConfigSchema.safeParse(readJsonObject(path.join(dir, 'config.json'))?.job);
  return r.success ? r.data : null;
}

/** The step of the newest complete resumable checkpoint, or null (cheap: no tensors are read). */
export function checkpointStep(dir: string): number | null {
  const root = path.join(dir, 'checkpoints');
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return null;
  }
  const steps = names
    .filter((f) => /^step-\d+$/.test(f) && existsSync(path.join(root, f, 'trainer.json')))
    .map((f) => Number(f.slice(5)))
    .sort((a, b) => b - a);
  return steps.length ? steps[0] : null;
}

/**
 * metrics.jsonl as a list of records, with resume markers applied: a `{"type":"resume","from_step":N}`
 * line means the steps after N were redone from the checkpoint at N, so the earlier lines for
 * steps > N (the work lost with the interrupted process) are dropped; the markers themselves stay
 * (the monitor shows where a run resumed). A torn last line (a kill mid-write) is skipped.
 */
export function parseMetrics(text: string): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (!rec || typeof rec !== 'object' || Array.isArray(rec)) continue;
    const o = rec as Record<string, unknown>;
    if (o.type === 'resume') {
      const n = Number(o.from_step);
      if (Number.isFinite(n)) out = out.filter((r) => !(typeof r.step === 'number' && r.step > n) && !(r.type === 'resume' && Number(r.from_step) >= n));
    }
    out.push(o);
  }
  return out;
}

export function readMetrics(dir: string): Record<string, unknown>[] {
  try {
    return parseMetrics(readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8'));
  } catch {
    return [];
  }
}

/** The last `lines` non-empty lines of a text file (reads at most its last 64 KiB). */
export async function tailLines(file: string, lines: number): Promise<string[]> {
  let fh;
  try {
    fh = await open(file, 'r');
    const { size } = await fh.stat();
    const length = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    let text = buf.toString('utf8');
    if (length < size) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
    return text.split('\n').filter((l) => l.trim() !== '').slice(-lines);
  } catch {
    return [];
  } finally {
    await fh?.close().catch(() => {});
  }
}
