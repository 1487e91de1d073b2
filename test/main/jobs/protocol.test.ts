// The worker protocol's validators, metrics.jsonl with resume markers, and a real worker process
// that rejects malformed messages and keeps serving.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFork } from '../../../src/main/jobs/node-fork';
import { parseParentMessage, parseWorkerMessage, ProtocolError, type WorkerMessage } from '../../../src/main/jobs/protocol';
import { parseMetrics } from '../../../src/main/jobs/run-folder';
import { parseJobConfig } from '../../../src/shared/job-config';
import { REPO_ROOT } from '../../support/shared';

const root = mkdtempSync(path.join(tmpdir(), 'ds-protocol-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = parseJobConfig({ train: 'data.csv' });
const summary = {
  status: 'completed',
  steps: 90,
  epochs: 3,
  final: { accuracy: 0.9, teacherAccuracy: 1, agreement: 0.9, loss: 0.1, kl: 0.1, ce: 0.1, sentences: 96, step: 90 },
  best: { accuracy: 0.95, teacherAccuracy: 1, agreement: 0.9, loss: 0.1, kl: 0.1, ce: 0.1, sentences: 96, step: 80, checkpoint: 'checkpoints/best' },
  extra: { kept: true },
};

describe('protocol validators', () => {
  it('accepts the parent messages and fills in the job configuration defaults', () => {
    const m = parseParentMessage({ type: 'start', runId: 'r1', runDir: '/runs/r1', resume: false, config: { train: 'data.csv' } });
    expect(m).toEqual({ type: 'start', runId: 'r1', runDir: '/runs/r1', resume: false, config });
    for (const type of ['pause', 'resume', 'cancel'] as const) expect(parseParentMessage({ type })).toEqual({ type });
  });

  it('rejects malformed parent messages with one line that names the problem', () => {
    const bad: [unknown, RegExp][] = [
      [null, /Malformed message to the worker/],
      ['start', /Malformed/],
      [{}, /type/],
      [{ type: 'stop' }, /type/],
      [{ type: 'start', runId: 'r1', runDir: '/runs/r1', resume: false }, /config/],
      [{ type: 'start', runId: 'r1', runDir: '/runs/r1', resume: 'yes', config }, /resume/],
      [{ type: 'start', runId: '', runDir: '/runs/r1', resume: false, config }, /runId/],
      [{ type: 'start', runId: 'r1', runDir: '/runs/r1', resume: false, config: { ...config, epochs: -1 } }, /config\.epochs/],
      [{ type: 'start', runId: 'r1', runDir: '/runs/r1', resume: false, config: { ...config, order: 'random' } }, /config\.order/],
    ];
    for (const [data, why] of bad) {
      let err: unknown;
      try {
        parseParentMessage(data);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(data)).toBeInstanceOf(ProtocolError);
      expect((err as Error).message).toMatch(why);
      expect((err as Error).message).not.toMatch(/\n/);
    }
  });

  it('accepts the worker messages, every job event kind included (NaN losses too)', () => {
    const events = [
      { type: 'stage', stage: 'teacher', status: 'end', seconds: 1.5, detail: 'cached' },
      { type: 'progress', stage: 'teacher', done: 10, total: 100, unit: 'sentences', rate: 50, etaSeconds: null },
      { type: 'step', step: 1, totalSteps: 90, epoch: 0.03, loss: NaN, kl: 0.5, ce: 0.6, lr: 1e-4, gradNorm: Infinity, samplesPerSecond: 100 },
      { type: 'eval', step: 10, epoch: 0.3, best: true, accuracy: 0.9, teacherAccuracy: 1, agreement: 0.9, loss: 0.2, kl: 0.1, ce: 0.3, sentences: 96 },
      { type: 'checkpoint', step: 7, path: '/runs/r1/checkpoints/step-000007', best: false },
      { type: 'log', level: 'warn', message: 'careful' },
      { type: 'paused', step: 20 },
      { type: 'resumed', step: 20 },
      { type: 'done', status: 'cancelled', summaryPath: null },
      { type: 'error', code: 'ENOENT', message: 'missing' },
    ];
    for (const event of events) expect(parseWorkerMessage({ type: 'event', event })).toEqual({ type: 'event', event });
    const ok: WorkerMessage[] = [
      { type: 'ready', pid: 42 },
      { type: 'log', line: 'hello' },
      { type: 'finished', status: 'cancelled', summary: null },
      { type: 'failed', message: 'The teacher folder does not exist.', code: 'ENOENT' },
    ];
    for (const m of ok) expect(parseWorkerMessage(m)).toEqual(m);
    const finished = parseWorkerMessage({ type: 'finished', status: 'completed', summary });
    expect(finished).toEqual({ type: 'finished', status: 'completed', summary });
  });

  it('rejects malformed worker messages', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /Malformed message from the worker/],
      [{ type: 'event' }, /event/],
      [{ type: 'event', event: { type: 'step', step: '3' } }, /event/],
      [{ type: 'event', event: { type: 'stage', stage: 'cook', status: 'start' } }, /event\.stage/],
      [{ type: 'event', event: { type: 'explode' } }, /event\.type/],
      [{ type: 'log', line: 3 }, /line/],
      [{ type: 'finished', status: 'completed', summary: { status: 'completed' } }, /summary/],
      [{ type: 'finished', status: 'done', summary: null }, /status/],
      [{ type: 'failed', message: 'x' }, /code/],
      [{ type: 'ready' }, /pid/],
    ];
    for (const [data, why] of bad) {
      expect(() => parseWorkerMessage(data), JSON.stringify(data)).toThrow(ProtocolError);
      expect(() => parseWorkerMessage(data)).toThrow(why);
    }
  });
});

