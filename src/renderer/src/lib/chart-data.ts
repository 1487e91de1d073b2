// Chart data for the training monitor: step and evaluation points from live JobEvents or from a
// run's metrics.jsonl (RunDetails.metrics), and downsampling so a chart never draws more than a
// few hundred points however long the run. Pure functions, unit-tested in test/renderer/chart-data.test.ts.
//
// metrics.jsonl holds `{"type":"step",...}` and `{"type":"eval",...}` lines and, after each
// resume, a `{"type":"resume","from_step":N}` marker: the run restarted from its checkpoint at
// step N, so the lines after N written before the marker were replayed and are superseded
// (readers keep the last line for a step). The same applies live: a step at or before the last
// one seen means a replay, and the points from there on are dropped.

export interface StepPoint {
  step: number;
  epoch: number;
  loss: number;
  kl: number;
  ce: number;
  lr: number;
  samplesPerSecond: number;
}

export interface EvalPoint {
  step: number;
  epoch: number;
  accuracy: number;
  teacherAccuracy: number;
  agreement: number;
  loss: number;
  best: boolean;
}

export interface XY {
  x: number;
  y: number;
}

export interface MetricSeries {
  steps: StepPoint[];
  evals: EvalPoint[];
  /** Steps the run resumed from, in order. */
  resumes: number[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A step point from a metrics line or step event, or null when the line is not a usable step. */
export function toStepPoint(r: Record<string, unknown>): StepPoint | null {
  if (r.type !== undefined && r.type !== 'step') return null;
  const step = num(r.step);
  const loss = num(r.loss);
  if (step === null || loss === null) return null;
  return {
    step,
    epoch: num(r.epoch) ?? 0,
    loss,
    kl: num(r.kl) ?? NaN,
    ce: num(r.ce) ?? NaN,
    lr: num(r.lr) ?? NaN,
    samplesPerSecond: num(r.samplesPerSecond) ?? NaN,
  };
}

/** An evaluation point from a metrics line or eval event, or null. */
export function toEvalPoint(r: Record<string, unknown>): EvalPoint | null {
  if (r.type !== undefined && r.type !== 'eval') return null;
  const step = num(r.step);
  const accuracy = num(r.accuracy);
  if (step === null || accuracy === null) return null;
  return {
    step,
    epoch: num(r.epoch) ?? 0,
    accuracy,
    teacherAccuracy: num(r.teacherAccuracy) ?? NaN,
    agreement: num(r.agreement) ?? NaN,
    loss: num(r.loss) ?? NaN,
    best: r.best === true,
  };
}

/** Appends keeping steps increasing: a point at or before the last one replaces everything from its step on. */
export function appendByStep<T extends { step: number }>(points: T[], p: T): void {
  const last = points.length ? points[points.length - 1] : null;
  if (last && p.step <= last.step) truncateAfter(points, p.step - 1);
  points.push(p);
}

/** Drops every point with a step greater than `step` (in place; points are sorted by step). */
export function truncateAfter<T extends { step: number }>(points: T[], step: number): void {
  let keep = points.length;
  while (keep > 0 && points[keep - 1].step > step) keep--;
  points.length = keep;
}

/** Step and evaluation series from metrics.jsonl lines, honouring resume markers. */
export function seriesFromMetrics(records: readonly Record<string, unknown>[]): MetricSeries {
  const out: MetricSeries = { steps: [], evals: [], resumes: [] };
  for (const r of records) {
    if (!r || typeof r !== 'object') continue;
    if (r.type === 'resume') {
      const from = num(r.from_step) ?? num(r.fromStep) ?? num(r.step);
      if (from === null) continue;
      truncateAfter(out.steps, from);
      truncateAfter(out.evals, from);
      out.resumes = out.resumes.filter((s) => s < from);
      out.resumes.push(from);
      continue;
    }
    if (r.type === 'step') {
      const p = toStepPoint(r);
      if (p) appendByStep(out.steps, p);
    } else if (r.type === 'eval') {
      const p = toEvalPoint(r);
      if (p) appendByStep(out.evals, p);
    }
  }
  return out;
}

/**
 * The best evaluation: the last one flagged `best` (the trainer flags each improvement), or,
 * when none is flagged, the highest accuracy (earliest on ties).
 */
export function bestEval(evals: readonly EvalPoint[]): EvalPoint | null {
  for (let i = evals.length - 1; i >= 0; i--) if (evals[i].best) return evals[i];
  let best: EvalPoint | null = null;
  for (const e of evals) if (!best || e.accuracy > best.accuracy) best = e;
  return best;
}

/**
 * Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013): keeps the first and last
 * points and, from each of `threshold - 2` buckets, the point that forms the largest triangle
 * with its neighbours, so peaks and the overall shape survive. Non-finite y values are
 * dropped first. Returns the input (copied) when it is already small enough.
 */
export function downsample(points: readonly XY[], threshold: number): XY[] {
  const data = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const n = data.length;
  if (threshold >= n || threshold <= 0) return data.slice();
  if (threshold < 3) return threshold === 1 ? [data[n - 1]] : [data[0], data[n - 1]];
  const sampled: XY[] = [data[0]];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // The average of the next bucket is the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += data[j].x;
      avgY += data[j].y;
    }
    const len = Math.max(nextEnd - nextStart, 1);
    avgX /= len;
    avgY /= len;
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    let maxArea = -1;
    let pick = start;
    const ax = data[a].x;
    const ay = data[a].y;
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - avgX) * (data[j].y - ay) - (ax - data[j].x) * (avgY - ay));
      if (area > maxArea) {
        maxArea = area;
        pick = j;
      }
    }
    sampled.push(data[pick]);
    a = pick;
  }
  sampled.push(data[n - 1]);
  return sampled;
}

