// Per-run UI state, built from AppEvents (live) and RunDetails (on reopen). A reducer over a
// mutable store: step and evaluation arrays grow by appending (a long run has tens of thousands
// of steps, so copying them per event would cost O(n²)); every change bumps the run's `rev`, and
// views re-read a run when its rev changes, at most a few times per second (see App.svelte).
// Pure TypeScript, no DOM; unit-tested in test/renderer/run-state.test.ts.
import type { AppEvent, RunDetails, RunInfo, RunStatus } from '../../../shared/api';
import type { JobEvent, Stage } from '../../../shared/events';
import { appendByStep, bestEval, seriesFromMetrics, toEvalPoint, toStepPoint, truncateAfter, type EvalPoint, type StepPoint } from './chart-data';

export const STAGES: readonly Stage[] = ['download', 'tokenize', 'teacher', 'train', 'evaluate', 'export'];

export const STAGE_LABEL: Record<Stage, string> = {
  download: 'Download models and data',
  tokenize: 'Tokenize',
  teacher: "Teacher's answers",
  train: 'Train the student',
  evaluate: 'Evaluate',
  export: 'Export',
};

/** 'stopped': the run was cancelled or interrupted while the stage ran. */
export type StageStatus = 'pending' | 'running' | 'done' | 'failed' | 'stopped' | 'skipped';

export interface StageState {
  stage: Stage;
  status: StageStatus;
  /** Seconds spent so far (sum over repeated stages such as evaluate). */
  seconds: number;
  detail: string | null;
  done: number | null;
  total: number | null;
  unit: string | null;
  rate: number | null;
  etaSeconds: number | null;
  /** How many times the stage started (evaluate runs once per evaluation). */
  starts: number;
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  time: number;
}

export interface RunState {
  id: string;
  info: RunInfo | null;
  status: RunStatus;
  stages: Record<Stage, StageState>;
  currentStage: Stage | null;
  step: number;
  totalSteps: number | null;
  epoch: number | null;
  samplesPerSecond: number | null;
  /** Smoothed optimizer steps per second, measured from step events as they arrive. */
  stepsPerSecond: number | null;
  steps: StepPoint[];
  evals: EvalPoint[];
  resumes: number[];
  best: EvalPoint | null;
  lastCheckpoint: { step: number; path: string } | null;
  log: LogLine[];
  error: { code: string; message: string } | null;
  summaryPath: string | null;
  config: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
  /** RunDetails have been loaded (getRun) for this run. */
  hydrated: boolean;
  /** Bumped on every change. */
  rev: number;
  /** When the last step event arrived (ms), for the step rate. */
  lastStepAt: number | null;
}

export interface GpuPackState {
  received: number;
  total: number | null;
  done: boolean;
  error: string | null;
}

export interface UiStore {
  runs: Map<string, RunState>;
  gpuPack: GpuPackState | null;
  rev: number;
}

export const LOG_LIMIT = 1000;

export function createStore(): UiStore {
  return { runs: new Map(), gpuPack: null, rev: 0 };
}

function emptyStages(): Record<Stage, StageState> {
  const out = {} as Record<Stage, StageState>;
  for (const s of STAGES) out[s] = { stage: s, status: 'pending', seconds: 0, detail: null, done: null, total: null, unit: null, rate: null, etaSeconds: null, starts: 0 };
  return out;
}

export function createRun(id: string, info: RunInfo | null = null): RunState {
  return {
    id,
    info,
    status: info?.status ?? 'queued',
    stages: emptyStages(),
    currentStage: null,
    step: info?.step ?? 0,
    totalSteps: info?.totalSteps ?? null,
    epoch: null,
    samplesPerSecond: null,
    stepsPerSecond: null,
    steps: [],
    evals: [],
    resumes: [],
    best: null,
    lastCheckpoint: null,
    log: (info?.log ?? []).map((message) => ({ level: 'info' as const, message, time: 0 })),
    error: info?.error ? { code: info.status, message: info.error } : null,
    summaryPath: null,
    config: null,
    summary: null,
    hydrated: false,
    rev: 0,
    lastStepAt: null,
  };
}

export function getRun(store: UiStore, id: string): RunState {
  let run = store.runs.get(id);
  if (!run) {
    run = createRun(id);
    store.runs.set(id, run);
  }
  return run;
}

const ACTIVE: readonly RunStatus[] = ['queued', 'running', 'paused'];
export const isActive = (s: RunStatus) => ACTIVE.includes(s);

