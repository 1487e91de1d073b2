import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelConfig, ModelConfigError, parseModelConfig } from '../../../src/engine/models/config';
import { SHARED_ABSENT, sharedFile } from './helpers';

const files = {
  distilSst2: sharedFile('data/distilbert-base-uncased-finetuned-sst-2-english/config.json'),
  bertTinyCopy: sharedFile('data/bert-tiny/config.finetuned-copy.json'),
  bertTinyRandom: sharedFile('fixtures/bert-tiny-random/config.json'),
};
const sharedMissing = Object.values(files).some((f) => !f);
if (sharedMissing) console.warn(`models/config: ${SHARED_ABSENT}`);

/** The error a parse throws (fails the test when it does not throw). */
function errorOf(json: unknown, source = 'inline/config.json'): ModelConfigError {
  try {
    parseModelConfig(json, source);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelConfigError);
    return e as ModelConfigError;
  }
  throw new Error('expected a ModelConfigError');
}

describe.skipIf(sharedMissing)(`real configs from ../shared${sharedMissing ? ` (skipped: ${SHARED_ABSENT})` : ''}`, () => {
  it('distilbert-base-uncased-finetuned-sst-2-english', async () => {
    const c = await loadModelConfig(files.distilSst2!);
    expect(c).toMatchObject({
      arch: 'distilbert', architecture: 'DistilBertForSequenceClassification', hasClassifierHead: true,
      vocabSize: 30522, hidden: 768, layers: 6, heads: 12, headDim: 64, intermediate: 3072, maxPositions: 512,
      layerNormEps: 1e-12, hiddenAct: 'gelu', hiddenDropout: 0.1, attentionDropout: 0.1, classifierDropout: 0.2,
      numLabels: 2, id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' }, label2id: { NEGATIVE: 0, POSITIVE: 1 }, padTokenId: 0,
      initializerRange: 0.02, notes: [],
    });
    expect(c.source).toBe(files.distilSst2);
    expect('typeVocabSize' in c).toBe(false);
  });

  it('bert-tiny (fine-tuned copy, no id2label: HF default labels)', async () => {
    const c = await loadModelConfig(files.bertTinyCopy!);
    expect(c).toMatchObject({
      arch: 'bert', typeVocabSize: 2, vocabSize: 30522, hidden: 128, layers: 2, heads: 2, headDim: 64, intermediate: 512,
      maxPositions: 512, layerNormEps: 1e-12, hiddenAct: 'gelu', hiddenDropout: 0.1, attentionDropout: 0.1,
      classifierDropout: 0.1, numLabels: 2, id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, label2id: { LABEL_0: 0, LABEL_1: 1 },
    });
    expect(c.notes.join(' ')).toMatch(/no id2label/);
  });

  it('bert-tiny-random fixture', async () => {
    const c = await loadModelConfig(files.bertTinyRandom!);
    expect(c).toMatchObject({
      arch: 'bert', hasClassifierHead: true, hidden: 128, layers: 2, heads: 2, intermediate: 512, typeVocabSize: 2,
      numLabels: 2, id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
    });
  });
});

