// Electron main process: owns the window and answers the renderer's IPC calls.
import { app, BrowserWindow, ipcMain, session, type IpcMainInvokeEvent } from 'electron';
import { join } from 'node:path';
import { IPC } from '../shared/api';

const here = import.meta.dirname;
// Set by `electron-vite dev` to the renderer's dev-server URL; unset in `preview` and packaged builds.
const devServerUrl = process.env['ELECTRON_RENDERER_URL'];

/** Only our own page may call the API: the bundled file, or the dev server during `npm run dev`. */
function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  if (devServerUrl) return url.startsWith(devServerUrl);
  return url.startsWith('file://');
}

function handle(channel: string, listener: (event: IpcMainInvokeEvent) => unknown): void {
  ipcMain.handle(channel, (event) => {
    if (!isTrustedSender(event)) throw new Error(`Refused IPC call on ${channel} from an untrusted page`);
    return listener(event);
  });
}

function registerIpc(): void {
  handle(IPC.getVersion, () => app.getVersion());
  handle(IPC.doctor, () => ({
    runtime: {
      app: app.getVersion(),
      electron: process.versions.electron,
      node: process.versions.node,
      chrome: process.versions.chrome,
      platform: process.platform,
      arch: process.arch,
    },
  }));
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'Distill Studio',
    webPreferences: {
      // Sandboxed preloads must be CommonJS; electron.vite.config.ts builds it as index.cjs.
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  });
  win.once('ready-to-show', () => win.show());
  if (devServerUrl) void win.loadURL(devServerUrl);
  else void win.loadFile(join(here, '../renderer/index.html'));
  return win;
}

// Every web contents (including any created later) stays on our page: no navigation, no new windows.
app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

void app.whenReady().then(() => {
  // The app needs no camera, microphone, notifications, etc.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  registerIpc();
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
