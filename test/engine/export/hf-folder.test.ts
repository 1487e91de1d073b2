// The Hugging Face folder export (src/engine/export/hf-folder.ts): the files and their
// contents, round trips through the engine's own readers, the PyTorch oracle loading the
// folder (../shared/tools/oracle/bert.py load_model), Transformers.js loading it offline,
// and the all-or-nothing folder semantics.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsHeader } from '../../../src/engine/checkpoint';
import { loadTokenizer } from '../../../src/engine/data/tokenizer';
import { exportHfFolder, HfExportError, looksLikeHubId, type HfFolderOptions } from '../../../src/engine/export/hf-folder';
import { studentOnnxBytes } from '../../../src/engine/export/onnx-export';
import { compareLogits } from '../../../src/engine/export/verify';
import { loadModelConfig, parseModelConfig } from '../../../src/engine/models/config';
import { parameterSpecs } from '../../../src/engine/models/params';
import { runOracle, sharedFile, torchUnavailable } from '../models/helpers';
import { runLogits, tinyVocab, trainedTiny, type TrainedTiny } from './helpers';

const root = mkdtempSync(path.join(tmpdir(), 'ds-hf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tokenizer folder as transformers' BertTokenizer.save_pretrained leaves it, without tokenizer.json. */
const tokDir = path.join(root, 'tokenizer');
mkdirSync(tokDir);
writeFileSync(path.join(tokDir, 'vocab.txt'), tinyVocab().join('\n') + '\n');
writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify({
  do_lower_case: true, tokenizer_class: 'BertTokenizer', model_max_length: 512, cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]',
  unk_token: '[UNK]', mask_token: '[MASK]',
}));
writeFileSync(path.join(tokDir, 'special_tokens_map.json'), JSON.stringify({ cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }));

const SENTENCES = [
  'A gripping, beautifully made film.',
  'Dull, lifeless and far too long.',
  'The best movie I have ever loved!',
  'What a boring mess of a script.',
  'Not bad, but the ending is flat.',
  'Smart, funny and warm: the cast is brilliant.',
];

const card = (): HfFolderOptions['card'] => ({
  teacher: 'distilbert-base-uncased-finetuned-sst-2-english',
  dataset: 'stanfordnlp/sst2',
  metrics: [
    { name: 'accuracy', student: 0.8711, teacher: 0.9106 },
    { name: 'agreement with teacher', student: 0.9312 },
    { name: 'size (MB)', student: 17.6, teacher: 268 },
  ],
  recipe: { epochs: 5, batch_size: 32, lr: 3e-4, temperature: 2, alpha: 0.5, 'note | with pipe': 'a\nb' },
});

function options(m: TrainedTiny, out: string, over: Partial<HfFolderOptions> = {}): HfFolderOptions {
  return { cfg: m.cfg, configJson: m.configJson, weights: m.weights, tokenizerDir: tokDir, out, id2label: ['negative', 'positive'], card: card(), ...over };
}

/** Entries of `dir`'s parent that are leftovers of an export to `dir` (hidden partial/replaced siblings). */
function leftovers(dir: string): string[] {
  return readdirSync(path.dirname(dir)).filter((n) => n.startsWith(`.${path.basename(dir)}.`));
}

