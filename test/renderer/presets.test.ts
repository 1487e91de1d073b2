import { describe, expect, it } from 'vitest';
import { JobConfigSchema } from '../../src/shared/job-config';
import { applyPreset, defaultRecipe, matchPreset, PRESETS } from '../../src/renderer/src/lib/presets';

describe('presets', () => {
  it('Balanced is the documented default recipe', () => {
    expect(matchPreset(defaultRecipe())).toBe('balanced');
    const d = JobConfigSchema.parse({});
    expect(defaultRecipe()).toMatchObject({ epochs: d.epochs, batchSize: 32, lr: 3e-4, temperature: 2, alpha: 0.5, maxLength: 64, dropout: false });
  });

  it('every preset is valid and recognised after applying it', () => {
    for (const p of PRESETS) {
      const values = applyPreset(defaultRecipe(), p.id);
      expect(JobConfigSchema.safeParse(values).success).toBe(true);
      expect(matchPreset(values)).toBe(p.id);
    }
  });

  it('Quick is shorter and Best longer than Balanced', () => {
    const q = applyPreset(defaultRecipe(), 'quick');
    const b = applyPreset(defaultRecipe(), 'best');
    expect(q.epochs).toBeLessThan(5);
    expect(q.batchSize).toBeGreaterThan(32);
    expect(b.epochs).toBeGreaterThan(5);
    expect(b.maxLength).toBeGreaterThan(64);
    expect(b.earlyStoppingPatience).not.toBeNull();
  });

  it('an edited recipe is custom; unrelated fields do not matter', () => {
    expect(matchPreset({ ...defaultRecipe(), lr: 1e-3 })).toBe('custom');
    expect(matchPreset({ ...defaultRecipe(), seed: 7 })).toBe('balanced');
  });
});
