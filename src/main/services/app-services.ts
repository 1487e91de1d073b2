// Everything the renderer can ask of the app, without Electron: the IPC layer
// (src/main/electron/ipc.ts) and the browser bridge call these after validating arguments and
// paths. pick and showInFolder need native dialogs and live in the Electron layer.
import type {
  AppEvent,
  BothPredictions,
  Comparison,
  DataPreview,
  DistillApi,
  DoctorReport,
  ExportOutcome,
  ModelInfo,
  RunDetails,
  RunInfo,
  Settings,
  SystemUsage,
} from '../../shared/api';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { JobConfigInput } from '../../shared/job-config';
import { exportRun as engineExportRun } from '../../engine/pipeline/export-run';
import { sessionOptionsFor } from '../../engine/runtime/providers';
import { compareRun, predictWithBoth, type CompareOptions } from './compare';
import { previewData, type PreviewColumns } from './data-preview';
import { inspectModel } from './model-info';
import { RunModels, type RunModelsOptions } from './run-models';
import type { SettingsStore } from './settings-store';
import { SystemUsageSampler } from './system-usage';
import type { AppPaths, DoctorFn, GpuPackInstaller, RunsService } from './types';

export interface AppServicesDeps {
  runs: RunsService;
  settings: SettingsStore;
  doctor: DoctorFn;
  installGpuPack: GpuPackInstaller;
  paths: AppPaths;
  /** The app's version (getVersion). */
  version?: string;
  /** Comparison measurement options (tests use fewer samples). */
  compare?: CompareOptions;
  /** Model sessions (tests may inject). */
  runModels?: RunModels | RunModelsOptions;
  /** CPU, memory and GPU use (tests may inject). */
  usage?: SystemUsageSampler;
}

/** The DistillApi methods AppServices implements. */
export type ServiceMethods = Omit<DistillApi, 'pick' | 'showInFolder' | 'onEvent'>;

type Listener = (e: AppEvent) => void;

