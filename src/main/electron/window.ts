// The main window: secure options (src/main/services/window-options.ts), every web contents
// locked to our page, permissions refused, and the window's size and position remembered.
import { BrowserWindow, screen, type Session, type WebContents } from 'electron';
import type { SettingsStore } from '../services/settings-store';
import { permissionAllowed, restoreBounds, WINDOW_OPEN_ACTION, windowOptions } from '../services/window-options';

/** No navigation, no new windows, no <webview>: the app is one local page. */
export function hardenContents(contents: WebContents): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => WINDOW_OPEN_ACTION);
}

/** The app needs no camera, microphone, notifications, etc. */
export function hardenSession(session: Session): void {
  session.setPermissionRequestHandler((_contents, permission, callback) => callback(permissionAllowed(permission)));
  session.setPermissionCheckHandler((_contents, permission) => permissionAllowed(permission));
}

export interface MainWindowOptions {
  preloadPath: string;
  /** The dev server URL (`npm run dev`), else the bundled page is loaded. */
  devServerUrl?: string;
  rendererFile: string;
  settings: SettingsStore;
}

/** Creates the main window where it was last closed, and saves its state as it changes. */
export function createMainWindow(o: MainWindowOptions): BrowserWindow {
  const saved = o.settings.windowState();
  const bounds = restoreBounds(saved, screen.getAllDisplays().map((d) => d.workArea));
  const win = new BrowserWindow(windowOptions(o.preloadPath, bounds));
  if (saved.maximized) win.maximize();

  let timer: NodeJS.Timeout | null = null;
  const save = () => {
    if (win.isDestroyed()) return;
    const maximized = win.isMaximized();
    // While maximized (or minimized / full screen) keep the last normal bounds.
    const normal = !maximized && !win.isMinimized() && !win.isFullScreen();
    o.settings.saveWindowState({ bounds: normal ? win.getBounds() : (o.settings.windowState().bounds ?? win.getNormalBounds()), maximized });
  };
  const later = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, 500);
  };
  win.on('resize', later);
  win.on('move', later);
  win.on('maximize', save);
  win.on('unmaximize', save);
  win.on('close', () => {
    if (timer) clearTimeout(timer);
    save();
  });

  win.once('ready-to-show', () => win.show());
  if (o.devServerUrl) void win.loadURL(o.devServerUrl);
  else void win.loadFile(o.rendererFile);
  return win;
}
