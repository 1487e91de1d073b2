// Batched, length-sorted inference equals the plain batch-of-1 run, in the caller's order, and
// feeds only the inputs the graph declares.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TextTokenizer } from '../../../src/engine/data/tokenizer';
import {
  classifyDetailed,
  classifyTexts,
  InferenceError,
  latencyStats,
  lengthOrder,
  percentile,
  type ClassifierSession,
} from '../../../src/engine/infer/classify';
import type { TeacherModel } from '../../../src/engine/teacher/teacher-model';
import { batchOfOneLogits, countingSession, maxAbsDiff, seededTexts, tinyTeacher, tinyTokenizer } from './helpers';

const dir = mkdtempSync(path.join(tmpdir(), 'ds-classify-'));
let tok: TextTokenizer;
let distil: TeacherModel;
let bert3: TeacherModel;
const texts = seededTexts(150, 11);
const MAXLEN = 32;

beforeAll(async () => {
  tok = await tinyTokenizer(dir);
  distil = await tinyTeacher(dir, 'distilbert');
  bert3 = await tinyTeacher(dir, 'bert', { numLabels: 3 });
});
afterAll(async () => {
  await distil?.session.release();
  await bert3?.session.release();
  rmSync(dir, { recursive: true, force: true });
});

/** A session that returns whatever `make(batch)` builds as its logits. */
function fakeSession(make: (b: number) => ort.Tensor): ClassifierSession {
  return {
    inputNames: ['input_ids', 'attention_mask'],
    outputNames: ['logits'],
    async run(feeds) {
      return { logits: make((feeds.input_ids as ort.Tensor).dims[0]!) };
    },
  };
}

