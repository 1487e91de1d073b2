// Test doubles for the services' seams: a RunsService over run folders made by the CLI.
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AppEvent, RunDetails, RunInfo } from '../../../src/shared/api';
import type { JobConfigInput } from '../../../src/shared/job-config';
import type { RunsService } from '../../../src/main/services/types';

export class FakeRuns extends EventEmitter implements RunsService {
  readonly started: JobConfigInput[] = [];
  readonly calls: string[] = [];
  private readonly runs = new Map<string, RunInfo>();

  /** Registers an existing run folder under `id`. */
  add(id: string, dir: string): RunInfo {
    const summary = existsSync(path.join(dir, 'summary.json')) ? (JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { steps: number; best: { accuracy: number } }) : null;
    const info: RunInfo = {
      id,
      dir,
      status: summary ? 'completed' : 'running',
      createdAt: new Date(0).toISOString(),
      teacher: 't',
      student: 's',
      train: 'd',
      bestAccuracy: summary?.best.accuracy ?? null,
      step: summary?.steps ?? 0,
      totalSteps: summary?.steps ?? null,
      error: null,
      log: [],
    };
    this.runs.set(id, info);
    return info;
  }

  async start(c: JobConfigInput): Promise<RunInfo> {
    this.started.push(c);
    return this.add(`run-${this.started.length}`, `/nowhere/run-${this.started.length}`);
  }
  async pause(id: string): Promise<void> {
    this.calls.push(`pause ${id}`);
  }
  async resume(id: string): Promise<RunInfo> {
    this.calls.push(`resume ${id}`);
    return this.info(id);
  }
  async cancel(id: string): Promise<void> {
    this.calls.push(`cancel ${id}`);
  }
  async list(): Promise<RunInfo[]> {
    return [...this.runs.values()];
  }
  async get(id: string): Promise<RunDetails> {
    return { run: this.info(id), config: null, summary: null, metrics: [] };
  }
  private info(id: string): RunInfo {
    const r = this.runs.get(id);
    if (!r) throw new Error(`No run ${id}.`);
    return r;
  }
  push(e: AppEvent): void {
    this.emit('event', e);
  }
}
