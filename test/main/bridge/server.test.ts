// The browser bridge server, driven with the `ws` package as a raw client.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  CLOSE_CODES,
  DEFAULT_CSP,
  METHOD_ARITY,
  cspFromHtml,
  cspWithConnectSrc,
  startBridge,
  tokensEqual,
  type BridgeHandle,
  type BridgeOptions,
} from '../../../src/main/bridge/server';
import { IPC } from '../../../src/shared/api';
import { FakeEvents, fakeServices, jobEvent, run, runEvent } from './fakes';

const handles: BridgeHandle[] = [];
const sockets: WebSocket[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(handles.splice(0).map((h) => h.close()));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function bridge(options: Partial<BridgeOptions> = {}): Promise<BridgeHandle & { events: FakeEvents }> {
  const events = (options.events as FakeEvents | undefined) ?? new FakeEvents();
  const handle = await startBridge({ services: fakeServices(), ...options, events });
  handles.push(handle);
  return Object.assign(handle, { events });
}

/** What the bridge sends; `error` is typed as present so tests can read it directly. */
interface Reply {
  id?: number | string | null;
  result?: unknown;
  error: { message: string; code: string };
  event?: unknown;
}

/** A raw client that collects every message and the close code. */
class Client {
  readonly messages: Reply[] = [];
  private waiters: ((m: Reply) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    sockets.push(ws);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Reply;
      const w = this.waiters.shift();
      if (w) w(m);
      else this.messages.push(m);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  next(): Promise<Reply> {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift()!);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  async call(method: string, params: unknown, id: number | string = 1): Promise<Reply> {
    this.send({ id, method, params });
    return this.next();
  }
}

/** Opens a connection; rejects with the HTTP status when the handshake is refused. */
function connect(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const client = new Client(ws);
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    ws.once('error', reject);
  });
}

async function authed(h: BridgeHandle, via: 'query' | 'message' = 'query'): Promise<Client> {
  if (via === 'query') return connect(`${h.wsUrl}?token=${h.token}`);
  const c = await connect(h.wsUrl);
  c.send({ auth: h.token });
  return c;
}

describe('startBridge', () => {
  it('listens on 127.0.0.1 with a random 32-byte token', async () => {
    const a = await bridge();
    const b = await bridge();
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(a.wsUrl).toBe(`${a.url.replace('http:', 'ws:')}bridge`);
    expect(a.token).toMatch(/^[0-9a-f]{64}$/);
    expect(a.token).not.toBe(b.token);
    expect(a.pageUrl).toBe(`${a.url}#bridge=${encodeURIComponent(a.wsUrl)}&token=${a.token}`);
    expect(a.events.listeners.size).toBe(1);
  });

  it.each(['0.0.0.0', 'localhost', '::1', '::', '192.168.1.2'])('refuses to listen on %s', async (host) => {
    await expect(startBridge({ services: fakeServices(), events: new FakeEvents(), host })).rejects.toThrow(
      /127\.0\.0\.1 only/,
    );
  });

  it('close() disconnects clients and unsubscribes from events', async () => {
    const h = await bridge();
    const c = await authed(h);
    await h.close();
    expect((await c.closed).code).toBe(CLOSE_CODES.goingAway);
    expect(h.events.listeners.size).toBe(0);
    await h.close(); // idempotent
  });
});

