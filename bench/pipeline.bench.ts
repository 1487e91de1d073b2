// Pipeline benchmark (`npm run bench:pipeline`): the engine against the PyTorch reference
// (../shared/tools/oracle) on the same machine, in the same run.
//
// 1. Teacher pass throughput: a DistilBERT-base-shaped teacher (seeded random weights built by
//    the engine, exported by its ONNX exporter) run by the engine's teacher pass (teacherLogits:
//    length-sorted batches) over a seeded subset of SST-2 train, against the reference's
//    DistilBERT-shape forward (eval, inference_mode) on the same sentences, batch 32 with
//    dynamic padding in shuffled order, as its online-teacher run feeds it. Rounds alternate
//    between the sides so machine noise hits both; medians are quoted.
// 2. A full distillation: runJob with that teacher, the BERT-Tiny-shaped student fixture,
//    SST-2 train, 3 epochs, default recipe -> seconds per stage from summary.json; against the
//    reference recipe (online teacher every step, batch 16, 3 epochs), whose steps/s is
//    measured over a bounded number of steps (in blocks, half just before and half just after
//    the engine's run, so load changes on a shared machine hit both) and extrapolated.
//
// Environment: BENCH_QUICK=1 (1 epoch on a 10 % subset, fewer sentences and steps),
// BENCH_SKIP_TORCH=1, BENCH_THREADS (2), BENCH_TEACHER_SENTENCES (2048), BENCH_ROUNDS (3),
// BENCH_TEACHER_BATCHES ("32,64,128"), BENCH_REF_STEPS (60), BENCH_KEEP=1 (keep the temp folder),
// BENCH_SHARED (the shared folder, default ../shared).
// Progress goes to stderr; stdout gets the table and, as its last line, a JSON object.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, type TextTokenizer } from '../src/engine/data/tokenizer';
import type { RunSummary } from '../src/engine/pipeline/api';
import { classifyDetailed, lengthOrder } from '../src/engine/infer/classify';
import { runJob } from '../src/engine/pipeline/run-job';
import { sessionOptionsFor } from '../src/engine/runtime/providers';
import { openTeacher, type TeacherModel } from '../src/engine/teacher/teacher-model';
import { teacherLogits, type TeacherCacheMeta } from '../src/engine/teacher/teacher-pass';
import type { JobEvent } from '../src/shared/events';
import { parseJobConfig } from '../src/shared/job-config';
import { buildDistilbertTeacher, median, readTsv, seededSubset, sleep, sum, textOf, torchUnavailable, TorchRef, writeTsv } from './pipeline-helpers';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(process.env.BENCH_SHARED ?? path.join(ROOT, '../shared'));
const STUDENT_DIR = path.join(SHARED, 'fixtures', 'bert-tiny-random');
const SST2 = path.join(SHARED, 'data', 'sst2', 'train.tsv');
const ORACLE = path.join(SHARED, 'tools', 'oracle');
const TORCH_HELPER = path.join(ROOT, 'bench', 'torch_pipeline_ref.py');

const QUICK = process.env.BENCH_QUICK === '1';
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const TEACHER_SENTENCES = Number(process.env.BENCH_TEACHER_SENTENCES ?? (QUICK ? 256 : 2048));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const SWEEP = (process.env.BENCH_TEACHER_BATCHES ?? '32,64,128').split(',').map(Number);
const SWEEP_ROUNDS = QUICK ? 1 : 2;
const SWEEP_SLICE = 256; // a multiple of every swept batch size keeps the batches those of a full pass
const REF_STEPS = Number(process.env.BENCH_REF_STEPS ?? (QUICK ? 12 : 60));
const REF_BLOCKS_EACH_SIDE = QUICK ? 1 : 3;
const REF_WARMUP = 3;
const EPOCHS = QUICK ? 1 : 3;
const TRAIN_FRACTION = QUICK ? 0.1 : 1;
const REF_BATCH = 16;
const MAX_LENGTH = 64;
const SEED = 1234;
const PIPELINE_TEACHER_BATCH = 64; // teacherLogits' default: runJob does not pass one

const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const line = (s = '') => process.stdout.write(s + '\n');
const r1 = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null : +x.toFixed(d));
const pad = (s: string, n: number) => s.padEnd(n);
const num = (x: number | null | undefined, d = 1, w = 10) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d)).padStart(w);