describe.each(['bert', 'distilbert'] as const)('Hugging Face folder of a %s student', (arch) => {
  let m: TrainedTiny;
  let out: string;
  beforeAll(async () => {
    m = await trainedTiny(arch);
    out = path.join(root, `${arch}-student`);
    await exportHfFolder(options(m, out));
  });

  it('holds the files transformers, ONNX Runtime and Transformers.js look for', () => {
    const files = readdirSync(out, { recursive: true }).map(String).sort();
    expect(files).toEqual([
      'README.md', 'config.json', 'model.safetensors', 'onnx', 'onnx/model.onnx', 'onnx/model_quantized.onnx', 'special_tokens_map.json',
      'tokenizer.json', 'tokenizer_config.json', 'vocab.txt',
    ]);
    expect(leftovers(out)).toEqual([]);
  });

  it('writes config.json with the original fields, the classifier architecture and the labels; it parses back to the trained shapes', async () => {
    const json = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(m.configJson)) if (!['id2label', 'label2id'].includes(k)) expect(json[k]).toEqual(v);
    expect(json.architectures).toEqual([arch === 'bert' ? 'BertForSequenceClassification' : 'DistilBertForSequenceClassification']);
    expect(json.id2label).toEqual({ 0: 'negative', 1: 'positive' });
    expect(json.label2id).toEqual({ negative: 0, positive: 1 });
    expect(json.num_labels).toBe(2);
    expect(json.torch_dtype).toBe('float32');
    const parsed = await loadModelConfig(path.join(out, 'config.json'));
    const { source: _s, notes: _n, id2label: _i, label2id: _l, ...shape } = parsed;
    const { source: _s2, notes: _n2, id2label: _i2, label2id: _l2, ...trained } = m.cfg;
    expect(shape).toEqual({ ...trained, hasClassifierHead: true });
    expect(parsed.id2label).toEqual({ 0: 'negative', 1: 'positive' });
    expect(parseModelConfig(json).hasClassifierHead).toBe(true);
  });

  it('writes model.safetensors that reads back to identical weights, with HF names and {format: pt}', async () => {
    const file = path.join(out, 'model.safetensors');
    const tensors = await readSafetensors(file);
    const specs = parameterSpecs(m.cfg);
    expect([...tensors.keys()].sort()).toEqual(specs.map((s) => s.name).sort());
    for (const s of specs) {
      const t = tensors.get(s.name)!;
      expect(t.dtype).toBe('float32');
      expect(t.shape).toEqual(s.shape);
      expect(Buffer.from((t.data as Float32Array).buffer, t.data.byteOffset, t.data.byteLength)
        .equals(Buffer.from(m.weights.get(s.name)!.buffer, m.weights.get(s.name)!.byteOffset, m.weights.get(s.name)!.byteLength))).toBe(true);
    }
    expect((await readSafetensorsHeader(file)).metadata).toEqual({ format: 'pt' });
  });

  it('copies the tokenizer, adds tokenizer.json, and caps model_max_length at the position table', async () => {
    expect(readFileSync(path.join(out, 'vocab.txt'))).toEqual(readFileSync(path.join(tokDir, 'vocab.txt')));
    expect(readFileSync(path.join(out, 'special_tokens_map.json'))).toEqual(readFileSync(path.join(tokDir, 'special_tokens_map.json')));
    const tc = JSON.parse(readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(tc.model_max_length).toBe(m.cfg.maxPositions);
    expect(tc.tokenizer_class).toBe('BertTokenizer');
    const ours = await loadTokenizer(out);
    const theirs = await loadTokenizer(tokDir);
    expect(ours.source).toBe('tokenizer.json');
    expect(ours.fingerprint).toBe(theirs.fingerprint);
    for (const s of SENTENCES) expect(Array.from(ours.encode(s))).toEqual(Array.from(theirs.encode(s)));
    expect(Array.from(ours.encode(SENTENCES[0]))).not.toContain(100); // the sentences use the tiny vocabulary
  });

  it('writes onnx/model.onnx with the trained model\'s logits and an int8 onnx/model_quantized.onnx with the same I/O', async () => {
    const tok = await loadTokenizer(out);
    const p = tok.pad(tok.encodeBatch(SENTENCES));
    const batch = { size: p.batchSize, seq: p.seqLen, inputIds: p.inputIds, attentionMask: p.attentionMask, tokenTypeIds: p.tokenTypeIds };
    const fp32 = await runLogits(path.join(out, 'onnx', 'model.onnx'), batch);
    const direct = await runLogits(studentOnnxBytes(m.cfg, m.weights), batch);
    expect(compareLogits(fp32.logits, direct.logits, 2).maxAbsDiff).toBe(0);
    const int8 = await runLogits(path.join(out, 'onnx', 'model_quantized.onnx'), batch);
    expect(int8.inputs).toEqual(fp32.inputs);
    expect(int8.outputs).toEqual(fp32.outputs);
    expect(readFileSync(path.join(out, 'onnx', 'model_quantized.onnx')).length).toBeLessThan(0.7 * readFileSync(path.join(out, 'onnx', 'model.onnx')).length);
  });

  it('writes a model card with front matter, labels, metrics and recipe', () => {
    const md = readFileSync(path.join(out, 'README.md'), 'utf8');
    const [, front, body] = md.split(/^---$/m);
    expect(md.startsWith('---\n')).toBe(true);
    const fm = front.trim().split('\n');
    expect(fm).toContain('pipeline_tag: text-classification');
    expect(fm).toContain('library_name: transformers');
    expect(fm).toEqual(expect.arrayContaining(['tags:', '- distillation', '- text-classification', 'datasets:', '- stanfordnlp/sst2']));
    expect(fm.some((l) => l.startsWith('license:'))).toBe(false);
    if (arch === 'bert') expect(fm).toContain('base_model: prajjwal1/bert-tiny'); // from config.json's _name_or_path
    else expect(fm.some((l) => l.startsWith('base_model:'))).toBe(false);
    expect(body).toContain('distilbert-base-uncased-finetuned-sst-2-english');
    expect(body).toContain('| 1 | positive |');
    expect(body).toContain('| accuracy | 0.8711 | 0.9106 |');
    expect(body).toContain('| agreement with teacher | 0.9312 | – |');
    expect(body).toContain('| lr | 0.0003 |');
    expect(body).toContain('| note \\| with pipe | a b |');
    expect(body).toContain('onnx/model_quantized.onnx');
  });
});