/** Applies a RunInfo (from listRuns, startRun, resumeRun or a 'run' event). */
export function applyRunInfo(store: UiStore, info: RunInfo): RunState {
  const run = getRun(store, info.id);
  run.info = info;
  run.status = info.status;
  if (info.step > run.step || run.steps.length === 0) run.step = info.step;
  if (info.totalSteps !== null) run.totalSteps = info.totalSteps;
  if (info.error) run.error = { code: run.error?.code ?? info.status, message: info.error };
  else if (info.status === 'running' || info.status === 'queued') run.error = null;
  if (info.status === 'running' && run.currentStage === null && run.steps.length) run.currentStage = 'train';
  if (!isActive(info.status)) settleStages(run, stageOutcome(info.status));
  touch(store, run);
  return run;
}

/** Replaces the known runs (listRuns); runs missing from the list are dropped. */
export function setRunList(store: UiStore, infos: readonly RunInfo[]): void {
  const keep = new Set(infos.map((i) => i.id));
  for (const id of [...store.runs.keys()]) if (!keep.has(id)) store.runs.delete(id);
  for (const info of infos) applyRunInfo(store, info);
}

/** Runs newest first. */
export function runList(store: UiStore): RunState[] {
  return [...store.runs.values()].sort((a, b) => (b.info?.createdAt ?? '').localeCompare(a.info?.createdAt ?? '') || b.id.localeCompare(a.id));
}

function touch(store: UiStore, run: RunState | null): void {
  store.rev++;
  if (run) run.rev++;
}

/** What a finished run's running stages become. */
export function stageOutcome(status: RunStatus): 'done' | 'failed' | 'stopped' {
  if (status === 'failed') return 'failed';
  if (status === 'cancelled' || status === 'interrupted') return 'stopped';
  return 'done';
}

/** When a run stops, its running stages are closed. */
function settleStages(run: RunState, outcome: 'done' | 'failed' | 'stopped'): void {
  for (const s of STAGES) {
    const st = run.stages[s];
    if (st.status === 'running') {
      st.status = outcome;
      st.etaSeconds = null;
      st.rate = null;
    }
  }
  run.currentStage = null;
}

function pushLog(run: RunState, line: LogLine): void {
  run.log.push(line);
  if (run.log.length > LOG_LIMIT) run.log.splice(0, run.log.length - LOG_LIMIT);
}

