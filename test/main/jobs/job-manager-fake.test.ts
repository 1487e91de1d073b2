// The job manager's bookkeeping with scripted in-process workers (no processes, no engine):
// the start handshake, event throttling, malformed worker messages, crashes with their output,
// workers that cannot start, the queue, shutdown, and errors for impossible requests.
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { WorkerHandle } from '../../../src/main/jobs/channel';
import { JobManager, UnknownRunError } from '../../../src/main/jobs/job-manager';
import type { ParentMessage } from '../../../src/main/jobs/protocol';
import type { AppEvent } from '../../../src/shared/api';
import type { JobEvent } from '../../../src/shared/events';
import { Recorder, sleep } from './helpers';

const root = mkdtempSync(path.join(tmpdir(), 'ds-jobs-fake-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newRoot = () => path.join(root, `runs-${++n}`);

class FakeWorker extends EventEmitter implements WorkerHandle {
  static nextPid = 1000;
  readonly pid = FakeWorker.nextPid++;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly received: ParentMessage[] = [];
  killed = false;
  constructor(readonly args: string[]) {
    super();
  }
  postMessage(m: ParentMessage) {
    this.received.push(m);
  }
  kill() {
    this.killed = true;
    setImmediate(() => this.exit(null, 'SIGTERM'));
    return true;
  }
  say(m: unknown) {
    this.emit('message', m);
  }
  event(event: JobEvent) {
    this.say({ type: 'event', event });
  }
  exit(code: number | null, signal: string | null = null) {
    this.stdout.end();
    this.stderr.end();
    setImmediate(() => this.emit('exit', code, signal));
  }
}

function setup(o: { stepIntervalMs?: number; readyTimeoutMs?: number; failFork?: boolean } = {}) {
  const workers: FakeWorker[] = [];
  const runsRoot = newRoot();
  const manager = new JobManager({
    runsRoot,
    workerPath: '/app/worker.js',
    defaults: { cacheDir: '/cache', epochs: 2 },
    stepIntervalMs: o.stepIntervalMs,
    readyTimeoutMs: o.readyTimeoutMs,
    fork: (modulePath, args) => {
      if (o.failFork) throw new Error('spawn ENOENT\nsecond line');
      expect(modulePath).toBe('/app/worker.js');
      const w = new FakeWorker(args);
      workers.push(w);
      return w;
    },
  });
  return { manager, workers, runsRoot, rec: new Recorder(manager) };
}

const step = (s: number): JobEvent => ({ type: 'step', step: s, totalSteps: 100, epoch: s / 50, loss: 1 / s, kl: 0, ce: 0, lr: 1e-3, gradNorm: 1, samplesPerSecond: 10 });
const summary = (status: 'completed' | 'cancelled' | 'early-stopped', steps: number) => ({
  status,
  steps,
  final: { accuracy: 0.8, teacherAccuracy: 1, agreement: 0.8, loss: 0.1, kl: 0.1, ce: 0.1, sentences: 10, step: steps },
  best: { accuracy: 0.85, teacherAccuracy: 1, agreement: 0.8, loss: 0.1, kl: 0.1, ce: 0.1, sentences: 10, step: steps, checkpoint: 'checkpoints/best' },
});
const jobTypes = (rec: Recorder, id: string) => rec.jobEvents(id).map((r) => (r.e as Extract<AppEvent, { kind: 'job' }>).event);

describe('JobManager (scripted workers)', () => {
  it('sends start only after ready (with the merged configuration), queued messages after it; completes on finished + exit', async () => {
    const { manager, workers, rec } = setup();
    const run = await manager.start({ train: 'data.csv', epochs: 3, threads: undefined });
    expect(run.status).toBe('running');
    const w = workers[0];
    expect(w.args).toEqual(['--run-id', run.id]);
    await manager.pause(run.id);
    expect(w.received).toEqual([]);
    w.say({ type: 'ready', pid: w.pid });
    expect(w.received.map((m) => m.type)).toEqual(['start', 'pause']);
    const start = w.received[0] as Extract<ParentMessage, { type: 'start' }>;
    expect(start).toMatchObject({ runId: run.id, runDir: run.dir, resume: false });
    expect(start.config).toMatchObject({ train: 'data.csv', epochs: 3, cacheDir: '/cache', threads: null });
    await manager.resume(run.id);
    expect(w.received.at(-1)).toEqual({ type: 'resume' });

    w.event(step(1));
    w.event({ type: 'eval', step: 1, epoch: 0.02, best: true, accuracy: 0.85, teacherAccuracy: 1, agreement: 0.8, loss: 0.1, kl: 0.1, ce: 0.1, sentences: 10 });
    w.event({ type: 'done', status: 'completed', summaryPath: '/x/summary.json' });
    w.say({ type: 'finished', status: 'completed', summary: summary('completed', 1) });
    w.exit(0);
    await rec.status(run.id, ['completed']);
    const info = (await manager.list())[0];
    expect(info).toMatchObject({ id: run.id, status: 'completed', step: 1, totalSteps: 100, bestAccuracy: 0.85, error: null, log: [] });
    expect(jobTypes(rec, run.id).map((e) => e.type)).toEqual(['step', 'eval', 'done']);
    const statuses = rec.events.filter((r) => r.e.kind === 'run').map((r) => (r.e as Extract<AppEvent, { kind: 'run' }>).run.status);
    expect(statuses).toEqual(['queued', 'running', 'paused', 'running', 'running', 'completed']);
    const file = JSON.parse(readFileSync(path.join(run.dir, 'run.json'), 'utf8'));
    expect(file).toMatchObject({ id: run.id, status: 'completed', config: { epochs: 3 } });
  });

  it('rejects an invalid configuration before creating anything', async () => {
    const { manager, workers, runsRoot } = setup();
    await expect(manager.start({ epochs: -1, lr: 7 })).rejects.toThrow(/epochs: .*; lr: /);
    expect(workers).toEqual([]);
    expect(existsSync(runsRoot) ? readdirSync(runsRoot) : []).toEqual([]);
    expect(await manager.list()).toEqual([]);
  });

  it('forwards step events at most once per interval (latest wins), the rest at once, the last step before done', async () => {
    const { manager, workers, rec } = setup({ stepIntervalMs: 100 });
    const run = await manager.start({});
    const w = workers[0];
    w.say({ type: 'ready', pid: w.pid });
    const t0 = Date.now();
    for (let s = 1; s <= 30; s++) {
      w.event(step(s));
      if (s === 10) w.event({ type: 'checkpoint', step: 10, path: '/c', best: false });
      await sleep(10);
    }
    w.event({ type: 'stage', stage: 'train', status: 'end', seconds: 1 });
    w.event({ type: 'done', status: 'completed', summaryPath: null });
    const elapsed = Date.now() - t0;
    const evs = rec.jobEvents(run.id);
    const steps = evs.filter((r) => (r.e as Extract<AppEvent, { kind: 'job' }>).event.type === 'step');
    expect(steps.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < steps.length - 1; i++) expect(steps[i].at - steps[i - 1].at).toBeGreaterThanOrEqual(95);
    const types = jobTypes(rec, run.id);
    expect(types.filter((e) => e.type === 'checkpoint')).toHaveLength(1);
    expect(types.slice(-3)).toEqual([step(30), { type: 'stage', stage: 'train', status: 'end', seconds: 1 }, { type: 'done', status: 'completed', summaryPath: null }]);
    // Unthrottled bookkeeping: the run knows every step.
    expect((await manager.list())[0].step).toBe(30);
    w.say({ type: 'finished', status: 'completed', summary: summary('completed', 30) });
    w.exit(0);
    await manager.whenIdle();
  });

  it('rejects malformed worker messages (noted in worker.log) and keeps going', async () => {
    const { manager, workers, rec } = setup();
    const run = await manager.start({});
    const w = workers[0];
    w.say({ type: 'ready', pid: w.pid });
    w.say({ type: 'event', event: { type: 'step', step: 'three' } });
    w.say('nonsense');
    w.say({ type: 'finished', status: 'completed', summary: { status: 'completed' } });
    w.event(step(2));
    await sleep(5);
    expect(jobTypes(rec, run.id)).toEqual([step(2)]);
    const log = readFileSync(path.join(run.dir, 'worker.log'), 'utf8');
    expect(log.match(/Malformed message from the worker/g)).toHaveLength(3);
    w.say({ type: 'finished', status: 'completed', summary: summary('completed', 2) });
    w.exit(0);
    await rec.status(run.id, ['completed']);
  });

  it('a worker that dies: failed (no checkpoint) or interrupted (checkpoint), with a one-line error and its output; the next run starts', async () => {
    const { manager, workers, rec } = setup();
    const a = await manager.start({});
    const b = await manager.start({});
    expect(b.status).toBe('queued');
    const w = workers[0];
    w.say({ type: 'ready', pid: w.pid });
    w.event(step(1));
    w.say({ type: 'log', line: 'a log line' });
    for (let i = 0; i < 80; i++) w.stderr.write(`native noise ${i}\n`);
    w.stderr.write('Segmentation fault (core dumped)');
    w.exit(139);
    const at = await rec.status(a.id, ['failed', 'interrupted']);
    const dead = (rec.events[at].e as Extract<AppEvent, { kind: 'run' }>).run;
    expect(dead.status).toBe('failed');
    expect(dead.error).toBe('The worker process stopped unexpectedly (exit code 139).');
    expect(dead.log).toHaveLength(50);
    expect(dead.log.some((l) => l.includes('[stderr] Segmentation fault (core dumped)'))).toBe(true);
    expect(jobTypes(rec, a.id).at(-1)).toEqual({ type: 'error', code: 'worker-exited', message: dead.error });
    const bRunning = await rec.status(b.id, ['running']);
    expect(bRunning).toBeGreaterThan(at);

    // b has a checkpoint when its worker is killed: interrupted, and resume asks the worker to continue from it.
    const w2 = workers[1];
    w2.say({ type: 'ready', pid: w2.pid });
    mkdirSync(path.join(b.dir, 'checkpoints', 'step-000007'), { recursive: true });
    writeFileSync(path.join(b.dir, 'checkpoints', 'step-000007', 'trainer.json'), '{}');
    w2.exit(null, 'SIGKILL');
    const at2 = await rec.status(b.id, ['failed', 'interrupted']);
    expect((rec.events[at2].e as Extract<AppEvent, { kind: 'run' }>).run).toMatchObject({
      status: 'interrupted',
      error: 'The worker process was killed (SIGKILL). Resuming continues from the checkpoint at step 7.',
    });
    const again = await manager.resume(b.id);
    expect(again).toMatchObject({ status: 'running', error: null, log: [] });
    workers[2].say({ type: 'ready', pid: workers[2].pid });
    expect(workers[2].received[0]).toMatchObject({ type: 'start', runId: b.id, resume: true });
    await manager.cancel(b.id);
    expect(workers[2].received.at(-1)).toEqual({ type: 'cancel' });
    workers[2].say({ type: 'finished', status: 'cancelled', summary: null });
    workers[2].exit(0);
    await rec.status(b.id, ['cancelled'], at2 + 1);
    expect((await manager.get(b.id)).run).toMatchObject({ status: 'cancelled', error: null });
  });

  it('a worker that reports failure: failed with its message; one that cannot be forked or never gets ready', async () => {
    const { manager, workers, rec } = setup({ readyTimeoutMs: 50 });
    const a = await manager.start({});
    workers[0].say({ type: 'ready', pid: 1 });
    workers[0].say({ type: 'failed', message: 'The teacher folder /x does not exist.', code: 'ENOENT' });
    workers[0].exit(1);
    await rec.status(a.id, ['failed']);
    expect((await manager.get(a.id)).run.error).toBe('The teacher folder /x does not exist.');

    const b = await manager.start({});
    const at = await rec.status(b.id, ['failed']);
    expect(workers[1].killed).toBe(true);
    expect((rec.events[at].e as Extract<AppEvent, { kind: 'run' }>).run.error).toBe('The worker did not start within 50 ms.');

    const broken = setup({ failFork: true });
    const brokenRec = new Recorder(broken.manager);
    const c = await broken.manager.start({});
    await brokenRec.status(c.id, ['failed']);
    const info = (await broken.manager.list())[0];
    expect(info).toMatchObject({ id: c.id, status: 'failed', error: 'Could not start the worker: spawn ENOENT second line' });
  });

  it('history without live workers: running/paused/queued on disk → interrupted; CLI folders; bad ids', async () => {
    const { manager, workers, runsRoot } = setup();
    const a = await manager.start({});
    const b = await manager.start({});
    workers[0].say({ type: 'ready', pid: 1 });
    await manager.pause(a.id);
    // Another manager over the same folder sees no worker of its own for these runs.
    const other = new JobManager({ runsRoot, workerPath: '/w', fork: () => { throw new Error('no'); } });
    const listed = Object.fromEntries((await other.list()).map((r) => [r.id, r]));
    expect(listed[a.id]).toMatchObject({ status: 'interrupted', error: 'The app was closed while this run was paused.' });
    expect(listed[b.id]).toMatchObject({ status: 'interrupted', error: 'The app was closed before this run started.' });

    // A folder the CLI made (config.json and summary.json, no run.json) is listed too.
    const cli = path.join(runsRoot, 'cli-run');
    mkdirSync(cli);
    writeFileSync(path.join(cli, 'config.json'), JSON.stringify({ job: { train: 'a.csv' }, createdAt: '2020-01-01T00:00:00.000Z' }));
    writeFileSync(path.join(cli, 'summary.json'), JSON.stringify(summary('early-stopped', 40)));
    mkdirSync(path.join(runsRoot, 'not-a-run'));
    const all = await other.list();
    expect(all).toHaveLength(3);
    expect(new Set(all.slice(0, 2).map((r) => r.id))).toEqual(new Set([a.id, b.id]));
    expect(all.at(-1)).toMatchObject({ id: 'cli-run', status: 'early-stopped', step: 40, bestAccuracy: 0.85, train: 'a.csv' });
    expect((await other.get('cli-run')).config).toMatchObject({ job: { train: 'a.csv' } });
    expect((await other.get(b.id)).config).toMatchObject({ job: { train: 'sst2', cacheDir: '/cache' } });

    await expect(other.get('nope')).rejects.toBeInstanceOf(UnknownRunError);
    await expect(other.pause('../x')).rejects.toBeInstanceOf(UnknownRunError);
    await expect(other.cancel('nope')).rejects.toBeInstanceOf(UnknownRunError);
    await expect(other.resume('cli-run')).rejects.toThrow(/early-stopped: there is nothing to resume/);
    await expect(manager.pause(b.id)).rejects.toThrow(/is queued: only a running run can be paused/);
    await manager.cancel(b.id);
    workers[0].say({ type: 'finished', status: 'completed', summary: summary('completed', 3) });
    workers[0].exit(0);
    await manager.whenIdle();
    expect(workers).toHaveLength(1);
    expect(Object.fromEntries((await other.list()).map((r) => [r.id, r.status]))).toEqual({ [a.id]: 'completed', [b.id]: 'cancelled', 'cli-run': 'early-stopped' });
    expect(existsSync(path.join(runsRoot, b.id, 'run.json'))).toBe(true);
  });

  it('shutdown: the running job is asked to stop and is recorded as interrupted; nothing new starts', async () => {
    const { manager, workers, rec } = setup();
    const a = await manager.start({});
    const b = await manager.start({});
    workers[0].say({ type: 'ready', pid: 1 });
    const done = manager.shutdown(1000);
    expect(workers[0].received.at(-1)).toEqual({ type: 'cancel' });
    workers[0].say({ type: 'finished', status: 'cancelled', summary: summary('cancelled', 5) });
    workers[0].exit(0);
    await done;
    expect(workers).toHaveLength(1);
    const listed = Object.fromEntries((await manager.list()).map((r) => [r.id, r.status]));
    expect(listed).toEqual({ [a.id]: 'interrupted', [b.id]: 'queued' });
    expect(rec.events.some((r) => r.e.kind === 'run' && r.e.run.id === b.id && r.e.run.status === 'running')).toBe(false);
    await expect(manager.start({})).rejects.toThrow(/shut down/);
  });
});
