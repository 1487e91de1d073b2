// The job manager: runs distillation jobs one at a time, each in its own worker process, and
// keeps their history in run folders under `runsRoot`:
//
//   runsRoot/<id>/run.json     status, configuration, progress, error and log tail (this file)
//   runsRoot/<id>/worker.log   the worker's own log lines, plus its stdout/stderr as seen here
//   runsRoot/<id>/…            the engine's run folder: config.json, metrics.jsonl, checkpoints/, summary.json
//
// Events (an EventEmitter of AppEvent): every event is emitted as 'event', and also under its
// kind: 'job' ({kind:'job', runId, event}: the worker's JobEvents; 'step' and 'progress' at most
// 10 per second per run, everything else as it comes) and 'run' ({kind:'run', run}: a run's
// RunInfo whenever its status, or its best accuracy, changes).
//
// The worker is started through the injected `fork` so this file never imports 'electron':
//   Electron:  fork: utilityProcessFork(utilityProcess), workerPath: join(__dirname, 'worker.js')
//   Node:      fork: nodeFork({ execArgv: ['--import', 'tsx'] }), workerPath: 'src/main/worker.ts'
import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { writeJsonAtomic } from '../../engine/fsutil/atomic';
import type { AppEvent, AppEventJob, AppEventRun, RunDetails, RunInfo, RunStatus } from '../../shared/api';
import type { JobEvent } from '../../shared/events';
import { parseJobConfig, type JobConfig, type JobConfigInput } from '../../shared/job-config';
import type { ForkWorker, WorkerHandle } from './channel';
import { parseWorkerMessage, type ParentMessage, type WorkerMessage } from './protocol';
import {
  checkpointStep,
  readEngineConfig,
  readJsonObject,
  readMetrics,
  readRunFile,
  readSummary,
  RUN_FILE,
  tailLines,
  WORKER_LOG,
  type RunFile,
} from './run-folder';

export interface JobManagerOptions {
  /** The folder holding one folder per run. */
  runsRoot: string;
  /** Starts a worker process: utilityProcess.fork in Electron, child_process.fork in Node (see channel.ts / node-fork.ts). */
  fork: ForkWorker;
  /** The worker entry (out/main/worker.js when built; src/main/worker.ts with tsx). */
  workerPath: string;
  /** Settings applied under every job's own configuration (cache folder, provider, threads …). */
  defaults?: Partial<JobConfig>;
  /** Minimum milliseconds between two forwarded 'step' (and 'progress') events of one run (default 100: ≤ 10/s). */
  stepIntervalMs?: number;
  /** Lines of worker.log kept with a failed or interrupted run (default 50). */
  logTailLines?: number;
  /** A worker that has not said 'ready' after this long is stopped (default 120 s). */
  readyTimeoutMs?: number;
  /** A cancelled worker that has not ended after this long is stopped (default 120 s). */
  cancelGraceMs?: number;
  /** A worker that reported its result but has not ended after this long is stopped (default 15 s). */
  exitTimeoutMs?: number;
}

export interface JobManagerEvents {
  event: [AppEvent];
  job: [AppEventJob];
  run: [AppEventRun];
}

type Result = Extract<WorkerMessage, { type: 'finished' | 'failed' }>;

interface Throttle {
  last: number;
  pending: JobEvent | null;
  timer: NodeJS.Timeout | null;
}

/** A run this manager has touched: its run.json in memory, and its worker while one runs. */
interface Live {
  dir: string;
  file: RunFile;
  /** Whether the next worker continues from the last checkpoint. */
  resume: boolean;
  worker: WorkerHandle | null;
  ready: boolean;
  outbox: ParentMessage[];
  result: Result | null;
  /** Why this manager asked the worker to stop. */
  stop: 'cancel' | 'shutdown' | null;
  /** Why this manager killed the worker, when it did. */
  killReason: string | null;
  timers: Set<NodeJS.Timeout>;
  throttles: Map<string, Throttle>;
  /** The last lines the worker reported ('log' messages and output), in case worker.log is unreadable. */
  memLog: string[];
  dirty: boolean;
  writing: Promise<void> | null;
}

