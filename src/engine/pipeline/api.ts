// What the CLI and the desktop worker call: one function per user-visible action.
// (Signatures first; implementations live in the sibling modules.)
import type { EvalMetrics, JobEventSink } from '../../shared/events';

/** What a run writes into its folder (a host clearing a failed attempt removes exactly these). */
export const RUN_OUTPUTS = ['config.json', 'metrics.jsonl', 'summary.json', 'validation.jsonl', 'checkpoints', 'export'] as const;

export interface JobControl {
  /** Aborting cancels the job at the next step boundary (a checkpoint is written first). */
  signal?: AbortSignal;
  /** While this returns true the trainer waits between steps. */
  isPaused?: () => boolean;
}

export interface RunJobOptions {
  /** The run folder. */
  out: string;
  /** Continue the run in `out` from its last checkpoint. */
  resume?: boolean;
  /**
   * Files a host keeps in the run folder (the app's run.json and worker.log): they do not
   * make a fresh run's folder count as taken.
   */
  hostFiles?: readonly string[];
  onEvent?: JobEventSink;
  control?: JobControl;
}

/** summary.json of a run folder. */
export interface RunSummary {
  status: 'completed' | 'cancelled' | 'early-stopped';
  steps: number;
  epochs: number;
  batch_size: number;
  provider: string;
  provider_reasons: string[];
  hardware: { cpu: string; cores: number; memory_gb: number; platform: string };
  stages: Record<string, { seconds: number; [k: string]: number }>;
  final: EvalMetrics & { step: number };
  best: EvalMetrics & { step: number; checkpoint: string };
  teacher: { source: string; parameters: number | null; size_bytes: number };
  student: { source: string; parameters: number; size_bytes: number };
  exports: Record<string, string>;
  versions: Record<string, string>;
}

export type ExportFormat = 'onnx' | 'onnx-int8' | 'hf';

export interface ExportResult {
  format: ExportFormat;
  path: string;
  bytes: number;
  /** Verification on the validation set. */
  verification: { sentences: number; agreementWithTrained: number; identicalPredictions: boolean; accuracy: number | null };
}

export interface EvalResult {
  model: string;
  sentences: number;
  accuracy: number | null;
  predictions: number[];
  /** (N, C) logits, row-major. */
  logits: Float32Array;
  labels: string[];
}

export interface Prediction {
  text: string;
  label: string;
  probabilities: Record<string, number>;
}