describe('the PyTorch oracle loads the folder', () => {
  const noOracle = !sharedFile('tools/oracle/bert.py') ? '../shared/tools/oracle is absent' : torchUnavailable();
  if (noOracle) console.warn(`export/hf-folder: oracle check skipped — ${noOracle}`);
  it.skipIf(!!noOracle).each(['bert', 'distilbert'] as const)('%s: bert.py load_model(folder) gives our logits within 1e-5', async (arch) => {
    const m = await trainedTiny(arch);
    const out = path.join(root, `${arch}-oracle`);
    await exportHfFolder(options(m, out));
    const tok = await loadTokenizer(out);
    const p = tok.pad(tok.encodeBatch(SENTENCES));
    const batch = { size: p.batchSize, seq: p.seqLen, inputIds: p.inputIds, attentionMask: p.attentionMask, tokenTypeIds: p.tokenTypeIds };
    const ours = (await runLogits(path.join(out, 'onnx', 'model.onnx'), batch)).logits;
    const rows = (a: BigInt64Array) => Array.from({ length: p.batchSize }, (_, i) => Array.from(a.subarray(i * p.seqLen, (i + 1) * p.seqLen), Number));
    const [torch] = runOracle([{ model_dir: out, input_ids: rows(p.inputIds), attention_mask: rows(p.attentionMask) }], path.join(root, `${arch}-oracle.json`));
    const cmp = compareLogits(ours, torch.flat(), 2);
    expect(cmp.identicalPredictions).toBe(true);
    expect(cmp.maxAbsDiff).toBeLessThan(1e-5);
  });
});

// Transformers.js (devDependency @huggingface/transformers) loading the folder offline.
const tjs = await import('@huggingface/transformers').catch((e: unknown) => e as Error);
const noTjs = tjs instanceof Error ? `@huggingface/transformers cannot be imported (${tjs.message}); npm install --save-dev @huggingface/transformers` : null;
if (noTjs) console.warn(`export/hf-folder: Transformers.js check skipped — ${noTjs}`);

