// Fake services and event source for the browser-bridge tests.
import { vi } from 'vitest';
import type { AppEvent, RunInfo, Settings } from '../../../src/shared/api';
import type { AppEventSource, BridgeServices } from '../../../src/main/bridge/server';

export const run: RunInfo = {
  id: 'run-1',
  dir: '/runs/run-1',
  status: 'running',
  createdAt: '2024-01-01T00:00:00.000Z',
  teacher: 'teacher',
  student: 'student',
  train: '/data/train.csv',
  bestAccuracy: null,
  step: 3,
  totalSteps: 10,
  error: null,
  log: [],
};

const settings: Settings = { cacheDir: '/cache', provider: 'auto', threads: null, theme: 'system' };

function notInFake(name: string) {
  return () => Promise.reject(new Error(`${name} is not in this fake`));
}

/** Every BridgeServices method; `pick` and `showInFolder` are left out like in the browser. */
export function fakeServices(overrides: Partial<BridgeServices> = {}): BridgeServices {
  const base: BridgeServices = {
    getVersion: vi.fn(async () => '0.1.0'),
    doctor: notInFake('doctor'),
    getSettings: vi.fn(async () => settings),
    updateSettings: vi.fn(async (patch: Partial<Settings>) => ({ ...settings, ...patch })),
    previewData: vi.fn(notInFake('previewData')),
    inspectModel: notInFake('inspectModel'),
    installGpuPack: notInFake('installGpuPack'),
    startRun: notInFake('startRun'),
    pauseRun: vi.fn(async () => undefined),
    resumeRun: notInFake('resumeRun'),
    cancelRun: notInFake('cancelRun'),
    listRuns: vi.fn(async () => [run]),
    getRun: notInFake('getRun'),
    compare: notInFake('compare'),
    predictBoth: notInFake('predictBoth'),
    exportRun: notInFake('exportRun'),
    systemUsage: notInFake('systemUsage'),
  };
  return { ...base, ...overrides };
}

/** An AppEventSource with `emit` and a count of subscribers. */
export class FakeEvents implements AppEventSource {
  readonly listeners = new Set<(e: AppEvent) => void>();
  on(listener: (e: AppEvent) => void): void {
    this.listeners.add(listener);
  }
  off(listener: (e: AppEvent) => void): void {
    this.listeners.delete(listener);
  }
  emit(e: AppEvent): void {
    for (const l of this.listeners) l(e);
  }
}

export const runEvent: AppEvent = { kind: 'run', run };
export const jobEvent: AppEvent = { kind: 'job', runId: 'run-1', event: { type: 'paused', step: 3 } };