/** Applies one job event to a run. `now` is the arrival time in ms (injectable for tests). */
export function applyJobEvent(run: RunState, e: JobEvent, now: number = Date.now()): void {
  switch (e.type) {
    case 'stage': {
      const st = run.stages[e.stage];
      if (!st) break;
      if (e.status === 'start') {
        st.status = 'running';
        st.starts++;
        st.detail = e.detail ?? st.detail;
        st.done = null;
        st.total = null;
        st.rate = null;
        st.etaSeconds = null;
        // The evaluate stage runs inside train; train stays the current stage meanwhile.
        if (e.stage !== 'evaluate' || run.currentStage === null) run.currentStage = e.stage;
        // Stages before this one are behind us.
        const idx = STAGES.indexOf(e.stage);
        for (let i = 0; i < idx; i++) {
          const prev = run.stages[STAGES[i]];
          if (prev.status === 'pending') prev.status = STAGES[i] === 'evaluate' ? 'pending' : 'skipped';
        }
        if (run.status === 'queued' || run.status === 'interrupted' || run.status === 'failed') run.status = 'running';
      } else {
        st.status = 'done';
        st.seconds += e.seconds ?? 0;
        if (e.detail) st.detail = e.detail;
        st.etaSeconds = null;
        if (st.total !== null) st.done = st.total;
        if (run.currentStage === e.stage) run.currentStage = e.stage === 'evaluate' && run.stages.train.status === 'running' ? 'train' : null;
      }
      break;
    }
    case 'progress': {
      const st = run.stages[e.stage];
      if (!st) break;
      if (st.status === 'pending' || st.status === 'skipped') st.status = 'running';
      st.done = e.done;
      st.total = e.total > 0 ? e.total : null;
      st.unit = e.unit;
      st.rate = e.rate;
      st.etaSeconds = e.etaSeconds;
      break;
    }
    case 'step': {
      const p = toStepPoint(e as unknown as Record<string, unknown>);
      if (!p) break;
      const prev = run.steps.length ? run.steps[run.steps.length - 1] : null;
      if (prev && p.step <= prev.step) {
        // A replay after a resume: later evaluations are superseded too.
        truncateAfter(run.evals, p.step - 1);
        run.best = bestEval(run.evals);
        run.stepsPerSecond = null;
      } else if (prev && run.lastStepAt !== null && now > run.lastStepAt) {
        const inst = ((p.step - prev.step) * 1000) / (now - run.lastStepAt);
        run.stepsPerSecond = run.stepsPerSecond === null ? inst : run.stepsPerSecond * 0.9 + inst * 0.1;
      }
      appendByStep(run.steps, p);
      run.lastStepAt = now;
      run.step = e.step;
      run.totalSteps = e.totalSteps;
      run.epoch = e.epoch;
      run.samplesPerSecond = e.samplesPerSecond > 0 ? e.samplesPerSecond : run.samplesPerSecond;
      const train = run.stages.train;
      if (train.status !== 'running') {
        train.status = 'running';
        for (const s of ['download', 'tokenize', 'teacher'] as const) if (run.stages[s].status === 'pending' || run.stages[s].status === 'running') run.stages[s].status = 'done';
      }
      if (run.currentStage === null) run.currentStage = 'train';
      train.done = e.step;
      train.total = e.totalSteps;
      train.unit = 'steps';
      train.rate = run.stepsPerSecond;
      train.etaSeconds = trainEta(run);
      if (run.status !== 'paused') run.status = 'running';
      break;
    }
    case 'eval': {
      const p = toEvalPoint(e as unknown as Record<string, unknown>);
      if (!p) break;
      appendByStep(run.evals, p);
      run.best = bestEval(run.evals);
      break;
    }
    case 'checkpoint':
      run.lastCheckpoint = { step: e.step, path: e.path };
      break;
    case 'log':
      pushLog(run, { level: e.level, message: e.message, time: now });
      break;
    case 'paused':
      run.status = 'paused';
      run.stepsPerSecond = null;
      pushLog(run, { level: 'info', message: `Paused at step ${e.step}.`, time: now });
      break;
    case 'resumed':
      run.status = 'running';
      run.lastStepAt = null;
      pushLog(run, { level: 'info', message: `Resumed at step ${e.step}.`, time: now });
      break;
    case 'done':
      run.status = e.status;
      run.summaryPath = e.summaryPath;
      settleStages(run, stageOutcome(e.status));
      pushLog(run, { level: 'info', message: e.status === 'completed' ? 'Run completed.' : e.status === 'cancelled' ? 'Run cancelled.' : 'Run stopped early: no more improvement.', time: now });
      break;
    case 'error':
      run.status = 'failed';
      run.error = { code: e.code, message: e.message };
      settleStages(run, 'failed');
      pushLog(run, { level: 'error', message: e.message, time: now });
      break;
  }
  run.rev++;
}

/** Seconds left in training from the measured step rate, or from samples/s and the batch size. */
export function trainEta(run: Pick<RunState, 'step' | 'totalSteps' | 'stepsPerSecond' | 'samplesPerSecond' | 'config'>): number | null {
  if (run.totalSteps === null) return null;
  const left = Math.max(0, run.totalSteps - run.step);
  if (run.stepsPerSecond && run.stepsPerSecond > 0) return left / run.stepsPerSecond;
  const batch = configNumber(run.config, 'batchSize');
  if (batch && run.samplesPerSecond && run.samplesPerSecond > 0) return (left * batch) / run.samplesPerSecond;
  return null;
}

/** A field of the job configuration, whether `config` is config.json ({ job, resolved, … }) or the job itself. */
export function configValue(config: Record<string, unknown> | null, key: string): unknown {
  if (!config) return undefined;
  const job = config.job;
  if (job && typeof job === 'object' && key in (job as Record<string, unknown>)) return (job as Record<string, unknown>)[key];
  return config[key];
}

