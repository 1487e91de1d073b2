// Browser bridge: the main-process services served over a local WebSocket, so the renderer can run
// in an ordinary browser (end-to-end tests, development). Plain Node; no Electron.
//
// Security model: the server listens on 127.0.0.1 only and answers only requests whose Host header
// names that address and port (no DNS rebinding). A WebSocket must come from the bridge's own page
// (or an origin listed in `allowedOrigins`; non-browser clients send none) and present a random
// 32-byte token, in the URL query (`?token=`) or as the first message (`{"auth": token}`), compared
// in constant time. Every call names a method of the `DistillApi` contract with an array of
// parameters; anything else is refused.
//
// Wire format (JSON text frames):
//   client -> server  {"auth": token}                               (first message, unless ?token= was used)
//   client -> server  {"id": 1, "method": "listRuns", "params": []}
//   server -> client  {"id": 1, "result": ...}                      (no "result" key for void methods)
//   server -> client  {"id": 1, "error": {"message": "...", "code": "..."}}
//   server -> client  {"event": AppEvent}                           (pushed to every authenticated client)
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { IPC, type AppEvent, type DistillApi, type InvokableMethod, type PickKind } from '../../shared/api';

/** The path the WebSocket endpoint is served on. */
export const BRIDGE_PATH = '/bridge';

/** Close codes the bridge uses (4000-4999 is the application range). */
export const CLOSE_CODES = {
  unauthorized: 4401,
  authTimeout: 4408,
  /** Protocol misuse before or instead of JSON text frames. */
  badFrame: 1003,
  /** Normal shutdown of the bridge. */
  goingAway: 1001,
} as const;

/** `error.code` values the bridge itself produces; service errors carry their own string code or `service-error`. */
export const ERROR_CODES = {
  parse: 'parse-error',
  invalidRequest: 'invalid-request',
  unknownMethod: 'unknown-method',
  invalidParams: 'invalid-params',
  unavailable: 'unavailable',
  service: 'service-error',
} as const;

/** The highest number of parameters each method takes; longer `params` arrays are refused. */
export const METHOD_ARITY = {
  getVersion: 0,
  doctor: 0,
  getSettings: 0,
  updateSettings: 1,
  pick: 1,
  previewData: 2,
  inspectModel: 2,
  installGpuPack: 0,
  startRun: 1,
  pauseRun: 1,
  resumeRun: 1,
  cancelRun: 1,
  listRuns: 0,
  getRun: 1,
  compare: 1,
  predictBoth: 2,
  exportRun: 3,
  showInFolder: 1,
  systemUsage: 0,
} as const satisfies Record<InvokableMethod, number>;

/** The services behind the bridge: every `DistillApi` call except `onEvent`; the native-dialog ones are optional. */
export type BridgeServices = Omit<DistillApi, 'onEvent' | 'pick' | 'showInFolder'> &
  Partial<Pick<DistillApi, 'pick' | 'showInFolder'>>;

/** Where app events come from (the same source the IPC layer forwards to the window). */
export interface AppEventSource {
  on(listener: (e: AppEvent) => void): void;
  off(listener: (e: AppEvent) => void): void;
}

export interface BridgeOptions {
  services: BridgeServices;
  events: AppEventSource;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Only '127.0.0.1' is accepted; anything else is refused. */
  host?: string;
  /** Serve this folder (the built renderer, `out/renderer`) over HTTP on the same port. */
  staticDir?: string;
  /**
   * Answers `pick` when there is no native dialog (tests, browser development). Takes precedence over
   * `services.pick`. Without either, `pick` fails with code `unavailable`.
   */
  pick?: (kind: PickKind) => string | null | Promise<string | null>;
  /** Extra page origins allowed to open the WebSocket, e.g. a Vite dev server. */
  allowedOrigins?: string[];
  /** Largest accepted message in bytes (default 1 MiB); larger ones close the connection (1009). */
  maxMessageBytes?: number;
  /** How long a connection may wait before authenticating (default 10 s). */
  authTimeoutMs?: number;
  /** Called with each error a service throws, e.g. to log it; the client sees only the message. */
  onServiceError?: (method: InvokableMethod, error: unknown) => void;
}

