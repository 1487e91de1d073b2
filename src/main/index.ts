// Electron main process: owns the window and answers the renderer's IPC calls. The work is done
// by plain-Node services (src/main/services/), the jobs by worker processes (src/main/jobs/);
// this file only wires them to Electron.
import { app, BrowserWindow, session, utilityProcess } from 'electron';
import ElectronStore from 'electron-store';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { installGpuPack } from '../engine/gpu-pack/gpu-pack';
import { defaultCacheDir } from '../engine/pipeline/sources';
import { electronDialogs, pushEvent, registerIpc } from './electron/ipc';
import { createMainWindow, hardenContents, hardenSession } from './electron/window';
import { utilityProcessFork } from './jobs/channel';
import { JobManager } from './jobs/job-manager';
import { AppServices } from './services/app-services';
import { makeDoctor } from './services/doctor';
import { createIpcHandlers } from './services/ipc-handlers';
import { PathGrants } from './services/path-grants';
import { SettingsStore } from './services/settings-store';

const here = import.meta.dirname;
// Set by `electron-vite dev` to the renderer's dev-server URL; unset in `preview` and packaged builds.
const devServerUrl = process.env['ELECTRON_RENDERER_URL'];
const rendererFile = join(here, '../renderer/index.html');
// Sandboxed preloads must be CommonJS; electron.vite.config.ts builds it as index.cjs.
const preloadPath = join(here, '../preload/index.cjs');

// Every web contents (including any created later) stays on our page: no navigation, no new windows.
app.on('web-contents-created', (_event, contents) => hardenContents(contents));

let services: AppServices | null = null;
let runs: JobManager | null = null;

void app.whenReady().then(() => {
  hardenSession(session.defaultSession);

  const dataDir = app.getPath('userData');
  const settings = SettingsStore.open((o) => new ElectronStore<Record<string, unknown>>({ name: 'settings', ...o }), { defaultCacheDir: defaultCacheDir() });
  for (const note of settings.notes) console.warn(`[settings] ${note}`);
  const runsRoot = join(dataDir, 'runs');

  const jobs = new JobManager({ runsRoot, fork: utilityProcessFork(utilityProcess), workerPath: join(here, 'worker.js') });
  runs = jobs;
  const appServices = new AppServices({
    runs: jobs,
    settings,
    version: app.getVersion(),
    paths: { runsRoot, cacheDir: defaultCacheDir() },
    doctor: makeDoctor({
      dataDir,
      cacheDir: () => settings.get().cacheDir,
      override: () => settings.get().provider,
      versions: () => ({
        app: app.getVersion(),
        electron: process.versions.electron ?? 'unknown',
        node: process.versions.node,
        chrome: process.versions.chrome ?? 'unknown',
      }),
    }),
    installGpuPack: ({ onProgress, signal }) => installGpuPack({ dataDir, onProgress, signal }),
  });
  services = appServices;
  appServices.onEvent(pushEvent);

  const grants = new PathGrants({ runsRoot: () => runsRoot, cacheDir: () => settings.get().cacheDir });
  registerIpc(createIpcHandlers({ services: appServices, grants, dialogs: electronDialogs }), {
    devServerUrl,
    rendererUrl: pathToFileURL(rendererFile).href,
  });

  const open = () => createMainWindow({ preloadPath, devServerUrl, rendererFile, settings });
  open();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) open();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

// On quit, a running job stops after its current step with a checkpoint (resumable next time),
// and the comparison's model sessions are closed.
let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || (!runs && !services)) return;
  quitting = true;
  event.preventDefault();
  void Promise.allSettled([runs?.shutdown(10_000), services?.dispose()]).finally(() => app.quit());
});