describe('metrics.jsonl with resume markers', () => {
  it('drops the steps after a resume point that precede its marker, and the markers', () => {
    const lines = [
      { type: 'step', step: 1, loss: 1 },
      { type: 'step', step: 2, loss: 2 },
      { type: 'eval', step: 2, accuracy: 0.5 },
      { type: 'step', step: 3, loss: 3 },
      { type: 'step', step: 4, loss: 4 },
      { type: 'resume', from_step: 2, time: 't' },
      { type: 'step', step: 3, loss: 30 },
      { type: 'step', step: 4, loss: 40 },
      { type: 'step', step: 5, loss: 50 },
      { type: 'resume', from_step: 5 },
      { type: 'step', step: 6, loss: 60 },
    ].map((o) => JSON.stringify(o));
    const text = lines.join('\n') + '\n{"type":"step","st'; // a torn last line
    expect(parseMetrics(text)).toEqual([
      { type: 'step', step: 1, loss: 1 },
      { type: 'step', step: 2, loss: 2 },
      { type: 'eval', step: 2, accuracy: 0.5 },
      { type: 'resume', from_step: 2, time: 't' },
      { type: 'step', step: 3, loss: 30 },
      { type: 'step', step: 4, loss: 40 },
      { type: 'step', step: 5, loss: 50 },
      { type: 'resume', from_step: 5 },
      { type: 'step', step: 6, loss: 60 },
    ]);
    expect(parseMetrics('')).toEqual([]);
  });
});

describe('the worker process', () => {
  it('rejects malformed messages (logged, not fatal) and exits 0 on cancel before a job', async () => {
    const runDir = path.join(root, 'run');
    const handle = nodeFork({ execArgv: ['--import', 'tsx'] })(path.join(REPO_ROOT, 'src', 'main', 'worker.ts'), []);
    const messages: unknown[] = [];
    const exited = new Promise<{ code: number | null }>((resolve) => handle.on('exit', (code) => resolve({ code })));
    let stderr = '';
    handle.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    handle.on('message', (m) => {
      messages.push(m);
      if ((m as { type: string }).type !== 'ready') return;
      const post = (x: unknown) => handle.postMessage(x as never);
      post({ type: 'start', runId: 7, runDir, resume: false, config });
      post({ type: 'start', runId: 'x', runDir, resume: false, config: { ...config, batchSize: 0 } });
      post('garbage');
      post({ type: 'cancel' });
    });
    const { code } = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const m of messages) expect(() => parseWorkerMessage(m)).not.toThrow();
    expect(messages[0]).toMatchObject({ type: 'ready', pid: handle.pid });
    const lines = messages.filter((m): m is { type: 'log'; line: string } => (m as { type: string }).type === 'log').map((m) => m.line);
    expect(lines.filter((l) => /rejected: Malformed message to the worker/.test(l))).toHaveLength(3);
    expect(lines.some((l) => /runId/.test(l))).toBe(true);
    expect(lines.some((l) => /config\.batchSize/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/exiting with code 0/);
    // No job started: nothing was written for it.
    expect(() => readFileSync(path.join(runDir, 'worker.log'))).toThrow();
  });
});
