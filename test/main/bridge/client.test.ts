// The renderer's bridge client (src/renderer/src/api) against the real bridge server, in Node with `ws`.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { BRIDGE_PATH, CLOSE_CODES, startBridge, type BridgeHandle, type BridgeOptions } from '../../../src/main/bridge/server';
import {
  BRIDGE_CLOSE_CODES,
  BRIDGE_PATH as CLIENT_BRIDGE_PATH,
  BridgeError,
  closeBridgeApi,
  createBridgeApi,
  type WebSocketConstructor,
} from '../../../src/renderer/src/api/bridge-client';
import {
  ApiUnavailableError,
  NO_API_MESSAGE,
  getApi,
  readBridgeAddress,
  resetApiForTests,
  type LocationLike,
} from '../../../src/renderer/src/api/index';
import { IPC, type AppEvent, type DistillApi } from '../../../src/shared/api';
import { FakeEvents, fakeServices, jobEvent, run, runEvent } from './fakes';

const WS = WebSocket as unknown as WebSocketConstructor;
const handles: BridgeHandle[] = [];
const apis: DistillApi[] = [];

afterEach(async () => {
  for (const api of apis.splice(0)) closeBridgeApi(api);
  await Promise.all(handles.splice(0).map((h) => h.close()));
  vi.unstubAllGlobals();
  resetApiForTests();
});

async function bridge(options: Partial<BridgeOptions> = {}): Promise<BridgeHandle & { events: FakeEvents }> {
  const events = new FakeEvents();
  const handle = await startBridge({ services: fakeServices(), events, ...options });
  handles.push(handle);
  return Object.assign(handle, { events });
}

function client(h: { wsUrl: string; token: string }, timeoutMs?: number): DistillApi {
  const api = createBridgeApi(h.wsUrl, h.token, { WebSocket: WS, timeoutMs });
  apis.push(api);
  return api;
}

function nextEvents(api: DistillApi, n: number): Promise<AppEvent[]> {
  return new Promise((resolve) => {
    const got: AppEvent[] = [];
    const off = api.onEvent((e) => {
      got.push(e);
      if (got.length === n) {
        off();
        resolve(got);
      }
    });
  });
}

