// The window's security settings and saved position, and the page's Content Security Policy.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { permissionAllowed, restoreBounds, WINDOW_OPEN_ACTION, windowOptions } from '../../../src/main/services/window-options';
import { REPO_ROOT } from '../../support/shared';

describe('windowOptions', () => {
  it('isolates and sandboxes the page, with no Node and web security on', () => {
    const o = windowOptions('/app/out/preload/index.cjs');
    expect(o.webPreferences).toEqual({
      preload: '/app/out/preload/index.cjs',
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
    });
    expect(o).toMatchObject({ width: 1100, height: 760, minWidth: 720, minHeight: 480, show: false, title: 'Distill Studio' });
    expect(o.x).toBeUndefined();
  });

  it('uses restored bounds, never below the minimum size', () => {
    expect(windowOptions('p', { x: 5, y: 6, width: 1300, height: 900 })).toMatchObject({ x: 5, y: 6, width: 1300, height: 900 });
    expect(windowOptions('p', { width: 300, height: 200 })).toMatchObject({ width: 720, height: 480 });
  });

  it('denies new windows and every permission', () => {
    expect(WINDOW_OPEN_ACTION).toEqual({ action: 'deny' });
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read']) expect(permissionAllowed(p)).toBe(false);
  });
});

describe('restoreBounds', () => {
  const screen = { x: 0, y: 0, width: 1920, height: 1040 };
  const right = { x: 1920, y: 0, width: 1280, height: 1000 };
  it('nothing saved: the window manager decides', () => {
    expect(restoreBounds({ bounds: null, maximized: false }, [screen])).toBeNull();
  });
  it('keeps a position that is on a display, fitted into it', () => {
    expect(restoreBounds({ bounds: { x: 100, y: 50, width: 1000, height: 700 }, maximized: false }, [screen])).toEqual({ x: 100, y: 50, width: 1000, height: 700 });
    expect(restoreBounds({ bounds: { x: 2000, y: 100, width: 1600, height: 1200 }, maximized: false }, [screen, right])).toEqual({ x: 1920, y: 0, width: 1280, height: 1000 });
  });
  it('drops the position of a window on a display that is gone', () => {
    expect(restoreBounds({ bounds: { x: 2500, y: 100, width: 1000, height: 700 }, maximized: false }, [screen])).toEqual({ width: 1000, height: 700 });
  });
});

describe('Content Security Policy of the renderer page', () => {
  it('is strict: own scripts and styles only, nothing inline, no eval, no remote content', () => {
    const html = readFileSync(path.join(REPO_ROOT, 'src/renderer/index.html'), 'utf8');
    const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(csp).toBeDefined();
    const directives = Object.fromEntries(csp!.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([k, ...v]) => [k!, v]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toEqual(["'self'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(directives['base-uri']).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
  });
});
