import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelConfig, parseModelConfig } from '../../../src/engine/models/config';
import { initParams, parameterCount, parameterSpecs } from '../../../src/engine/models/params';
import { SHARED_ABSENT, safetensorsHeader, sharedFile } from './helpers';

const bertTiny = sharedFile('fixtures/bert-tiny-random');
const distilSst2 = sharedFile('data/distilbert-base-uncased-finetuned-sst-2-english/config.json');

describe.skipIf(!bertTiny)(`bert-tiny-random model.safetensors${bertTiny ? '' : ` (skipped: ${SHARED_ABSENT})`}`, () => {
  it('names and shapes equal the checkpoint keys and shapes', async () => {
    const cfg = await loadModelConfig(path.join(bertTiny!, 'config.json'));
    const { header } = safetensorsHeader(new Uint8Array(readFileSync(path.join(bertTiny!, 'model.safetensors'))));
    const specs = parameterSpecs(cfg);
    expect(specs.map((s) => s.name).sort()).toEqual(Object.keys(header).sort());
    for (const s of specs) expect(header[s.name].shape, s.name).toEqual(s.shape);
    expect(parameterCount(specs)).toBe(4386178); // fixtures/bert-tiny-random/README.md
  });
});

describe('parameterSpecs', () => {
  it('BERT: HF state_dict order, torch Linear [out, in] shapes, Trainer decay grouping', () => {
    const cfg = parseModelConfig({ model_type: 'bert', vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 20, num_labels: 3 });
    const specs = parameterSpecs(cfg);
    expect(specs.map((s) => s.name)).toEqual([
      'bert.embeddings.word_embeddings.weight', 'bert.embeddings.position_embeddings.weight', 'bert.embeddings.token_type_embeddings.weight',
      'bert.embeddings.LayerNorm.weight', 'bert.embeddings.LayerNorm.bias',
      'bert.encoder.layer.0.attention.self.query.weight', 'bert.encoder.layer.0.attention.self.query.bias',
      'bert.encoder.layer.0.attention.self.key.weight', 'bert.encoder.layer.0.attention.self.key.bias',
      'bert.encoder.layer.0.attention.self.value.weight', 'bert.encoder.layer.0.attention.self.value.bias',
      'bert.encoder.layer.0.attention.output.dense.weight', 'bert.encoder.layer.0.attention.output.dense.bias',
      'bert.encoder.layer.0.attention.output.LayerNorm.weight', 'bert.encoder.layer.0.attention.output.LayerNorm.bias',
      'bert.encoder.layer.0.intermediate.dense.weight', 'bert.encoder.layer.0.intermediate.dense.bias',
      'bert.encoder.layer.0.output.dense.weight', 'bert.encoder.layer.0.output.dense.bias',
      'bert.encoder.layer.0.output.LayerNorm.weight', 'bert.encoder.layer.0.output.LayerNorm.bias',
      'bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias',
    ]);
    const by = new Map(specs.map((s) => [s.name, s]));
    expect(by.get('bert.encoder.layer.0.intermediate.dense.weight')!.shape).toEqual([24, 16]);
    expect(by.get('bert.encoder.layer.0.output.dense.weight')!.shape).toEqual([16, 24]);
    expect(by.get('classifier.weight')!.shape).toEqual([3, 16]);
    expect(by.get('bert.embeddings.token_type_embeddings.weight')!.shape).toEqual([2, 16]);
    for (const s of specs) {
      const noDecay = s.name.endsWith('.bias') || s.name.includes('LayerNorm');
      expect(s.decay, s.name).toBe(!noDecay);
    }
  });

  it('DistilBERT: HF names; the real SST-2 teacher has 66,955,010 parameters', async () => {
    const cfg = distilSst2
      ? await loadModelConfig(distilSst2)
      : parseModelConfig({ model_type: 'distilbert', architectures: ['DistilBertForSequenceClassification'], id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' } });
    const specs = parameterSpecs(cfg);
    expect(parameterCount(specs)).toBe(66955010);
    const names = specs.map((s) => s.name);
    expect(names.slice(0, 4)).toEqual([
      'distilbert.embeddings.word_embeddings.weight', 'distilbert.embeddings.position_embeddings.weight',
      'distilbert.embeddings.LayerNorm.weight', 'distilbert.embeddings.LayerNorm.bias',
    ]);
    expect(names).toContain('distilbert.transformer.layer.5.attention.q_lin.weight');
    expect(names).toContain('distilbert.transformer.layer.0.sa_layer_norm.weight');
    expect(names).toContain('distilbert.transformer.layer.0.ffn.lin1.weight');
    expect(names).toContain('distilbert.transformer.layer.0.output_layer_norm.bias');
    expect(names.slice(-4)).toEqual(['pre_classifier.weight', 'pre_classifier.bias', 'classifier.weight', 'classifier.bias']);
    const noDecay = specs.filter((s) => !s.decay).map((s) => s.name);
    expect(noDecay.every((n) => n.endsWith('.bias') || /layer_norm|LayerNorm/.test(n))).toBe(true);
    expect(noDecay).toContain('distilbert.transformer.layer.0.sa_layer_norm.weight');
  });
});

describe('initParams', () => {
  const cfg = parseModelConfig({ model_type: 'bert', vocab_size: 300, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 64 });

  it('follows HF _init_weights: N(0, 0.02) weights, zero biases, unit LayerNorm, zero padding row', () => {
    const w = initParams(cfg, 1);
    for (const s of parameterSpecs(cfg)) {
      const t = w.get(s.name)!;
      expect(t.length, s.name).toBe(s.shape.reduce((a, b) => a * b, 1));
      if (s.role === 'bias' || s.role === 'norm_bias') expect(t.every((x) => x === 0), s.name).toBe(true);
      if (s.role === 'norm_weight') expect(t.every((x) => x === 1), s.name).toBe(true);
    }
    const words = w.get('bert.embeddings.word_embeddings.weight')!;
    expect(words.subarray(0, 64).every((x) => x === 0)).toBe(true); // [PAD] = 0
    const rest = words.subarray(64);
    const mean = rest.reduce((a, b) => a + b, 0) / rest.length;
    const std = Math.sqrt(rest.reduce((a, b) => a + (b - mean) ** 2, 0) / rest.length);
    expect(Math.abs(mean)).toBeLessThan(1e-3);
    expect(std).toBeGreaterThan(0.0195);
    expect(std).toBeLessThan(0.0205);
  });

  it('is deterministic per seed', () => {
    const a = initParams(cfg, 5), b = initParams(cfg, 5), c = initParams(cfg, 6);
    const k = 'bert.encoder.layer.1.attention.self.key.weight';
    expect(a.get(k)).toEqual(b.get(k));
    expect(a.get(k)).not.toEqual(c.get(k));
  });
});
