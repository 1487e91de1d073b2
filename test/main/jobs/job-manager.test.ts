// The job manager with real worker processes (child_process.fork of src/main/worker.ts through
// tsx), on a tiny project the engine generates: queueing, progress events, pause, cancel and
// resume, a worker killed mid-run, the app going away mid-run, and history after a reopen.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForkWorker, WorkerHandle } from '../../../src/main/jobs/channel';
import { JobManager } from '../../../src/main/jobs/job-manager';
import { nodeFork } from '../../../src/main/jobs/node-fork';
import type { AppEvent, RunInfo } from '../../../src/shared/api';
import type { JobConfigInput } from '../../../src/shared/job-config';
import { REPO_ROOT } from '../../support/shared';
import { makeTinyProject, type TinyProject } from '../../support/tiny-project';
import { comparableMetrics, processGone, Recorder, sleep, waitFor } from './helpers';

const WORKER = path.join(REPO_ROOT, 'src', 'main', 'worker.ts');
const HOST = path.join(REPO_ROOT, 'test', 'main', 'jobs', 'host.ts');
const root = mkdtempSync(path.join(tmpdir(), 'ds-jobs-'));
const runsRoot = path.join(root, 'runs');
const cacheDir = path.join(root, 'cache');

let p: TinyProject;
let manager: JobManager;
let rec: Recorder;
const handles: WorkerHandle[] = [];
const managers: JobManager[] = [];

const baseFork = nodeFork({ execArgv: ['--import', 'tsx'] });
const fork: ForkWorker = (modulePath, args) => {
  const h = baseFork(modulePath, args);
  handles.push(h);
  return h;
};

function newManager(root = runsRoot): JobManager {
  const m = new JobManager({ runsRoot: root, fork, workerPath: WORKER, defaults: { cacheDir, provider: 'cpu' } });
  managers.push(m);
  return m;
}

/** 3 epochs of 30 batches; evaluation every 10 steps, a checkpoint every 7. */
const job = (extra: JobConfigInput = {}): JobConfigInput => ({
  teacher: p.teacherDir,
  student: p.studentDir,
  train: p.trainFile,
  valid: p.validFile,
  epochs: 3,
  batchSize: 16,
  lr: 3e-3,
  evalEvery: 10,
  checkpointEvery: 7,
  order: 'file',
  dropout: false,
  ...extra,
});

interface Reference {
  id: string;
  summary: Record<string, unknown> & { final: unknown; best: { step: number }; steps: number };
  metrics: Record<string, unknown>[];
  onnx: Buffer;
}
let ref: Reference;
const expected: Record<string, RunInfo['status']> = {};

async function expectSameAsReference(id: string, m = manager) {
  const d = await m.get(id);
  const s = d.summary as Reference['summary'];
  expect(s.status).toBe('completed');
  expect(s.steps).toBe(ref.summary.steps);
  expect(s.final).toEqual(ref.summary.final);
  expect(s.best.step).toBe(ref.summary.best.step);
  expect(comparableMetrics(d.metrics)).toEqual(comparableMetrics(ref.metrics));
  expect(readFileSync(path.join(d.run.dir, 'export', 'model.onnx')).equals(ref.onnx)).toBe(true);
}

const stepAtLeast = (n: number) => (e: { type: string; step?: number }) => e.type === 'step' && (e.step ?? 0) >= n;

beforeAll(async () => {
  p = await makeTinyProject(path.join(root, 'project'));
  manager = newManager();
  rec = new Recorder(manager);
}, 120_000);

afterAll(async () => {
  await Promise.all(managers.map((m) => m.shutdown(5_000)));
  for (const h of handles) if (h.pid && !processGone(h.pid)) h.kill();
  rmSync(root, { recursive: true, force: true });
});

