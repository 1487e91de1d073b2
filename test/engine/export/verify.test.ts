import { describe, expect, it } from 'vitest';
import { argmaxRows, compareLogits } from '../../../src/engine/export/verify';

describe('compareLogits', () => {
  it('reports identical predictions and the largest difference', () => {
    const a = Float32Array.from([1, 2, 3, 0, 0.5, 0.4]);
    const b = [1.01, 2, 2.9, 0, 0.5, 0.45];
    const r = compareLogits(a, b, 2);
    expect(r.rows).toBe(3);
    expect(r.identicalPredictions).toBe(true);
    expect(r.agreement).toBe(1);
    expect(r.disagreements).toBe(0);
    expect(r.maxAbsDiff).toBeCloseTo(0.1, 6);
  });

  it('counts rows whose argmax differs', () => {
    const a = [0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0];
    const b = [0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
    const r = compareLogits(a, b, 3);
    expect(r.rows).toBe(4);
    expect(r.disagreements).toBe(2);
    expect(r.agreement).toBe(0.5);
    expect(r.identicalPredictions).toBe(false);
    expect(r.maxAbsDiff).toBe(1);
  });

  it('handles no rows, NaN and infinities', () => {
    expect(compareLogits([], [], 2)).toEqual({ rows: 0, identicalPredictions: true, agreement: 1, disagreements: 0, maxAbsDiff: 0 });
    expect(compareLogits([NaN, 1], [NaN, 1], 2).maxAbsDiff).toBe(0);
    expect(compareLogits([0, 1], [NaN, 1], 2).maxAbsDiff).toBe(Infinity);
    expect(compareLogits([0, Infinity], [0, Infinity], 2).maxAbsDiff).toBe(0);
    expect(compareLogits([0, Infinity], [0, 1], 2).maxAbsDiff).toBe(Infinity);
  });

  it('refuses mismatched inputs', () => {
    expect(() => compareLogits([1, 2], [1, 2, 3, 4], 2)).toThrow(/different inputs/);
    expect(() => compareLogits([1, 2, 3], [1, 2, 3], 2)).toThrow(/rows of 2/);
    expect(() => compareLogits([1, 2], [1, 2], 0)).toThrow(/positive integer/);
  });
});

it('argmaxRows takes the first of equal maxima and never picks NaN', () => {
  expect(Array.from(argmaxRows([1, 1, 0, 2, 5, 5, NaN, 3], 2))).toEqual([0, 1, 0, 1]);
  expect(Array.from(argmaxRows([NaN, NaN], 2))).toEqual([0]);
});
