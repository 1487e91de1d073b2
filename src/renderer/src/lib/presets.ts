// Recipe presets for the wizard's Recipe step. "Balanced" is exactly the documented default recipe
// of src/shared/job-config.ts; "Quick" trades accuracy for a short first run; "Best" spends more
// time (more epochs, longer inputs, frequent evaluation with the best checkpoint kept).
import { JobConfigSchema, type JobConfig } from '../../../shared/job-config';

/** The recipe fields of a job configuration (what the Recipe step edits). */
export type RecipeValues = Pick<
  JobConfig,
  | 'epochs'
  | 'maxSteps'
  | 'batchSize'
  | 'lr'
  | 'warmupRatio'
  | 'weightDecay'
  | 'maxGradNorm'
  | 'temperature'
  | 'alpha'
  | 'maxLength'
  | 'seed'
  | 'dropout'
  | 'order'
  | 'evalEvery'
  | 'checkpointEvery'
  | 'earlyStoppingPatience'
  | 'threads'
>;

export const RECIPE_KEYS = [
  'epochs',
  'batchSize',
  'lr',
  'temperature',
  'alpha',
  'maxLength',
  'seed',
  'evalEvery',
  'dropout',
  'warmupRatio',
  'weightDecay',
  'maxGradNorm',
  'maxSteps',
  'checkpointEvery',
  'earlyStoppingPatience',
  'order',
  'threads',
] as const satisfies readonly (keyof RecipeValues)[];

/** The schema's defaults: the documented default recipe. */
export function defaultRecipe(): RecipeValues {
  const d = JobConfigSchema.parse({});
  const out = {} as Record<string, unknown>;
  for (const k of RECIPE_KEYS) out[k] = d[k];
  return out as RecipeValues;
}

export type PresetId = 'quick' | 'balanced' | 'best';

export interface Preset {
  id: PresetId;
  name: string;
  /** One sentence on what it is for. */
  summary: string;
  /** The fields this preset sets; the others keep their current values. */
  values: Partial<RecipeValues>;
}

const DEFAULTS = defaultRecipe();

export const PRESETS: readonly Preset[] = [
  {
    id: 'quick',
    name: 'Quick',
    summary: 'Two epochs with larger batches: a first result in a fraction of the time, a point or two below Balanced.',
    values: { epochs: 2, batchSize: 64, lr: 4e-4, temperature: 2, alpha: 0.5, maxLength: 64, warmupRatio: 0.06, evalEvery: null, earlyStoppingPatience: null },
  },
  {
    id: 'balanced',
    name: 'Balanced',
    summary: 'The default recipe: five epochs, batch 32, learning rate 3e-4, temperature 2, the best evaluation kept.',
    values: {
      epochs: DEFAULTS.epochs,
      batchSize: DEFAULTS.batchSize,
      lr: DEFAULTS.lr,
      temperature: DEFAULTS.temperature,
      alpha: DEFAULTS.alpha,
      maxLength: DEFAULTS.maxLength,
      warmupRatio: DEFAULTS.warmupRatio,
      evalEvery: DEFAULTS.evalEvery,
      earlyStoppingPatience: DEFAULTS.earlyStoppingPatience,
    },
  },
  {
    id: 'best',
    name: 'Best',
    summary: 'Ten epochs on longer inputs (128 tokens), evaluated every 1,000 steps, stopping once five evaluations bring nothing new.',
    values: { epochs: 10, batchSize: 32, lr: 3e-4, temperature: 2, alpha: 0.5, maxLength: 128, warmupRatio: 0.06, evalEvery: 1000, earlyStoppingPatience: 5 },
  },
];

export function getPreset(id: PresetId): Preset {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) throw new Error(`Unknown preset ${id}`);
  return p;
}

/** `current` with the preset's fields applied. */
export function applyPreset(current: RecipeValues, id: PresetId): RecipeValues {
  return { ...current, ...getPreset(id).values };
}

/** The preset whose fields all match `values`, or 'custom'. */
export function matchPreset(values: Partial<RecipeValues>): PresetId | 'custom' {
  for (const p of PRESETS) {
    const same = Object.entries(p.values).every(([k, v]) => values[k as keyof RecipeValues] === v);
    if (same) return p.id;
  }
  return 'custom';
}
