// The main window's options and its saved position, as plain data (no Electron import here, so
// the security settings are asserted by tests): the page is sandboxed and isolated from the
// preload, has no Node, and keeps web security on.
import type { Bounds, WindowState } from './settings-store';

export interface SecureWebPreferences {
  preload: string;
  contextIsolation: true;
  sandbox: true;
  nodeIntegration: false;
  nodeIntegrationInWorker: false;
  nodeIntegrationInSubFrames: false;
  webSecurity: true;
  allowRunningInsecureContent: false;
  webviewTag: false;
  experimentalFeatures: false;
  navigateOnDragDrop: false;
  safeDialogs: true;
  spellcheck: false;
}

export interface WindowOptions {
  width: number;
  height: number;
  x?: number;
  y?: number;
  minWidth: number;
  minHeight: number;
  show: false;
  title: string;
  webPreferences: SecureWebPreferences;
}

export const DEFAULT_SIZE = { width: 1100, height: 760 } as const;
export const MIN_SIZE = { width: 720, height: 480 } as const;

/** BrowserWindow options; `bounds` from restoreBounds (a saved, still visible position). */
export function windowOptions(preloadPath: string, bounds: Partial<Bounds> | null = null): WindowOptions {
  const o: WindowOptions = {
    width: Math.max(MIN_SIZE.width, bounds?.width ?? DEFAULT_SIZE.width),
    height: Math.max(MIN_SIZE.height, bounds?.height ?? DEFAULT_SIZE.height),
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    show: false,
    title: 'Distill Studio',
    webPreferences: {
      // Sandboxed preloads must be CommonJS; electron.vite.config.ts builds it as index.cjs.
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
    },
  };
  if (bounds?.x !== undefined && bounds?.y !== undefined) {
    o.x = bounds.x;
    o.y = bounds.y;
  }
  return o;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

function overlap(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * The saved bounds to restore given the displays' work areas now: kept when a good part of the
 * window is on a display (its size shrunk to fit that display), else only the size is kept and
 * the window manager places it (a monitor was unplugged). Null when nothing was saved.
 */
export function restoreBounds(saved: WindowState, workAreas: readonly Rect[]): Partial<Bounds> | null {
  const b = saved.bounds;
  if (!b) return null;
  let best: Rect | null = null;
  let bestArea = 0;
  for (const area of workAreas) {
    const a = overlap(b, area);
    if (a > bestArea) {
      bestArea = a;
      best = area;
    }
  }
  const fit = (r: Rect | undefined) => ({
    width: r ? Math.min(b.width, r.width) : b.width,
    height: r ? Math.min(b.height, r.height) : b.height,
  });
  // Visible enough to grab: at least 1/4 of the window, or 200x100 pixels, on one display.
  if (best && (bestArea >= (b.width * b.height) / 4 || bestArea >= 200 * 100)) {
    const { width, height } = fit(best);
    const x = Math.min(Math.max(b.x, best.x), best.x + best.width - width);
    const y = Math.min(Math.max(b.y, best.y), best.y + best.height - height);
    return { x, y, width, height };
  }
  return fit(workAreas[0]);
}

/** Navigation, new windows and permission requests are all refused: the app is one local page. */
export const WINDOW_OPEN_ACTION = { action: 'deny' } as const;
export function permissionAllowed(_permission: string): boolean {
  return false;
}