describe.skipIf(!!noTjs)('Transformers.js loads the folder offline', () => {
  const softmax = (l: Float32Array, i: number) => {
    const a = Math.exp(l[2 * i]), b = Math.exp(l[2 * i + 1]);
    return [a / (a + b), b / (a + b)];
  };
  it.each(['bert', 'distilbert'] as const)('%s: pipeline("text-classification") gives our top labels and scores, fp32 and q8', async (arch) => {
    const T = tjs as typeof import('@huggingface/transformers');
    const m = await trainedTiny(arch);
    const out = path.join(root, 'tjs', `${arch}-model`);
    await exportHfFolder(options(m, out));
    T.env.allowRemoteModels = false;
    T.env.allowLocalModels = true;
    T.env.localModelPath = path.dirname(out);
    const tok = await loadTokenizer(out);
    // One sentence per run, unpadded, as the pipeline runs them: int8 activations are quantized
    // with one scale per tensor, so int8 logits depend (slightly) on what else is in the batch.
    const single = SENTENCES.map((s) => {
      const p = tok.pad([tok.encode(s)]);
      return { size: 1, seq: p.seqLen, inputIds: p.inputIds, attentionMask: p.attentionMask, tokenTypeIds: p.tokenTypeIds };
    });
    for (const [dtype, file] of [['fp32', 'model.onnx'], ['q8', 'model_quantized.onnx']] as const) {
      const ours = (await runLogits(path.join(out, 'onnx', file), single)).logits;
      const classifier = await T.pipeline('text-classification', path.basename(out), { local_files_only: true, dtype });
      try {
        for (let i = 0; i < SENTENCES.length; i++) {
          const res = (await classifier(SENTENCES[i], { top_k: null })) as { label: string; score: number }[];
          const probs = softmax(ours, i);
          const top = probs[1] > probs[0] ? 'positive' : 'negative';
          expect(res[0].label, `${dtype}: "${SENTENCES[i]}"`).toBe(top);
          for (const r of res) expect(r.score).toBeCloseTo(probs[r.label === 'positive' ? 1 : 0], 5);
        }
      } finally {
        await classifier.dispose();
      }
    }
  });
});