function isEmptyOrMissing(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && readdirSync(dir).length === 0;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** `outDir` itself when it is new or empty, else the first free `<outDir>/<name>[-N]`. */
export function exportTarget(outDir: string, name: string): string {
  if (isEmptyOrMissing(outDir)) return outDir;
  for (let i = 1; ; i++) {
    const candidate = path.join(outDir, i === 1 ? name : `${name}-${i}`);
    if (!existsSync(candidate)) return candidate;
  }
}

export class AppServices implements ServiceMethods {
  private readonly listeners = new Set<Listener>();
  private readonly models: RunModels;
  private readonly usage: SystemUsageSampler;
  private gpuPackInstall: Promise<void> | null = null;
  private readonly forward = (e: AppEvent) => this.emit(e);

  constructor(private readonly deps: AppServicesDeps) {
    this.models =
      deps.runModels instanceof RunModels
        ? deps.runModels
        : new RunModels({
            // Comparisons measure this computer's CPU, with the thread count the user set.
            sessionOptions: () => sessionOptionsFor('cpu', { threads: deps.settings.get().threads ?? undefined }),
            ...deps.runModels,
          });
    this.usage = deps.usage ?? new SystemUsageSampler();
    deps.runs.on('event', this.forward);
  }

  // --- events ---------------------------------------------------------------------------

  /** Subscribes to app events (runs and GPU pack); returns the unsubscribe function. */
  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: AppEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        console.error('[services] event listener failed:', err);
      }
    }
  }

  // --- app --------------------------------------------------------------------------------

  async getVersion(): Promise<string> {
    return this.deps.version ?? '0.0.0';
  }

  async doctor(): Promise<DoctorReport> {
    const r = await this.deps.doctor();
    const notes = this.deps.settings.notes;
    return notes.length ? { ...r, hardware: { ...r.hardware, notes: [...r.hardware.notes, ...notes] } } : r;
  }

  async getSettings(): Promise<Settings> {
    return this.deps.settings.get();
  }

  async updateSettings(patch: Partial<Settings>): Promise<Settings> {
    return this.deps.settings.update(patch);
  }

  async systemUsage(): Promise<SystemUsage> {
    return this.usage.sample();
  }

  /** The cache folder in use (settings, else the default). */
  cacheDir(): string {
    return this.deps.settings.get().cacheDir;
  }

  runsRoot(): string {
    return this.deps.paths.runsRoot;
  }

  // --- data and models --------------------------------------------------------------------

  async previewData(file: string, columns?: PreviewColumns): Promise<DataPreview> {
    return previewData(file, columns);
  }

  async inspectModel(source: string, role: 'teacher' | 'student'): Promise<ModelInfo> {
    return inspectModel(source, role, { cacheDir: this.cacheDir() });
  }

  /** Downloads and installs the GPU pack, reporting 'gpu-pack' events; one install at a time. */
  installGpuPack(): Promise<void> {
    if (this.gpuPackInstall) return this.gpuPackInstall;
    let last = 0;
    let received = 0;
    let total: number | null = null;
    const run = async () => {
      try {
        await this.deps.installGpuPack({
          onProgress: (p) => {
            received = p.received;
            total = p.total;
            const now = Date.now();
            if (now - last < 200) return;
            last = now;
            this.emit({ kind: 'gpu-pack', received, total, done: false, error: null });
          },
        });
        this.emit({ kind: 'gpu-pack', received, total, done: true, error: null });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        this.emit({ kind: 'gpu-pack', received, total, done: true, error: message });
        throw e;
      } finally {
        this.gpuPackInstall = null;
      }
    };
    this.gpuPackInstall = run();
    return this.gpuPackInstall;
  }

  // --- runs -------------------------------------------------------------------------------

  /** Starts a run; fields the config leaves out take the user's settings (provider, threads, cache folder). */
  async startRun(config: JobConfigInput): Promise<RunInfo> {
    const s = this.deps.settings.get();
    const withSettings: JobConfigInput = {
      ...config,
      provider: config.provider ?? s.provider,
      threads: config.threads === undefined ? s.threads : config.threads,
      cacheDir: config.cacheDir === undefined ? s.cacheDir : config.cacheDir,
    };
    const run = await this.deps.runs.start(withSettings);
    this.rememberRun(run.id);
    return run;
  }

  async pauseRun(runId: string): Promise<void> {
    return this.deps.runs.pause(runId);
  }

  async resumeRun(runId: string): Promise<RunInfo> {
    const run = await this.deps.runs.resume(runId);
    this.rememberRun(run.id);
    return run;
  }

  async cancelRun(runId: string): Promise<void> {
    return this.deps.runs.cancel(runId);
  }

  async listRuns(): Promise<RunInfo[]> {
    return this.deps.runs.list();
  }

  async getRun(runId: string): Promise<RunDetails> {
    return this.deps.runs.get(runId);
  }

  private rememberRun(runId: string): void {
    try {
      this.deps.settings.addRecentRun(runId);
    } catch {
      // an id the settings cannot hold is simply not remembered
    }
  }

  private async runDir(runId: string): Promise<string> {
    const d = await this.deps.runs.get(runId);
    return d.run.dir;
  }

  async compare(runId: string): Promise<Comparison> {
    const dir = await this.runDir(runId);
    return this.models.use(dir, (r) => compareRun(r, this.deps.compare));
  }

  async predictBoth(runId: string, text: string): Promise<BothPredictions> {
    const dir = await this.runDir(runId);
    return this.models.use(dir, (r) => predictWithBoth(r, text));
  }

  /**
   * Exports the run's best model into `outDir` when that folder is new or empty, else into a new
   * subfolder of it (`<runId>-<format>`): the engine's Hugging Face export replaces its whole
   * target folder, and the chosen folder may well be the user's Desktop.
   */
  async exportRun(runId: string, format: 'onnx' | 'onnx-int8' | 'hf', outDir: string): Promise<ExportOutcome> {
    const dir = await this.runDir(runId);
    return engineExportRun({ run: dir, format, out: exportTarget(outDir, `${runId}-${format}`) });
  }

  /** Stops forwarding run events and closes the model sessions. */
  async dispose(): Promise<void> {
    this.deps.runs.off('event', this.forward);
    this.listeners.clear();
    await this.models.dispose();
  }
}