describe('parseModelConfig', () => {
  it('refuses GPT-2 with a message naming the file, what it found and what is supported', () => {
    const e = errorOf({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 768, n_layer: 12 }, '/models/gpt2/config.json');
    expect(e.file).toBe('/models/gpt2/config.json');
    expect(e.found).toContain("model_type 'gpt2'");
    expect(e.message).toContain('/models/gpt2/config.json');
    expect(e.message).toContain('GPT2LMHeadModel');
    expect(e.message).toMatch(/not supported/);
    expect(e.message).toMatch(/BERT.*'bert'.*DistilBERT.*'distilbert'/);
    expect(e.name).toBe('ModelConfigError');
  });

  it('says RoBERTa is not supported yet', () => {
    const e = errorOf({ model_type: 'roberta', architectures: ['RobertaForSequenceClassification'] });
    expect(e.message).toMatch(/RoBERTa is not supported yet/);
  });

  it('refuses an architecture that contradicts model_type', () => {
    expect(errorOf({ model_type: 'bert', architectures: ['RobertaForSequenceClassification'] }).message).toMatch(/does not match model_type 'bert'/);
  });

  it('accepts other heads of the same family (the classifier head is then new)', () => {
    const c = parseModelConfig({ model_type: 'bert', architectures: ['BertForMaskedLM'] });
    expect(c.arch).toBe('bert');
    expect(c.hasClassifierHead).toBe(false);
  });

  it('infers BERT for configs without model_type (prajjwal1/bert-tiny style), with HF defaults', () => {
    const c = parseModelConfig({
      hidden_size: 128, hidden_act: 'gelu', initializer_range: 0.02, vocab_size: 30522, hidden_dropout_prob: 0.1,
      num_attention_heads: 2, type_vocab_size: 2, max_position_embeddings: 512, num_hidden_layers: 2,
      intermediate_size: 512, attention_probs_dropout_prob: 0.1,
    });
    expect(c).toMatchObject({ arch: 'bert', architecture: null, hidden: 128, layers: 2, layerNormEps: 1e-12, numLabels: 2, padTokenId: 0 });
    expect(c.notes.join(' ')).toMatch(/no model_type/);
  });

  it('fills Hugging Face defaults for missing fields', () => {
    const b = parseModelConfig({ model_type: 'bert' });
    expect(b).toMatchObject({ hidden: 768, layers: 12, heads: 12, intermediate: 3072, typeVocabSize: 2, vocabSize: 30522 });
    const d = parseModelConfig({ model_type: 'distilbert' });
    expect(d).toMatchObject({ hidden: 768, layers: 6, heads: 12, intermediate: 3072, classifierDropout: 0.2, hiddenAct: 'gelu' });
  });

  it('uses classifier_dropout when set, num_labels without id2label', () => {
    const c = parseModelConfig({ model_type: 'bert', classifier_dropout: 0.3, num_labels: 3 });
    expect(c.classifierDropout).toBe(0.3);
    expect(c.numLabels).toBe(3);
    expect(c.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
  });

  it('supports relu, refuses the tanh GELU approximation and other activations clearly', () => {
    expect(parseModelConfig({ model_type: 'distilbert', activation: 'relu' }).hiddenAct).toBe('relu');
    expect(errorOf({ model_type: 'bert', hidden_act: 'gelu_new' }).message).toMatch(/hidden_act "gelu_new".*tanh approximation.*'gelu' \(exact erf form\) and 'relu'/);
    expect(errorOf({ model_type: 'distilbert', activation: 'silu' }).message).toMatch(/activation "silu"/);
  });

  it('refuses unusable shapes and options', () => {
    expect(errorOf({ model_type: 'bert', hidden_size: 100, num_attention_heads: 3 }).message).toMatch(/hidden size 100 with 3 attention heads/);
    expect(errorOf({ model_type: 'bert', num_hidden_layers: '2' }).message).toMatch(/num_hidden_layers = "2"/);
    expect(errorOf({ model_type: 'bert', position_embedding_type: 'relative_key' }).message).toMatch(/relative_key/);
    expect(errorOf({ model_type: 'distilbert', sinusoidal_pos_embds: true }).message).toMatch(/sinusoidal_pos_embds/);
    expect(errorOf({ model_type: 'bert', id2label: { 0: 'a', 2: 'b' } }).message).toMatch(/id2label/);
    expect(errorOf([1, 2]).message).toMatch(/not a JSON object/);
    expect(errorOf({ foo: 1 }).message).toMatch(/without model_type/);
  });

  it('loadModelConfig names the file when it is missing or not JSON', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'models-config-'));
    try {
      await expect(loadModelConfig(path.join(dir, 'nope.json'))).rejects.toThrow(/nope\.json.*missing or unreadable/);
      writeFileSync(path.join(dir, 'bad.json'), '{"model_type": ');
      await expect(loadModelConfig(path.join(dir, 'bad.json'))).rejects.toThrow(/bad\.json.*not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