describe('all or nothing', () => {
  it('refuses a non-empty target and leaves it untouched; accepts an empty one', async () => {
    const m = await trainedTiny('distilbert');
    const out = path.join(root, 'taken');
    mkdirSync(out);
    writeFileSync(path.join(out, 'notes.txt'), 'mine');
    const err = await exportHfFolder(options(m, out)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HfExportError);
    expect((err as HfExportError).code).toBe('exists');
    expect((err as Error).message).toContain(out);
    expect((err as Error).message).toMatch(/not empty/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    expect(leftovers(out)).toEqual([]);

    const empty = path.join(root, 'empty');
    mkdirSync(empty);
    await exportHfFolder(options(m, empty));
    expect(existsSync(path.join(empty, 'onnx', 'model_quantized.onnx'))).toBe(true);

    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    await expect(exportHfFolder(options(m, file, { overwrite: true }))).rejects.toThrow(/a file with that name exists/);
  });

  it('overwrite: true replaces the folder as a whole', async () => {
    const m = await trainedTiny('distilbert');
    const out = path.join(root, 'replaced');
    mkdirSync(out);
    writeFileSync(path.join(out, 'stale.bin'), 'old');
    const r = await exportHfFolder(options(m, out, { overwrite: true }));
    expect(existsSync(path.join(out, 'stale.bin'))).toBe(false);
    expect(r.files.map((f) => f.path).sort()).toEqual([
      'README.md', 'config.json', 'model.safetensors', 'onnx/model.onnx', 'onnx/model_quantized.onnx', 'special_tokens_map.json',
      'tokenizer.json', 'tokenizer_config.json', 'vocab.txt',
    ]);
    expect(r.bytes).toBe(r.files.reduce((n, f) => n + f.bytes, 0));
    expect(r.quantization.matmuls).toBeGreaterThan(0);
    expect(r.notes.join('\n')).toMatch(/tokenizer\.json written/);
    expect(leftovers(out)).toEqual([]);
  });

  it('a failure part-way leaves no folder (and an existing one as it was)', async () => {
    const m = await trainedTiny('bert');
    for (const existing of [false, true]) {
      const out = path.join(root, `interrupted-${existing}`);
      if (existing) {
        mkdirSync(out);
        writeFileSync(path.join(out, 'keep.txt'), 'previous export');
      }
      const ac = new AbortController();
      const written: string[] = [];
      const run = exportHfFolder(options(m, out, {
        overwrite: existing,
        signal: ac.signal,
        onProgress: (f) => {
          written.push(f);
          if (f === 'onnx/model.onnx') ac.abort();
        },
      }));
      await expect(run).rejects.toMatchObject({ code: 'aborted' });
      expect(written).toContain('model.safetensors'); // it really was part-way
      if (existing) expect(readdirSync(out)).toEqual(['keep.txt']);
      else expect(existsSync(out)).toBe(false);
      expect(leftovers(out)).toEqual([]);
    }
  });

  it('checks its arguments before writing anything', async () => {
    const m = await trainedTiny('bert');
    const out = path.join(root, 'invalid');
    await expect(exportHfFolder(options(m, out, { id2label: ['a', 'b', 'c'] }))).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(exportHfFolder(options(m, out, { configJson: { ...m.configJson, hidden_size: 64 } }))).rejects.toThrow(/hidden: 64 vs 32/);
    const w = new Map(m.weights);
    w.delete('classifier.weight');
    await expect(exportHfFolder(options(m, out, { weights: w }))).rejects.toThrow(/classifier\.weight/);
    await expect(exportHfFolder(options(m, out, { tokenizerDir: path.join(root, 'nowhere') }))).rejects.toMatchObject({ code: 'tokenizer' });
    expect(existsSync(out)).toBe(false);
    expect(leftovers(out)).toEqual([]);
  });
});

it('tells Hub ids from local paths', () => {
  for (const id of ['sst2', 'stanfordnlp/sst2', 'prajjwal1/bert-tiny', 'distilbert-base-uncased-finetuned-sst-2-english']) expect(looksLikeHubId(id)).toBe(true);
  for (const p of ['/data/train.csv', 'train.tsv', 'my data', '../x/y', 'a/b/c', 'reviews.jsonl']) expect(looksLikeHubId(p)).toBe(false);
});

// The trained SST-2 model from ../shared, end to end: exported, read by the PyTorch oracle and by Transformers.js.
const teacherDir = sharedFile('tools/oracle/tiny-teacher-pt');
describe.skipIf(!teacherDir)('a trained SST-2 model (../shared)', () => {
  it('exports a folder whose fp32 and q8 models Transformers.js runs with our predictions', async () => {
    const cfg = await loadModelConfig(path.join(teacherDir!, 'config.json'));
    const configJson = JSON.parse(readFileSync(path.join(teacherDir!, 'config.json'), 'utf8')) as Record<string, unknown>;
    const { loadCheckpoint } = await import('../../../src/engine/checkpoint');
    const weights = new Map([...(await loadCheckpoint(teacherDir!)).tensors].map(([k, t]) => [k, t.data as Float32Array]));
    const out = path.join(root, 'sst2', 'tiny-sst2');
    const r = await exportHfFolder({ cfg, configJson, weights, tokenizerDir: teacherDir!, out, card: card() });
    const size = (f: string) => r.files.find((x) => x.path === f)!.bytes;
    console.log(`tiny-teacher-sst2 folder: model.safetensors ${size('model.safetensors')}, onnx/model.onnx ${size('onnx/model.onnx')}, ` +
      `onnx/model_quantized.onnx ${size('onnx/model_quantized.onnx')} bytes; notes: ${r.notes.join('; ')}`);
    expect(r.notes.join('\n')).toMatch(/model_max_length 512 lowered to the model's 128/);
    if (noTjs) return;
    const T = tjs as typeof import('@huggingface/transformers');
    T.env.allowRemoteModels = false;
    T.env.localModelPath = path.dirname(out);
    const texts = ['a gripping , beautifully made film', 'dull , lifeless and far too long', 'the acting is fine but the script is a mess',
      'one of the best films of the year', 'i would not watch it again'];
    const tok = await loadTokenizer(out);
    const single = texts.map((s) => {
      const p = tok.pad([tok.encode(s)]);
      return { size: 1, seq: p.seqLen, inputIds: p.inputIds, attentionMask: p.attentionMask, tokenTypeIds: p.tokenTypeIds };
    });
    for (const [dtype, file] of [['fp32', 'model.onnx'], ['q8', 'model_quantized.onnx']] as const) {
      const ours = (await runLogits(path.join(out, 'onnx', file), single)).logits;
      const classifier = await T.pipeline('text-classification', path.basename(out), { local_files_only: true, dtype });
      const labels: string[] = [];
      for (const t of texts) labels.push(((await classifier(t)) as { label: string }[])[0].label);
      await classifier.dispose();
      expect(labels).toEqual(texts.map((_, i) => (ours[2 * i + 1] > ours[2 * i] ? 'POSITIVE' : 'NEGATIVE')));
    }
  });
});
