// The doctor as the renderer sees it (src/shared/api.ts DoctorReport), from the engine's
// doctorReport (src/engine/hardware/decide.ts): hardware, the provider decision and why.
import type { DoctorReport, ProviderChoice } from '../../shared/api';
import { doctorReport, type DoctorDeps, type DoctorReport as EngineDoctorReport } from '../../engine/hardware/decide';
import { onnxRuntimeVersion } from '../../engine/gpu-pack/gpu-pack';

/** Maps the engine's report to the API's. */
export function toDoctorReport(r: EngineDoctorReport, o: { cacheDir: string; override: ProviderChoice; versions: Record<string, string> }): DoctorReport {
  const h = r.hardware;
  const disk = h.disks?.find((d) => d.path === o.cacheDir) ?? null;
  return {
    hardware: {
      platform: h.platform,
      arch: h.arch,
      cpu: { model: h.cpu.model, cores: h.cpu.cores },
      memory: { totalBytes: h.memory.totalBytes, freeBytes: h.memory.freeBytes },
      cacheDisk: { path: o.cacheDir, freeBytes: disk ? disk.freeBytes : null },
      gpus: h.gpus.map((g) => ({ vendor: g.vendor, name: g.name, vramBytes: g.vramBytes, driver: g.driver, computeCapability: g.computeCapability })),
      notes: [...h.notes, ...(r.gpuPack && r.gpuPack.state !== 'unsupported-platform' ? [r.gpuPack.reason] : [])],
    },
    decision: { provider: r.decision.provider, reasons: [...r.decision.reasons], gpuPack: r.decision.gpuPack, override: o.override },
    versions: { ...o.versions },
  };
}

export interface DoctorOptions {
  /** The app's data folder (the GPU pack lives there). */
  dataDir: string;
  cacheDir: () => string;
  /** The provider setting. */
  override: () => ProviderChoice;
  /** App, Electron, Node, Chrome versions. */
  versions: () => Record<string, string>;
  /** Test seam: the engine's doctorReport. */
  report?: (deps: DoctorDeps) => Promise<EngineDoctorReport>;
}

/** A `doctor` function for AppServices. */
export function makeDoctor(o: DoctorOptions): () => Promise<DoctorReport> {
  return async () => {
    const cacheDir = o.cacheDir();
    const override = o.override();
    const r = await (o.report ?? doctorReport)({ dataDir: o.dataDir, inspect: { diskDirs: [cacheDir] }, requested: override });
    let ort = 'unknown';
    try {
      ort = onnxRuntimeVersion();
    } catch {
      // keep 'unknown'
    }
    return toDoctorReport(r, { cacheDir, override, versions: { ...o.versions(), 'onnxruntime-node': ort } });
  };
}
