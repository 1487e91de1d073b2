// The thin Electron layer, run with a stand-in for the 'electron' module (the real one is never
// loaded): every channel registered, untrusted senders refused, events pushed, contents locked.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENT_CHANNEL, IPC, type AppEvent, type InvokableMethod } from '../../../src/shared/api';
import type { IpcHandlers } from '../../../src/main/services/ipc-handlers';

type Handle = (event: unknown, ...args: unknown[]) => unknown;
const handles = new Map<string, Handle>();
const sent: [string, unknown][] = [];

beforeAll(() => {
  vi.doMock('electron', () => ({
    ipcMain: {
      handle: (channel: string, fn: Handle) => {
        if (handles.has(channel)) throw new Error(`second handler for ${channel}`);
        handles.set(channel, fn);
      },
      removeHandler: (channel: string) => handles.delete(channel),
    },
    BrowserWindow: {
      getAllWindows: () => [{ isDestroyed: () => false, webContents: { isDestroyed: () => false, send: (ch: string, e: unknown) => sent.push([ch, e]) } }],
      getFocusedWindow: () => null,
    },
    dialog: { showOpenDialog: async () => ({ canceled: true, filePaths: [] }) },
    shell: { showItemInFolder: () => undefined },
    screen: { getAllDisplays: () => [] },
  }));
});

const rendererUrl = 'file:///app/out/renderer/index.html';
const frame = (url: string, parent: unknown = null) => ({ senderFrame: { url, parent } });

describe('registerIpc', () => {
  it('registers one handler per channel; only our top-level page gets through', async () => {
    const { registerIpc, pushEvent, electronDialogs } = await import('../../../src/main/electron/ipc');
    const calls: [string, unknown[]][] = [];
    const handlers = Object.fromEntries(
      (Object.keys(IPC) as InvokableMethod[]).map((m) => [m, async (...a: unknown[]) => (calls.push([m, a]), `${m} done`)]),
    ) as IpcHandlers;
    const unregister = registerIpc(handlers, { rendererUrl });
    expect([...handles.keys()].sort()).toEqual(Object.values(IPC).sort());

    expect(await handles.get(IPC.predictBoth)!(frame(rendererUrl), 'r1', 'good')).toBe('predictBoth done');
    expect(calls).toEqual([['predictBoth', ['r1', 'good']]]);
    expect(() => handles.get(IPC.listRuns)!(frame('https://evil.example/'))).toThrow(`Refused IPC call on ${IPC.listRuns} from an untrusted page`);
    expect(() => handles.get(IPC.listRuns)!(frame(rendererUrl, { url: rendererUrl }))).toThrow(/untrusted page/);
    expect(() => handles.get(IPC.listRuns)!({ senderFrame: null })).toThrow(/untrusted page/);
    expect(calls).toHaveLength(1);

    const e: AppEvent = { kind: 'gpu-pack', received: 1, total: null, done: false, error: null };
    pushEvent(e);
    expect(sent).toEqual([[EVENT_CHANNEL, e]]);
    expect(await electronDialogs.pick('data-file')).toBeNull();

    unregister();
    expect(handles.size).toBe(0);
  });
});

describe('hardenContents / hardenSession', () => {
  it('prevents navigation, redirects and <webview>, denies new windows and permissions', async () => {
    const { hardenContents, hardenSession } = await import('../../../src/main/electron/window');
    const on = new Map<string, (e: { preventDefault: () => void }) => void>();
    let openHandler: (() => unknown) | null = null;
    hardenContents({
      on: (name: string, fn: (e: { preventDefault: () => void }) => void) => on.set(name, fn),
      setWindowOpenHandler: (fn: () => unknown) => {
        openHandler = fn;
      },
    } as never);
    for (const name of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      const prevent = vi.fn();
      on.get(name)!({ preventDefault: prevent });
      expect(prevent, name).toHaveBeenCalled();
    }
    expect(openHandler!()).toEqual({ action: 'deny' });

    let request: ((c: unknown, p: string, cb: (ok: boolean) => void) => void) | null = null;
    let check: ((c: unknown, p: string) => boolean) | null = null;
    hardenSession({ setPermissionRequestHandler: (fn: typeof request) => (request = fn), setPermissionCheckHandler: (fn: typeof check) => (check = fn) } as never);
    const answer = vi.fn();
    request!(null, 'media', answer);
    expect(answer).toHaveBeenCalledWith(false);
    expect(check!(null, 'notifications')).toBe(false);
  });
});
