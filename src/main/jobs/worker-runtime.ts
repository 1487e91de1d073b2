// What a job worker process does (src/main/worker.ts is only the entry): wait for `start`, run
// the job with pause and cancel, forward its events, keep <runDir>/worker.log, and end with
// exit code 0 when the job is done (cancelled included) or 1 after posting `failed`.
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describeError } from '../../engine/cli/errors';
import { RUN_OUTPUTS, type RunJobOptions, type RunSummary } from '../../engine/pipeline/api';
import type { JobEvent } from '../../shared/events';
import type { JobConfig } from '../../shared/job-config';
import type { WorkerChannel } from './channel';
import { parseParentMessage, type StartMessage, type WorkerMessage } from './protocol';
import { checkpointStep } from './run-folder';

export type RunJobFn = (config: JobConfig, options: RunJobOptions) => Promise<RunSummary>;

export interface WorkerRuntimeOptions {
  runJob: RunJobFn;
  /** Ends the process (process.exit in the entry). */
  exit: (code: number) => void;
  pid?: number;
}

/** Files this host keeps in a run folder beside the engine's outputs. */
const HOST_FILES = ['run.json', 'worker.log'];


function eventLine(e: JobEvent): string | null {
  switch (e.type) {
    case 'stage':
      return e.status === 'start' ? `stage ${e.stage} started${e.detail ? `: ${e.detail}` : ''}` : `stage ${e.stage} finished${e.seconds !== undefined ? ` in ${e.seconds.toFixed(1)} s` : ''}`;
    case 'log':
      return `[${e.level}] ${e.message}`;
    case 'checkpoint':
      return `checkpoint at step ${e.step}`;
    case 'eval':
      return `evaluation at step ${e.step}: accuracy ${(e.accuracy * 100).toFixed(2)} %, agreement ${(e.agreement * 100).toFixed(2)} %${e.best ? ' (best so far)' : ''}`;
    case 'paused':
      return `paused at step ${e.step}`;
    case 'resumed':
      return `resumed at step ${e.step}`;
    case 'done':
      return `done: ${e.status}`;
    case 'error':
      return `error (${e.code}): ${e.message}`;
    default:
      return null; // step and progress: too many for the log; metrics.jsonl has the steps
  }
}

export interface ServedWorker {
  /** Reports an error nothing else caught (the entry's uncaughtException handler): posts `failed`, exits 1. */
  fail(e: unknown): Promise<void>;
}

/** Serves one job over `channel`. Returns at once; the work goes on in the background. */
export function serveWorker(channel: WorkerChannel, o: WorkerRuntimeOptions): ServedWorker {
  const pid = o.pid ?? process.pid;
  const abort = new AbortController();
  let paused = false;
  let started = false;
  let ending = false;
  let logFile: string | null = null;
  const early: string[] = [];

  const log = (line: string) => {
    const text = `${new Date().toISOString()} ${line.replace(/\s*\n\s*/g, ' ')}`;
    if (logFile) {
      try {
        appendFileSync(logFile, text + '\n');
      } catch {
        // the log is a convenience; never let it stop the job
      }
    } else early.push(text);
    return channel.post({ type: 'log', line: text });
  };

  const end = async (code: number, last?: WorkerMessage) => {
    if (ending) return;
    ending = true;
    if (last) await channel.post(last);
    await log(`worker ${pid} exiting with code ${code}`);
    o.exit(code);
  };

  const run = async (m: StartMessage) => {
    mkdirSync(m.runDir, { recursive: true });
    logFile = path.join(m.runDir, 'worker.log');
    for (const line of early.splice(0)) appendFileSync(logFile, line + '\n');
    const fromCheckpoint = checkpointStep(m.runDir) !== null;
    const resume = m.resume && fromCheckpoint;
    log(`worker ${pid}: run ${m.runId} ${resume ? 'resuming from its last checkpoint' : m.resume ? 'has no checkpoint yet: starting from step 0' : 'starting'} in ${m.runDir}`);
    try {
      if (!resume) {
        // From step 0: leftovers of an earlier attempt that never reached a checkpoint go first.
        for (const f of RUN_OUTPUTS) rmSync(path.join(m.runDir, f), { recursive: true, force: true });
      }
      if (abort.signal.aborted) throw new Error('Cancelled before the job began.');
      const onEvent = (e: JobEvent) => {
        const line = eventLine(e);
        if (line) log(line);
        void channel.post({ type: 'event', event: e });
      };
      const summary = await o.runJob(m.config, {
        out: m.runDir,
        resume,
        hostFiles: HOST_FILES,
        onEvent,
        control: { signal: abort.signal, isPaused: () => paused },
      });
      await end(0, { type: 'finished', status: summary.status, summary });
    } catch (e) {
      if (abort.signal.aborted) {
        // Cancelled before training could stop at a step boundary (e.g. during the teacher pass).
        void log(`cancelled: ${describeError(e)}`);
        await channel.post({ type: 'event', event: { type: 'done', status: 'cancelled', summaryPath: null } });
        await end(0, { type: 'finished', status: 'cancelled', summary: null });
        return;
      }
      await fail(e);
    }
  };

  const fail = async (e: unknown) => {
    const message = describeError(e);
    const code = String((e as { code?: unknown })?.code ?? (e as { name?: unknown })?.name ?? 'error');
    log(`failed (${code}): ${message}`);
    if (e instanceof Error && e.stack) log(`stack: ${e.stack.split('\n').slice(1, 6).map((s) => s.trim()).join(' | ')}`);
    await channel.post({ type: 'event', event: { type: 'error', code, message } });
    await end(1, { type: 'failed', message, code });
  };

  channel.onMessage((data) => {
    let m;
    try {
      m = parseParentMessage(data);
    } catch (e) {
      log(`rejected: ${describeError(e)}`);
      return;
    }
    switch (m.type) {
      case 'start':
        if (started) {
          log('ignored a second start message (this worker runs one job)');
          return;
        }
        started = true;
        run(m).catch((e) => void fail(e));
        return;
      case 'pause':
        if (!paused) log('pause requested: the job waits at the next step');
        paused = true;
        return;
      case 'resume':
        if (paused) log('resume requested');
        paused = false;
        return;
      case 'cancel':
        log('cancel requested: stopping after this step (a checkpoint is written)');
        abort.abort();
        if (!started) void end(0);
        return;
    }
  });

  channel.onDisconnect(() => {
    // The app went away: stop at the next step boundary with a checkpoint, so the run can be resumed.
    void log('the app disconnected: stopping after this step (a checkpoint is written)');
    abort.abort();
    if (!started) void end(0);
  });

  void channel.post({ type: 'ready', pid });
  return { fail };
}