describe('authentication and origin', () => {
  it('accepts the token in the URL query', async () => {
    const h = await bridge();
    const c = await authed(h, 'query');
    expect(await c.call('getVersion', [])).toEqual({ id: 1, result: '0.1.0' });
  });

  it('accepts the token as the first message', async () => {
    const h = await bridge();
    const c = await authed(h, 'message');
    expect(await c.call('getVersion', [], 'a')).toEqual({ id: 'a', result: '0.1.0' });
  });

  it('refuses a wrong token in the query at the handshake', async () => {
    const h = await bridge();
    await expect(connect(`${h.wsUrl}?token=${'0'.repeat(64)}`)).rejects.toThrow('HTTP 401');
    await expect(connect(`${h.wsUrl}?token=`)).rejects.toThrow('HTTP 401');
    await expect(connect(`${h.wsUrl}?token=${h.token}x`)).rejects.toThrow('HTTP 401');
  });

  it('closes the connection when the first message has a wrong token', async () => {
    const h = await bridge();
    const c = await connect(h.wsUrl);
    c.send({ auth: h.token.slice(0, -1) + (h.token.endsWith('0') ? '1' : '0') });
    expect((await c.closed).code).toBe(CLOSE_CODES.unauthorized);
  });

  it('closes the connection when a request comes before the token, without running it', async () => {
    const services = fakeServices();
    const h = await bridge({ services });
    const c = await connect(h.wsUrl);
    c.send({ id: 1, method: 'getVersion', params: [] });
    expect((await c.closed).code).toBe(CLOSE_CODES.unauthorized);
    expect(c.messages).toEqual([]);
    expect(services.getVersion).not.toHaveBeenCalled();
  });

  it('closes a connection that never authenticates', async () => {
    const h = await bridge({ authTimeoutMs: 100 });
    const c = await connect(h.wsUrl);
    expect((await c.closed).code).toBe(CLOSE_CODES.authTimeout);
  });

  it('accepts its own origin and refuses foreign ones', async () => {
    const h = await bridge();
    const own = h.url.slice(0, -1);
    const c = await connect(`${h.wsUrl}?token=${h.token}`, { origin: own });
    expect((await c.call('getVersion', [])).result).toBe('0.1.0');
    for (const origin of ['http://evil.example', 'null', 'http://localhost:' + new URL(h.url).port, 'file://']) {
      await expect(connect(`${h.wsUrl}?token=${h.token}`, { origin })).rejects.toThrow('HTTP 403');
    }
  });

  it('accepts extra origins it was given (a dev server)', async () => {
    const h = await bridge({ allowedOrigins: ['http://127.0.0.1:5173/'] });
    const c = await connect(`${h.wsUrl}?token=${h.token}`, { origin: 'http://127.0.0.1:5173' });
    expect((await c.call('getVersion', [])).result).toBe('0.1.0');
  });

  it('refuses handshakes for another Host (DNS rebinding) or another path', async () => {
    const h = await bridge();
    const port = new URL(h.url).port;
    await expect(connect(`${h.wsUrl}?token=${h.token}`, { headers: { Host: `evil.example:${port}` } })).rejects.toThrow(
      'HTTP 421',
    );
    await expect(connect(`${h.url.replace('http:', 'ws:')}other?token=${h.token}`)).rejects.toThrow('HTTP 404');
  });

  it('compares tokens exactly', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('abc', 'ab')).toBe(false);
    expect(tokensEqual('abc', undefined)).toBe(false);
    expect(tokensEqual('abc', 123)).toBe(false);
  });
});