describe('JobManager with worker processes', () => {
  it('runs one job at a time: progress events, completed with a summary; the second run waits in the queue', async () => {
    const a = await manager.start(job());
    const b = await manager.start(job({ maxSteps: 20 }));
    expect(a.status).toBe('running');
    expect(b.status).toBe('queued');
    expect(a.id).not.toBe(b.id);
    expect(a.dir).toBe(path.join(runsRoot, a.id));
    expect(a).toMatchObject({ teacher: p.teacherDir, student: p.studentDir, train: p.trainFile, error: null, log: [] });

    await rec.job(a.id, stepAtLeast(5));
    const during = await manager.list();
    expect(during.find((r) => r.id === a.id)?.status).toBe('running');
    expect(during.find((r) => r.id === b.id)?.status).toBe('queued');
    expect(rec.jobEvents(b.id)).toEqual([]);

    const aDone = await rec.status(a.id, ['completed', 'failed', 'interrupted']);
    const bRunning = await rec.status(b.id, ['running']);
    expect(bRunning).toBeGreaterThan(aDone);
    await rec.status(b.id, ['completed', 'failed', 'interrupted']);

    // a's events: stages, steps (at most 10 per second), evaluations, done.
    const evs = rec.jobEvents(a.id);
    const types = new Set(evs.map((r) => r.e.kind === 'job' && r.e.event.type));
    for (const t of ['stage', 'step', 'eval', 'checkpoint', 'done']) expect(types.has(t as never), t).toBe(true);
    const steps = evs.filter((r) => r.e.kind === 'job' && r.e.event.type === 'step');
    expect(steps.length).toBeGreaterThan(3);
    expect(steps.length).toBeLessThan(90);
    // ≤ 10 per second: 100 ms apart, but for the last one (sent as training ends, before 'stage train end').
    for (let i = 1; i < steps.length - 1; i++) expect(steps[i].at - steps[i - 1].at).toBeGreaterThanOrEqual(95);
    const last = evs.at(-1)!.e as Extract<AppEvent, { kind: 'job' }>;
    expect(last.event).toMatchObject({ type: 'done', status: 'completed' });
    const lastStep = steps.at(-1)!.e as Extract<AppEvent, { kind: 'job' }>;
    expect(lastStep.event).toMatchObject({ type: 'step', step: 90, totalSteps: 90 });
    expect(evs.filter((r) => r.e.kind === 'job' && r.e.event.type === 'eval')).toHaveLength(9);

    const da = await manager.get(a.id);
    expect(da.run).toMatchObject({ status: 'completed', step: 90, totalSteps: 90, error: null });
    expect(da.run.bestAccuracy).toBeGreaterThan(0.9);
    expect(da.summary).toMatchObject({ status: 'completed', steps: 90 });
    expect((da.config as { job: { epochs: number } }).job.epochs).toBe(3);
    expect(da.metrics.filter((m) => m.type === 'step')).toHaveLength(90);
    ref = {
      id: a.id,
      summary: da.summary as Reference['summary'],
      metrics: da.metrics,
      onnx: readFileSync(path.join(da.run.dir, 'export', 'model.onnx')),
    };
    expect(readFileSync(path.join(da.run.dir, 'worker.log'), 'utf8')).toMatch(/done: completed/);
    expect((await manager.get(b.id)).summary).toMatchObject({ status: 'completed', steps: 20 });
    expected[a.id] = expected[b.id] = 'completed';
  });

  it('a queued run can be cancelled before it starts; a job that fails reports one line and its log', async () => {
    const bad = await manager.start(job({ teacher: path.join(root, 'no', 'such', 'teacher') }));
    const queued = await manager.start(job());
    expect(queued.status).toBe('queued');
    await manager.cancel(queued.id);
    expect((await manager.list()).find((r) => r.id === queued.id)?.status).toBe('cancelled');

    const at = await rec.status(bad.id, ['failed', 'completed', 'interrupted']);
    const failed = (rec.events[at].e as Extract<AppEvent, { kind: 'run' }>).run;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/teacher folder .*no\/such\/teacher does not exist/);
    expect(failed.error).not.toMatch(/\n/);
    expect(failed.log.length).toBeGreaterThan(0);
    expect(failed.log.length).toBeLessThanOrEqual(50);
    expect(failed.log.join('\n')).toMatch(/failed/);
    await rec.job(bad.id, (e) => e.type === 'error');
    await manager.whenIdle();
    expect(rec.jobEvents(queued.id)).toEqual([]);
    expect(existsSync(path.join(runsRoot, queued.id, 'config.json'))).toBe(false);
    expected[bad.id] = 'failed';
    expected[queued.id] = 'cancelled';
  });

  it('pause: no step events while paused; resume: the run completes with the same result', async () => {
    const r = await manager.start(job());
    await rec.job(r.id, stepAtLeast(20));
    await manager.pause(r.id);
    expect((await manager.list()).find((x) => x.id === r.id)?.status).toBe('paused');
    const pausedAt = await rec.job(r.id, (e) => e.type === 'paused');
    await sleep(1000);
    expect(rec.jobEvents(r.id, pausedAt + 1).filter((x) => x.e.kind === 'job' && x.e.event.type === 'step')).toEqual([]);
    expect((await manager.get(r.id)).run.status).toBe('paused');

    const resumed = await manager.resume(r.id);
    expect(resumed.status).toBe('running');
    const resumedAt = await rec.job(r.id, (e) => e.type === 'resumed', pausedAt);
    await rec.job(r.id, (e) => e.type === 'step', resumedAt);
    await rec.status(r.id, ['completed', 'failed', 'interrupted']);
    await expectSameAsReference(r.id);
    expected[r.id] = 'completed';
  });

  it('cancel: the run stops with a checkpoint (cancelled); resume(id) continues it to the same result', async () => {
    const r = await manager.start(job());
    await rec.job(r.id, stepAtLeast(30));
    await manager.cancel(r.id);
    const at = await rec.status(r.id, ['cancelled', 'completed', 'failed', 'interrupted']);
    const cancelled = (rec.events[at].e as Extract<AppEvent, { kind: 'run' }>).run;
    expect(cancelled).toMatchObject({ status: 'cancelled', error: null });
    expect(cancelled.step).toBeGreaterThanOrEqual(30);
    expect(cancelled.step).toBeLessThan(90);
    const d = await manager.get(r.id);
    expect(d.summary).toMatchObject({ status: 'cancelled' });
    expect(existsSync(path.join(r.dir, 'checkpoints', 'latest.json'))).toBe(true);
    await rec.job(r.id, (e) => e.type === 'done' && e.status === 'cancelled');

    const again = await manager.resume(r.id);
    expect(again.status).toBe('running');
    await rec.status(r.id, ['completed', 'failed', 'interrupted', 'cancelled'], at + 1);
    await expectSameAsReference(r.id);
    expect(readFileSync(path.join(r.dir, 'worker.log'), 'utf8')).toMatch(/resuming from its last checkpoint/);
    expected[r.id] = 'completed';
  });

  it('a worker killed with SIGKILL: interrupted with the reason and the log tail; resume(id) ends like an uninterrupted run', async () => {
    const r = await manager.start(job());
    const handle = handles.at(-1)!;
    await rec.job(r.id, stepAtLeast(40));
    process.kill(handle.pid!, 'SIGKILL');
    const at = await rec.status(r.id, ['interrupted', 'failed', 'completed']);
    const dead = (rec.events[at].e as Extract<AppEvent, { kind: 'run' }>).run;
    expect(dead.status).toBe('interrupted');
    expect(dead.error).toMatch(/killed \(SIGKILL\)/);
    expect(dead.error).toMatch(/checkpoint at step \d+/);
    expect(dead.log.length).toBeGreaterThan(3);
    expect(dead.log.length).toBeLessThanOrEqual(50);
    expect(dead.log.join('\n')).toMatch(/checkpoint at step/);
    await rec.job(r.id, (e) => e.type === 'error' && e.code === 'worker-exited');
    const listed = (await manager.list()).find((x) => x.id === r.id)!;
    expect(listed).toMatchObject({ status: 'interrupted', error: dead.error });
    expect(existsSync(path.join(r.dir, 'summary.json'))).toBe(false);

    await manager.resume(r.id);
    await rec.status(r.id, ['completed', 'failed', 'interrupted'], at + 1);
    await expectSameAsReference(r.id);
    expect((await manager.get(r.id)).run).toMatchObject({ status: 'completed', error: null, log: [] });
    expected[r.id] = 'completed';
  });

  it('a new JobManager over the same folder (the app reopened) lists the earlier runs with their statuses', async () => {
    const before = await manager.list();
    expect(before.map((r) => r.id).sort()).toEqual(Object.keys(expected).sort());
    const reopened = newManager();
    const after = await reopened.list();
    expect(Object.fromEntries(after.map((r) => [r.id, r.status]))).toEqual(expected);
    expect(after).toEqual(before);
    const d = await reopened.get(ref.id);
    expect(d.metrics).toEqual(ref.metrics);
    await expect(reopened.get('no-such-run')).rejects.toThrow(/no run/);
    await expect(reopened.get('../etc')).rejects.toThrow(/no run/);
    await expect(reopened.resume(ref.id)).rejects.toThrow(/completed/);
  });

  it('the app going away mid-run leaves an interrupted run that a reopened app resumes to the same result', async () => {
    const root2 = path.join(root, 'runs-app-closed');
    const host = spawn(process.execPath, ['--import', 'tsx', HOST, root2, JSON.stringify({ ...job(), cacheDir, provider: 'cpu' }), WORKER], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const hostEvents = new Recorder({ on: () => undefined });
    let workerPid = 0;
    let runId = '';
    let buf = '';
    host.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const o = JSON.parse(l);
        if (o.host === 'forked') workerPid = o.pid;
        else if (o.host === 'started') runId = o.id;
        else hostEvents.push(o as AppEvent);
      }
    });
    await hostEvents.until((e) => e.kind === 'job' && e.event.type === 'checkpoint' && e.event.step >= 14, { what: 'a checkpoint in the host' });
    host.kill('SIGKILL');
    // The orphaned worker notices, stops after its step with a checkpoint, and exits.
    await waitFor(() => workerPid > 0 && processGone(workerPid), 30_000, 'the orphaned worker to exit');
    expect(runId).not.toBe('');
    const log = readFileSync(path.join(root2, runId, 'worker.log'), 'utf8');
    expect(log).toMatch(/the app disconnected/);
    expect(log).toMatch(/exiting with code 0/);

    const reopened = newManager(root2);
    const reRec = new Recorder(reopened);
    const [info] = await reopened.list();
    expect(info).toMatchObject({ id: runId, status: 'interrupted' });
    expect(info.error).toMatch(/app was closed while this run was in progress; resuming continues from the checkpoint at step \d+/);
    expect(info.log.length).toBeGreaterThan(0);
    await reopened.resume(runId);
    await reRec.status(runId, ['completed', 'failed', 'interrupted']);
    await expectSameAsReference(runId, reopened);
  });
});