describe('createBridgeApi', () => {
  it('has every method of the contract', () => {
    const api = createBridgeApi('ws://127.0.0.1:1/bridge', 't', { WebSocket: WS });
    for (const method of [...Object.keys(IPC), 'onEvent']) expect(typeof (api as unknown as Record<string, unknown>)[method]).toBe('function');
  });

  it('agrees with the server on the path and close codes', () => {
    expect(CLIENT_BRIDGE_PATH).toBe(BRIDGE_PATH);
    expect(BRIDGE_CLOSE_CODES).toEqual(CLOSE_CODES);
  });

  it('calls the services and returns their results', async () => {
    const services = fakeServices();
    const h = await bridge({ services });
    const api = client(h);
    const [version, runs, settings] = await Promise.all([api.getVersion(), api.listRuns(), api.updateSettings({ theme: 'dark' })]);
    expect(version).toBe('0.1.0');
    expect(runs).toEqual([run]);
    expect(settings.theme).toBe('dark');
    expect(await api.pauseRun('run-1')).toBeUndefined();
    expect(services.pauseRun).toHaveBeenCalledWith('run-1');
  });

  it('drops trailing undefined arguments instead of sending null', async () => {
    const previewData = vi.fn(async (path: string) => ({ path }) as never);
    const h = await bridge({ services: fakeServices({ previewData }) });
    const api = client(h);
    await api.previewData('/data/train.csv');
    await api.previewData('/data/train.csv', undefined);
    await api.previewData('/data/train.csv', { text: 'sentence', label: null });
    expect(previewData.mock.calls).toEqual([['/data/train.csv'], ['/data/train.csv'], ['/data/train.csv', { text: 'sentence', label: null }]]);
  });

  it('surfaces service errors as Errors with the message and code only', async () => {
    const h = await bridge({
      services: fakeServices({
        getRun: async () => {
          throw Object.assign(new Error('No run named "nope"'), { code: 'ENOENT' });
        },
      }),
    });
    const api = client(h);
    const error = await api.getRun('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BridgeError);
    expect(error).toBeInstanceOf(Error);
    expect((error as BridgeError).message).toBe('No run named "nope"');
    expect((error as BridgeError).code).toBe('ENOENT');
    expect((error as Error).stack ?? '').not.toContain('server.ts');
    await expect(api.pick('data-file')).rejects.toThrow(/needs the desktop app/);
    // The connection stays usable after errors.
    expect(await api.getVersion()).toBe('0.1.0');
  });

  it('delivers pushed events to subscribers until they unsubscribe', async () => {
    const h = await bridge();
    const api = client(h);
    const seen: AppEvent[] = [];
    const off = api.onEvent((e) => seen.push(e));
    const both = nextEvents(api, 2);
    await api.getVersion(); // connected and authenticated
    h.events.emit(runEvent);
    h.events.emit(jobEvent);
    expect(await both).toEqual([runEvent, jobEvent]);
    expect(seen).toEqual([runEvent, jobEvent]);
    off();
    const later = nextEvents(api, 1);
    h.events.emit(jobEvent);
    await later;
    expect(seen).toHaveLength(2);
  });

  it('keeps delivering events when one listener throws', async () => {
    const h = await bridge();
    const api = client(h);
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    api.onEvent(() => {
      throw new Error('listener bug');
    });
    const got = nextEvents(api, 1);
    await api.getVersion();
    h.events.emit(runEvent);
    expect(await got).toEqual([runEvent]);
    expect(error).toHaveBeenCalled();
    error.mockRestore();
  });

  it('fails clearly with a wrong token', async () => {
    const h = await bridge();
    const api = client({ wsUrl: h.wsUrl, token: 'f'.repeat(64) });
    await expect(api.getVersion()).rejects.toThrow(/refused the token/);
    await expect(api.listRuns()).rejects.toThrow(/refused the token/);
  });

  it('fails clearly when nothing listens', async () => {
    const h = await bridge();
    const { wsUrl, token } = h;
    await h.close();
    const api = client({ wsUrl, token });
    await expect(api.getVersion()).rejects.toThrow(`Could not connect to the bridge at ${wsUrl}`);
  });

  it('fails clearly from a foreign origin (the handshake is refused)', async () => {
    const h = await bridge();
    class FromEvil extends WebSocket {
      constructor(url: string) {
        super(url, { origin: 'http://evil.example' });
      }
    }
    const api = createBridgeApi(h.wsUrl, h.token, { WebSocket: FromEvil as unknown as WebSocketConstructor });
    apis.push(api);
    await expect(api.getVersion()).rejects.toThrow(/Could not connect/);
  });

  it('times out calls that take too long', async () => {
    const h = await bridge({ services: fakeServices({ compare: () => new Promise(() => {}) }) });
    const api = client(h, 150);
    const error = await api.compare('run-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BridgeError);
    expect((error as BridgeError).code).toBe('timeout');
    expect((error as Error).message).toMatch(/compare timed out/);
    expect(await api.getVersion()).toBe('0.1.0');
  });

  it('rejects pending and later calls once the bridge closes, without reconnecting', async () => {
    const h = await bridge({ services: fakeServices({ compare: () => new Promise(() => {}) }) });
    const api = client(h);
    await api.getVersion();
    const pending = api.compare('run-1').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    await h.close();
    expect(await pending).toEqual(new Error('Lost the connection to the bridge: the bridge was shut down'));
    await expect(api.getVersion()).rejects.toThrow(/Lost the connection/);
  });

  it('reports the missing WebSocket', async () => {
    vi.stubGlobal('WebSocket', undefined);
    const api = createBridgeApi('ws://127.0.0.1:1/bridge', 't');
    await expect(api.getVersion()).rejects.toThrow(/no WebSocket/);
  });

  it('uses globalThis.WebSocket by default', async () => {
    const h = await bridge();
    vi.stubGlobal('WebSocket', WebSocket);
    const api = createBridgeApi(h.wsUrl, h.token);
    apis.push(api);
    expect(await api.getVersion()).toBe('0.1.0');
  });

  it('sends the token as a message, not in the URL', async () => {
    // A stand-in server that records the handshake URL and the first message.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    const seen = new Promise<{ url: string; first: string }>((resolve) => {
      wss.once('connection', (ws, req) => ws.once('message', (data) => resolve({ url: req.url!, first: data.toString() })));
    });
    const port = (wss.address() as { port: number }).port;
    const api = createBridgeApi(`ws://127.0.0.1:${port}/bridge`, 'sekrit', { WebSocket: WS, timeoutMs: 200 });
    void api.getVersion().catch(() => {});
    expect(await seen).toEqual({ url: '/bridge', first: JSON.stringify({ auth: 'sekrit' }) });
    closeBridgeApi(api);
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  });
});

