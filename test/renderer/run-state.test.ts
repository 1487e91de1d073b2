import { describe, expect, it } from 'vitest';
import type { AppEvent, RunDetails, RunInfo } from '../../src/shared/api';
import type { JobEvent } from '../../src/shared/events';
import {
  applyAppEvent,
  applyJobEvent,
  createRun,
  createStore,
  hydrateRun,
  LOG_LIMIT,
  runActions,
  runList,
  runProgress,
  setRunList,
  trainEta,
} from '../../src/renderer/src/lib/run-state';

const info = (over: Partial<RunInfo> = {}): RunInfo => ({
  id: 'r1',
  dir: '/runs/r1',
  status: 'running',
  createdAt: '2025-05-01T10:00:00Z',
  teacher: 'teacher',
  student: 'student',
  train: 'sst2',
  bestAccuracy: null,
  step: 0,
  totalSteps: null,
  error: null,
  log: [],
  ...over,
});
const job = (event: JobEvent, runId = 'r1'): AppEvent => ({ kind: 'job', runId, event });
const stepEv = (step: number, loss = 0.5): JobEvent => ({ type: 'step', step, totalSteps: 100, epoch: step / 20, loss, kl: 0.2, ce: 0.6, lr: 3e-4, gradNorm: 1, samplesPerSecond: 320 });
const evalEv = (step: number, accuracy: number, best: boolean): JobEvent => ({ type: 'eval', step, epoch: step / 20, best, accuracy, teacherAccuracy: 0.91, agreement: 0.9, loss: 0.3, kl: 0.1, ce: 0.4, sentences: 872 });