const ACTIVE: ReadonlySet<RunStatus> = new Set(['queued', 'running', 'paused']);
const RESUMABLE: ReadonlySet<RunStatus> = new Set(['failed', 'interrupted', 'cancelled']);
const THROTTLED: ReadonlySet<JobEvent['type']> = new Set(['step', 'progress']);
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
const duration = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`);

export class UnknownRunError extends Error {
  constructor(readonly runId: string) {
    super(`There is no run "${runId}".`);
    this.name = 'UnknownRunError';
  }
}

export class JobManager extends EventEmitter<JobManagerEvents> {
  private readonly runsRoot: string;
  private readonly forkWorker: ForkWorker;
  private readonly workerPath: string;
  private readonly defaults: Partial<JobConfig>;
  private readonly stepIntervalMs: number;
  private readonly logTail: number;
  private readonly readyTimeoutMs: number;
  private readonly cancelGraceMs: number;
  private readonly exitTimeoutMs: number;
  private readonly runs = new Map<string, Live>();
  private readonly queue: Live[] = [];
  private active: Live | null = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(o: JobManagerOptions) {
    super();
    this.runsRoot = path.resolve(o.runsRoot);
    this.forkWorker = o.fork;
    this.workerPath = o.workerPath;
    this.defaults = o.defaults ?? {};
    this.stepIntervalMs = o.stepIntervalMs ?? 100;
    this.logTail = o.logTailLines ?? 50;
    this.readyTimeoutMs = o.readyTimeoutMs ?? 120_000;
    this.cancelGraceMs = o.cancelGraceMs ?? 120_000;
    this.exitTimeoutMs = o.exitTimeoutMs ?? 15_000;
  }

  // --- the API ---------------------------------------------------------------------------

  /** Validates the configuration, creates the run folder and queues the run (it starts at once when nothing else runs). */
  async start(input: JobConfigInput): Promise<RunInfo> {
    if (this.closed) throw new Error('The job manager is shut down.');
    const given = Object.fromEntries(Object.entries(input ?? {}).filter(([, v]) => v !== undefined));
    const config = parseJobConfig({ ...this.defaults, ...given });
    await mkdir(this.runsRoot, { recursive: true });
    const { id, dir } = this.createRunFolder();
    const now = new Date().toISOString();
    const live = this.track(dir, {
      format: 1,
      id,
      createdAt: now,
      status: 'queued',
      config,
      attemptStartedAt: null,
      updatedAt: now,
      step: 0,
      totalSteps: null,
      bestAccuracy: null,
      error: null,
      log: [],
    });
    live.resume = false;
    this.queue.push(live);
    await this.persist(live);
    this.emitRun(live);
    this.pump();
    return this.liveInfo(live);
  }

  /** Pauses a running run at its next step (the worker stays alive, waiting). */
  async pause(id: string): Promise<void> {
    const live = this.runs.get(this.checkId(id));
    if (!live || live !== this.active || !live.worker || live.result) {
      const status = live?.file.status ?? (await this.diskInfo(id))?.status;
      if (!status) throw new UnknownRunError(id);
      throw new Error(`Run ${id} is ${status}: only a running run can be paused.`);
    }
    if (live.file.status === 'paused' || live.stop) return;
    this.send(live, { type: 'pause' });
    await this.setStatus(live, 'paused');
  }

  /**
   * Continues a run: a paused run goes on; an interrupted, failed or cancelled run is queued
   * again and continues from its last checkpoint (from step 0 when it has none).
   */
  async resume(id: string): Promise<RunInfo> {
    this.checkId(id);
    if (this.closed) throw new Error('The job manager is shut down.');
    let live = this.runs.get(id);
    if (live && live === this.active) {
      if (live.file.status === 'paused' && !live.stop) {
        this.send(live, { type: 'resume' });
        await this.setStatus(live, 'running');
      }
      return this.liveInfo(live);
    }
    if (live && live.file.status === 'queued') return this.liveInfo(live);
    if (!live) {
      const info = await this.diskInfo(id);
      if (!info) throw new UnknownRunError(id);
      if (!RESUMABLE.has(info.status)) throw new Error(`Run ${id} is ${info.status}: there is nothing to resume.`);
      const dir = this.dirOf(id);
      const config = readRunFile(dir)?.config ?? readEngineConfig(dir);
      if (!config) throw new Error(`Run ${id} cannot be resumed: its configuration (run.json / config.json) is missing or damaged.`);
      live = this.track(dir, {
        format: 1,
        id,
        createdAt: info.createdAt,
        status: info.status,
        config,
        attemptStartedAt: null,
        updatedAt: new Date().toISOString(),
        step: info.step,
        totalSteps: info.totalSteps,
        bestAccuracy: info.bestAccuracy,
        error: info.error,
        log: info.log,
      });
    }
    if (!RESUMABLE.has(live.file.status)) throw new Error(`Run ${id} is ${live.file.status}: there is nothing to resume.`);
    live.resume = true;
    live.file.error = null;
    live.file.log = [];
    this.queue.push(live);
    const written = this.setStatus(live, 'queued');
    this.pump();
    await written;
    return this.liveInfo(live);
  }

  /**
   * Cancels a run. A queued run leaves the queue; a running or paused one stops after its current
   * step with a checkpoint written (resume() continues it later). Finished runs are left alone.
   */
  async cancel(id: string): Promise<void> {
    const live = this.runs.get(this.checkId(id));
    if (!live) {
      if (!(await this.diskInfo(id))) throw new UnknownRunError(id);
      return; // not running here: nothing to stop
    }
    const queued = this.queue.indexOf(live);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      await this.setStatus(live, 'cancelled');
      return;
    }
    if (live !== this.active || !live.worker || live.result || live.stop) return;
    live.stop = 'cancel';
    this.send(live, { type: 'cancel' });
    this.later(live, this.cancelGraceMs, () => this.kill(live, `The worker did not stop within ${duration(this.cancelGraceMs)} of the cancel request and was ended.`));
  }

  /** Every run under runsRoot, newest first. */
  async list(): Promise<RunInfo[]> {
    await this.flushWrites();
    let names: string[];
    try {
      names = readdirSync(this.runsRoot, { withFileTypes: true })
        .filter((d) => d.isDirectory() && ID_PATTERN.test(d.name))
        .map((d) => d.name);
    } catch {
      return [];
    }
    const infos: RunInfo[] = [];
    for (const name of names) {
      const live = this.runs.get(name);
      const info = live ? this.liveInfo(live) : await this.diskInfo(name);
      if (info) infos.push(info);
    }
    return infos.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
  }

  /** One run with its configuration (config.json, or {job} before the engine wrote it), summary and metrics. */
  async get(id: string): Promise<RunDetails> {
    this.checkId(id);
    await this.flushWrites();
    const live = this.runs.get(id);
    const run = live ? this.liveInfo(live) : await this.diskInfo(id);
    if (!run) throw new UnknownRunError(id);
    const dir = this.dirOf(id);
    const engineConfig = readJsonObject(path.join(dir, 'config.json'));
    const job = live?.file.config ?? readRunFile(dir)?.config ?? null;
    return {
      run,
      config: engineConfig ?? (job ? { job } : null),
      summary: readJsonObject(path.join(dir, 'summary.json')),
      metrics: readMetrics(dir),
    };
  }

  /** Resolves when no run is running or queued. */
  whenIdle(): Promise<void> {
    if (!this.active && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * For app shutdown: the running job stops after its current step with a checkpoint (it shows as
   * interrupted, resumable, next time); queued runs stay queued on disk (interrupted next time).
   */
  async shutdown(graceMs = 30_000): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    const live = this.active;
    if (live?.worker) {
      const idle = this.whenIdle();
      if (!live.stop || live.stop === 'cancel') {
        live.stop = 'shutdown';
        this.send(live, { type: 'cancel' });
      }
      this.later(live, graceMs, () => this.kill(live, 'The app was closing and the worker did not stop in time.'));
      await idle;
    }
    await this.flushWrites();
  }

  // --- run folders ---------------------------------------------------------------------------

  private checkId(id: string): string {
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new UnknownRunError(String(id));
    return id;
  }

  private dirOf(id: string): string {
    return path.join(this.runsRoot, this.checkId(id));
  }

  private createRunFolder(): { id: string; dir: string } {
    const stamp = new Date().toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
    for (let attempt = 0; ; attempt++) {
      const id = `${stamp}-${randomBytes(3).toString('hex')}`;
      const dir = path.join(this.runsRoot, id);
      try {
        mkdirSync(dir);
        return { id, dir };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 20) throw e;
      }
    }
  }

  private track(dir: string, file: RunFile): Live {
    const live: Live = {
      dir,
      file,
      resume: false,
      worker: null,
      ready: false,
      outbox: [],
      result: null,
      stop: null,
      killReason: null,
      timers: new Set(),
      throttles: new Map(),
      memLog: [],
      dirty: false,
      writing: null,
    };
    this.runs.set(file.id, live);
    return live;
  }

  /** Writes run.json (coalesced: one write in flight, the latest state wins). */
  private persist(live: Live): Promise<void> {
    live.file.updatedAt = new Date().toISOString();
    live.dirty = true;
    if (!live.writing) {
      live.writing = (async () => {
        try {
          while (live.dirty) {
            live.dirty = false;
            await writeJsonAtomic(path.join(live.dir, RUN_FILE), live.file);
          }
        } catch (e) {
          this.note(live, `[manager] could not save ${RUN_FILE}: ${oneLine((e as Error).message)}`);
        } finally {
          live.writing = null;
        }
      })();
    }
    return live.writing;
  }

  private async flushWrites(): Promise<void> {
    await Promise.all([...this.runs.values()].map((l) => l.writing));
  }

  /** A line in the run's worker.log, written by the manager (e.g. the worker's stderr). */
  private note(live: Live, line: string) {
    live.memLog.push(line);
    if (live.memLog.length > this.logTail) live.memLog.splice(0, live.memLog.length - this.logTail);
    try {
      appendFileSync(path.join(live.dir, WORKER_LOG), `${new Date().toISOString()} ${line}\n`);
    } catch {
      // the folder is gone or read-only: the in-memory tail still has it
    }
  }

  private async logTailOf(live: Live): Promise<string[]> {
    const lines = await tailLines(path.join(live.dir, WORKER_LOG), this.logTail);
    return lines.length ? lines : [...live.memLog];
  }

  // --- RunInfo ---------------------------------------------------------------------------

  private infoFrom(dir: string, file: RunFile, status: RunStatus, extra: Partial<RunInfo> = {}): RunInfo {
    return {
      id: file.id,
      dir,
      status,
      createdAt: file.createdAt,
      teacher: file.config.teacher,
      student: file.config.student,
      train: file.config.train,
      bestAccuracy: file.bestAccuracy,
      step: file.step,
      totalSteps: file.totalSteps,
      error: file.error,
      log: [...file.log],
      ...extra,
    };
  }

  private liveInfo(live: Live): RunInfo {
    return this.infoFrom(live.dir, live.file, live.file.status);
  }

  /**
   * A run this manager has no worker for, from its folder alone. run.json saying queued, running
   * or paused means the app that ran it went away: the run is interrupted (unless the engine
   * finished it, as summary.json written during that attempt shows).
   */
  private async diskInfo(id: string): Promise<RunInfo | null> {
    const dir = this.dirOf(id);
    const file = readRunFile(dir);
    const summary = readSummary(dir);
    if (file) {
      if (!ACTIVE.has(file.status)) return this.infoFrom(dir, file, file.status);
      const attempt = file.attemptStartedAt ? Date.parse(file.attemptStartedAt) : Infinity;
      // A 'cancelled' summary here is the worker stopping because the app went away, not the user.
      if (summary && summary.writtenAt >= attempt && summary.status !== 'cancelled') {
        return this.infoFrom(dir, file, summary.status, { step: summary.steps, bestAccuracy: summary.bestAccuracy ?? file.bestAccuracy });
      }
      const ckpt = checkpointStep(dir);
      const error =
        file.status === 'queued'
          ? 'The app was closed before this run started.'
          : `The app was closed while this run was ${file.status === 'paused' ? 'paused' : 'in progress'}${ckpt !== null ? `; resuming continues from the checkpoint at step ${ckpt}` : ''}.`;
      return this.infoFrom(dir, file, 'interrupted', { error, log: await tailLines(path.join(dir, WORKER_LOG), this.logTail), step: ckpt ?? file.step });
    }
    // No run.json: a run folder made elsewhere (e.g. by the CLI).
    const config = readEngineConfig(dir);
    if (!config) return null;
    const createdAt = String(readJsonObject(path.join(dir, 'config.json'))?.createdAt ?? new Date(0).toISOString());
    const base: RunFile = {
      format: 1,
      id,
      createdAt,
      status: summary?.status ?? 'interrupted',
      config,
      attemptStartedAt: null,
      updatedAt: createdAt,
      step: summary?.steps ?? checkpointStep(dir) ?? 0,
      totalSteps: null,
      bestAccuracy: summary?.bestAccuracy ?? null,
      error: null,
      log: [],
    };
    if (summary) return this.infoFrom(dir, base, summary.status);
    const ckpt = checkpointStep(dir);
    return this.infoFrom(dir, base, ckpt !== null ? 'interrupted' : 'failed', {
      error: 'This run folder has no summary: the run did not finish.',
      log: await tailLines(path.join(dir, WORKER_LOG), this.logTail),
    });
  }

  // --- events ----------------------------------------------------------------------------

  private emitEvent(e: AppEvent) {
    if (e.kind === 'job') this.emit('job', e);
    else if (e.kind === 'run') this.emit('run', e);
    this.emit('event', e);
  }

  private emitRun(live: Live) {
    this.emitEvent({ kind: 'run', run: this.liveInfo(live) });
  }

  /** Records a new status (run.json is written in the background; the promise says when) and tells the listeners. */
  private setStatus(live: Live, status: RunStatus): Promise<void> {
    live.file.status = status;
    const written = this.persist(live);
    this.emitRun(live);
    return written;
  }

  /**
   * Forwards a job event: 'step'/'progress' at most once per interval (a newer one replaces one
   * still waiting; it goes out when the interval is over), everything else at once. Events that
   * end a stream of steps (paused, done, error, a stage's end) first send the waiting step, so
   * nothing about a step arrives after them.
   */
  private forward(live: Live, e: JobEvent) {
    const runId = live.file.id;
    if (!THROTTLED.has(e.type)) {
      if (e.type === 'paused' || e.type === 'done' || e.type === 'error' || (e.type === 'stage' && e.status === 'end' && e.stage !== 'evaluate')) this.flushThrottles(live);
      this.emitEvent({ kind: 'job', runId, event: e });
      return;
    }
    let t = live.throttles.get(e.type);
    if (!t) live.throttles.set(e.type, (t = { last: -Infinity, pending: null, timer: null }));
    const now = Date.now();
    if (!t.timer && now - t.last >= this.stepIntervalMs) {
      t.last = now;
      this.emitEvent({ kind: 'job', runId, event: e });
      return;
    }
    t.pending = e;
    if (!t.timer) {
      const tt = t;
      tt.timer = setTimeout(() => {
        tt.timer = null;
        if (tt.pending) {
          const pending = tt.pending;
          tt.pending = null;
          tt.last = Date.now();
          this.emitEvent({ kind: 'job', runId, event: pending });
        }
      }, Math.max(0, t.last + this.stepIntervalMs - now));
    }
  }

  /** Sends the waiting step/progress events now. */
  private flushThrottles(live: Live) {
    for (const t of live.throttles.values()) {
      if (t.timer) clearTimeout(t.timer);
      t.timer = null;
      if (t.pending) {
        const e = t.pending;
        t.pending = null;
        t.last = Date.now();
        this.emitEvent({ kind: 'job', runId: live.file.id, event: e });
      }
    }
  }

  // --- workers ---------------------------------------------------------------------------

  private pump() {
    if (this.active) return;
    const next = this.closed ? undefined : this.queue.shift();
    if (next) this.launch(next);
    else for (const w of this.idleWaiters.splice(0)) w();
  }

  private later(live: Live, ms: number, fn: () => void) {
    const t = setTimeout(() => {
      live.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    live.timers.add(t);
  }

  private kill(live: Live, reason: string) {
    if (!live.worker) return;
    live.killReason ??= reason;
    this.note(live, `[manager] ${reason}`);
    live.worker.kill();
  }

  private send(live: Live, m: ParentMessage) {
    if (!live.worker) return;
    if (!live.ready) live.outbox.push(m);
    else live.worker.postMessage(m);
  }

  private launch(live: Live) {
    this.active = live;
    Object.assign(live, { ready: false, outbox: [], result: null, stop: null, killReason: null, memLog: [] });
    live.throttles.clear();
    live.file.attemptStartedAt = new Date().toISOString();
    live.file.error = null;
    live.file.log = [];
    this.note(live, `[manager] starting a worker for run ${live.file.id}${live.resume ? ' (resume)' : ''}`);
    let handle: WorkerHandle;
    try {
      handle = this.forkWorker(this.workerPath, ['--run-id', live.file.id]);
    } catch (e) {
      live.worker = null;
      void this.settle(live, { startError: `Could not start the worker: ${oneLine((e as Error).message)}` });
      return;
    }
    live.worker = handle;
    const streams: NodeJS.ReadableStream[] = [];
    for (const [name, stream] of [['stdout', handle.stdout], ['stderr', handle.stderr]] as const) {
      if (!stream) continue;
      streams.push(stream);
      let buf = '';
      stream.setEncoding?.('utf8');
      stream.on('data', (d: string | Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) this.note(live, `[${name}] ${l.trimEnd()}`);
      });
      stream.on('end', () => {
        if (buf.trim()) this.note(live, `[${name}] ${buf.trimEnd()}`);
        buf = '';
      });
      stream.on('error', () => {});
    }
    handle.on('message', (data) => {
      if (live.worker === handle) this.onMessage(live, handle, data);
    });
    handle.on('exit', (code, signal) => {
      if (live.worker !== handle) return;
      // Let the last output lines arrive before the log tail is read.
      void Promise.all(streams.map(drained)).then(() => this.settle(live, { code, signal: signal ?? null, startError: handle.startError ?? null }));
    });
    this.later(live, this.readyTimeoutMs, () => {
      if (!live.ready) this.kill(live, `The worker did not start within ${duration(this.readyTimeoutMs)}.`);
    });
    void this.setStatus(live, 'running');
  }

  private onMessage(live: Live, handle: WorkerHandle, data: unknown) {
    let m: WorkerMessage;
    try {
      m = parseWorkerMessage(data);
    } catch (e) {
      this.note(live, `[manager] ${oneLine((e as Error).message)}`);
      return;
    }
    switch (m.type) {
      case 'ready': {
        if (live.ready) return;
        live.ready = true;
        handle.postMessage({ type: 'start', runId: live.file.id, runDir: live.dir, config: live.file.config, resume: live.resume });
        for (const queued of live.outbox.splice(0)) handle.postMessage(queued);
        return;
      }
      case 'log':
        if (m.line) {
          live.memLog.push(m.line);
          if (live.memLog.length > this.logTail) live.memLog.shift();
        }
        return;
      case 'event':
        this.onJobEvent(live, m.event);
        return;
      case 'finished':
      case 'failed':
        live.result = m;
        if (m.type === 'finished' && m.summary) {
          live.file.step = m.summary.steps;
          const best = m.summary.best;
          if (best.sentences > 0) live.file.bestAccuracy = best.accuracy;
        }
        this.later(live, this.exitTimeoutMs, () => this.kill(live, 'The worker reported its result but did not exit.'));
        return;
    }
  }

  private onJobEvent(live: Live, e: JobEvent) {
    const f = live.file;
    switch (e.type) {
      case 'step':
        f.step = e.step;
        if (f.totalSteps !== e.totalSteps) {
          f.totalSteps = e.totalSteps;
          void this.persist(live);
        }
        break;
      case 'checkpoint':
        f.step = e.step;
        void this.persist(live);
        break;
      case 'eval':
        if (e.best) {
          f.bestAccuracy = e.accuracy;
          void this.persist(live);
          this.forward(live, e);
          this.emitRun(live);
          return;
        }
        break;
    }
    this.forward(live, e);
  }

  /** The worker is gone (or never started): record the outcome and start the next run. */
  private async settle(live: Live, exit: { code?: number | null; signal?: string | null; startError?: string | null }) {
    for (const t of live.timers) clearTimeout(t);
    live.timers.clear();
    this.flushThrottles(live);
    live.worker = null;
    const r = live.result;
    const f = live.file;
    let status: RunStatus;
    let error: string | null = null;
    let reportCrash = false;
    if (r?.type === 'finished' && (r.status !== 'cancelled' || live.stop !== 'shutdown')) {
      status = r.status;
    } else if (live.stop === 'shutdown') {
      status = 'interrupted';
      error = 'The app was closed during this run; resume it to continue from its last checkpoint.';
    } else if (r?.type === 'failed') {
      status = 'failed';
      error = oneLine(r.message) || 'The job failed.';
    } else if (live.stop === 'cancel') {
      status = 'cancelled';
    } else {
      const why =
        live.killReason ??
        exit.startError ??
        (exit.signal
          ? `The worker process was killed (${exit.signal}).`
          : exit.code === 0
            ? 'The worker process ended without reporting a result.'
            : `The worker process stopped unexpectedly (exit code ${exit.code ?? 'unknown'}).`);
      const ckpt = checkpointStep(live.dir);
      status = ckpt !== null ? 'interrupted' : 'failed';
      error = oneLine(why) + (ckpt !== null ? ` Resuming continues from the checkpoint at step ${ckpt}.` : '');
      reportCrash = true;
    }
    this.note(live, `[manager] worker ended (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'none'}`}): run ${status}`);
    f.error = error;
    f.log = status === 'failed' || status === 'interrupted' ? await this.logTailOf(live) : [];
    if (reportCrash && error) this.forward(live, { type: 'error', code: 'worker-exited', message: error });
    this.active = null;
    await this.setStatus(live, status);
    this.pump();
  }
}

/** Resolves when a stream has ended (or after 1 s: a stream someone else holds open must not block). */
function drained(stream: NodeJS.ReadableStream): Promise<void> {
  const s = stream as Partial<Readable>;
  if (s.readableEnded || s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, 1000);
    stream.once('end', done);
    stream.once('close', done);
  });
}
