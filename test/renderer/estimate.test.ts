import { describe, expect, it } from 'vitest';
import {
  BERT_TINY_PARAMS,
  estimateDisk,
  estimateTime,
  evaluationCount,
  SST2_TRAIN_SENTENCES,
  SST2_VALID_SENTENCES,
  teacherSentencesPerSecond,
  totalSteps,
  trainSamplesPerSecond,
} from '../../src/renderer/src/lib/estimate';

const base = { provider: 'cpu' as const, cores: 2, maxLength: 64, batchSize: 32, studentParams: BERT_TINY_PARAMS };

describe('speed model', () => {
  it('is 400 samples/s for BERT-Tiny at batch 32 on 2 CPU cores', () => {
    expect(trainSamplesPerSecond(base)).toBeCloseTo(400);
  });

  it('scales with cores (sub-linearly), input length and student size', () => {
    const eight = trainSamplesPerSecond({ ...base, cores: 8 });
    expect(eight).toBeGreaterThan(1000);
    expect(eight).toBeLessThan(1600);
    expect(trainSamplesPerSecond({ ...base, maxLength: 128 })).toBeLessThan(400);
    expect(trainSamplesPerSecond({ ...base, studentParams: BERT_TINY_PARAMS * 4 })).toBeCloseTo(100);
    expect(trainSamplesPerSecond({ ...base, provider: 'cuda' })).toBeGreaterThan(eight);
  });

  it('runs the teacher slower than the student trains', () => {
    expect(teacherSentencesPerSecond({ provider: 'cpu', cores: 2, maxLength: 64, teacherParams: null })).toBeLessThan(400);
  });
});

describe('time estimate', () => {
  const shape = { trainSentences: SST2_TRAIN_SENTENCES, validSentences: SST2_VALID_SENTENCES, epochs: 5, maxSteps: null, batchSize: 32, evalEvery: null };

  it('counts steps and evaluations like the trainer', () => {
    expect(totalSteps(shape)).toBe(Math.ceil(67_349 / 32) * 5);
    expect(totalSteps({ ...shape, maxSteps: 100 })).toBe(100);
    expect(evaluationCount(shape)).toBe(5);
    expect(evaluationCount({ ...shape, evalEvery: 1000 })).toBe(5 + Math.floor(10_525 / 1000));
  });

  it('is sentences × epochs / samples-per-second, plus the teacher pass and evaluations', () => {
    const t = estimateTime(shape, { ...base, teacherParams: null });
    expect(t.trainSeconds).toBeCloseTo((67_349 * 5) / 400, 0);
    expect(t.teacherSeconds).toBeGreaterThan(0);
    expect(t.evalSeconds).toBeGreaterThan(0);
    expect(t.totalSeconds).toBeCloseTo(t.trainSeconds + t.teacherSeconds + t.evalSeconds);
    expect(estimateTime(shape, { ...base, teacherParams: null, teacherCached: true }).teacherSeconds).toBe(0);
  });

  it('is shorter with maxSteps', () => {
    const t = estimateTime({ ...shape, maxSteps: 100 }, { ...base, teacherParams: null });
    expect(t.trainSeconds).toBeCloseTo((100 * 32) / 400);
  });
});

describe('disk estimate', () => {
  const d = {
    teacherDownloadBytes: 268_000_000,
    teacherParams: null,
    teacherIsLocal: false,
    studentDownloadBytes: null,
    studentParams: BERT_TINY_PARAMS,
    studentIsLocal: false,
    datasetDownloadBytes: 3_500_000,
    trainSentences: SST2_TRAIN_SENTENCES,
    validSentences: SST2_VALID_SENTENCES,
    numLabels: 2,
  };

  it('adds downloads, caches, checkpoints and the export', () => {
    const e = estimateDisk(d);
    expect(e.totalBytes).toBe(e.parts.reduce((s, p) => s + p.bytes, 0));
    expect(e.parts.find((p) => p.label === 'Teacher download')?.bytes).toBe(268_000_000);
    expect(e.parts.find((p) => p.label === 'Student download')?.bytes).toBe(BERT_TINY_PARAMS * 4);
    expect(e.totalBytes).toBeGreaterThan(300_000_000);
    expect(e.totalBytes).toBeLessThan(500_000_000);
  });

  it('skips downloads for local models and files', () => {
    const e = estimateDisk({ ...d, teacherIsLocal: true, studentIsLocal: true, datasetDownloadBytes: 0 });
    expect(e.parts.some((p) => p.label.includes('download'))).toBe(false);
    expect(e.totalBytes).toBeLessThan(200_000_000);
  });
});