export interface BridgeHandle {
  /** The HTTP origin, with a trailing slash: `http://127.0.0.1:<port>/`. */
  url: string;
  /** `ws://127.0.0.1:<port>/bridge`. */
  wsUrl: string;
  /** 64 hex characters (32 random bytes). */
  token: string;
  /** `url` with the fragment the renderer reads to find the bridge: `#bridge=<wsUrl>&token=<token>`. */
  pageUrl: string;
  close(): Promise<void>;
}

/** The policy from src/renderer/index.html, used when the served index.html has none. */
export const DEFAULT_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'";

const LOOPBACK = '127.0.0.1';
const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
const DEFAULT_AUTH_TIMEOUT_MS = 10_000;
const MAX_ERROR_MESSAGE_CHARS = 4000;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Constant-time token comparison (hashing first makes the lengths equal). */
export function tokensEqual(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

/** `csp` with `extra` sources added to its connect-src directive (added as a directive when absent). */
export function cspWithConnectSrc(csp: string, extra: string[]): string {
  const directives = csp
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
  let found = false;
  const out = directives.map((d) => {
    const [name, ...sources] = d.split(/\s+/);
    if (name!.toLowerCase() !== 'connect-src') return d;
    found = true;
    const kept = sources.filter((s) => s !== "'none'");
    for (const e of extra) if (!kept.includes(e)) kept.push(e);
    return ['connect-src', ...kept].join(' ');
  });
  if (!found) out.push(['connect-src', "'self'", ...extra].join(' '));
  return out.join('; ');
}

/** The Content-Security-Policy from an HTML page's `<meta http-equiv="Content-Security-Policy">`, if any. */
export function cspFromHtml(html: string): string | null {
  for (const m of html.matchAll(/<meta\b[^>]*>/gis)) {
    const tag = m[0];
    if (!/http-equiv\s*=\s*["']content-security-policy["']/i.test(tag)) continue;
    const content = /\bcontent\s*=\s*(["'])(.*?)\1/is.exec(tag);
    if (content) return content[2]!.replace(/\s+/g, ' ').trim();
  }
  return null;
}

function replaceHtmlCsp(html: string, csp: string): string {
  return html.replace(/<meta\b[^>]*>/gis, (tag) => {
    if (!/http-equiv\s*=\s*["']content-security-policy["']/i.test(tag)) return tag;
    return tag.replace(/\bcontent\s*=\s*(["'])(.*?)\1/is, () => `content="${csp.replace(/"/g, '&quot;')}"`);
  });
}

function cleanMessage(error: unknown): string {
  let message: string;
  if (error instanceof Error) message = error.message;
  else if (typeof error === 'string') message = error;
  else if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
    message = (error as { message: string }).message;
  } else message = 'The operation failed';
  if (message.trim() === '') message = 'The operation failed';
  return message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : message;
}

function errorCode(error: unknown): string {
  const code = error && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? code : ERROR_CODES.service;
}

class BridgeRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

function describeName(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** Start the bridge. Resolves once it listens; rejects for a non-loopback host or a listen error. */
export async function startBridge(options: BridgeOptions): Promise<BridgeHandle> {
  const host = options.host ?? LOOPBACK;
  if (host !== LOOPBACK) {
    throw new Error(`The browser bridge listens on ${LOOPBACK} only; refusing host ${JSON.stringify(host)}`);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid bridge port: ${port}`);
  const { services, events } = options;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const authTimeoutMs = options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
  const staticRoot = options.staticDir ? await realpath(resolve(options.staticDir)) : null;
  const token = randomBytes(32).toString('hex');

  // The served page's own policy (read before listening, so every response has its final headers).
  let pageCsp = DEFAULT_CSP;
  if (staticRoot) {
    try {
      pageCsp = cspFromHtml(await readFile(join(staticRoot, 'index.html'), 'utf8')) ?? DEFAULT_CSP;
    } catch {
      pageCsp = DEFAULT_CSP;
    }
  }

  const extraOrigins = (options.allowedOrigins ?? []).map((o) => {
    const parsed = new URL(o);
    if (parsed.origin === 'null') throw new Error(`Not an origin a page can have: ${JSON.stringify(o)}`);
    return parsed.origin;
  });

  // Filled in once listening (the port may be chosen by the OS).
  let origin = '';
  let hostHeader = '';
  let wsUrl = '';
  let csp = DEFAULT_CSP;
  let allowedOrigins = new Set<string>();

  const server: Server = createServer((req, res) => {
    void serveHttp(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Internal error');
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, clientTracking: true });
  const authenticated = new Set<WebSocket>();

  function securityHeaders(): Record<string, string> {
    return {
      'Content-Security-Policy': `${csp}; frame-ancestors 'none'`,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
      'Cache-Control': 'no-store',
    };
  }

  function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8', ...extra });
    res.end(`${text}\n`);
  }

  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.host !== hostHeader) return plain(res, 421, 'Misdirected request');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method not allowed', { Allow: 'GET, HEAD' });
    if (!staticRoot) return plain(res, 404, 'Not found');
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', origin).pathname);
    } catch {
      return plain(res, 400, 'Bad request');
    }
    if (pathname.includes('\0')) return plain(res, 400, 'Bad request');
    if (pathname.endsWith('/')) pathname += 'index.html';
    const candidate = resolve(staticRoot, `.${pathname}`);
    if (candidate !== staticRoot && !candidate.startsWith(staticRoot + sep)) return plain(res, 404, 'Not found');
    let file: string;
    try {
      file = await realpath(candidate);
      if (file !== staticRoot && !file.startsWith(staticRoot + sep)) return plain(res, 404, 'Not found');
      if (!(await stat(file)).isFile()) return plain(res, 404, 'Not found');
    } catch {
      // Browsers ask for a favicon the renderer does not have; answer without an error in the console.
      if (pathname === '/favicon.ico') {
        res.writeHead(204, securityHeaders());
        return void res.end();
      }
      return plain(res, 404, 'Not found');
    }
    let body: Buffer = await readFile(file);
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    if (extname(file).toLowerCase() === '.html') {
      // The page's own <meta> policy applies too; give it the same connect-src as the header.
      body = Buffer.from(replaceHtmlCsp(body.toString('utf8'), csp), 'utf8');
    }
    res.writeHead(200, { ...securityHeaders(), 'Content-Type': type, 'Content-Length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function refuseUpgrade(socket: Socket, status: number, text: string): void {
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${
        Buffer.byteLength(text) + 1
      }\r\n\r\n${text}\n`,
    );
    socket.destroy();
  }

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (req.headers.host !== hostHeader) return refuseUpgrade(socket, 421, 'Misdirected Request');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', origin);
    } catch {
      return refuseUpgrade(socket, 400, 'Bad Request');
    }
    if (url.pathname !== BRIDGE_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    const requestOrigin = req.headers.origin;
    // Browsers always send Origin on WebSocket handshakes; only our own page (or a listed one) may connect.
    if (requestOrigin !== undefined && !allowedOrigins.has(requestOrigin)) return refuseUpgrade(socket, 403, 'Forbidden');
    const queryToken = url.searchParams.get('token');
    if (queryToken !== null && !tokensEqual(token, queryToken)) return refuseUpgrade(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, queryToken !== null));
  });

  function send(ws: WebSocket, message: unknown): void {
    if (ws.readyState !== ws.OPEN) return;
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch {
      const id = (message as { id?: unknown }).id;
      if (id === undefined) return;
      text = JSON.stringify({ id, error: { message: 'The result could not be sent (not JSON)', code: ERROR_CODES.service } });
    }
    ws.send(text);
  }

  function accept(ws: WebSocket, alreadyAuthenticated: boolean): void {
    ws.on('error', () => ws.terminate());
    let authTimer: NodeJS.Timeout | null = null;
    if (alreadyAuthenticated) authenticated.add(ws);
    else {
      authTimer = setTimeout(() => ws.close(CLOSE_CODES.authTimeout, 'Authentication timed out'), authTimeoutMs);
    }
    ws.on('close', () => {
      if (authTimer) clearTimeout(authTimer);
      authenticated.delete(ws);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return ws.close(CLOSE_CODES.badFrame, 'Text frames only');
      const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
      if (!authenticated.has(ws)) {
        let auth: unknown;
        try {
          auth = (JSON.parse(text) as { auth?: unknown } | null)?.auth;
        } catch {
          auth = undefined;
        }
        if (authTimer) clearTimeout(authTimer);
        authTimer = null;
        if (!tokensEqual(token, auth)) return ws.close(CLOSE_CODES.unauthorized, 'Invalid or missing token');
        authenticated.add(ws);
        return;
      }
      void handleRequest(ws, text);
    });
  }

  async function handleRequest(ws: WebSocket, text: string): Promise<void> {
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      return send(ws, { id: null, error: { message: 'The message is not valid JSON', code: ERROR_CODES.parse } });
    }
    const rawId = request && typeof request === 'object' ? (request as { id?: unknown }).id : undefined;
    const idOk =
      (typeof rawId === 'number' && Number.isSafeInteger(rawId)) || (typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 64);
    const id = idOk ? (rawId as number | string) : null;
    try {
      if (!request || typeof request !== 'object' || Array.isArray(request) || !idOk) {
        throw new BridgeRequestError('A request needs an "id" (integer or short string), a "method" and "params"', ERROR_CODES.invalidRequest);
      }
      const { method, params } = request as { method?: unknown; params?: unknown };
      if (typeof method !== 'string' || !Object.hasOwn(IPC, method)) {
        throw new BridgeRequestError(`Unknown method ${describeName(method)}`, ERROR_CODES.unknownMethod);
      }
      const name = method as InvokableMethod;
      if (!Array.isArray(params)) throw new BridgeRequestError(`"params" of ${name} must be an array`, ERROR_CODES.invalidParams);
      if (params.length > METHOD_ARITY[name]) {
        throw new BridgeRequestError(
          `${name} takes at most ${METHOD_ARITY[name]} parameter(s), got ${params.length}`,
          ERROR_CODES.invalidParams,
        );
      }
      const result = await call(name, params);
      send(ws, { id, result });
    } catch (error) {
      if (error instanceof BridgeRequestError) return send(ws, { id, error: { message: error.message, code: error.code } });
      try {
        options.onServiceError?.((request as { method: InvokableMethod }).method, error);
      } catch {
        // A failing logger must not keep the answer from the client.
      }
      send(ws, { id, error: { message: cleanMessage(error), code: errorCode(error) } });
    }
  }

  async function call(method: InvokableMethod, params: unknown[]): Promise<unknown> {
    if (method === 'pick') {
      const pick = options.pick ?? services.pick?.bind(services);
      if (!pick) {
        throw new BridgeRequestError(
          'Choosing a file needs the desktop app: the browser bridge has no file dialog',
          ERROR_CODES.unavailable,
        );
      }
      return pick(params[0] as PickKind);
    }
    const fn = (services as unknown as Record<string, unknown>)[method];
    if (typeof fn !== 'function') {
      const what = method === 'showInFolder' ? 'Showing a file in its folder needs the desktop app' : `${method} is not available`;
      throw new BridgeRequestError(`${what}: the browser bridge cannot do it`, ERROR_CODES.unavailable);
    }
    return (fn as (...args: unknown[]) => unknown).apply(services, params);
  }

  const onAppEvent = (event: AppEvent): void => {
    for (const ws of authenticated) send(ws, { event });
  };

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  hostHeader = `${LOOPBACK}:${address.port}`;
  origin = `http://${hostHeader}`;
  wsUrl = `ws://${hostHeader}${BRIDGE_PATH}`;
  allowedOrigins = new Set([origin, ...extraOrigins]);
  csp = cspWithConnectSrc(pageCsp, [wsUrl]);
  events.on(onAppEvent);

  let closing: Promise<void> | null = null;
  const url = `${origin}/`;
  return {
    url,
    wsUrl,
    token,
    pageUrl: `${url}#bridge=${encodeURIComponent(wsUrl)}&token=${token}`,
    close(): Promise<void> {
      closing ??= (async () => {
        events.off(onAppEvent);
        const open = [...wss.clients];
        const gone = Promise.all(open.map((ws) => new Promise<void>((done) => {
          if (ws.readyState === ws.CLOSED) return done();
          ws.once('close', () => done());
        })));
        for (const ws of open) ws.close(CLOSE_CODES.goingAway, 'Bridge closed');
        // Give clients a moment to answer the close frame, then drop whoever has not.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([gone, new Promise<void>((done) => (timer = setTimeout(done, 1000)))]);
        clearTimeout(timer);
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((done) => wss.close(() => done()));
        const closed = new Promise<void>((done) => server.close(() => done()));
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