describe('getApi', () => {
  const loc = (over: Partial<LocationLike>): LocationLike => ({ hash: '', search: '', protocol: 'http:', host: '127.0.0.1:5123', ...over });

  it('reads the bridge address from the hash or the query', () => {
    const ws = 'ws://127.0.0.1:5123/bridge';
    expect(readBridgeAddress(loc({ hash: `#bridge=${encodeURIComponent(ws)}&token=abc` }))).toEqual({ wsUrl: ws, token: 'abc' });
    expect(readBridgeAddress(loc({ search: `?bridge=${encodeURIComponent(ws)}&token=abc` }))).toEqual({ wsUrl: ws, token: 'abc' });
    expect(readBridgeAddress(loc({ hash: '#token=abc' }))).toEqual({ wsUrl: ws, token: 'abc' });
    expect(readBridgeAddress(loc({ hash: '#token=abc', protocol: 'https:' }))).toEqual({ wsUrl: 'wss://127.0.0.1:5123/bridge', token: 'abc' });
    expect(readBridgeAddress(loc({ hash: '#/runs', search: '?x=1' }))).toBeNull();
  });

  it('explains unusable bridge addresses', () => {
    expect(() => readBridgeAddress(loc({ hash: '#bridge=ws://127.0.0.1:1/bridge' }))).toThrow(/no token/);
    expect(() => readBridgeAddress(loc({ hash: '#bridge=http://127.0.0.1:1/&token=a' }))).toThrow(/ws:\/\//);
    expect(() => readBridgeAddress(loc({ hash: '#bridge=nonsense&token=a' }))).toThrow(/not a URL/);
    expect(() => readBridgeAddress(loc({ hash: '#token=a', protocol: 'file:', host: '' }))).toThrow(ApiUnavailableError);
  });

  it('prefers window.api from the preload script', () => {
    const preload = { getVersion: async () => 'ipc' } as unknown as DistillApi;
    vi.stubGlobal('api', preload);
    vi.stubGlobal('location', loc({ hash: '#token=abc' }));
    expect(getApi()).toBe(preload);
  });

  it('says what to do when there is neither window.api nor a bridge address', () => {
    vi.stubGlobal('location', loc({}));
    expect(() => getApi()).toThrow(ApiUnavailableError);
    expect(() => getApi()).toThrow(NO_API_MESSAGE);
  });

  it('talks to the bridge named in the page address', async () => {
    const h = await bridge();
    vi.stubGlobal('location', loc({ hash: new URL(h.pageUrl).hash }));
    const api = getApi({ WebSocket: WS });
    apis.push(api);
    expect(getApi()).toBe(api);
    expect(await api.listRuns()).toEqual([run]);
  });
});
