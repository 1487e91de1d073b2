// Engine benchmark: one BERT-Tiny distillation training step (forward, KD loss, backward,
// clipping, AdamW) compiled to ONNX and run by onnxruntime-node on the CPU, against the
// same step in the PyTorch reference (../shared/tools/oracle) when python3-torch is
// installed, measured in the same run with interleaved rounds so machine noise hits both.
// Prints a table, then (last line) a JSON object.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../src/engine/checkpoint';
import { loadTokenizer } from '../src/engine/data/tokenizer';
import { parseModelConfig, loadModelConfig, type ModelConfig } from '../src/engine/models/config';
import { initParams } from '../src/engine/models/params';
import { mulberry32 } from '../src/engine/data/split';
import { ADAMW_DEFAULTS } from '../src/engine/train/adamw';
import { StepRunner, type Batch } from '../src/engine/train/step-runner';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(ROOT, '../shared');
const STUDENT_DIR = path.join(SHARED, 'fixtures', 'bert-tiny-random');
const SST2 = path.join(SHARED, 'data', 'sst2', 'train.tsv');
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const STEPS_PER_ROUND = Number(process.env.BENCH_STEPS ?? 12);
const WARMUP = 8;

// BERT-Tiny's architecture (prajjwal1/bert-tiny), for when ../shared is absent.
const BERT_TINY = {
  model_type: 'bert', architectures: ['BertForSequenceClassification'], vocab_size: 30522, hidden_size: 128,
  num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512, max_position_embeddings: 512,
  type_vocab_size: 2, hidden_act: 'gelu', layer_norm_eps: 1e-12, id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
};

interface JsonBatch { input_ids: number[][]; attention_mask: number[][]; labels: number[]; teacher_logits: number[][] }

function toBatch(b: JsonBatch): Batch {
  const B = b.input_ids.length, T = b.input_ids[0].length;
  const flat = (rows: number[][]) => BigInt64Array.from(rows.flat(), (x) => BigInt(x));
  return {
    size: B, seq: T, inputIds: flat(b.input_ids), attentionMask: flat(b.attention_mask), tokenTypeIds: new BigInt64Array(B * T),
    labels: BigInt64Array.from(b.labels, (x) => BigInt(x)), teacherLogits: Float32Array.from(b.teacher_logits.flat()),
  };
}

function randomBatches(n: number, B: number, T: number, seed: number): JsonBatch[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => ({
    input_ids: Array.from({ length: B }, () => Array.from({ length: T }, (_, t) => (t === 0 ? 101 : t === T - 1 ? 102 : 1000 + Math.floor(rnd() * 29000)))),
    attention_mask: Array.from({ length: B }, () => Array(T).fill(1)),
    labels: Array.from({ length: B }, () => (rnd() < 0.5 ? 0 : 1)),
    teacher_logits: Array.from({ length: B }, () => [rnd() * 4 - 2, rnd() * 4 - 2]),
  }));
}

/** Random batches of real SST-2 sentences, each padded to its longest row (dynamic padding). */
async function sst2Batches(n: number, B: number, seed: number): Promise<JsonBatch[] | null> {
  if (!existsSync(SST2) || !existsSync(STUDENT_DIR)) return null;
  const lines = readFileSync(SST2, 'utf8').split('\n').slice(1).filter(Boolean);
  const tok = await loadTokenizer(STUDENT_DIR);
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const rows = Array.from({ length: B }, () => lines[Math.floor(rnd() * lines.length)]);
    const texts = rows.map((l) => l.slice(0, l.lastIndexOf('\t')));
    const ids = tok.encodeBatch(texts, { maxLength: 64 });
    const T = Math.max(...ids.map((r) => r.length));
    return {
      input_ids: ids.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? r[t] : 0))),
      attention_mask: ids.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? 1 : 0))),
      labels: rows.map((l) => Number(l.slice(l.lastIndexOf('\t') + 1))),
      teacher_logits: rows.map(() => [rnd() * 4 - 2, rnd() * 4 - 2]),
    };
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

class TorchServer {
  private lines: AsyncIterator<string>;
  private proc;
  constructor() {
    this.proc = spawn('/usr/bin/python3', [path.join(ROOT, 'bench', 'torch_step_server.py')], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_THREADS: String(THREADS) } });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async call(cmd: object): Promise<Record<string, unknown>> {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    const { value } = await this.lines.next();
    const res = JSON.parse(value as string);
    if (res.error) throw new Error(`torch side: ${res.error}`);
    return res;
  }
  close() { this.proc.stdin!.end(); }
}

function torchAvailable(): string | null {
  if (!existsSync(path.join(SHARED, 'tools', 'oracle', 'bert.py'))) return '../shared/tools/oracle is absent';
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'pipe' });
    return null;
  } catch {
    return 'python3-torch is not installed';
  }
}