export function configNumber(config: Record<string, unknown> | null, key: string): number | null {
  const v = configValue(config, key);
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Applies an app event; returns the id of the run it changed ('' for the GPU pack, null for none). */
export function applyAppEvent(store: UiStore, e: AppEvent, now: number = Date.now()): string | null {
  switch (e.kind) {
    case 'job': {
      const run = getRun(store, e.runId);
      applyJobEvent(run, e.event, now);
      store.rev++;
      return run.id;
    }
    case 'run':
      return applyRunInfo(store, e.run).id;
    case 'gpu-pack':
      store.gpuPack = { received: e.received, total: e.total, done: e.done, error: e.error };
      store.rev++;
      return '';
  }
  return null;
}

/**
 * Rebuilds a run from its details (reopening the app): charts from metrics.jsonl (resume markers
 * honoured), stage timings from the summary, and the status. Live steps that arrived while
 * getRun was in flight, newer than the file, are kept.
 */
export function hydrateRun(store: UiStore, d: RunDetails): RunState {
  const run = applyRunInfo(store, d.run);
  const live = run.steps;
  const liveEvals = run.evals;
  const series = seriesFromMetrics(d.metrics);
  run.steps = series.steps;
  run.evals = series.evals;
  run.resumes = series.resumes;
  const lastFileStep = run.steps.length ? run.steps[run.steps.length - 1].step : -1;
  for (const p of live) if (p.step > lastFileStep) appendByStep(run.steps, p);
  const lastFileEval = run.evals.length ? run.evals[run.evals.length - 1].step : -1;
  for (const p of liveEvals) if (p.step > lastFileEval) appendByStep(run.evals, p);
  run.best = bestEval(run.evals);
  run.config = d.config;
  run.summary = d.summary;
  const last = run.steps.length ? run.steps[run.steps.length - 1] : null;
  if (last) {
    run.step = Math.max(run.step, last.step);
    run.epoch = last.epoch;
    if (Number.isFinite(last.samplesPerSecond)) run.samplesPerSecond = last.samplesPerSecond;
    const total = (d.metrics.find((m) => m.type === 'step' && typeof m.totalSteps === 'number')?.totalSteps as number | undefined) ?? null;
    if (run.totalSteps === null && total !== null) run.totalSteps = total;
  }
  if (d.run.log.length && run.log.every((l) => l.time === 0)) {
    run.log = d.run.log.map((message) => ({ level: 'info' as const, message, time: 0 }));
  }
  // Stages: what the summary timed is done; with steps on file, everything before train is done.
  const stages = (d.summary?.stages ?? null) as Record<string, { seconds?: number }> | null;
  if (stages) {
    for (const s of STAGES) {
      const t = stages[s];
      if (t && run.stages[s].status !== 'running') {
        run.stages[s].status = 'done';
        run.stages[s].seconds = typeof t.seconds === 'number' ? t.seconds : run.stages[s].seconds;
      }
    }
  }
  if (run.steps.length) {
    for (const s of ['download', 'tokenize', 'teacher'] as const) if (run.stages[s].status === 'pending') run.stages[s].status = 'done';
    const train = run.stages.train;
    train.done = run.step;
    train.total = run.totalSteps;
    train.unit = 'steps';
    if (run.status === 'running' && train.status === 'pending') {
      train.status = 'running';
      run.currentStage = 'train';
    } else if (!isActive(run.status) && train.status === 'pending') {
      train.status = stageOutcome(run.status);
    } else if (run.status === 'paused' && train.status === 'pending') {
      train.status = 'running';
    }
    if (run.evals.length && run.stages.evaluate.status === 'pending') run.stages.evaluate.status = 'done';
  }
  run.hydrated = true;
  touch(store, run);
  return run;
}

export interface RunActions {
  canPause: boolean;
  canResume: boolean;
  canCancel: boolean;
  /** Label of the resume button: "Resume" (paused / interrupted) or "Continue from checkpoint". */
  resumeLabel: string;
}

/** Which controls a run offers in its current status. */
export function runActions(status: RunStatus): RunActions {
  switch (status) {
    case 'queued':
      return { canPause: false, canResume: false, canCancel: true, resumeLabel: 'Resume' };
    case 'running':
      return { canPause: true, canResume: false, canCancel: true, resumeLabel: 'Resume' };
    case 'paused':
      return { canPause: false, canResume: true, canCancel: true, resumeLabel: 'Resume' };
    case 'interrupted':
      return { canPause: false, canResume: true, canCancel: false, resumeLabel: 'Resume' };
    case 'cancelled':
    case 'failed':
      return { canPause: false, canResume: true, canCancel: false, resumeLabel: 'Continue from last checkpoint' };
    default:
      return { canPause: false, canResume: false, canCancel: false, resumeLabel: 'Resume' };
  }
}

/** Overall progress 0..1 for the run list: the train stage's step fraction. */
export function runProgress(run: Pick<RunState, 'step' | 'totalSteps' | 'status'>): number | null {
  if (run.status === 'completed') return 1;
  if (!run.totalSteps) return null;
  return Math.min(1, run.step / run.totalSteps);
}

/**
 * A shallow copy of a run for views: a new object (and new stage objects) each time, so Svelte's
 * $derived sees a change; the step and evaluation arrays are shared (charts key on `rev`).
 */
export function snapshotRun(run: RunState): RunState {
  const stages = {} as Record<Stage, StageState>;
  for (const s of STAGES) stages[s] = { ...run.stages[s] };
  return { ...run, stages, log: run.log.slice() };
}
