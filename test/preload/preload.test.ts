// The preload surface: exactly the DistillApi as window.api, nothing else. Read from the source
// (no Electron here), then run with a stand-in for the 'electron' module (the real one is never
// loaded) to check each method's channel and arguments.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENT_CHANNEL, IPC, type AppEvent, type DistillApi } from '../../src/shared/api';
import { maskComments } from '../../scripts/check-layering.mjs';
import { REPO_ROOT } from '../support/shared';

const file = path.join(REPO_ROOT, 'src/preload/index.ts');
const source = maskComments(readFileSync(file, 'utf8'));

/** The keys of the object literal `const api: DistillApi = { ... };` (top level of that literal). */
function apiKeys(src: string): string[] {
  const start = src.indexOf('const api: DistillApi = {');
  expect(start).toBeGreaterThanOrEqual(0);
  const open = src.indexOf('{', start);
  let depth = 0;
  let end = open;
  for (let i = open; i < src.length; i++) {
    if (src[i] === '{' || src[i] === '(' || src[i] === '[') depth++;
    if (src[i] === '}' || src[i] === ')' || src[i] === ']') depth--;
    if (depth === 0) {
      end = i;
      break;
    }
  }
  const body = src.slice(open + 1, end);
  const keys: string[] = [];
  depth = 0;
  let token = '';
  for (const ch of body) {
    if ('{(['.includes(ch)) depth++;
    if ('})]'.includes(ch)) depth--;
    if (depth === 0 && ch === ':' && /^\s*[A-Za-z_$][\w$]*\s*$/.test(token)) {
      keys.push(token.trim());
      token = '';
      continue;
    }
    if (depth === 0 && ch === ',') token = '';
    else if (depth === 0) token += ch;
  }
  return keys;
}

describe('preload source', () => {
  it('calls contextBridge.exposeInMainWorld exactly once, with "api" and the api object', () => {
    const calls = [...source.matchAll(/exposeInMainWorld\s*\(([^)]*)\)/g)].map((m) => m[1]!.split(',').map((s) => s.trim()));
    expect(calls).toEqual([["'api'", 'api']]);
  });

  it("exposes exactly the IPC methods plus onEvent", () => {
    const keys = apiKeys(source);
    expect([...keys].sort()).toEqual([...Object.keys(IPC), 'onEvent'].sort());
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('never hands out ipcRenderer itself or Electron event objects', () => {
    // ipcRenderer is only ever used as ipcRenderer.<method>(...).
    const uses = [...source.matchAll(/\bipcRenderer\b(\s*\.\s*(\w+))?/g)];
    const bare = uses.filter((m) => !m[2]).length;
    expect(bare).toBe(1); // the import
    expect(new Set(uses.map((m) => m[2]).filter(Boolean))).toEqual(new Set(['invoke', 'on', 'removeListener']));
    expect(source).not.toMatch(/ipcRenderer\.(send|sendSync|postMessage)\b/);
    expect(source).not.toMatch(/listener\(\s*_?event\b/);
    // Only 'electron' and src/shared are imported.
    const imports = [...source.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]);
    expect(imports).toEqual(['electron', '../shared/api']);
  });
});

describe('preload behaviour (Electron stood in for)', () => {
  const invoke = vi.fn(async (...args: unknown[]) => args);
  const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
  const exposed: Record<string, unknown> = {};
  let api: DistillApi;

  beforeAll(async () => {
    vi.doMock('electron', () => ({
      contextBridge: {
        exposeInMainWorld: (key: string, value: unknown) => {
          exposed[key] = value;
        },
      },
      ipcRenderer: {
        invoke,
        on: (ch: string, l: (...a: unknown[]) => void) => {
          if (!listeners.has(ch)) listeners.set(ch, new Set());
          listeners.get(ch)!.add(l);
        },
        removeListener: (ch: string, l: (...a: unknown[]) => void) => listeners.get(ch)?.delete(l),
      },
    }));
    await import('../../src/preload/index');
    api = exposed.api as DistillApi;
  });

  it('exposes only window.api', () => {
    expect(Object.keys(exposed)).toEqual(['api']);
    expect(Object.keys(api).sort()).toEqual([...Object.keys(IPC), 'onEvent'].sort());
  });

  it('each method invokes its own channel with its arguments', async () => {
    const cases: [keyof typeof IPC, unknown[]][] = [
      ['getVersion', []],
      ['doctor', []],
      ['getSettings', []],
      ['updateSettings', [{ theme: 'dark' }]],
      ['pick', ['data-file']],
      ['previewData', ['/d.csv', { text: 'review' }]],
      ['inspectModel', ['org/m', 'teacher']],
      ['installGpuPack', []],
      ['startRun', [{ epochs: 1 }]],
      ['pauseRun', ['r']],
      ['resumeRun', ['r']],
      ['cancelRun', ['r']],
      ['listRuns', []],
      ['getRun', ['r']],
      ['compare', ['r']],
      ['predictBoth', ['r', 'good']],
      ['exportRun', ['r', 'hf', '/out']],
      ['showInFolder', ['/p']],
      ['systemUsage', []],
    ];
    expect(cases.map((c) => c[0]).sort()).toEqual(Object.keys(IPC).sort());
    for (const [method, args] of cases) {
      invoke.mockClear();
      await (api[method] as (...a: unknown[]) => Promise<unknown>)(...args);
      expect(invoke, method).toHaveBeenCalledTimes(1);
      const [channel, ...sent] = invoke.mock.calls[0]!;
      expect(channel, method).toBe(IPC[method]);
      expect(sent.slice(0, args.length), method).toEqual(args);
      expect(sent.slice(args.length).every((a) => a === undefined), method).toBe(true);
    }
  });

  it('onEvent delivers the payload only, and unsubscribes', () => {
    const got: unknown[][] = [];
    const off = api.onEvent((...a: unknown[]) => got.push(a));
    const e: AppEvent = { kind: 'gpu-pack', received: 1, total: 2, done: false, error: null };
    for (const l of listeners.get(EVENT_CHANNEL) ?? []) l({ sender: 'ipcRenderer!' }, e);
    expect(got).toEqual([[e]]);
    off();
    expect(listeners.get(EVENT_CHANNEL)?.size).toBe(0);
  });
});