describe('calls', () => {
  it('passes params to the service and returns its result', async () => {
    const services = fakeServices();
    const h = await bridge({ services });
    const c = await authed(h);
    expect(await c.call('updateSettings', [{ threads: 4 }], 7)).toEqual({
      id: 7,
      result: { cacheDir: '/cache', provider: 'auto', threads: 4, theme: 'system' },
    });
    expect(services.updateSettings).toHaveBeenCalledWith({ threads: 4 });
    expect(await c.call('listRuns', [], 8)).toEqual({ id: 8, result: [run] });
  });

  it('answers void methods without a result', async () => {
    const services = fakeServices();
    const h = await bridge({ services });
    const c = await authed(h);
    expect(await c.call('pauseRun', ['run-1'])).toEqual({ id: 1 });
    expect(services.pauseRun).toHaveBeenCalledWith('run-1');
  });

  it('answers concurrent calls by id', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const h = await bridge({ services: fakeServices({ getSettings: () => slow.then(() => ({}) as never) }) });
    const c = await authed(h);
    c.send({ id: 1, method: 'getSettings', params: [] });
    c.send({ id: 2, method: 'getVersion', params: [] });
    expect(await c.next()).toEqual({ id: 2, result: '0.1.0' });
    release();
    expect(await c.next()).toEqual({ id: 1, result: {} });
  });

  it.each(['nope', 'onEvent', 'constructor', '__proto__', 'toString', 'hasOwnProperty', ''])(
    'rejects the unknown method %j',
    async (method) => {
      const h = await bridge();
      const c = await authed(h);
      const reply = await c.call(method, []);
      expect(reply).toEqual({ id: 1, error: { code: 'unknown-method', message: `Unknown method ${JSON.stringify(method)}` } });
    },
  );

  it('rejects params that are not an array, or too many', async () => {
    const services = fakeServices();
    const h = await bridge({ services });
    const c = await authed(h);
    for (const params of [undefined, null, 'run-1', { 0: 'run-1' }, 1]) {
      const reply = await c.call('pauseRun', params);
      expect(reply.error.code).toBe('invalid-params');
      expect(reply.error.message).toMatch(/must be an array/);
    }
    const reply = await c.call('pauseRun', ['run-1', 'extra']);
    expect(reply.error).toEqual({ code: 'invalid-params', message: 'pauseRun takes at most 1 parameter(s), got 2' });
    expect(services.pauseRun).not.toHaveBeenCalled();
  });

  it('rejects malformed requests', async () => {
    const h = await bridge();
    const c = await authed(h);
    c.send('{not json');
    expect(await c.next()).toEqual({ id: null, error: { code: 'parse-error', message: 'The message is not valid JSON' } });
    const bad = [
      [1, 2],
      'text',
      null,
      { method: 'getVersion', params: [] },
      { id: 1.5, method: 'getVersion', params: [] },
      { id: {}, method: 'getVersion', params: [] },
      { id: 'x'.repeat(65), method: 'getVersion', params: [] },
    ];
    for (const message of bad) {
      c.send(JSON.stringify(message));
      const reply = await c.next();
      expect(reply.id).toBe(null);
      expect(reply.error.code).toBe('invalid-request');
    }
  });

  it('sends service errors as clean messages, without stacks', async () => {
    const enoent = Object.assign(new Error('No file at /data/x.csv'), { code: 'ENOENT' });
    const onServiceError = vi.fn();
    const h = await bridge({
      onServiceError,
      services: fakeServices({
        getRun: async () => {
          throw new Error('No run named "nope"');
        },
        previewData: async () => {
          throw enoent;
        },
        compare: async () => {
          throw 'plain string failure';
        },
        exportRun: async () => {
          throw { weird: true, code: 'has spaces and\nnewline' };
        },
        getSettings: () => {
          throw new TypeError('sync failure');
        },
      }),
    });
    const c = await authed(h);
    expect(await c.call('getRun', ['nope'])).toEqual({ id: 1, error: { message: 'No run named "nope"', code: 'service-error' } });
    expect(await c.call('previewData', ['/data/x.csv'])).toEqual({ id: 1, error: { message: 'No file at /data/x.csv', code: 'ENOENT' } });
    expect(await c.call('compare', ['r'])).toEqual({ id: 1, error: { message: 'plain string failure', code: 'service-error' } });
    expect(await c.call('exportRun', ['r', 'onnx', '/o'])).toEqual({ id: 1, error: { message: 'The operation failed', code: 'service-error' } });
    expect(await c.call('getSettings', [])).toEqual({ id: 1, error: { message: 'sync failure', code: 'service-error' } });
    expect(onServiceError).toHaveBeenCalledWith('getRun', expect.any(Error));
    expect(JSON.stringify(c.messages)).not.toMatch(/stack|\bat /);
  });

  it('reports results that are not JSON', async () => {
    const h = await bridge({ services: fakeServices({ getVersion: async () => 10n as never }) });
    const c = await authed(h);
    expect((await c.call('getVersion', [])).error).toEqual({ message: 'The result could not be sent (not JSON)', code: 'service-error' });
  });

  it('refuses pick and showInFolder without a dialog, and uses the pick hook when given', async () => {
    const plain = await bridge();
    const c = await authed(plain);
    const pick = await c.call('pick', ['data-file']);
    expect(pick.error.code).toBe('unavailable');
    expect(pick.error.message).toMatch(/needs the desktop app/);
    const show = await c.call('showInFolder', ['/x']);
    expect(show.error.code).toBe('unavailable');
    expect(show.error.message).toMatch(/needs the desktop app/);

    const hook = vi.fn(async (kind: string) => (kind === 'data-file' ? '/data/train.csv' : null));
    const hooked = await bridge({ pick: hook });
    const d = await authed(hooked);
    expect(await d.call('pick', ['data-file'])).toEqual({ id: 1, result: '/data/train.csv' });
    expect(await d.call('pick', ['model-folder'])).toEqual({ id: 1, result: null });
    expect(hook).toHaveBeenCalledTimes(2);
  });

  it('knows the arity of every method of the contract', () => {
    expect(Object.keys(METHOD_ARITY).sort()).toEqual(Object.keys(IPC).sort());
  });

  it('closes connections that send oversized or binary messages', async () => {
    const h = await bridge({ maxMessageBytes: 1024 });
    const big = await authed(h);
    big.send({ id: 1, method: 'getRun', params: ['x'.repeat(2000)] });
    expect((await big.closed).code).toBe(1009);
    const bin = await authed(h);
    bin.ws.send(Buffer.from([1, 2, 3]));
    expect((await bin.closed).code).toBe(CLOSE_CODES.badFrame);
    // The bridge itself keeps working.
    const ok = await authed(h);
    expect((await ok.call('getVersion', [])).result).toBe('0.1.0');
  });
});