describe('run-state reducer', () => {
  it('tracks stages through a run', () => {
    const store = createStore();
    const t = 1000;
    applyAppEvent(store, { kind: 'run', run: info({ status: 'queued' }) }, t);
    applyAppEvent(store, job({ type: 'stage', stage: 'download', status: 'start' }), t);
    applyAppEvent(store, job({ type: 'progress', stage: 'download', done: 1e6, total: 2e6, unit: 'bytes', rate: 5e5, etaSeconds: 2 }), t);
    let run = store.runs.get('r1')!;
    expect(run.status).toBe('running');
    expect(run.currentStage).toBe('download');
    expect(run.stages.download).toMatchObject({ status: 'running', done: 1e6, total: 2e6, unit: 'bytes', rate: 5e5, etaSeconds: 2 });
    applyAppEvent(store, job({ type: 'stage', stage: 'download', status: 'end', seconds: 3 }), t);
    expect(run.stages.download).toMatchObject({ status: 'done', seconds: 3, done: 2e6, etaSeconds: null });
    // tokenize is skipped by the event stream: it is marked skipped once teacher starts
    applyAppEvent(store, job({ type: 'stage', stage: 'teacher', status: 'start', detail: '68221 sentences' }), t);
    expect(run.stages.tokenize.status).toBe('skipped');
    expect(run.stages.teacher.detail).toBe('68221 sentences');
    applyAppEvent(store, job({ type: 'stage', stage: 'teacher', status: 'end', seconds: 10, detail: 'cached' }), t);
    applyAppEvent(store, job({ type: 'stage', stage: 'train', status: 'start' }), t);
    applyAppEvent(store, job(stepEv(1)), t);
    applyAppEvent(store, job(stepEv(2)), t + 500);
    applyAppEvent(store, job(stepEv(3)), t + 1000);
    run = store.runs.get('r1')!;
    expect(run.step).toBe(3);
    expect(run.totalSteps).toBe(100);
    expect(run.stepsPerSecond).toBeCloseTo(2);
    expect(run.stages.train).toMatchObject({ status: 'running', done: 3, total: 100, unit: 'steps' });
    expect(run.stages.train.etaSeconds).toBeCloseTo(97 / 2);
    // evaluation inside training keeps train as the current stage
    applyAppEvent(store, job({ type: 'stage', stage: 'evaluate', status: 'start' }), t);
    expect(run.currentStage).toBe('train');
    expect(run.stages.evaluate.status).toBe('running');
    applyAppEvent(store, job({ type: 'stage', stage: 'evaluate', status: 'end', seconds: 1.5 }), t);
    applyAppEvent(store, job(evalEv(3, 0.8, true)), t);
    applyAppEvent(store, job(stepEv(4)), t + 1500);
    applyAppEvent(store, job({ type: 'stage', stage: 'evaluate', status: 'start' }), t);
    applyAppEvent(store, job({ type: 'stage', stage: 'evaluate', status: 'end', seconds: 1.5 }), t);
    applyAppEvent(store, job(evalEv(4, 0.78, false)), t);
    expect(run.stages.evaluate).toMatchObject({ status: 'done', seconds: 3, starts: 2 });
    expect(run.best?.accuracy).toBe(0.8);
    applyAppEvent(store, job({ type: 'stage', stage: 'export', status: 'start' }), t);
    applyAppEvent(store, job({ type: 'done', status: 'completed', summaryPath: '/runs/r1/summary.json' }), t);
    expect(run.status).toBe('completed');
    expect(run.stages.export.status).toBe('done');
    expect(run.currentStage).toBeNull();
    expect(run.summaryPath).toBe('/runs/r1/summary.json');
    expect(run.log.at(-1)?.message).toBe('Run completed.');
  });

  it('handles pause, resume, failure and log limits', () => {
    const store = createStore();
    applyAppEvent(store, job(stepEv(5)), 0);
    const run = store.runs.get('r1')!;
    expect(run.status).toBe('running');
    applyAppEvent(store, job({ type: 'paused', step: 5 }), 0);
    expect(run.status).toBe('paused');
    expect(runActions(run.status)).toMatchObject({ canPause: false, canResume: true, canCancel: true });
    applyAppEvent(store, job({ type: 'resumed', step: 5 }), 0);
    expect(run.status).toBe('running');
    for (let i = 0; i < LOG_LIMIT + 10; i++) applyAppEvent(store, job({ type: 'log', level: 'info', message: `line ${i}` }), 0);
    expect(run.log).toHaveLength(LOG_LIMIT);
    expect(run.log.at(-1)?.message).toBe(`line ${LOG_LIMIT + 9}`);
    applyAppEvent(store, job({ type: 'error', code: 'diverged', message: 'Training diverged' }), 0);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'diverged', message: 'Training diverged' });
    expect(run.stages.train.status).toBe('failed');
    expect(runActions('failed').canResume).toBe(true);
  });

  it('truncates on a live replay after a resume', () => {
    const run = createRun('r1');
    for (let s = 1; s <= 10; s++) applyJobEvent(run, stepEv(s), s * 100);
    applyJobEvent(run, evalEv(8, 0.8, true), 0);
    applyJobEvent(run, stepEv(6, 0.1), 2000);
    expect(run.steps.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run.steps.at(-1)?.loss).toBe(0.1);
    expect(run.evals).toEqual([]);
    expect(run.best).toBeNull();
  });

  it('bumps revisions on every change', () => {
    const store = createStore();
    applyAppEvent(store, job(stepEv(1)), 0);
    const run = store.runs.get('r1')!;
    const r0 = run.rev;
    const s0 = store.rev;
    applyAppEvent(store, job(stepEv(2)), 0);
    expect(run.rev).toBeGreaterThan(r0);
    expect(store.rev).toBeGreaterThan(s0);
    expect(applyAppEvent(store, { kind: 'gpu-pack', received: 5, total: 10, done: false, error: null })).toBe('');
    expect(store.gpuPack).toEqual({ received: 5, total: 10, done: false, error: null });
  });

  it('lists runs newest first and drops runs that are gone', () => {
    const store = createStore();
    setRunList(store, [info({ id: 'a', createdAt: '2025-01-01T00:00:00Z' }), info({ id: 'b', createdAt: '2025-03-01T00:00:00Z' })]);
    expect(runList(store).map((r) => r.id)).toEqual(['b', 'a']);
    setRunList(store, [info({ id: 'b', createdAt: '2025-03-01T00:00:00Z', status: 'interrupted', error: 'The app closed' })]);
    expect(runList(store).map((r) => r.id)).toEqual(['b']);
    const b = store.runs.get('b')!;
    expect(b.status).toBe('interrupted');
    expect(b.error?.message).toBe('The app closed');
    expect(runActions(b.status)).toMatchObject({ canResume: true, resumeLabel: 'Resume', canPause: false });
  });

  it('estimates the training ETA from samples/s when no step rate is known', () => {
    expect(trainEta({ step: 50, totalSteps: 100, stepsPerSecond: null, samplesPerSecond: 320, config: { job: { batchSize: 32 } } })).toBeCloseTo(5);
    expect(trainEta({ step: 50, totalSteps: 100, stepsPerSecond: null, samplesPerSecond: 320, config: { batchSize: 16 } })).toBeCloseTo(2.5);
    expect(trainEta({ step: 50, totalSteps: null, stepsPerSecond: 2, samplesPerSecond: null, config: null })).toBeNull();
    expect(runProgress({ step: 25, totalSteps: 100, status: 'running' })).toBe(0.25);
    expect(runProgress({ step: 0, totalSteps: null, status: 'completed' })).toBe(1);
  });
});

