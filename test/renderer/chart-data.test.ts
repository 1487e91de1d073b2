import { describe, expect, it } from 'vitest';
import {
  appendByStep,
  bestEval,
  downsample,
  evalChartData,
  lossChartData,
  lrChartData,
  recentMean,
  seriesFromMetrics,
  type EvalPoint,
  type XY,
} from '../../src/renderer/src/lib/chart-data';

const step = (s: number, loss = 1 / s) => ({ type: 'step', step: s, totalSteps: 100, epoch: s / 50, loss, kl: loss / 2, ce: loss * 2, lr: 1e-4, gradNorm: 1, samplesPerSecond: 400 });
const evalLine = (s: number, accuracy: number, best: boolean) => ({ type: 'eval', step: s, epoch: s / 50, accuracy, teacherAccuracy: 0.91, agreement: accuracy + 0.02, loss: 0.3, kl: 0.1, ce: 0.4, sentences: 872, best });

describe('seriesFromMetrics', () => {
  it('reads step and eval lines and skips junk', () => {
    const s = seriesFromMetrics([step(1), step(2), evalLine(2, 0.7, true), { type: 'step', step: 'x' }, { nonsense: true }, step(3)]);
    expect(s.steps.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(s.evals).toHaveLength(1);
    expect(s.evals[0]).toMatchObject({ step: 2, accuracy: 0.7, agreement: 0.72, teacherAccuracy: 0.91, best: true });
    expect(s.resumes).toEqual([]);
  });

  it('honours resume markers: replayed steps and evaluations replace the superseded ones', () => {
    const records = [
      step(1), step(2), evalLine(2, 0.6, true), step(3), step(4), evalLine(4, 0.7, true), step(5),
      // killed after step 5; the last checkpoint was at step 2
      { type: 'resume', from_step: 2, time: '2025-01-01T00:00:00Z' },
      step(3, 0.3), step(4, 0.25), evalLine(4, 0.72, true), step(5, 0.2), step(6, 0.19),
    ];
    const s = seriesFromMetrics(records);
    expect(s.steps.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.steps[2].loss).toBe(0.3);
    expect(s.evals.map((e) => [e.step, e.accuracy])).toEqual([[2, 0.6], [4, 0.72]]);
    expect(s.resumes).toEqual([2]);
  });

  it('drops lines after the resume point even when they are not replayed', () => {
    const s = seriesFromMetrics([step(1), step(2), step(3), evalLine(3, 0.8, true), { type: 'resume', from_step: 1 }]);
    expect(s.steps.map((p) => p.step)).toEqual([1]);
    expect(s.evals).toEqual([]);
    expect(bestEval(s.evals)).toBeNull();
  });

  it('keeps the last line for a repeated step without a marker', () => {
    const s = seriesFromMetrics([step(1), step(2, 5), step(2, 6), step(3)]);
    expect(s.steps.map((p) => [p.step, p.loss])).toEqual([[1, 1], [2, 6], [3, 1 / 3]]);
  });

  it('handles several resumes', () => {
    const s = seriesFromMetrics([step(1), step(2), step(3), { type: 'resume', from_step: 2 }, step(3), step(4), { type: 'resume', from_step: 1 }, step(2)]);
    expect(s.steps.map((p) => p.step)).toEqual([1, 2]);
    expect(s.resumes).toEqual([1]);
  });
});

describe('appendByStep', () => {
  it('appends increasing steps and truncates on a replay', () => {
    const pts = [{ step: 1 }, { step: 2 }, { step: 3 }];
    appendByStep(pts, { step: 4 });
    expect(pts.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    appendByStep(pts, { step: 2 });
    expect(pts.map((p) => p.step)).toEqual([1, 2]);
  });
});

describe('bestEval', () => {
  const e = (step: number, accuracy: number, best = false): EvalPoint => ({ step, epoch: 0, accuracy, teacherAccuracy: 0.9, agreement: 0.9, loss: 0, best });
  it('prefers the last flagged evaluation', () => {
    expect(bestEval([e(1, 0.7, true), e(2, 0.8, true), e(3, 0.9, false)])?.step).toBe(2);
  });
  it('falls back to the highest accuracy, earliest on ties', () => {
    expect(bestEval([e(1, 0.7), e(2, 0.8), e(3, 0.8)])?.step).toBe(2);
    expect(bestEval([])).toBeNull();
  });
});

describe('downsample (LTTB)', () => {
  const series = (n: number, f: (i: number) => number): XY[] => Array.from({ length: n }, (_, i) => ({ x: i, y: f(i) }));

  it('returns small inputs unchanged (copied)', () => {
    const pts = series(10, (i) => i);
    const out = downsample(pts, 100);
    expect(out).toEqual(pts);
    expect(out).not.toBe(pts);
  });

  it('keeps exactly threshold points, with the first and last', () => {
    const pts = series(10_000, (i) => Math.sin(i / 100));
    const out = downsample(pts, 400);
    expect(out).toHaveLength(400);
    expect(out[0]).toBe(pts[0]);
    expect(out[399]).toBe(pts[9999]);
    for (let i = 1; i < out.length; i++) expect(out[i].x).toBeGreaterThan(out[i - 1].x);
  });

  it('keeps a spike', () => {
    const pts = series(5000, (i) => (i === 2345 ? 100 : 1));
    const out = downsample(pts, 50);
    expect(out.some((p) => p.y === 100)).toBe(true);
  });

  it('drops non-finite values and handles tiny thresholds', () => {
    const pts = [{ x: 0, y: 1 }, { x: 1, y: NaN }, { x: 2, y: 3 }, { x: 3, y: Infinity }, { x: 4, y: 5 }];
    expect(downsample(pts, 10).map((p) => p.x)).toEqual([0, 2, 4]);
    expect(downsample(pts, 2).map((p) => p.x)).toEqual([0, 4]);
    expect(downsample(pts, 1).map((p) => p.x)).toEqual([4]);
    expect(downsample([], 10)).toEqual([]);
  });

  it('is fast enough for a long run', () => {
    const pts = series(200_000, (i) => Math.random() + i * 1e-5);
    const t0 = performance.now();
    downsample(pts, 400);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});

describe('chart shapes', () => {
  const { steps, evals } = seriesFromMetrics([...Array.from({ length: 1000 }, (_, i) => step(i + 1)), evalLine(500, 0.8, true), evalLine(1000, 0.79, false)]);

  it('builds loss lines for total, kl and ce', () => {
    const d = lossChartData(steps, 100);
    expect(d.total).toHaveLength(100);
    expect(d.kl).toHaveLength(100);
    expect(d.ce).toHaveLength(100);
    expect(d.total[0]).toEqual({ x: 1, y: 1 });
    expect(d.kl[0]).toEqual({ x: 1, y: 0.5 });
  });

  it('builds the learning-rate line', () => {
    expect(lrChartData(steps, 50)).toHaveLength(50);
  });

  it('builds evaluation lines in percent and marks the best', () => {
    const d = evalChartData(evals);
    expect(d.accuracy).toEqual([{ x: 500, y: 80 }, { x: 1000, y: 79 }]);
    expect(d.agreement[0].y).toBeCloseTo(82);
    expect(d.teacherAccuracy[0].y).toBeCloseTo(91);
    expect(d.bestIndex).toBe(0);
  });

  it('keeps the best evaluation when downsampling would drop it', () => {
    const many: EvalPoint[] = Array.from({ length: 100 }, (_, i) => ({ step: i, epoch: 0, accuracy: 0.5, teacherAccuracy: 0.9, agreement: 0.5, loss: 0, best: i === 37 }));
    const d = evalChartData(many, 5);
    expect(d.accuracy[d.bestIndex].x).toBe(37);
  });

  it('averages recent losses', () => {
    expect(recentMean(steps, 2)).toBeCloseTo((1 / 1000 + 1 / 999) / 2);
    expect(recentMean([], 5)).toBeNull();
  });
});
