// Events a distillation job emits, in order: the CLI prints them (`--json`: one per line),
// the desktop worker forwards them to the renderer. Plain data only.

export type Stage = 'download' | 'tokenize' | 'teacher' | 'train' | 'evaluate' | 'export';

export interface EvalMetrics {
  /** Student accuracy on the validation labels. */
  accuracy: number;
  /** Teacher accuracy on the same sentences. */
  teacherAccuracy: number;
  /** Fraction of sentences where student and teacher predict the same class. */
  agreement: number;
  /** Mean loss terms on the validation set (same objective as training). */
  loss: number;
  kl: number;
  ce: number;
  sentences: number;
}

export type JobEvent =
  | { type: 'stage'; stage: Stage; status: 'start' | 'end'; seconds?: number; detail?: string }
  | { type: 'progress'; stage: Stage; done: number; total: number; unit: string; rate: number; etaSeconds: number | null }
  | { type: 'step'; step: number; totalSteps: number; epoch: number; loss: number; kl: number; ce: number; lr: number; gradNorm: number; samplesPerSecond: number }
  | ({ type: 'eval'; step: number; epoch: number; best: boolean } & EvalMetrics)
  | { type: 'checkpoint'; step: number; path: string; best: boolean }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'paused'; step: number }
  | { type: 'resumed'; step: number }
  | { type: 'done'; status: 'completed' | 'cancelled' | 'early-stopped'; summaryPath: string | null }
  | { type: 'error'; code: string; message: string };

export type JobEventSink = (e: JobEvent) => void;
