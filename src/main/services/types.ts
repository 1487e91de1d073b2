// The seams of the main process's services: what AppServices needs from the rest of the app.
// Plain TypeScript: nothing here may import 'electron' (see scripts/check-layering.mjs).
import type { AppEvent, DoctorReport, RunDetails, RunInfo } from '../../shared/api';
import type { JobConfigInput } from '../../shared/job-config';

/**
 * The job manager as the services see it (src/main/jobs/job-manager.ts implements it): runs
 * distillation jobs in worker processes and reports their events.
 */
export interface RunsService {
  start(config: JobConfigInput): Promise<RunInfo>;
  pause(runId: string): Promise<void>;
  resume(runId: string): Promise<RunInfo>;
  cancel(runId: string): Promise<void>;
  list(): Promise<RunInfo[]>;
  /** Throws for an unknown run id. */
  get(runId: string): Promise<RunDetails>;
  on(event: 'event', listener: (e: AppEvent) => void): unknown;
  off(event: 'event', listener: (e: AppEvent) => void): unknown;
}

/** GPU pack download progress, as the engine's installGpuPack reports it. */
export interface GpuPackProgressLike {
  received: number;
  total: number | null;
}

/** Installs the GPU pack (engine: src/engine/gpu-pack installGpuPack with the app's data folder). */
export type GpuPackInstaller = (o: { onProgress: (p: GpuPackProgressLike) => void; signal?: AbortSignal }) => Promise<unknown>;

export type DoctorFn = () => Promise<DoctorReport>;

export interface AppPaths {
  /** Where the job manager keeps run folders. */
  runsRoot: string;
  /** The default cache folder (downloads, teacher logits) when the settings name none. */
  cacheDir: string;
}