/** Default cap on points per line: plenty for a chart a few hundred pixels wide. */
export const MAX_CHART_POINTS = 400;

export interface LossChartData {
  total: XY[];
  kl: XY[];
  ce: XY[];
}

/** Total, distillation (KL) and hard-label (CE) loss per step, each downsampled. */
export function lossChartData(steps: readonly StepPoint[], maxPoints = MAX_CHART_POINTS): LossChartData {
  const line = (f: (p: StepPoint) => number) =>
    downsample(
      steps.map((p) => ({ x: p.step, y: f(p) })),
      maxPoints,
    );
  return { total: line((p) => p.loss), kl: line((p) => p.kl), ce: line((p) => p.ce) };
}

/** Learning rate per step, downsampled (the schedule is piecewise linear, so few points suffice). */
export function lrChartData(steps: readonly StepPoint[], maxPoints = MAX_CHART_POINTS): XY[] {
  return downsample(
    steps.map((p) => ({ x: p.step, y: p.lr })),
    maxPoints,
  );
}

export interface EvalChartData {
  accuracy: XY[];
  agreement: XY[];
  teacherAccuracy: XY[];
  /** Index into `accuracy` of the best evaluation, or -1. */
  bestIndex: number;
}

/** Validation accuracy, teacher agreement and the teacher's accuracy per evaluation, in percent. */
export function evalChartData(evals: readonly EvalPoint[], maxPoints = MAX_CHART_POINTS): EvalChartData {
  const best = bestEval(evals);
  const pct = (f: (e: EvalPoint) => number) =>
    downsample(
      evals.map((e) => ({ x: e.step, y: f(e) * 100 })),
      maxPoints,
    );
  const accuracy = pct((e) => e.accuracy);
  // Downsampling may drop the best point; put it back so the marker is always drawn.
  if (best && !accuracy.some((p) => p.x === best.step)) {
    accuracy.push({ x: best.step, y: best.accuracy * 100 });
    accuracy.sort((a, b) => a.x - b.x);
  }
  const bestIndex = best ? accuracy.findIndex((p) => p.x === best.step) : -1;
  return { accuracy, agreement: pct((e) => e.agreement), teacherAccuracy: pct((e) => e.teacherAccuracy), bestIndex };
}

/** A moving average of the last `window` losses, for the "loss now" read-out (noisy per batch). */
export function recentMean(steps: readonly StepPoint[], window = 50, f: (p: StepPoint) => number = (p) => p.loss): number | null {
  let sum = 0;
  let count = 0;
  for (let i = steps.length - 1; i >= 0 && count < window; i--) {
    const v = f(steps[i]);
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
  }
  return count ? sum / count : null;
}
