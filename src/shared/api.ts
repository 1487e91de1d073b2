// The contract between the renderer and the rest of the app. The preload script implements
// `DistillApi` with IPC calls and exposes it as `window.api`; the browser bridge implements it
// over a local WebSocket. The main process answers on the channels in `IPC`, validating every
// argument. This file is shared by every process, so it imports nothing with side effects.
import type { JobEvent } from './events';
import type { JobConfigInput } from './job-config';

export type ProviderChoice = 'auto' | 'cpu' | 'cuda' | 'dml';

export interface GpuInfo {
  vendor: string;
  name: string;
  vramBytes: number | null;
  driver: string | null;
  computeCapability: string | null;
}

export interface HardwareReport {
  platform: string;
  arch: string;
  cpu: { model: string; cores: number };
  memory: { totalBytes: number; freeBytes: number };
  /** Free space in the cache folder. */
  cacheDisk: { path: string; freeBytes: number | null };
  gpus: GpuInfo[];
  notes: string[];
}

export interface ProviderDecision {
  provider: 'cpu' | 'cuda' | 'dml';
  /** Plain sentences, e.g. "Your RTX 5060 Ti (compute capability 12.0) … training will use the GPU." */
  reasons: string[];
  /** Whether the GPU pack (CUDA provider files) applies here. */
  gpuPack: 'not-needed' | 'offer' | 'installed';
  /** The user's override, when one is set. */
  override: ProviderChoice;
}

export interface DoctorReport {
  hardware: HardwareReport;
  decision: ProviderDecision;
  versions: Record<string, string>;
}

export interface Settings {
  cacheDir: string;
  provider: ProviderChoice;
  threads: number | null;
  theme: 'system' | 'light' | 'dark';
}

/** What the user may pick with a dialog; the main process grants access to the chosen path only. */
export type PickKind = 'data-file' | 'model-folder' | 'run-folder' | 'export-folder';

export interface DataPreview {
  path: string;
  format: string;
  rows: number;
  columns: string[];
  textColumn: string;
  labelColumn: string | null;
  /** First rows as shown, text and label. */
  sample: { text: string; label: string | null }[];
  labelCounts: Record<string, number>;
  notes: string[];
}

export interface ModelInfo {
  source: string;
  role: 'teacher' | 'student';
  arch: string | null;
  parameters: number | null;
  labels: string[] | null;
  maxLength: number | null;
  vocabSize: number | null;
  sizeBytes: number | null;
  notes: string[];
}

export type RunStatus = 'queued' | 'running' | 'paused' | 'completed' | 'cancelled' | 'early-stopped' | 'failed' | 'interrupted';

export interface RunInfo {
  id: string;
  dir: string;
  status: RunStatus;
  createdAt: string;
  teacher: string;
  student: string;
  train: string;
  /** Best validation accuracy so far, when there is one. */
  bestAccuracy: number | null;
  step: number;
  totalSteps: number | null;
  /** Failed or interrupted runs: the reason and the worker's log tail. */
  error: string | null;
  log: string[];
}

export interface AppEventJob {
  kind: 'job';
  runId: string;
  event: JobEvent;
}
export interface AppEventRun {
  kind: 'run';
  run: RunInfo;
}
export interface AppEventGpuPack {
  kind: 'gpu-pack';
  received: number;
  total: number | null;
  done: boolean;
  error: string | null;
}
export type AppEvent = AppEventJob | AppEventRun | AppEventGpuPack;

export interface RunDetails {
  run: RunInfo;
  config: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
  /** metrics.jsonl (after resume markers are applied). */
  metrics: Record<string, unknown>[];
}

export interface ModelSide {
  label: string;
  parameters: number | null;
  sizeBytes: number;
  accuracy: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  sentencesPerSecond: number;
  confusion: number[][];
}

export interface Comparison {
  labels: string[];
  teacher: ModelSide;
  student: ModelSide;
  agreement: number;
  /** Validation sentences where the two disagree, with both probability vectors. */
  disagreements: { text: string; label: number; teacher: number[]; student: number[] }[];
}

export interface BothPredictions {
  text: string;
  teacher: { label: string; probabilities: number[] };
  student: { label: string; probabilities: number[] };
}

export interface ExportOutcome {
  format: 'onnx' | 'onnx-int8' | 'hf';
  path: string;
  bytes: number;
  verification: { sentences: number; agreementWithTrained: number; identicalPredictions: boolean; accuracy: number | null };
}

/** What the computer is busy with (the training monitor polls it while a run is running). */
export interface SystemUsage {
  /** The whole machine, 0-100, since the previous call. */
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  /** NVIDIA GPUs as nvidia-smi reports them; empty when there is none or it cannot answer. */
  gpus: { name: string; utilizationPercent: number | null; memoryUsedBytes: number | null; memoryTotalBytes: number | null }[];
  /** When it was measured (ISO time). */
  at: string;
}

/** The API the renderer sees as `window.api`. */
export interface DistillApi {
  getVersion(): Promise<string>;
  doctor(): Promise<DoctorReport>;
  getSettings(): Promise<Settings>;
  updateSettings(patch: Partial<Settings>): Promise<Settings>;
  /** Opens a native dialog; null when cancelled. */
  pick(kind: PickKind): Promise<string | null>;
  previewData(path: string, columns?: { text?: string; label?: string | null }): Promise<DataPreview>;
  inspectModel(source: string, role: 'teacher' | 'student'): Promise<ModelInfo>;
  installGpuPack(): Promise<void>;
  startRun(config: JobConfigInput): Promise<RunInfo>;
  pauseRun(runId: string): Promise<void>;
  resumeRun(runId: string): Promise<RunInfo>;
  cancelRun(runId: string): Promise<void>;
  listRuns(): Promise<RunInfo[]>;
  getRun(runId: string): Promise<RunDetails>;
  compare(runId: string): Promise<Comparison>;
  predictBoth(runId: string, text: string): Promise<BothPredictions>;
  exportRun(runId: string, format: 'onnx' | 'onnx-int8' | 'hf', outDir: string): Promise<ExportOutcome>;
  showInFolder(path: string): Promise<void>;
  /** CPU, memory and GPU use now. */
  systemUsage(): Promise<SystemUsage>;
  /** Subscribes to app events; returns the unsubscribe function. */
  onEvent(listener: (e: AppEvent) => void): () => void;
}

type Invokable = Exclude<keyof DistillApi, 'onEvent'>;

/** IPC channel names, one per invokable `DistillApi` method, plus the event channel. */
export const IPC = {
  getVersion: 'app:get-version',
  doctor: 'app:doctor',
  getSettings: 'settings:get',
  updateSettings: 'settings:update',
  pick: 'dialog:pick',
  previewData: 'data:preview',
  inspectModel: 'model:inspect',
  installGpuPack: 'gpu-pack:install',
  startRun: 'run:start',
  pauseRun: 'run:pause',
  resumeRun: 'run:resume',
  cancelRun: 'run:cancel',
  listRuns: 'run:list',
  getRun: 'run:get',
  compare: 'run:compare',
  predictBoth: 'run:predict-both',
  exportRun: 'run:export',
  showInFolder: 'shell:show-in-folder',
  systemUsage: 'system:usage',
} as const satisfies Record<Invokable, string>;

export const EVENT_CHANNEL = 'app:event';

export type IpcChannel = (typeof IPC)[keyof typeof IPC];
export type InvokableMethod = Invokable;