async function main() {
  const haveFixture = existsSync(STUDENT_DIR);
  const cfg: ModelConfig = haveFixture ? await loadModelConfig(path.join(STUDENT_DIR, 'config.json')) : parseModelConfig(BERT_TINY, 'bert-tiny');
  const weights = haveFixture
    ? new Map([...(await loadCheckpoint(STUDENT_DIR)).tensors].map(([k, t]) => [k, t.data as Float32Array]))
    : initParams(cfg, 0);
  const cases: Record<string, JsonBatch[]> = { b32_s64: randomBatches(4, 32, 64, 1) };
  const sst2 = await sst2Batches(40, 32, 2);
  if (sst2) cases.sst2_b32 = sst2;

  const runner = await StepRunner.create(cfg, weights, {
    temperature: 2, alpha: 0.5, adamw: ADAMW_DEFAULTS, maxGradNorm: 1, dropout: false,
    sessionOptions: { intraOpNumThreads: THREADS, interOpNumThreads: 1 },
  });
  const torchSkip = torchAvailable();
  let torch: TorchServer | null = null;
  let dir: string | null = null;
  if (!torchSkip) {
    dir = mkdtempSync(path.join(tmpdir(), 'ds-bench-'));
    writeFileSync(path.join(dir, 'batches.json'), JSON.stringify(cases));
    torch = new TorchServer();
    await torch.call({ cmd: 'load', student: STUDENT_DIR, batches: path.join(dir, 'batches.json') });
  }

  const results: Record<string, { ort: number[]; torch: number[]; meanSeq: number; batch: number }> = {};
  for (const [name, raw] of Object.entries(cases)) {
    const batches = raw.map(toBatch);
    const meanSeq = batches.reduce((s, b) => s + b.seq, 0) / batches.length;
    const r = (results[name] = { ort: [] as number[], torch: [] as number[], meanSeq, batch: batches[0].size });
    let k = 0;
    for (let i = 0; i < WARMUP; i++) await runner.run(batches[k++ % batches.length], 1e-4);
    if (torch) await torch.call({ cmd: 'time', case: name, steps: WARMUP });
    for (let round = 0; round < ROUNDS; round++) {
      await new Promise((res) => setTimeout(res, 300));
      const ms: number[] = [];
      for (let i = 0; i < STEPS_PER_ROUND; i++) {
        const t0 = performance.now();
        await runner.run(batches[k++ % batches.length], 1e-4);
        ms.push(performance.now() - t0);
      }
      r.ort.push(median(ms));
      // Let each side's spinning worker threads go idle before the other side runs.
      await new Promise((res) => setTimeout(res, 300));
      if (torch) r.torch.push(median((await torch.call({ cmd: 'time', case: name, steps: STEPS_PER_ROUND })).ms as number[]));
    }
  }
  torch?.close();
  await runner.release();
  if (dir) rmSync(dir, { recursive: true, force: true });

  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const line = (s: string) => process.stdout.write(s + '\n');
  line(`BERT-Tiny distillation step (fwd + KD loss + bwd + clip + AdamW), ONNX Runtime ${THREADS} intra-op threads, ${ROUNDS} rounds x ${STEPS_PER_ROUND} steps, medians`);
  line(`${'case'.padEnd(34)}${'ORT ms'.padStart(9)}${'ORT samp/s'.padStart(12)}${'torch ms'.padStart(10)}${'torch samp/s'.padStart(14)}${'ratio'.padStart(8)}`);
  const summary: Record<string, { batch: number; seq: number; ms_per_step: number; samples_per_s: number; torch_ms_per_step: number | null; torch_samples_per_s: number | null; ratio: number | null; rounds_ms: number[] }> = {};
  for (const [name, r] of Object.entries(results)) {
    const ms = median(r.ort), tms = r.torch.length ? median(r.torch) : null;
    const s = { batch: r.batch, seq: Math.round(r.meanSeq * 10) / 10, ms_per_step: +ms.toFixed(2), samples_per_s: +(r.batch * 1000 / ms).toFixed(1),
      torch_ms_per_step: tms && +tms.toFixed(2), torch_samples_per_s: tms && +(r.batch * 1000 / tms).toFixed(1), ratio: tms && +(tms / ms).toFixed(2), rounds_ms: r.ort.map((x) => +x.toFixed(1)) };
    summary[name] = s;
    const label = name === 'b32_s64' ? 'batch 32 x seq 64' : `SST-2 batch 32, mean padded len ${s.seq}`;
    line(`${label.padEnd(34)}${s.ms_per_step.toFixed(1).padStart(9)}${s.samples_per_s.toFixed(0).padStart(12)}${(tms?.toFixed(1) ?? '-').padStart(10)}${(s.torch_samples_per_s?.toFixed(0) ?? '-').padStart(14)}${(s.ratio ? s.ratio.toFixed(2) + 'x' : '-').padStart(8)}`);
  }
  if (torchSkip) line(`PyTorch reference not measured: ${torchSkip}`);
  if (!sst2) line('SST-2-like case skipped: ../shared/data/sst2/train.tsv is absent');
  line(`peak RSS ${peakRssMb.toFixed(0)} MB (this process; ${torch ? 'the torch server is a separate process' : 'no torch server'})`);
  const b = summary.b32_s64;
  line(JSON.stringify({
    student_step: { batch: b.batch, seq: 64, ms_per_step: b.ms_per_step, samples_per_s: b.samples_per_s },
    sst2_step: summary.sst2_b32 ? { batch: 32, mean_seq: summary.sst2_b32.seq, ms_per_step: summary.sst2_b32.ms_per_step, samples_per_s: summary.sst2_b32.samples_per_s } : null,
    peak_rss_mb: Math.round(peakRssMb),
    ort_threads: THREADS,
    torch_samples_per_s: b.torch_samples_per_s,
    torch_sst2_samples_per_s: summary.sst2_b32?.torch_samples_per_s ?? null,
    ratio: b.ratio,
    sst2_ratio: summary.sst2_b32?.ratio ?? null,
    rounds: ROUNDS,
    steps_per_round: STEPS_PER_ROUND,
  }));
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
