// Which rows make up each batch. Deterministic for a (seed, epoch), so a resumed run
// sees exactly the batches the interrupted one would have.
import { mulberry32 } from '../data/split';

export type BatchOrder = 'bucketed' | 'file';

/** Batches per bucket: rows are length-sorted within chunks of this many batches. */
const BUCKET_BATCHES = 100;

/**
 * The batches of one epoch, as row indices.
 * - 'file': consecutive rows in file order, the same every epoch (reproducible outside the app).
 * - 'bucketed': a seeded shuffle; within chunks of 100 batches rows are sorted by length so a
 *   batch holds sentences of similar length (little padding), then the batches are shuffled.
 */
export function epochBatches(opts: { lengths: ArrayLike<number>; batchSize: number; seed: number; epoch: number; order: BatchOrder }): number[][] {
  const n = opts.lengths.length, B = opts.batchSize;
  const idx = Array.from({ length: n }, (_, i) => i);
  if (opts.order === 'file') return chunk(idx, B);
  const rnd = mulberry32((opts.seed * 1_000_003 + opts.epoch * 7919) >>> 0);
  shuffle(idx, rnd);
  const out: number[][] = [];
  for (let i = 0; i < n; i += B * BUCKET_BATCHES) {
    const bucket = idx.slice(i, i + B * BUCKET_BATCHES).sort((a, b) => opts.lengths[a] - opts.lengths[b] || a - b);
    const batches = chunk(bucket, B);
    shuffle(batches, rnd);
    out.push(...batches);
  }
  return out;
}

export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.ceil(n / batchSize);
}

function chunk<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** Fisher-Yates with a seeded generator. */
function shuffle<T>(xs: T[], rnd: () => number): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}