describe('hydrateRun (re-attach on reopen)', () => {
  const metrics = [
    { type: 'step', step: 1, totalSteps: 40, epoch: 0.1, loss: 1, kl: 0.5, ce: 0.7, lr: 1e-4, gradNorm: 1, samplesPerSecond: 300 },
    { type: 'step', step: 2, totalSteps: 40, epoch: 0.2, loss: 0.9, kl: 0.5, ce: 0.7, lr: 1e-4, gradNorm: 1, samplesPerSecond: 300 },
    { type: 'eval', step: 2, epoch: 0.2, accuracy: 0.7, teacherAccuracy: 0.9, agreement: 0.75, loss: 0.5, kl: 0.2, ce: 0.6, sentences: 10, best: true },
    { type: 'step', step: 3, totalSteps: 40, epoch: 0.3, loss: 0.8, kl: 0.5, ce: 0.7, lr: 1e-4, gradNorm: 1, samplesPerSecond: 300 },
    { type: 'resume', from_step: 2 },
    { type: 'step', step: 3, totalSteps: 40, epoch: 0.3, loss: 0.7, kl: 0.5, ce: 0.7, lr: 1e-4, gradNorm: 1, samplesPerSecond: 310 },
  ];

  it('rebuilds charts, the best evaluation and stages of an interrupted run', () => {
    const store = createStore();
    const d: RunDetails = { run: info({ status: 'interrupted', step: 3, totalSteps: 40, bestAccuracy: 0.7, error: 'The app closed during training', log: ['tail 1', 'tail 2'] }), config: { job: { batchSize: 8 } }, summary: null, metrics };
    const run = hydrateRun(store, d);
    expect(run.hydrated).toBe(true);
    expect(run.steps.map((p) => [p.step, p.loss])).toEqual([[1, 1], [2, 0.9], [3, 0.7]]);
    expect(run.resumes).toEqual([2]);
    expect(run.best?.accuracy).toBe(0.7);
    expect(run.step).toBe(3);
    expect(run.totalSteps).toBe(40);
    expect(run.samplesPerSecond).toBe(310);
    expect(run.stages.download.status).toBe('done');
    expect(run.stages.teacher.status).toBe('done');
    expect(run.stages.train.status).toBe('stopped');
    expect(run.log.map((l) => l.message)).toEqual(['tail 1', 'tail 2']);
    expect(runActions(run.status).canResume).toBe(true);
  });

  it('keeps live steps that arrived while getRun was in flight', () => {
    const store = createStore();
    applyAppEvent(store, job(stepEv(4)), 0);
    applyAppEvent(store, job(stepEv(5)), 0);
    const run = hydrateRun(store, { run: info({ status: 'running', step: 5 }), config: null, summary: null, metrics });
    expect(run.steps.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    expect(run.stages.train.status).toBe('running');
    expect(run.currentStage).toBe('train');
  });

  it('takes stage timings from the summary of a finished run', () => {
    const store = createStore();
    const summary = { stages: { download: { seconds: 12 }, tokenize: { seconds: 2 }, teacher: { seconds: 30 }, train: { seconds: 300 }, evaluate: { seconds: 8 }, export: { seconds: 4 } } };
    const run = hydrateRun(store, { run: info({ status: 'completed' }), config: null, summary, metrics });
    for (const s of ['download', 'tokenize', 'teacher', 'train', 'evaluate', 'export'] as const) expect(run.stages[s].status).toBe('done');
    expect(run.stages.train.seconds).toBe(300);
    expect(run.summary).toBe(summary);
  });
});