describe('events', () => {
  it('pushes app events to authenticated clients only', async () => {
    const h = await bridge();
    const a = await authed(h, 'query');
    const b = await authed(h, 'message');
    await b.call('getVersion', []); // b is authenticated once a call is answered
    const stranger = await connect(h.wsUrl);
    h.events.emit(runEvent);
    h.events.emit(jobEvent);
    expect(await a.next()).toEqual({ event: runEvent });
    expect(await a.next()).toEqual({ event: jobEvent });
    expect(await b.next()).toEqual({ event: runEvent });
    expect(await b.next()).toEqual({ event: jobEvent });
    await new Promise((r) => setTimeout(r, 50));
    expect(stranger.messages).toEqual([]);
  });
});

describe('static files', () => {
  const html = `<!doctype html><html><head><meta charset="UTF-8" />
    <meta
      http-equiv="Content-Security-Policy"
      content="${DEFAULT_CSP}"
    />
    <script type="module" crossorigin src="./assets/index-abc.js"></script></head><body><div id="app"></div></body></html>`;

  function site(): string {
    const root = mkdtempSync(join(tmpdir(), 'bridge-static-'));
    dirs.push(root);
    mkdirSync(join(root, 'site', 'assets'), { recursive: true });
    writeFileSync(join(root, 'site', 'index.html'), html);
    writeFileSync(join(root, 'site', 'assets', 'index-abc.js'), 'console.log("hi");');
    writeFileSync(join(root, 'site', 'assets', 'style.css'), 'body{}');
    writeFileSync(join(root, 'secret.txt'), 'secret');
    return join(root, 'site');
  }

  /** A raw HTTP request (fetch would normalise the path and refuse to set Host). */
  function raw(url: string, path: string, init: { method?: string; host?: string } = {}) {
    const u = new URL(url);
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request(
        { host: u.hostname, port: u.port, path, method: init.method ?? 'GET', headers: init.host ? { Host: init.host } : {} },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('serves the renderer with the page CSP plus the bridge in connect-src', async () => {
    const h = await bridge({ staticDir: site() });
    const res = await fetch(h.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    const expected = DEFAULT_CSP.replace("connect-src 'self'", `connect-src 'self' ${h.wsUrl}`);
    expect(csp).toBe(`${expected}; frame-ancestors 'none'`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const body = await res.text();
    // The page's own <meta> policy gets the same connect-src, so both policies allow the bridge.
    expect(cspFromHtml(body)).toBe(expected);
    expect(body).toContain('<div id="app"></div>');
  });

  it('serves assets with their types and the same headers', async () => {
    const h = await bridge({ staticDir: site() });
    const js = await fetch(`${h.url}assets/index-abc.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-security-policy')).toContain(`connect-src 'self' ${h.wsUrl}`);
    expect(await js.text()).toBe('console.log("hi");');
    const css = await fetch(`${h.url}assets/style.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const head = await raw(h.url, '/index.html', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('refuses paths outside the folder, other methods and other hosts', async () => {
    const h = await bridge({ staticDir: site() });
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt', '/missing.js', '/assets/']) {
      const res = await raw(h.url, path);
      expect(res.status, path).toBe(404);
      expect(res.body).not.toContain('secret');
    }
    expect((await raw(h.url, '/%00')).status).toBe(400);
    expect((await raw(h.url, '/', { method: 'POST' })).status).toBe(405);
    const port = new URL(h.url).port;
    expect((await raw(h.url, '/', { host: `evil.example:${port}` })).status).toBe(421);
    expect((await raw(h.url, '/', { host: `localhost:${port}` })).status).toBe(421);
  });

  it('answers a missing favicon without an error', async () => {
    const h = await bridge({ staticDir: site() });
    const res = await fetch(`${h.url}favicon.ico`);
    expect(res.status).toBe(204);
  });

  it('serves nothing without a static folder', async () => {
    const h = await bridge();
    const res = await fetch(h.url);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-security-policy')).toContain(h.wsUrl);
  });
});

describe('CSP helpers', () => {
  it('adds sources to connect-src, or adds the directive', () => {
    expect(cspWithConnectSrc("default-src 'none'; connect-src 'self'", ['ws://h/b'])).toBe(
      "default-src 'none'; connect-src 'self' ws://h/b",
    );
    expect(cspWithConnectSrc("default-src 'none'; connect-src 'none';", ['ws://h/b'])).toBe(
      "default-src 'none'; connect-src ws://h/b",
    );
    expect(cspWithConnectSrc("default-src 'none'", ['ws://h/b'])).toBe("default-src 'none'; connect-src 'self' ws://h/b");
  });

  it('reads the policy of the real renderer page', async () => {
    const { readFileSync } = await import('node:fs');
    const page = readFileSync(join(import.meta.dirname, '../../../src/renderer/index.html'), 'utf8');
    expect(cspFromHtml(page)).toBe(DEFAULT_CSP);
  });
});

describe('imports', () => {
  it('keeps the server free of Electron and the client on browser APIs and src/shared only', async () => {
    const { readFileSync } = await import('node:fs');
    const { extractImports } = await import('../../../scripts/check-layering.mjs');
    const root = join(import.meta.dirname, '../../..');
    const specs = (file: string) => extractImports(readFileSync(join(root, file), 'utf8')).map((i) => i.spec);
    const server = specs('src/main/bridge/server.ts');
    expect(server.filter((s) => s === 'electron' || s.startsWith('electron/'))).toEqual([]);
    for (const file of ['src/renderer/src/api/bridge-client.ts', 'src/renderer/src/api/index.ts']) {
      for (const spec of specs(file)) expect(spec, `${file} imports ${spec}`).toMatch(/^(\.\/|(\.\.\/){3}shared\/)/);
    }
  });
});
