// Shared by the job tests: an event recorder over a JobManager (or any AppEvent source) that
// can wait for an event, and small process helpers.
import { existsSync, readFileSync } from 'node:fs';
import type { AppEvent, RunStatus } from '../../../src/shared/api';
import type { JobEvent } from '../../../src/shared/events';

export interface Recorded {
  at: number;
  e: AppEvent;
}

export class Recorder {
  readonly events: Recorded[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(source: { on(event: 'event', listener: (e: AppEvent) => void): unknown }) {
    source.on('event', (e) => this.push(e));
  }

  push(e: AppEvent) {
    this.events.push({ at: Date.now(), e });
    for (const w of [...this.waiters]) w();
  }

  /** Index of the first event from `from` on that matches, waiting for it when needed. */
  until(pred: (e: AppEvent) => boolean, { from = 0, timeoutMs = 60_000, what = 'an event' } = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      let i = from;
      const check = () => {
        for (; i < this.events.length; i++) {
          if (pred(this.events[i].e)) {
            cleanup();
            resolve(i);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Timed out waiting for ${what}; last events: ${this.events.slice(-5).map((r) => JSON.stringify(r.e).slice(0, 160)).join(' | ')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  status(runId: string, statuses: RunStatus[], from = 0): Promise<number> {
    return this.until((e) => e.kind === 'run' && e.run.id === runId && statuses.includes(e.run.status), { from, what: `run ${runId} to be ${statuses.join('/')}` });
  }

  job(runId: string, pred: (e: JobEvent) => boolean, from = 0, what = 'a job event'): Promise<number> {
    return this.until((e) => e.kind === 'job' && e.runId === runId && pred(e.event), { from, what: `${what} of ${runId}` });
  }

  jobEvents(runId: string, from = 0, to = Infinity): Recorded[] {
    return this.events.slice(from, to).filter((r) => r.e.kind === 'job' && r.e.runId === runId);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process is gone (a zombie nobody reaps counts as gone). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = `/proc/${pid}/stat`;
  if (existsSync(stat)) {
    const state = readFileSync(stat, 'utf8').replace(/^.*\)\s*/, '')[0];
    return state === 'Z' || state === 'X';
  }
  return false;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Metrics lines without their timing fields, for comparing two runs. */
/** Metrics without timings and without resume markers (a resumed run has them, an uninterrupted one not). */
export function comparableMetrics(metrics: Record<string, unknown>[]): Record<string, unknown>[] {
  return metrics.filter((m) => m.type !== 'resume').map((m) => {
    const { samplesPerSecond: _s, time: _t, ...rest } = m;
    return rest;
  });
}
