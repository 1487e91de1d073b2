// The views rendered on the server (Svelte's SSR, in Node): every component compiles, renders
// without throwing, shows formatted numbers and carries the data-testids the end-to-end test
// uses. Effects do not run here (no DOM), so data comes in through props and the app context.
import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import type { Comparison, DataPreview, DistillApi, DoctorReport, ModelInfo, RunDetails, RunInfo } from '../../src/shared/api';
import type { AppContext } from '../../src/renderer/src/lib/context';
import type * as RunStateModule from '../../src/renderer/src/lib/run-state';
import type * as WizardModule from '../../src/renderer/src/lib/wizard';

const root = resolve(import.meta.dirname, '../../src/renderer');
let server: ViteDevServer;
type Renderer = (component: unknown, options?: { props?: Record<string, unknown>; context?: Map<unknown, unknown> }) => { body: string };
let render: Renderer;
let ctxMod: { APP_CONTEXT_KEY: symbol };
let rs: typeof RunStateModule;
let wz: typeof WizardModule;

const load = async (path: string) => (await server.ssrLoadModule(path)).default as unknown;

beforeAll(async () => {
  server = await createServer({
    configFile: false,
    root,
    logLevel: 'error',
    appType: 'custom',
    server: { middlewareMode: true, hmr: false, ws: false },
    plugins: [svelte({ configFile: false })],
  });
  render = (await server.ssrLoadModule('svelte/server')).render as Renderer;
  ctxMod = (await server.ssrLoadModule('/src/lib/context.ts')) as { APP_CONTEXT_KEY: symbol };
  rs = (await server.ssrLoadModule('/src/lib/run-state.ts')) as typeof RunStateModule;
  wz = (await server.ssrLoadModule('/src/lib/wizard.ts')) as typeof WizardModule;
}, 120_000);

afterAll(async () => {
  await server?.close();
});

const info = (over: Partial<RunInfo> = {}): RunInfo => ({
  id: 'run-1',
  dir: '/runs/run-1',
  status: 'running',
  createdAt: '2025-05-01T10:00:00Z',
  teacher: 'distilbert-base-uncased-finetuned-sst-2-english',
  student: 'prajjwal1/bert-tiny',
  train: 'sst2',
  bestAccuracy: 0.825,
  step: 3,
  totalSteps: 40,
  error: null,
  log: ['Fetching the teacher', 'Training'],
  ...over,
});

function context(store = rs.createStore(), over: Partial<AppContext> = {}): Map<unknown, unknown> {
  const api = new Proxy({}, { get: () => () => Promise.resolve(null) }) as DistillApi;
  const ctx: AppContext = {
    api,
    store,
    rev: 1,
    settings: { cacheDir: '/cache', provider: 'auto', threads: null, theme: 'system' },
    theme: 'light',
    openRun: () => {},
    newRun: () => {},
    loadRun: async () => {},
    refreshRuns: async () => {},
    updateSettings: async (p) => ({ cacheDir: '/cache', provider: 'auto', threads: null, theme: 'system', ...p }),
    flush: () => {},
    ...over,
  };
  return new Map<unknown, unknown>([[ctxMod.APP_CONTEXT_KEY, ctx]]);
}

const details = (status: RunInfo['status']): RunDetails => ({
  run: info({ status }),
  config: { job: { epochs: 5, batchSize: 32 } },
  summary: null,
  metrics: [
    { type: 'step', step: 1, totalSteps: 40, epoch: 0.1, loss: 0.9, kl: 0.5, ce: 0.7, lr: 1e-4, gradNorm: 1, samplesPerSecond: 410 },
    { type: 'step', step: 2, totalSteps: 40, epoch: 0.2, loss: 0.8, kl: 0.5, ce: 0.7, lr: 2e-4, gradNorm: 1, samplesPerSecond: 410 },
    { type: 'eval', step: 2, epoch: 0.2, accuracy: 0.825, teacherAccuracy: 0.91, agreement: 0.88, loss: 0.5, kl: 0.2, ce: 0.6, sentences: 872, best: true },
    { type: 'step', step: 3, totalSteps: 40, epoch: 0.3, loss: 0.7, kl: 0.5, ce: 0.7, lr: 3e-4, gradNorm: 1, samplesPerSecond: 420 },
  ],
});