describe('classifyTexts', () => {
  it('DistilBERT-shaped: equals batch-of-1 in the original order, feeding only input_ids and attention_mask', async () => {
    const counted = countingSession(distil.session);
    const rows = tok.encodeBatch(texts, { maxLength: MAXLEN });
    const want = await batchOfOneLogits(distil.session, distil.inputs, rows);
    const r = await classifyDetailed({ session: counted, inputs: distil.inputs, tokenizer: tok, texts, maxLength: MAXLEN, batchSize: 16 });
    expect(r.numLabels).toBe(2);
    expect(r.logits).toHaveLength(texts.length * 2);
    expect(maxAbsDiff(r.logits, want)).toBeLessThanOrEqual(1e-5);
    // The rows really differ, so a wrong order would show.
    const shifted = Float32Array.from(want, (_, i) => want[(i + 2) % want.length]!);
    expect(maxAbsDiff(shifted, want)).toBeGreaterThan(1e-3);
    expect(counted.calls).toHaveLength(Math.ceil(texts.length / 16));
    for (const names of counted.calls) expect(names.sort()).toEqual(['attention_mask', 'input_ids']);
    // Length-sorted batches: little padding is computed.
    expect(r.paddingOverhead).toBeLessThan(1.1);
  });

  it('BERT-shaped with 3 labels: feeds token_type_ids too, takes pre-tokenized rows', async () => {
    const counted = countingSession(bert3.session);
    const rows = tok.encodeBatch(texts, { maxLength: 20 });
    const want = await batchOfOneLogits(bert3.session, bert3.inputs, rows);
    const got = await classifyTexts({ session: counted, inputs: bert3.inputs, rows, padId: tok.padId, batchSize: 64, numLabels: 3 });
    expect(got).toHaveLength(texts.length * 3);
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
    for (const names of counted.calls) expect(names.sort()).toEqual(['attention_mask', 'input_ids', 'token_type_ids']);
  });

  it('defaults the inputs to those the session declares, reports progress and stops on abort', async () => {
    const seen: [number, number][] = [];
    await classifyTexts({ session: distil.session, tokenizer: tok, texts: texts.slice(0, 50), maxLength: MAXLEN, batchSize: 8, onProgress: (d, t) => seen.push([d, t]) });
    expect(seen.map((s) => s[0])).toEqual([8, 16, 24, 32, 40, 48, 50]);
    expect(seen.every((s) => s[1] === 50)).toBe(true);

    const ac = new AbortController();
    const counted = countingSession(distil.session, (call) => {
      if (call === 2) ac.abort();
    });
    const err = await classifyTexts({ session: counted, tokenizer: tok, texts, maxLength: MAXLEN, batchSize: 8, signal: ac.signal }).catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(counted.calls).toHaveLength(2);
  });

  it('checks the number of labels, the output shape and non-finite logits, with clear messages', async () => {
    const wrong = await classifyTexts({ session: distil.session, inputs: distil.inputs, tokenizer: tok, texts, maxLength: MAXLEN, numLabels: 3, label: 'The teacher (model.onnx)' }).catch((e) => e);
    expect(wrong).toBeInstanceOf(InferenceError);
    expect(wrong.code).toBe('label-mismatch');
    expect(wrong.message).toMatch(/The teacher \(model\.onnx\) outputs 2 logits per sentence but 3 labels were expected/);

    const nan = fakeSession((b) => new ort.Tensor('float32', Float32Array.from({ length: b * 2 }, (_, i) => (i === 3 ? NaN : 0)), [b, 2]));
    const e2 = await classifyTexts({ session: nan, tokenizer: tok, texts: ['aa', 'ab bb', 'cc'], maxLength: MAXLEN }).catch((e) => e);
    expect(e2.code).toBe('non-finite');
    // Length-sorted: batch row 1 is 'cc' (3 tokens, after 'aa'), i.e. sentence 2.
    expect(e2.message).toMatch(/NaN logits for sentence 2/);

    const flat = fakeSession((b) => new ort.Tensor('float32', new Float32Array(b * 2), [b * 2]));
    await expect(classifyTexts({ session: flat, tokenizer: tok, texts: ['aa'] })).rejects.toMatchObject({ code: 'bad-output' });
    await expect(classifyTexts({ session: distil.session, inputs: ['input_ids', 'pixel_values'], tokenizer: tok, texts: ['aa'] })).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(classifyTexts({ session: distil.session, texts: ['aa'] })).rejects.toThrow(/need a tokenizer/);
  });

  it('returns an empty result for no rows', async () => {
    const r = await classifyDetailed({ session: distil.session, rows: [], numLabels: 2 });
    expect(r.logits).toHaveLength(0);
  });
});

describe('lengthOrder and percentile', () => {
  it('sorts by length, stably', () => {
    const rows = [[1, 2, 3], [1], [4, 5], [6], [7, 8, 9]].map((r) => Int32Array.from(r));
    expect(Array.from(lengthOrder(rows))).toEqual([1, 3, 2, 0, 4]);
  });
  it('interpolates like numpy', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10], 95)).toBe(10);
    expect(percentile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 95)).toBeCloseTo(95);
  });
});

describe('latencyStats', () => {
  it('measures batch-1 latency percentiles and batched throughput', async () => {
    const counted = countingSession(distil.session);
    const s = await latencyStats({ session: counted, inputs: distil.inputs, tokenizer: tok, texts, maxLength: MAXLEN, samples: 20, warmup: 2, batchSize: 32, throughputSentences: 100 });
    expect(s.samples).toBe(20);
    expect(s.throughputSentences).toBe(100);
    expect(s.p50Ms).toBeGreaterThan(0);
    expect(s.p95Ms).toBeGreaterThanOrEqual(s.p50Ms);
    expect(s.maxMs).toBeGreaterThanOrEqual(s.p95Ms);
    expect(s.sentencesPerSecond).toBeGreaterThan(0);
    // 2 warm-up + 20 timed batch-1 runs, then ceil(100 / 32) batched runs.
    expect(counted.batchRows.slice(0, 22).every((b) => b === 1)).toBe(true);
    expect(counted.batchRows.slice(22)).toEqual([32, 32, 32, 4]);
  });
});
