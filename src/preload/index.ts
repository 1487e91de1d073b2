// Preload script: runs sandboxed, with context isolation, before the renderer's own code.
// It exposes exactly the typed API from src/shared/api.ts as `window.api`, and nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import { IPC, type DistillApi } from '../shared/api';

const api: DistillApi = {
  getVersion: () => ipcRenderer.invoke(IPC.getVersion),
  doctor: () => ipcRenderer.invoke(IPC.doctor),
};

contextBridge.exposeInMainWorld('api', api);