describe('run views', () => {
  it('Monitor: stages, status, best accuracy, charts, log and controls', async () => {
    const store = rs.createStore();
    const run = rs.hydrateRun(store, details('running'));
    const Monitor = await load('/src/components/monitor/Monitor.svelte');
    const { body } = render(Monitor, { props: { run: rs.snapshotRun(run) }, context: context(store) });
    for (const s of ['download', 'tokenize', 'teacher', 'train', 'evaluate', 'export']) expect(body).toContain(`data-testid="stage-${s}"`);
    expect(body).toMatch(/data-testid="run-status"[^>]*>Running</);
    expect(body).toMatch(/data-testid="best-accuracy"[^>]*>82\.5 %</);
    expect(body).toMatch(/data-testid="run-step"[^>]*>3 of 40</);
    expect(body).toContain('data-testid="pause-run"');
    expect(body).toContain('data-testid="cancel-run"');
    expect(body).not.toContain('data-testid="resume-run"');
    for (const c of ['chart-loss', 'chart-eval', 'chart-lr']) expect(body).toContain(`data-testid="${c}"`);
    expect(body).toContain('Training');
    expect(body).toContain('data-testid="run-log"');
    expect(body).toContain('id="usage-h"'); // the computer-use panel, measuring (effects do not run here)
    expect(body).not.toMatch(/\sstyle="/);
  });

  it('Monitor: an interrupted run offers Resume and shows why it stopped', async () => {
    const store = rs.createStore();
    const d = details('interrupted');
    d.run.error = 'The app closed during training.';
    const run = rs.hydrateRun(store, d);
    const Monitor = await load('/src/components/monitor/Monitor.svelte');
    const { body } = render(Monitor, { props: { run: rs.snapshotRun(run) }, context: context(store) });
    expect(body).toMatch(/data-testid="resume-run"[^>]*>Resume</);
    expect(body).not.toContain('data-testid="pause-run"');
    expect(body).toContain('The app closed during training.');
    expect(body).toMatch(/data-testid="run-status"[^>]*>Interrupted</);
    expect(body).not.toContain('id="usage-h"');
  });

  it('RunView and RunList: tabs and the run list', async () => {
    const store = rs.createStore();
    rs.hydrateRun(store, details('completed'));
    rs.applyRunInfo(store, info({ id: 'run-0', createdAt: '2025-04-01T10:00:00Z', status: 'failed', bestAccuracy: null }));
    const RunView = await load('/src/components/run/RunView.svelte');
    const { body } = render(RunView, { props: { runId: 'run-1', tab: 'monitor', onTab: () => {} }, context: context(store) });
    for (const t of ['tab-monitor', 'tab-compare', 'tab-export']) expect(body).toContain(`data-testid="${t}"`);
    expect(body).toContain('aria-selected="true"');
    expect(body).toContain('distilbert-base-uncased-finetuned-sst-2-english → bert-tiny');
    const RunList = await load('/src/components/RunList.svelte');
    const list = render(RunList, { props: { selected: 'run-1' }, context: context(store) }).body;
    expect(list.match(/data-testid="run-item"/g)).toHaveLength(2);
    expect(list.indexOf('run-1')).toBeLessThan(list.indexOf('run-0'));
    expect(list).toContain('best 82.5 %');
  });

  it('Export tab before the first evaluation explains why it is empty', async () => {
    const store = rs.createStore();
    rs.applyRunInfo(store, info({ bestAccuracy: null, status: 'running' }));
    const RunView = await load('/src/components/run/RunView.svelte');
    const { body } = render(RunView, { props: { runId: 'run-1', tab: 'export', onTab: () => {} }, context: context(store) });
    expect(body).toContain('data-testid="no-model-yet"');
    expect(body).not.toContain('data-testid="export-button"');
  });

  it('ExportPanel: formats and the export button', async () => {
    const store = rs.createStore();
    const run = rs.hydrateRun(store, details('completed'));
    const ExportPanel = await load('/src/components/export/ExportPanel.svelte');
    const { body } = render(ExportPanel, { props: { run: rs.snapshotRun(run) }, context: context(store) });
    for (const f of ['onnx', 'onnx-int8', 'hf']) expect(body).toContain(`data-testid="export-format-${f}"`);
    expect(body).toContain('data-testid="export-button"');
    expect(body).toContain('82.5 %');
  });
});

describe('comparison views', () => {
  const cmp: Comparison = {
    labels: ['NEGATIVE', 'POSITIVE'],
    teacher: { label: 'teacher', parameters: 66_955_010, sizeBytes: 267_855_000, accuracy: 0.9106, latencyP50Ms: 12.3, latencyP95Ms: 20.1, sentencesPerSecond: 150, confusion: [[380, 48], [30, 414]] },
    student: { label: 'student', parameters: 4_386_178, sizeBytes: 17_600_000, accuracy: 0.825, latencyP50Ms: 0.9, latencyP95Ms: 1.6, sentencesPerSecond: 2400, confusion: [[350, 78], [75, 369]] },
    agreement: 0.86,
    disagreements: [{ text: 'a gorgeous , witty , seductive movie .', label: 1, teacher: [0.02, 0.98], student: [0.61, 0.39] }],
  };

  it('ComparisonTable: both sides, ratios and testids', async () => {
    const ComparisonTable = await load('/src/components/compare/ComparisonTable.svelte');
    const { body } = render(ComparisonTable, { props: { cmp }, context: context() });
    expect(body).toMatch(/data-testid="cmp-teacher-accuracy"[^>]*>91\.1 %</);
    expect(body).toMatch(/data-testid="cmp-student-accuracy"[^>]*>82\.5 %</);
    expect(body).toMatch(/data-testid="cmp-agreement"[^>]*>86\.0 %</);
    expect(body).toMatch(/data-testid="cmp-teacher-size"[^>]*>268 MB</);
    expect(body).toMatch(/data-testid="cmp-student-size"[^>]*>17\.6 MB</);
    expect(body).toMatch(/data-testid="cmp-size-ratio"[^>]*>15×</);
    expect(body).toMatch(/data-testid="cmp-speed-ratio"[^>]*>16×</);
    expect(body).toMatch(/data-testid="cmp-student-p50"[^>]*>0\.90 ms</);
    expect(body).toMatch(/data-testid="cmp-teacher-p95"[^>]*>20 ms</);
    expect(body).toMatch(/data-testid="cmp-student-throughput"[^>]*>2,400 sentences\/s</);
    expect(body).toMatch(/data-testid="cmp-student-params"[^>]*>4\.4 M</);
  });

  it('ConfusionMatrix, Disagreements and PredictBox render', async () => {
    const ConfusionMatrix = await load('/src/components/compare/ConfusionMatrix.svelte');
    const m = render(ConfusionMatrix, { props: { title: 'Student', labels: cmp.labels, matrix: cmp.student.confusion, testid: 'confusion-student' } }).body;
    expect(m).toContain('data-testid="confusion-student"');
    expect(m).toContain('369');
    // the cell shade is a CSS custom property, set through the CSSOM on the client
    expect(m).toContain('--share');
    const Disagreements = await load('/src/components/compare/Disagreements.svelte');
    const d = render(Disagreements, { props: { cmp, validationSize: 872 } }).body;
    expect(d).toMatch(/data-testid="disagreement-count"[^>]*>122</);
    expect(d).toContain('a gorgeous , witty , seductive movie .');
    expect(d).toContain('98.0 %');
    const PredictBox = await load('/src/components/compare/PredictBox.svelte');
    const p = render(PredictBox, { props: { runId: 'run-1', labels: cmp.labels }, context: context() }).body;
    expect(p).toContain('data-testid="predict-input"');
  });

  it('Compare lists earlier runs', async () => {
    const store = rs.createStore();
    const run = rs.hydrateRun(store, details('completed'));
    rs.applyRunInfo(store, info({ id: 'run-0', createdAt: '2025-04-01T10:00:00Z', status: 'completed', bestAccuracy: 0.81 }));
    const Compare = await load('/src/components/compare/Compare.svelte');
    const { body } = render(Compare, { props: { run: rs.snapshotRun(run) }, context: context(store) });
    expect(body).toContain('data-testid="earlier-runs"');
    expect(body).toContain('data-testid="compare-earlier"');
    expect(body).toContain('81.0 %');
  });
});

describe('wizard steps', () => {
  const doctor: DoctorReport = {
    hardware: {
      platform: 'linux',
      arch: 'x64',
      cpu: { model: 'AMD Ryzen 7 7840U', cores: 16 },
      memory: { totalBytes: 32e9, freeBytes: 20e9 },
      cacheDisk: { path: '/home/me/.cache/distill-studio', freeBytes: 120e9 },
      gpus: [{ vendor: 'NVIDIA', name: 'GeForce RTX 5060 Ti', vramBytes: 16e9, driver: '575.57', computeCapability: '12.0' }],
      notes: [],
    },
    decision: { provider: 'cpu', reasons: ['The GPU pack is not installed yet.'], gpuPack: 'offer', override: 'auto' },
    versions: {},
  };
  const teacher: ModelInfo = { source: 'distilbert-base-uncased-finetuned-sst-2-english', role: 'teacher', arch: 'distilbert', parameters: 66_955_010, labels: ['NEGATIVE', 'POSITIVE'], maxLength: 512, vocabSize: 30_522, sizeBytes: 268e6, notes: [] };
  const student: ModelInfo = { source: 'prajjwal1/bert-tiny', role: 'student', arch: 'bert', parameters: 4_386_178, labels: null, maxLength: 512, vocabSize: 30_522, sizeBytes: 17.7e6, notes: [] };

  function state() {
    const w = wz.initialWizardState();
    w.doctor = doctor;
    w.teacher = { source: teacher.source, info: teacher, error: null, loading: false };
    w.student = { source: student.source, info: student, error: null, loading: false };
    return w;
  }

  it('Wizard shell: steps, Next, the hardware step first', async () => {
    const Wizard = await load('/src/components/wizard/Wizard.svelte');
    const { body } = render(Wizard, { context: context() });
    expect(body).toContain('data-testid="wizard-step-hardware"');
    expect(body).toContain('data-testid="wizard-next"');
    for (const s of ['hardware', 'models', 'data', 'recipe', 'review']) expect(body).toContain(`data-testid="wizard-nav-${s}"`);
    expect(body).not.toContain('data-testid="wizard-back"');
  });

  it('Hardware: computer, GPUs, decision, GPU pack offer and override', async () => {
    const HardwareStep = await load('/src/components/wizard/HardwareStep.svelte');
    const { body } = render(HardwareStep, { props: { w: state(), recheck: async () => {} }, context: context() });
    expect(body).toContain('AMD Ryzen 7 7840U');
    expect(body).toMatch(/data-testid="hw-memory"[^>]*>32\.0 GB/);
    expect(body).toContain('120 GB');
    expect(body).toContain('GeForce RTX 5060 Ti');
    expect(body).toContain('12.0');
    expect(body).toContain('data-testid="gpu-pack-install"');
    expect(body).toContain('data-testid="provider-override"');
    expect(body).toContain('The GPU pack is not installed yet.');
  });

  it('Models: inputs, info and compatibility checks', async () => {
    const ModelsStep = await load('/src/components/wizard/ModelsStep.svelte');
    const { body } = render(ModelsStep, { props: { w: state(), inspect: async () => {} }, context: context() });
    expect(body).toContain('data-testid="teacher-input"');
    expect(body).toContain('data-testid="student-browse"');
    expect(body).toMatch(/data-testid="teacher-labels"[^>]*>NEGATIVE, POSITIVE</);
    expect(body).toContain('data-testid="model-checks"');
    expect(body).toContain('The student is 15× smaller');
  });

  it('Data: a bad file shows its error next to the field, as an alert', async () => {
    const DataStep = await load('/src/components/wizard/DataStep.svelte');
    const w = state();
    w.form.dataSource = 'file';
    w.form.dataPath = '/data/broken.csv';
    w.data = { path: '/data/broken.csv', preview: null, error: 'broken.csv line 3 has 4 fields, expected 2', loading: false };
    const { body } = render(DataStep, { props: { w, preview: async () => {} }, context: context() });
    expect(body).toMatch(/role="alert" data-testid="data-file-error">broken\.csv line 3 has 4 fields, expected 2</);
  });

  it('Data: preview with sample rows, column mapping and label counts', async () => {
    const DataStep = await load('/src/components/wizard/DataStep.svelte');
    const w = state();
    const preview: DataPreview = {
      path: '/data/reviews.csv',
      format: 'csv',
      rows: 1200,
      columns: ['review', 'stars', 'id'],
      textColumn: 'review',
      labelColumn: 'stars',
      sample: [{ text: 'Loved it', label: 'positive' }],
      labelCounts: { negative: 500, positive: 700 },
      notes: [],
    };
    w.form.dataSource = 'file';
    w.form.dataPath = preview.path;
    w.data = { path: preview.path, preview, error: null, loading: false };
    const { body } = render(DataStep, { props: { w, preview: async () => {} }, context: context() });
    expect(body).toContain('data-testid="data-preview"');
    expect(body).toMatch(/data-testid="data-rows"[^>]*>1,200 rows/);
    expect(body).toContain('Loved it');
    expect(body).toContain('data-testid="data-text-column"');
    expect(body).toContain('58 %');
    expect(body).toContain('All labels in the training data match');
  });

  it('Recipe: presets, fields and inline messages', async () => {
    const RecipeStep = await load('/src/components/wizard/RecipeStep.svelte');
    const w = state();
    w.form.recipe.alpha = '2';
    const { body } = render(RecipeStep, { props: { w }, context: context() });
    for (const p of ['quick', 'balanced', 'best']) expect(body).toContain(`data-testid="preset-${p}"`);
    for (const k of ['epochs', 'batchSize', 'lr', 'temperature', 'alpha', 'maxLength', 'seed', 'evalEvery', 'dropout', 'warmupRatio', 'maxSteps', 'threads']) {
      expect(body).toContain(`data-testid="recipe-${k}"`);
    }
    expect(body).toMatch(/data-testid="recipe-error-alpha">Must be at most 1</);
    expect(body).toContain('Custom recipe');
  });

  it('Review: summary, time and disk estimates', async () => {
    const ReviewStep = await load('/src/components/wizard/ReviewStep.svelte');
    const { body } = render(ReviewStep, { props: { w: state(), goTo: () => {} }, context: context() });
    expect(body).toContain('data-testid="review-summary"');
    expect(body).toMatch(/data-testid="review-estimate-total"[^>]*>about \d/);
    expect(body).toContain('This is an estimate');
    expect(body).toMatch(/data-testid="review-disk-total"[^>]*>about \d+ MB/);
    expect(body).not.toContain('data-testid="review-problems"');
  });
});
