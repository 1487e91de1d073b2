// Helpers for the export tests: a tiny student trained for a few steps on a learnable
// synthetic task (so that its predictions are confident, as a trained model's are), ONNX
// Runtime runs of exported models, and a tiny WordPiece vocabulary for tokenizer folders.
import * as ort from 'onnxruntime-node';
import { parseModelConfig, type ModelConfig } from '../../../src/engine/models/config';
import { initParams } from '../../../src/engine/models/params';
import { ADAMW_DEFAULTS } from '../../../src/engine/train/adamw';
import { StepRunner, type Batch } from '../../../src/engine/train/step-runner';
import { syntheticBatch, tinyBertConfigJson, tinyDistilBertConfigJson } from '../../support/tiny-models';

/**
 * The synthetic task: a sentence is POSITIVE when more of its content tokens are in the
 * upper half of the vocabulary. The teacher's logits say so with margin 3.
 */
export function taskBatch(cfg: ModelConfig, B: number, T: number, seed: number): Batch {
  const b = syntheticBatch(cfg, B, T, seed);
  const C = cfg.numLabels;
  for (let i = 0; i < B; i++) {
    let score = 0;
    for (let t = 1; t < T; t++) if (b.attentionMask[i * T + t]) score += Number(b.inputIds[i * T + t]) > cfg.vocabSize / 2 ? 1 : -1;
    const label = score > 0 ? 1 : 0;
    b.labels[i] = BigInt(label % C);
    for (let c = 0; c < C; c++) b.teacherLogits[i * C + c] = c === label ? 3 : -3;
  }
  return b;
}

export interface TrainedTiny {
  cfg: ModelConfig;
  configJson: Record<string, unknown>;
  weights: Map<string, Float32Array>;
}

const trainedCache = new Map<string, Promise<TrainedTiny>>();

/** A tiny BERT / DistilBERT (vocab 120, hidden 32, 2 layers) after `steps` distillation steps on the task. */
export function trainedTiny(arch: 'bert' | 'distilbert', steps = 60): Promise<TrainedTiny> {
  const key = `${arch}/${steps}`;
  let p = trainedCache.get(key);
  if (!p) {
    p = (async () => {
      const configJson = arch === 'bert' ? tinyBertConfigJson({ _name_or_path: 'prajjwal1/bert-tiny' }) : tinyDistilBertConfigJson();
      const cfg = parseModelConfig(configJson, `tiny-${arch}/config.json`);
      const runner = await StepRunner.create(cfg, initParams(cfg, 11), {
        temperature: 1, alpha: 0.5, adamw: ADAMW_DEFAULTS, maxGradNorm: 1, dropout: false,
      });
      for (let s = 0; s < steps; s++) await runner.run(taskBatch(cfg, 32, 16, 1000 + s), 3e-3);
      const weights = new Map([...runner.currentState().params].map(([k, v]) => [k, Float32Array.from(v)]));
      await runner.release();
      return { cfg, configJson, weights };
    })();
    trainedCache.set(key, p);
  }
  return p;
}

type Feedable = Pick<Batch, 'size' | 'seq' | 'inputIds' | 'attentionMask' | 'tokenTypeIds'>;

/**
 * Logits (row-major (B, C), batches concatenated) of an ONNX model on one or more batches,
 * in one session, feeding only the inputs the model declares.
 */
export async function runLogits(model: string | Uint8Array, batches: Feedable | Feedable[],
  optimization: 'disabled' | 'basic' | 'extended' | 'all' = 'all'): Promise<{ logits: Float32Array; inputs: readonly string[]; outputs: readonly string[] }> {
  const session = await ort.InferenceSession.create(model as Uint8Array, { graphOptimizationLevel: optimization, intraOpNumThreads: 2 });
  try {
    const parts: Float32Array[] = [];
    for (const batch of Array.isArray(batches) ? batches : [batches]) {
      const dims = [batch.size, batch.seq];
      const all: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', batch.inputIds, dims),
        attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
        token_type_ids: new ort.Tensor('int64', batch.tokenTypeIds ?? new BigInt64Array(batch.size * batch.seq), dims),
      };
      const out = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, all[n]])));
      parts.push(out.logits.data as Float32Array);
    }
    const logits = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      logits.set(p, at);
      at += p.length;
    }
    return { logits, inputs: session.inputNames, outputs: session.outputNames };
  } finally {
    await session.release();
  }
}

/** Several task batches concatenated into one (B = batches * per), for agreement statistics. */
export function evalBatch(cfg: ModelConfig, rows: number, T: number, seed = 5000): Batch {
  return taskBatch(cfg, rows, T, seed);
}

/**
 * A 120-token uncased WordPiece vocabulary: the special tokens at BERT's usual ids (0 [PAD],
 * 100 [UNK], 101 [CLS], 102 [SEP], 103 [MASK]), some words and word pieces in between.
 */
export function tinyVocab(): string[] {
  const words = [
    'the', 'a', 'an', 'and', 'but', 'or', 'of', 'to', 'in', 'is', 'it', 'this', 'that', 'film', 'movie', 'story', 'plot', 'acting',
    'good', 'great', 'fine', 'fun', 'best', 'love', 'loved', 'beautiful', 'gripping', 'moving', 'smart', 'funny', 'warm', 'brilliant',
    'bad', 'worst', 'dull', 'boring', 'lifeless', 'awful', 'mess', 'weak', 'flat', 'tedious', 'long', 'too', 'far', 'not', 'very',
    'made', 'with', 'no', 'one', 'so', 'just', 'all', 'at', 'its', 'was', 'be', 'has', 'more', 'than', 'ever', 'never', 'what',
    'make', 'who', 'me', 'i', 'you', 'we', ',', '.', '!', '?', "'", '-', '##s', '##ly', '##ed', '##ing', '##er', '##y', '##est',
    'beautifully', 'well', 'cast', 'script', 'ending', 'scene', 'scenes', 'director', 'work', 'time', 'characters', 'heart', 'life',
    'world', 'way', 'look', 'feel', 'end', 'watch', 'still', 'even',
  ];
  const vocab: string[] = new Array(120);
  vocab[0] = '[PAD]';
  vocab[100] = '[UNK]';
  vocab[101] = '[CLS]';
  vocab[102] = '[SEP]';
  vocab[103] = '[MASK]';
  let w = 0;
  for (let i = 0; i < 120; i++) if (vocab[i] === undefined) vocab[i] = words[w++] ?? `[unused${i}]`;
  return vocab;
}