interface EnginePass {
  rate: number;
  seconds: number;
  paddingOverhead: number;
}

/** One engine teacher pass over `rows` (fresh cache folder, so it really runs). */
async function engineTeacherPass(work: string, teacher: TeacherModel, tok: TextTokenizer, texts: string[], rows: Int32Array[], batchSize: number): Promise<EnginePass> {
  const cacheDir = mkdtempSync(path.join(work, 'tcache-'));
  try {
    const r = await teacherLogits({ teacher, tokenizer: tok, texts, tokenized: rows, maxLength: MAX_LENGTH, batchSize, numLabels: 2, cacheDir });
    const meta = JSON.parse(readFileSync(path.join(r.cachePath, 'meta.json'), 'utf8')) as TeacherCacheMeta;
    return { rate: r.sentencesPerSecond, seconds: meta.seconds, paddingOverhead: meta.paddingOverhead };
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

/**
 * Teacher-pass throughput per batch size, as the teacher pass computes it (length-sorted rows,
 * consecutive batches, classifyDetailed). On a shared machine the load drifts within seconds, so
 * the sizes are interleaved finely: the sorted rows are cut into slices of SWEEP_SLICE and each
 * slice runs at every batch size back to back (rotating which goes first). Returns, per batch
 * size, one rate (all sentences / summed time) per repetition, and the padding overhead (padded /
 * real tokens; on the full training set, with many sentences of each length, it is ~1 at any size).
 */
async function batchSweep(teacher: TeacherModel, padId: number, rows: Int32Array[]): Promise<{ rates: Record<number, number[]>; padding: Record<number, number> }> {
  const sorted = Array.from(lengthOrder(rows), (i) => rows[i]!);
  const rates: Record<number, number[]> = Object.fromEntries(SWEEP.map((b) => [b, [] as number[]]));
  let turn = 0;
  const padded: Record<number, number> = Object.fromEntries(SWEEP.map((b) => [b, 0]));
  const real = sum(sorted.map((x) => x.length));
  for (let rep = 0; rep < SWEEP_ROUNDS; rep++) {
    const seconds: Record<number, number> = Object.fromEntries(SWEEP.map((b) => [b, 0]));
    for (let start = 0; start < sorted.length; start += SWEEP_SLICE) {
      const slice = sorted.slice(start, start + SWEEP_SLICE);
      const order = SWEEP.map((_, i) => SWEEP[(i + turn) % SWEEP.length]!);
      turn++;
      for (const b of order) {
        const t0 = performance.now();
        const r = await classifyDetailed({ session: teacher.session, inputs: teacher.inputs, rows: slice, padId, batchSize: b, numLabels: 2 });
        seconds[b]! += (performance.now() - t0) / 1000;
        if (rep === 0) padded[b]! += r.paddingOverhead * sum(slice.map((x) => x.length));
      }
    }
    for (const b of SWEEP) rates[b]!.push(sorted.length / seconds[b]!);
    log(`engine teacher batch sweep ${rep + 1}/${SWEEP_ROUNDS}: ${SWEEP.map((b) => `b${b} ${rates[b]!.at(-1)!.toFixed(1)}`).join(', ')} sentences/s`);
  }
  return { rates, padding: Object.fromEntries(SWEEP.map((b) => [b, padded[b]! / real])) };
}

interface TorchTeacher {
  seconds: number;
  sentences_per_s: number;
  padding_overhead: number;
}

interface TeacherResult {
  sentences: number;
  realTokens: number;
  torchRealTokens: number | null;
  sweep: Record<number, number[]>;
  sweepPadding: Record<number, number>;
  bestBatch: number;
  engine: EnginePass[];
  torchOnline: TorchTeacher[];
  torchSorted: TorchTeacher[];
}

async function teacherSection(work: string, teacherDir: string, tsv: ReturnType<typeof readTsv>, torch: TorchRef | null): Promise<TeacherResult> {
  const subset = seededSubset(tsv, TEACHER_SENTENCES, SEED);
  const subsetFile = path.join(work, 'teacher-subset.tsv');
  writeTsv(subsetFile, tsv.header, subset);
  const texts = subset.map(textOf);
  const tok = await loadTokenizer(teacherDir);
  const rows = tok.encodeBatch(texts, { maxLength: MAX_LENGTH });
  const realTokens = sum(rows.map((r) => r.length));
  const teacher = await openTeacher(teacherDir, sessionOptionsFor('cpu', { threads: THREADS }));
  let torchRealTokens: number | null = null;
  if (torch) {
    const r = await torch.call<{ real_tokens: number; build_s: number }>({ cmd: 'load_teacher', data: subsetFile });
    torchRealTokens = r.real_tokens;
    log(`torch: DistilBERT-shape teacher built in ${r.build_s.toFixed(1)} s; ${r.real_tokens} tokens (engine tokenizer: ${realTokens})`);
    await torch.call({ cmd: 'teacher', order: 'online', batch: 32, limit: 2 }); // warm-up
  }
  try {
    // warm-up, then the batch-size sweep
    await engineTeacherPass(work, teacher, tok, texts.slice(0, 128), rows.slice(0, 128), 64);
    const { rates: sweep, padding: sweepPadding } = await batchSweep(teacher, tok.padId, rows);
    const bestBatch = SWEEP.reduce((best, b) => (median(sweep[b]!) > median(sweep[best]!) ? b : best), SWEEP[0]!);
    log(`best engine teacher batch: ${bestBatch}`);

    const engine: EnginePass[] = [], torchOnline: TorchTeacher[] = [], torchSorted: TorchTeacher[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await sleep(500);
      const e = await engineTeacherPass(work, teacher, tok, texts, rows, bestBatch);
      engine.push(e);
      log(`round ${round + 1}/${ROUNDS}: engine b${bestBatch} ${e.rate.toFixed(1)} sentences/s`);
      if (!torch) continue;
      await sleep(500); // let ONNX Runtime's spinning worker threads go idle
      const t = await torch.call<TorchTeacher>({ cmd: 'teacher', order: 'online', batch: 32, seed: round });
      torchOnline.push(t);
      log(`round ${round + 1}/${ROUNDS}: torch online-order b32 ${t.sentences_per_s.toFixed(1)} sentences/s (padding overhead ${t.padding_overhead.toFixed(2)})`);
      await sleep(500);
      const s = await torch.call<TorchTeacher>({ cmd: 'teacher', order: 'sorted', batch: 64 });
      torchSorted.push(s);
      log(`round ${round + 1}/${ROUNDS}: torch length-sorted b64 ${s.sentences_per_s.toFixed(1)} sentences/s`);
    }
    return { sentences: texts.length, realTokens, torchRealTokens, sweep, sweepPadding, bestBatch, engine, torchOnline, torchSorted };
  } finally {
    await teacher.session.release();
  }
}

interface RefResult {
  measuredSteps: number;
  /** steps/s of each block, in the order run ('before' blocks first, then 'after'). */
  blockRates: number[];
  blocksBefore: number;
  stepsPerSecond: number;
  teacherShare: number;
  meanPaddedLen: number;
  fullSteps: number;
  setupSeconds: number;
  extrapolatedSeconds: number;
  sentences: number;
}

/**
 * The reference recipe's steps/s, measured in blocks: half before the engine's pipeline and half
 * after it, so that a change in machine load during the (long) engine run shows up in both.
 */
class ReferenceRecipe {
  private setup: { sentences: number; full_steps: number; setup_s: number; tokenize_s: number } | null = null;
  private readonly blockRates: number[] = [];
  private blocksBefore = 0;
  private readonly stepS: number[] = [];
  private readonly teacherS: number[] = [];
  private readonly lens: number[] = [];

  constructor(private readonly torch: TorchRef) {}

  async prepare(trainFile: string): Promise<void> {
    this.setup = await this.torch.call({ cmd: 'kd_setup', data: trainFile, student: STUDENT_DIR, batch: REF_BATCH, epochs: EPOCHS });
    log(`torch KD: ${this.setup!.sentences} sentences tokenized in ${this.setup!.tokenize_s.toFixed(1)} s, set-up ${this.setup!.setup_s.toFixed(1)} s; full run = ${this.setup!.full_steps} steps`);
    await this.torch.call({ cmd: 'kd_steps', steps: REF_WARMUP });
  }

  async blocks(when: 'before' | 'after', count: number, per: number): Promise<void> {
    for (let b = 0; b < count; b++) {
      await sleep(300);
      const r = await this.torch.call<{ step_s: number[]; teacher_s: number[]; padded_len: number[] }>({ cmd: 'kd_steps', steps: per });
      const rate = per / sum(r.step_s);
      this.blockRates.push(rate);
      this.stepS.push(...r.step_s);
      this.teacherS.push(...r.teacher_s);
      this.lens.push(...r.padded_len);
      log(`torch KD block ${b + 1}/${count} ${when} the engine run: ${per} steps at ${rate.toFixed(2)} steps/s (teacher ${((100 * sum(r.teacher_s)) / sum(r.step_s)).toFixed(0)} %)`);
    }
    if (when === 'before') this.blocksBefore = this.blockRates.length;
  }

  result(): RefResult {
    const setup = this.setup!;
    const stepsPerSecond = median(this.blockRates);
    return {
      measuredSteps: this.stepS.length,
      blockRates: this.blockRates,
      blocksBefore: this.blocksBefore,
      stepsPerSecond,
      teacherShare: sum(this.teacherS) / sum(this.stepS),
      meanPaddedLen: sum(this.lens) / this.lens.length,
      fullSteps: setup.full_steps,
      setupSeconds: setup.setup_s,
      extrapolatedSeconds: setup.setup_s + setup.full_steps / stepsPerSecond,
      sentences: setup.sentences,
    };
  }
}

interface PipelineResult {
  summary: RunSummary;
  wallSeconds: number;
  stepMsMedian: number;
  stepMsMean: number;
  checkpointSeconds: number;
  checkpoints: number;
  saveBestSeconds: number;
  teacherMeta: TeacherCacheMeta[];
  trainRows: number;
}

async function pipelineSection(work: string, teacherDir: string, trainFile: string): Promise<PipelineResult> {
  const cacheDir = path.join(work, 'pipeline-cache');
  const out = path.join(work, 'run');
  const job = parseJobConfig({ teacher: teacherDir, student: STUDENT_DIR, train: trainFile, epochs: EPOCHS, cacheDir, offline: true });
  const stepMs: number[] = [];
  let lastStep = 0, lastProgress = 0, checkpointSeconds = 0, checkpoints = 0, saveBestSeconds = 0, evalEnd = 0;
  const onEvent = (e: JobEvent) => {
    const now = performance.now();
    switch (e.type) {
      case 'step':
        if (lastStep) stepMs.push(now - lastStep);
        lastStep = now;
        if (e.step % 1000 === 0 || e.step === e.totalSteps) log(`engine: step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)} ${e.samplesPerSecond.toFixed(0)} samples/s`);
        break;
      case 'stage':
        if (e.stage === 'evaluate' && e.status === 'start') lastStep = 0;
        if (e.stage === 'evaluate' && e.status === 'end') evalEnd = now;
        if (e.stage !== 'evaluate') log(`engine: stage ${e.stage} ${e.status}${e.seconds !== undefined ? ` ${e.seconds.toFixed(1)} s` : ''}${e.detail ? ` (${e.detail})` : ''}`);
        break;
      case 'eval':
        if (evalEnd) saveBestSeconds += (now - evalEnd) / 1000;
        evalEnd = 0;
        log(`engine: eval at step ${e.step}: accuracy ${e.accuracy.toFixed(4)}, agreement with teacher ${e.agreement.toFixed(4)}`);
        break;
      case 'checkpoint':
        if (lastStep) checkpointSeconds += (now - lastStep) / 1000;
        checkpoints++;
        lastStep = 0;
        break;
      case 'progress':
        if (now - lastProgress > 30_000 || e.done === e.total) {
          lastProgress = now;
          log(`engine: ${e.stage} ${e.done}/${e.total} ${e.unit} (${e.rate.toFixed(1)}/s)`);
        }
        break;
      case 'log':
        log(`engine: ${e.message}`);
        break;
      default:
        break;
    }
  };
  const t0 = performance.now();
  const summary = await runJob(job, { out, onEvent });
  const wallSeconds = (performance.now() - t0) / 1000;
  const metaRoot = path.join(cacheDir, 'teacher-logits');
  const teacherMeta = readdirSync(metaRoot)
    .filter((d) => existsSync(path.join(metaRoot, d, 'meta.json')))
    .map((d) => JSON.parse(readFileSync(path.join(metaRoot, d, 'meta.json'), 'utf8')) as TeacherCacheMeta)
    .sort((a, b) => b.sentences - a.sentences);
  const cfg = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as { resolved: { data: { trainRows: number } } };
  return {
    summary, wallSeconds, stepMsMedian: median(stepMs), stepMsMean: sum(stepMs) / stepMs.length, checkpointSeconds, checkpoints, saveBestSeconds,
    teacherMeta, trainRows: cfg.resolved.data.trainRows,
  };
}

async function main() {
  const skipped: string[] = [];
  const missing = [STUDENT_DIR, SST2].filter((p) => !existsSync(p));
  if (missing.length) {
    const why = `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} absent (no shared folder at ${SHARED})`;
    line(`Pipeline bench skipped: ${why}.`);
    line(JSON.stringify({ skipped: [`everything: ${why}`], teacher_pass: null, pipeline: null, reference: null }));
    return;
  }
  const torchWhy = process.env.BENCH_SKIP_TORCH === '1' ? 'BENCH_SKIP_TORCH=1' : torchUnavailable(ORACLE);
  if (torchWhy) skipped.push(`PyTorch reference: ${torchWhy}`);

  const work = mkdtempSync(path.join(tmpdir(), 'ds-pipeline-bench-'));
  let torch: TorchRef | null = null;
  try {
    log(`work folder ${work}${QUICK ? ' (BENCH_QUICK=1)' : ''}`);
    const teacherDir = path.join(work, 'teacher');
    const built = buildDistilbertTeacher(teacherDir, STUDENT_DIR, 0);
    log(`teacher: ${(built.parameters / 1e6).toFixed(2)}M parameters, ${(built.bytes / 2 ** 20).toFixed(0)} MiB ONNX, built in ${built.seconds.toFixed(1)} s`);
    const tsv = readTsv(SST2);
    let trainFile = SST2;
    if (TRAIN_FRACTION < 1) {
      trainFile = path.join(work, 'train-subset.tsv');
      writeTsv(trainFile, tsv.header, seededSubset(tsv, Math.round(tsv.rows.length * TRAIN_FRACTION), SEED + 1));
    }

    if (!torchWhy) torch = new TorchRef(TORCH_HELPER, THREADS);
    log(`1. teacher pass: ${TEACHER_SENTENCES} sentences, sweep ${SWEEP.join('/')}, ${ROUNDS} round(s)`);
    const tp = await teacherSection(work, teacherDir, tsv, torch);
    let recipe: ReferenceRecipe | null = null;
    const per = Math.max(1, Math.round(REF_STEPS / (2 * REF_BLOCKS_EACH_SIDE)));
    if (torch) {
      log(`2a. PyTorch reference recipe: ${REF_WARMUP} warm-up + ${REF_BLOCKS_EACH_SIDE} x ${per} timed online-teacher KD steps (batch ${REF_BATCH}) now, as many after the engine run`);
      recipe = new ReferenceRecipe(torch);
      await recipe.prepare(trainFile);
      await recipe.blocks('before', REF_BLOCKS_EACH_SIDE, per);
      await sleep(1000);
    }
    log(`2b. engine pipeline: runJob, ${EPOCHS} epoch(s) on ${path.basename(trainFile)}`);
    const pl = await pipelineSection(work, teacherDir, trainFile);
    if (torch && recipe) {
      await sleep(1000);
      log('2c. PyTorch reference recipe, the blocks after the engine run');
      await recipe.blocks('after', REF_BLOCKS_EACH_SIDE, per);
      torch.close();
      torch = null;
    }
    const ref = recipe?.result() ?? null;
    report(tp, ref, pl, built, skipped);
  } finally {
    torch?.close();
    if (process.env.BENCH_KEEP === '1') log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

function report(tp: TeacherResult, ref: RefResult | null, pl: PipelineResult, built: { parameters: number; bytes: number }, skipped: string[]) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const engineRate = median(tp.engine.map((e) => e.rate));
  const torchRate = tp.torchOnline.length ? median(tp.torchOnline.map((t) => t.sentences_per_s)) : null;
  const torchSortedRate = tp.torchSorted.length ? median(tp.torchSorted.map((t) => t.sentences_per_s)) : null;
  const ratio = torchRate ? engineRate / torchRate : null;
  // each round's engine pass against the torch pass right after it (same machine state, roughly)
  const pairedRatios = tp.torchOnline.map((t, i) => tp.engine[i]!.rate / t.sentences_per_s);

  line(`Distill Studio pipeline bench${QUICK ? ' (BENCH_QUICK=1: smoke run, not the real figures)' : ''} - ${os.cpus().length} x ${cpu}; ONNX Runtime ${THREADS} intra-op threads (teacher section)${torchRate !== null ? `, torch ${THREADS} threads` : ''}`);
  line();
  line(`1. Teacher pass: DistilBERT-base-shaped teacher (${(built.parameters / 1e6).toFixed(1)}M params, engine-built ONNX ${(built.bytes / 2 ** 20).toFixed(0)} MiB), ${tp.sentences} SST-2 train sentences (seed ${SEED}), max length ${MAX_LENGTH}; medians of ${ROUNDS} alternating round(s)`);
  line(`   engine batch sweep (length-sorted slices of ${SWEEP_SLICE} run at each size back to back; sentences/s, median of ${SWEEP_ROUNDS}): ${SWEEP.map((b) => `b${b} ${median(tp.sweep[b]!).toFixed(1)} (padding ${tp.sweepPadding[b]!.toFixed(3)}x)`).join(' | ')} -> using b${tp.bestBatch}`);
  line(`   ${pad('side', 68)}${'sent/s'.padStart(10)}${'padding'.padStart(10)}   rounds`);
  const rounds = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  line(`   ${pad(`engine teacherLogits, length-sorted batches of ${tp.bestBatch}`, 68)}${num(engineRate)}${num(median(tp.engine.map((e) => e.paddingOverhead)), 2)}x  ${rounds(tp.engine.map((e) => e.rate))}`);
  if (torchRate !== null) {
    line(`   ${pad('PyTorch reference, online order, b32 dynamic padding', 68)}${num(torchRate)}${num(median(tp.torchOnline.map((t) => t.padding_overhead)), 2)}x  ${rounds(tp.torchOnline.map((t) => t.sentences_per_s))}`);
    line(`   ${pad('PyTorch, length-sorted b64 (its --precomputed-teacher pass; info)', 68)}${num(torchSortedRate)}${num(median(tp.torchSorted.map((t) => t.padding_overhead)), 2)}x  ${rounds(tp.torchSorted.map((t) => t.sentences_per_s))}`);
    line(`   engine / reference: ${ratio!.toFixed(2)}x (target >= 1.5x: ${ratio! >= 1.5 ? 'met' : 'NOT met'}; per-round ratios ${pairedRatios.map((r) => r.toFixed(2)).join(', ')}); engine / torch length-sorted: ${(engineRate / torchSortedRate!).toFixed(2)}x`);
    if (tp.torchRealTokens !== tp.realTokens) line(`   WARNING: the tokenizers disagree on this subset (${tp.realTokens} engine tokens vs ${tp.torchRealTokens} torch tokens)`);
  }
  line();

  const st = pl.summary.stages;
  const stageSum = sum(Object.values(st).map((s) => s.seconds));
  line(`2. Full distillation (engine runJob, ${EPOCHS} epoch(s), batch ${pl.summary.batch_size}, default recipe; ${pl.trainRows} train rows + ${pl.summary.final.sentences} held out; teacher above, student bert-tiny-random; provider ${pl.summary.provider}, default threads)`);
  line(`   ${pad('stage', 12)}${'seconds'.padStart(10)}${'share'.padStart(8)}   detail`);
  const detail: Record<string, string> = {
    teacher: pl.teacherMeta.map((m) => `${m.sentences} sent at ${m.sentencesPerSecond.toFixed(1)}/s (b${m.batchSize}, padding ${m.paddingOverhead.toFixed(3)}x)`).join('; '),
    train: `${pl.summary.steps} steps; median ${pl.stepMsMedian.toFixed(1)} ms/step, mean ${pl.stepMsMean.toFixed(1)} (${((pl.summary.batch_size * 1000) / pl.stepMsMean).toFixed(0)} samples/s)`,
    evaluate: `${pl.summary.epochs} evaluation(s) of ${pl.summary.final.sentences} sentences`,
  };
  for (const [name, s] of Object.entries(st)) line(`   ${pad(name, 12)}${num(s.seconds)}${num((100 * s.seconds) / pl.wallSeconds, 1, 7)}%   ${detail[name] ?? ''}`);
  const other = pl.wallSeconds - stageSum;
  line(`   ${pad('other', 12)}${num(other)}${num((100 * other) / pl.wallSeconds, 1, 7)}%   outside the stages: ${pl.checkpoints} checkpoints ${pl.checkpointSeconds.toFixed(1)} s, best-weights saves ${pl.saveBestSeconds.toFixed(1)} s, session/graph set-up`);
  line(`   ${pad('total', 12)}${num(pl.wallSeconds)}${num(100, 1, 7)}%   final held-out accuracy ${pl.summary.final.accuracy.toFixed(4)}, agreement with the (random) teacher ${pl.summary.final.agreement.toFixed(4)}`);
  line(`   (the engine trains on ${pl.trainRows} rows and holds ${pl.summary.final.sentences} out for its evaluations; the reference recipe trains on every row and does not evaluate)`);
  let speedup: number | null = null;
  if (ref) {
    speedup = ref.extrapolatedSeconds / pl.wallSeconds;
    line(`   reference recipe (PyTorch, online DistilBERT-shape teacher every step, batch ${REF_BATCH}, ${EPOCHS} epoch(s) of ${ref.sentences} = ${ref.fullSteps} steps):`);
    line(`     EXTRAPOLATED from ${ref.measuredSteps} measured steps (after ${REF_WARMUP} warm-up), in ${ref.blockRates.length} blocks, half before and half after the engine run: ${ref.stepsPerSecond.toFixed(2)} steps/s median`);
    line(`     (blocks before: ${ref.blockRates.slice(0, ref.blocksBefore).map((r) => r.toFixed(2)).join(', ')}; after: ${ref.blockRates.slice(ref.blocksBefore).map((r) => r.toFixed(2)).join(', ')}), teacher ${(100 * ref.teacherShare).toFixed(0)} % of step time, mean padded length ${ref.meanPaddedLen.toFixed(1)}`);
    line(`     total = set-up ${ref.setupSeconds.toFixed(1)} s + ${ref.fullSteps} / ${ref.stepsPerSecond.toFixed(2)} = ${ref.extrapolatedSeconds.toFixed(0)} s (${(ref.extrapolatedSeconds / 3600).toFixed(2)} h)`);
    line(`   speedup engine vs reference: ${speedup.toFixed(1)}x (target >= 8x: ${speedup >= 8 ? 'met' : 'NOT met'})`);
  }
  for (const s of skipped) line(`skipped: ${s}`);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  line(`peak RSS ${peakRssMb.toFixed(0)} MB (this process${torchRate !== null ? '; the PyTorch reference is a separate process' : ''})`);
  line(JSON.stringify({
    quick: QUICK,
    threads: THREADS,
    teacher_pass: {
      sentences: tp.sentences,
      engine_batch: tp.bestBatch,
      engine_sentences_per_s: r1(engineRate),
      engine_rounds: tp.engine.map((e) => r1(e.rate)),
      engine_sweep: Object.fromEntries(SWEEP.map((b) => [b, r1(median(tp.sweep[b]!))])),
      engine_sweep_padding: Object.fromEntries(SWEEP.map((b) => [b, r1(tp.sweepPadding[b]!, 3)])),
      torch_sentences_per_s: r1(torchRate),
      torch_rounds: tp.torchOnline.map((t) => r1(t.sentences_per_s)),
      torch_sorted_b64_sentences_per_s: r1(torchSortedRate),
      ratio: r1(ratio, 2),
      round_ratios: pairedRatios.map((r) => r1(r, 2)),
      target: 1.5,
    },
    pipeline: {
      epochs: EPOCHS,
      train_rows: pl.trainRows,
      steps: pl.summary.steps,
      stages: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, r1(v.seconds)])),
      other_s: r1(other),
      total_s: r1(pl.wallSeconds),
      teacher_sentences_per_s: pl.teacherMeta.map((m) => r1(m.sentencesPerSecond)),
      teacher_batch: PIPELINE_TEACHER_BATCH,
      train_ms_per_step_median: r1(pl.stepMsMedian, 2),
      final_accuracy: r1(pl.summary.final.accuracy, 4),
    },
    reference: ref && {
      extrapolated: true,
      measured_steps: ref.measuredSteps,
      steps_per_s: r1(ref.stepsPerSecond, 3),
      block_steps_per_s: ref.blockRates.map((r) => r1(r, 3)),
      full_steps: ref.fullSteps,
      teacher_share: r1(ref.teacherShare, 3),
      total_s: r1(ref.extrapolatedSeconds),
    },
    speedup: r1(speedup, 2),
    speedup_target: 8,
    peak_rss_mb: Math.round(peakRssMb),
    skipped,
  }));
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
