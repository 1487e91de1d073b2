// `DistillApi` over the browser bridge (src/main/bridge/server.ts): one WebSocket, JSON messages.
// Browser code: uses only WebSocket and imports only src/shared, so it also runs in Node tests when
// given a WebSocket constructor (e.g. the `ws` package's).
//
// Semantics are deliberately simple: the socket opens on the first call or subscription, sends the
// token as its first message, and is never reopened. Once it closes, pending and later calls fail
// with the reason; reload the page to reconnect. Every call has a timeout.
import { IPC, type AppEvent, type DistillApi, type InvokableMethod } from '../../../shared/api';

/** Must match BRIDGE_PATH and CLOSE_CODES in src/main/bridge/server.ts (checked by the bridge tests). */
export const BRIDGE_PATH = '/bridge';
export const BRIDGE_CLOSE_CODES = { unauthorized: 4401, authTimeout: 4408, badFrame: 1003, goingAway: 1001 } as const;

/** The part of the WebSocket interface the client uses; the DOM WebSocket and `ws` both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: never) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface BridgeClientOptions {
  /** Defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Time limit for one call (and for connecting), in ms. Defaults: 60 s; 30 min for slow calls. 0 = none. */
  timeoutMs?: number;
}

/** An error from the bridge or from the service behind it; `code` says which (see ERROR_CODES on the server). */
export class BridgeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Calls that download, train or run both models: they may legitimately take minutes. */
const SLOW_METHODS = new Set<InvokableMethod>(['installGpuPack', 'inspectModel', 'previewData', 'compare', 'exportRun', 'startRun', 'resumeRun']);
const SLOW_TIMEOUT_MS = 30 * 60_000;
const OPEN = 1;
/** How to close each API this module made (see closeBridgeApi). */
const closers = new WeakMap<object, () => void>();

interface Pending {
  method: InvokableMethod;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

function describeClose(code: number, reason: string): string {
  if (code === BRIDGE_CLOSE_CODES.unauthorized) return 'the bridge refused the token (open the link the bridge printed)';
  if (code === BRIDGE_CLOSE_CODES.authTimeout) return 'the bridge timed out waiting for the token';
  if (code === BRIDGE_CLOSE_CODES.goingAway) return 'the bridge was shut down';
  if (code === 1009) return 'a message was too large for the bridge';
  return reason ? `${reason} (code ${code})` : `code ${code}`;
}

/** A `DistillApi` that talks to the bridge at `wsUrl` (e.g. `ws://127.0.0.1:5123/bridge`). */
export function createBridgeApi(wsUrl: string, token: string, options: BridgeClientOptions = {}): DistillApi {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const listeners = new Set<(e: AppEvent) => void>();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let socket: WebSocketLike | null = null;
  let opened = false;
  /** Why the connection is unusable; set once, never cleared (no reconnects). */
  let failure: Error | null = null;
  const queue: string[] = [];

  function timeoutFor(method: InvokableMethod): number {
    if (options.timeoutMs !== undefined) return options.timeoutMs;
    return SLOW_METHODS.has(method) ? SLOW_TIMEOUT_MS : DEFAULT_TIMEOUT_MS;
  }

  function fail(error: Error): void {
    failure ??= error;
    for (const [id, p] of pending) {
      pending.delete(id);
      if (p.timer) clearTimeout(p.timer);
      p.reject(failure);
    }
    queue.length = 0;
  }

  function onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: { id?: unknown; result?: unknown; error?: { message?: unknown; code?: unknown }; event?: AppEvent };
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message !== 'object') return;
    if (message.event !== undefined && message.id === undefined) {
      for (const listener of [...listeners]) {
        try {
          listener(message.event);
        } catch (error) {
          console.error('An app event listener failed', error);
        }
      }
      return;
    }
    if (typeof message.id !== 'number') {
      if (message.error) console.error('The bridge refused a message:', message.error.message);
      return;
    }
    const p = pending.get(message.id);
    if (!p) return;
    pending.delete(message.id);
    if (p.timer) clearTimeout(p.timer);
    if (message.error) {
      const text = typeof message.error.message === 'string' ? message.error.message : 'The call failed';
      const code = typeof message.error.code === 'string' ? message.error.code : 'error';
      p.reject(new BridgeError(text, code));
    } else p.resolve(message.result);
  }

  function connect(): void {
    if (socket || failure) return;
    if (!Ctor) {
      failure = new Error('This browser has no WebSocket, which the browser bridge needs');
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = new Ctor(wsUrl);
    } catch (error) {
      failure = new Error(`Could not connect to the bridge at ${wsUrl}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    socket = ws;
    ws.addEventListener('open', () => {
      opened = true;
      ws.send(JSON.stringify({ auth: token }));
      for (const text of queue.splice(0)) ws.send(text);
    });
    ws.addEventListener('message', (event: { data: unknown }) => onMessage(event.data));
    ws.addEventListener('close', (event: { code: number; reason: string }) => {
      fail(
        opened
          ? new Error(`Lost the connection to the bridge: ${describeClose(event.code, event.reason)}`)
          : new Error(`Could not connect to the bridge at ${wsUrl}`),
      );
    });
    // 'error' is always followed by 'close', which reports it; browsers give no detail here anyway.
    ws.addEventListener('error', () => {});
  }

  function call(method: InvokableMethod, params: unknown[]): Promise<unknown> {
    connect();
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    const text = JSON.stringify({ id, method, params });
    return new Promise((resolve, reject) => {
      const ms = timeoutFor(method);
      const timer =
        ms > 0
          ? setTimeout(() => {
              pending.delete(id);
              reject(new BridgeError(`${method} timed out after ${Math.round(ms / 1000)} s`, 'timeout'));
            }, ms)
          : null;
      pending.set(id, { method, resolve, reject, timer });
      if (opened && socket && socket.readyState === OPEN) socket.send(text);
      else queue.push(text);
    });
  }

  const api = { onEvent } as Partial<Record<keyof DistillApi, unknown>>;
  for (const method of Object.keys(IPC) as InvokableMethod[]) {
    // Trailing undefined arguments are dropped so JSON does not turn them into null.
    api[method] = (...args: unknown[]) => {
      const params = [...args];
      while (params.length > 0 && params[params.length - 1] === undefined) params.pop();
      return call(method, params);
    };
  }

  function onEvent(listener: (e: AppEvent) => void): () => void {
    listeners.add(listener);
    connect();
    return () => {
      listeners.delete(listener);
    };
  }

  closers.set(api, () => {
    fail(new Error('The bridge connection was closed'));
    socket?.close(1000, 'Client closed');
  });
  return api as DistillApi;
}

/** Close the connection of an API made by `createBridgeApi` (tests, page unload); other APIs are left alone. */
export function closeBridgeApi(api: DistillApi): void {
  closers.get(api)?.();
}
