// The one place the renderer gets its API from: `window.api` inside the desktop app (the preload
// script provides it), otherwise the browser bridge named in the page URL, e.g.
//   http://127.0.0.1:5123/#bridge=ws%3A%2F%2F127.0.0.1%3A5123%2Fbridge&token=<64 hex>
// (`?bridge=…&token=…` works too; without `bridge=`, the page's own host is assumed).
import type { DistillApi } from '../../../shared/api';
import { BRIDGE_PATH, createBridgeApi, type BridgeClientOptions } from './bridge-client';

export { BridgeError, closeBridgeApi, createBridgeApi } from './bridge-client';
export type { BridgeClientOptions, WebSocketConstructor, WebSocketLike } from './bridge-client';

/** Thrown by `getApi` when the page has neither `window.api` nor a bridge address; its message is meant for the screen. */
export class ApiUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiUnavailableError';
  }
}

export interface BridgeAddress {
  wsUrl: string;
  token: string;
}

/** The smallest slice of `Location` this module reads. */
export interface LocationLike {
  hash: string;
  search: string;
  protocol: string;
  host: string;
}

/**
 * The bridge address in a page location (hash first, then query), or null when there is none.
 * Throws ApiUnavailableError when an address is present but unusable.
 */
export function readBridgeAddress(location: LocationLike): BridgeAddress | null {
  for (const part of [location.hash, location.search]) {
    const params = new URLSearchParams(part.replace(/^[#?]/, ''));
    const token = params.get('token');
    const bridge = params.get('bridge');
    if (token === null && bridge === null) continue;
    if (!token) throw new ApiUnavailableError('The page address names a bridge but no token: add "&token=<token>" from the bridge’s output.');
    let wsUrl: string;
    if (bridge) wsUrl = bridge;
    else if (location.protocol === 'http:' || location.protocol === 'https:') {
      wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${BRIDGE_PATH}`;
    } else throw new ApiUnavailableError('The page address has a bridge token but no "bridge=<ws URL>".');
    let parsed: URL;
    try {
      parsed = new URL(wsUrl);
    } catch {
      throw new ApiUnavailableError(`The bridge address "${wsUrl}" is not a URL.`);
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      throw new ApiUnavailableError(`The bridge address must start with ws:// or wss://, not "${parsed.protocol}".`);
    }
    return { wsUrl: parsed.href, token };
  }
  return null;
}

export const NO_API_MESSAGE =
  'Distill Studio cannot reach its engine: this page was opened outside the desktop app and without a browser-bridge ' +
  'address. Start the app, or open the link the bridge prints (it ends in "#bridge=…&token=…").';

let cached: DistillApi | null = null;

/**
 * The app API: `window.api` when the preload script provided it, else a bridge client for the address in the
 * page URL. The result is cached. Throws ApiUnavailableError (with a message to show) when neither exists.
 */
export function getApi(options: BridgeClientOptions = {}): DistillApi {
  if (cached) return cached;
  const fromPreload = (globalThis as { api?: DistillApi }).api;
  if (fromPreload) return (cached = fromPreload);
  const location = (globalThis as { location?: LocationLike }).location;
  const address = location ? readBridgeAddress(location) : null;
  if (!address) throw new ApiUnavailableError(NO_API_MESSAGE);
  return (cached = createBridgeApi(address.wsUrl, address.token, options));
}

/** Forget the cached API (tests). */
export function resetApiForTests(): void {
  cached = null;
}
