import { describe, expect, it } from 'vitest';

import { accuracy, agreement, argmaxRows, softmax } from '../../../src/engine/infer/metrics';

describe('softmax', () => {
  it('normalises each row, stably for large logits', () => {
    const p = softmax([1, 2, 3, 1000, 1000, 1000], 3);
    expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 6);
    expect(p[2]! / p[1]!).toBeCloseTo(Math.E, 5);
    expect(Array.from(p.subarray(3))).toEqual([1 / 3, 1 / 3, 1 / 3].map(Math.fround));
  });
  it('applies a temperature', () => {
    const p = softmax([0, 2], 2, 2);
    expect(p[1]! / p[0]!).toBeCloseTo(Math.E, 5);
    expect(() => softmax([0, 1], 2, 0)).toThrow(/temperature/);
    expect(() => softmax([0, 1, 2], 2)).toThrow(/whole number of rows/);
  });
});

describe('argmaxRows, accuracy, agreement', () => {
  it('picks the first maximum of each row', () => {
    expect(Array.from(argmaxRows(new Float32Array([0.1, 0.9, 2, -1, 5, 5]), 2))).toEqual([1, 0, 0]);
  });
  it('scores only labeled rows', () => {
    expect(accuracy([0, 1, 1, 0], [0, 1, 0, null])).toBeCloseTo(2 / 3);
    expect(accuracy([1, 1], [-1, null])).toBeNaN();
    expect(() => accuracy([1], [1, 0])).toThrow(/1 predictions but 2 labels/);
  });
  it('measures agreement between two models', () => {
    expect(agreement(Int32Array.from([0, 1, 1, 0]), Int32Array.from([0, 1, 0, 0]))).toBe(0.75);
    expect(agreement([], [])).toBeNaN();
  });
});
