// Preload script: runs sandboxed, with context isolation, before the renderer's own code.
// It exposes exactly the typed API from src/shared/api.ts as `window.api`, and nothing else:
// each method invokes its IPC channel; onEvent delivers the event payload only (never
// Electron's event object, which would reach ipcRenderer).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENT_CHANNEL, IPC, type AppEvent, type DistillApi } from '../shared/api';

const api: DistillApi = {
  getVersion: () => ipcRenderer.invoke(IPC.getVersion),
  doctor: () => ipcRenderer.invoke(IPC.doctor),
  getSettings: () => ipcRenderer.invoke(IPC.getSettings),
  updateSettings: (patch) => ipcRenderer.invoke(IPC.updateSettings, patch),
  pick: (kind) => ipcRenderer.invoke(IPC.pick, kind),
  previewData: (path, columns) => ipcRenderer.invoke(IPC.previewData, path, columns),
  inspectModel: (source, role) => ipcRenderer.invoke(IPC.inspectModel, source, role),
  installGpuPack: () => ipcRenderer.invoke(IPC.installGpuPack),
  startRun: (config) => ipcRenderer.invoke(IPC.startRun, config),
  pauseRun: (runId) => ipcRenderer.invoke(IPC.pauseRun, runId),
  resumeRun: (runId) => ipcRenderer.invoke(IPC.resumeRun, runId),
  cancelRun: (runId) => ipcRenderer.invoke(IPC.cancelRun, runId),
  listRuns: () => ipcRenderer.invoke(IPC.listRuns),
  getRun: (runId) => ipcRenderer.invoke(IPC.getRun, runId),
  compare: (runId) => ipcRenderer.invoke(IPC.compare, runId),
  predictBoth: (runId, text) => ipcRenderer.invoke(IPC.predictBoth, runId, text),
  exportRun: (runId, format, outDir) => ipcRenderer.invoke(IPC.exportRun, runId, format, outDir),
  showInFolder: (path) => ipcRenderer.invoke(IPC.showInFolder, path),
  systemUsage: () => ipcRenderer.invoke(IPC.systemUsage),
  onEvent: (listener) => {
    const handler = (_event: IpcRendererEvent, payload: AppEvent) => listener(payload);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, handler);
    };
  },
};

contextBridge.exposeInMainWorld('api', api);
