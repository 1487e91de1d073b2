// Learning-rate schedules, evaluated on the host and fed to the step graph each step.

/**
 * Hugging Face's get_linear_schedule_with_warmup, as a multiplier of the base rate at
 * 0-based optimizer step `step` (the rate used by the (step+1)-th update):
 * step/warmup while step < warmup, then linear decay reaching 0 at `total`.
 */
export function linearWarmupDecay(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}

/** Warm-up steps for a ratio of the total, as the HF Trainer rounds it (ceil). */
export function warmupSteps(total: number, ratio: number): number {
  return Math.ceil(total * ratio);
}
