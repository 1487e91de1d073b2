// A resumable HTTP download for one plain URL (the GPU pack's .nupkg), on the same plan as the
// Hub downloader (hub/download.ts), whose internals are tied to the Hub's headers:
//   - HEAD first for the size and validator (ETag, else Last-Modified);
//   - GET into `<file>.part`; a partial file is resumed with `Range: bytes=<have>-` and
//     `If-Range: <validator it was fetched under>` (kept in `<file>.part.validator`): a 206
//     appends, a 200 (the file changed, or no range support) starts over, a 416 means complete
//     or stale;
//   - a dropped connection or timeout mid-transfer is retried (with backoff) from where it
//     stopped; an abort keeps the partial file for a later resume;
//   - progress (received / total / bytes per second / seconds left) about every 100 ms.
// Failures are DownloadError with a code the caller turns into a sentence.

import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { ProgressMeter, readTrimmed, sizeOf, type TransferProgress } from '../fsutil/transfer';

export type DownloadErrorCode =
  /** No route to the server: DNS failure, unreachable network, connection refused. */
  | 'offline'
  | 'timeout'
  /** The connection dropped mid-transfer (the partial file is kept). */
  | 'interrupted'
  | 'not-found'
  | 'http'
  | 'aborted';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly detail: { url: string; status?: number; cause?: unknown } ,
  ) {
    super(message);
  }
}

export type { TransferProgress };

export interface HttpOptions {
  signal?: AbortSignal;
  /** Give up when the server sends nothing for this long (default 30 000 ms). */
  timeoutMs?: number;
}

export interface DownloadOptions extends HttpOptions {
  onProgress?: (p: TransferProgress) => void;
  /** Retries of a dropped or timed-out transfer, or an HTTP 5xx/429 (default 3). */
  retries?: number;
  /** First retry delay, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** The size HEAD announced, if any: a partial file larger than this is discarded. */
  expectedSize?: number | null;
}

export interface HeadResult {
  status: number;
  size: number | null;
  /** Strong ETag, else Last-Modified: what If-Range may quote. */
  validator: string | null;
  acceptRanges: boolean;
  url: string;
}

const USER_AGENT = `distill-studio (node ${process.version})`;
const MAX_REDIRECTS = 10;

/** HEAD (redirects followed). Throws DownloadError for network failures and for 404 ('not-found'). */
export async function headUrl(url: string, options: HttpOptions = {}): Promise<HeadResult> {
  const res = await request(url, 'HEAD', {}, options);
  res.body.resume();
  if (res.status === 404) throw new DownloadError('not-found', `not found (HTTP 404): ${url}`, { url, status: 404 });
  if (res.status < 200 || res.status >= 300) throw new DownloadError('http', `HTTP ${res.status} for ${url}`, { url, status: res.status });
  const len = header(res.headers, 'content-length');
  return {
    status: res.status,
    size: len !== undefined && /^\d+$/.test(len) ? Number(len) : null,
    validator: validatorOf(res.headers),
    acceptRanges: /bytes/i.test(header(res.headers, 'accept-ranges') ?? ''),
    url: res.url,
  };
}

/** GET a JSON document; null for a 404. */
export async function getJson(url: string, options: HttpOptions = {}): Promise<unknown | null> {
  const res = await request(url, 'GET', { Accept: 'application/json' }, options);
  if (res.status === 404) {
    res.body.resume();
    return null;
  }
  if (res.status < 200 || res.status >= 300) {
    res.body.resume();
    throw new DownloadError('http', `HTTP ${res.status} for ${url}`, { url, status: res.status });
  }
  const chunks: Buffer[] = [];
  try {
    for await (const c of res.body) chunks.push(c as Buffer);
  } catch (e) {
    throw classify(e, url, res.timedOut(), true, options.signal);
  }
  let bytes = Buffer.concat(chunks);
  if (/gzip/i.test(header(res.headers, 'content-encoding') ?? '')) bytes = gunzipSync(bytes);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new DownloadError('http', `the server sent something that is not JSON for ${url}`, { url, status: res.status, cause: e });
  }
}

/**
 * Downloads `url` into `partPath`, resuming what is already there, and returns its final size.
 * The caller verifies and renames the file. On failure the partial file is kept (except when
 * the server shows it is stale) and a DownloadError is thrown.
 */
export async function downloadResumable(url: string, partPath: string, options: DownloadOptions = {}): Promise<number> {
  await mkdir(dirname(partPath), { recursive: true });
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const meter = new ProgressMeter(options.onProgress);
  for (let attempt = 0; ; attempt++) {
    try {
      return await transferOnce(url, partPath, options, meter, true);
    } catch (e) {
      if (options.signal?.aborted) throw abortError(url, options.signal);
      if (!isRetriable(e) || attempt >= retries) throw e;
      try {
        await sleep(retryDelayMs * 2 ** attempt, undefined, { signal: options.signal });
      } catch {
        throw abortError(url, options.signal);
      }
    }
  }
}

/** Removes a partial download and its validator. */
export async function discardPartial(partPath: string): Promise<void> {
  await rm(partPath, { force: true });
  await rm(validatorPath(partPath), { force: true });
}

const validatorPath = (partPath: string) => `${partPath}.validator`;

async function transferOnce(url: string, partPath: string, options: DownloadOptions, meter: ProgressMeter, mayRestart: boolean): Promise<number> {
  const vPath = validatorPath(partPath);
  let have = await sizeOf(partPath);
  let validator = have > 0 ? await readTrimmed(vPath) : null;
  const expected = options.expectedSize ?? null;
  // Without a validator a partial file cannot be told from a stale one; larger than the file: stale.
  if ((have > 0 && validator === null) || (expected !== null && have > expected)) {
    await discardPartial(partPath);
    have = 0;
    validator = null;
  }
  if (expected !== null && have === expected && have > 0) {
    meter.update(have, expected, true);
    return have;
  }
  const extra: Record<string, string> = {};
  if (have > 0) {
    extra.Range = `bytes=${have}-`;
    if (validator !== null) extra['If-Range'] = validator;
  }
  const res = await request(url, 'GET', extra, options);
  const h = res.headers;
  let total: number | null;
  let flags: 'a' | 'w';
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(h, 'content-range') ?? '');
    if (!m || Number(m[1]) !== have) {
      res.body.destroy();
      await discardPartial(partPath);
      if (!mayRestart) throw new DownloadError('http', `the server sent an unusable partial response for ${url}`, { url, status: 206 });
      return transferOnce(url, partPath, options, meter, false);
    }
    total = m[3] !== '*' ? Number(m[3]) : expected;
    flags = 'a';
  } else if (res.status === 200) {
    have = 0;
    const len = header(h, 'content-length');
    total = len !== undefined && /^\d+$/.test(len) ? Number(len) : expected;
    flags = 'w';
    const v = validatorOf(h);
    if (v !== null) await writeFile(vPath, v);
    else await rm(vPath, { force: true });
  } else if (res.status === 416) {
    res.body.resume();
    await discardPartial(partPath);
    if (!mayRestart) throw new DownloadError('http', `HTTP 416 for ${url}`, { url, status: 416 });
    return transferOnce(url, partPath, options, meter, false);
  } else {
    res.body.resume();
    if (res.status === 404) throw new DownloadError('not-found', `not found (HTTP 404): ${url}`, { url, status: 404 });
    throw new DownloadError('http', `HTTP ${res.status} for ${url}`, { url, status: res.status });
  }

  const fh = await open(partPath, flags);
  let received = have;
  try {
    meter.update(received, total, true);
    const it = res.body[Symbol.asyncIterator]();
    for (;;) {
      let step: IteratorResult<Buffer>;
      try {
        step = await it.next();
      } catch (e) {
        throw classify(e, url, res.timedOut(), true, options.signal);
      }
      if (step.done) break;
      await fh.write(step.value);
      received += step.value.length;
      meter.update(received, total, false);
    }
    await fh.sync();
  } finally {
    res.body.destroy();
    await fh.close();
  }
  meter.update(received, total, true);
  if (total !== null && received < total) {
    throw new DownloadError('interrupted', `the connection closed early (${received} of ${total} bytes)`, { url });
  }
  return received;
}

// --- HTTP ------------------------------------------------------------------------------------------

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  url: string;
  timedOut: () => boolean;
}

async function request(url: string, method: 'GET' | 'HEAD', extra: Record<string, string>, options: HttpOptions): Promise<Response> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await send(current, method, { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity', ...extra }, options);
    const location = header(res.headers, 'location');
    if (res.status >= 300 && res.status < 400 && location) {
      res.body.resume();
      if (hop >= MAX_REDIRECTS) throw new DownloadError('http', `too many redirects for ${url}`, { url, status: res.status });
      current = new URL(location, current);
      continue;
    }
    return res;
  }
}

function send(url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>, options: HttpOptions): Promise<Response> {
  const href = url.toString();
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(abortError(href, options.signal));
      return;
    }
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!mod) {
      reject(new DownloadError('http', `unsupported URL ${href}`, { url: href }));
      return;
    }
    let timedOut = false;
    const req = mod.request(url, { method, headers, timeout: options.timeoutMs ?? 30_000, signal: options.signal });
    req.on('timeout', () => {
      timedOut = true;
      req.destroy(new Error('timeout'));
    });
    req.on('error', (e) => reject(classify(e, href, timedOut, false, options.signal)));
    req.on('response', (res) => {
      res.on('error', () => {}); // surfaced by whoever reads the body
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: href, timedOut: () => timedOut });
    });
    req.end();
  });
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ECONNREFUSED', 'EADDRNOTAVAIL']);

function classify(e: unknown, url: string, timedOut: boolean, midTransfer: boolean, signal: AbortSignal | undefined): DownloadError {
  if (signal?.aborted) return abortError(url, signal);
  if (e instanceof DownloadError) return e;
  const err = e as NodeJS.ErrnoException & { hostname?: string };
  // Node's own wording names the host: "connect ECONNREFUSED 127.0.0.1:443", "getaddrinfo ENOTFOUND api.nuget.org".
  const what =
    err?.code && err.message?.includes(err.code)
      ? err.message
      : err?.code
        ? `${err.syscall ? `${err.syscall} ` : ''}${err.code}${err.hostname ? ` ${err.hostname}` : ''}`
        : (err?.message ?? String(e));
  if (timedOut) return new DownloadError('timeout', `timed out waiting for ${new URL(url).host}`, { url, cause: e });
  if (midTransfer) return new DownloadError('interrupted', `the connection dropped (${what})`, { url, cause: e });
  if (err?.code && OFFLINE_CODES.has(err.code)) return new DownloadError('offline', what, { url, cause: e });
  return new DownloadError('interrupted', `the connection failed (${what})`, { url, cause: e });
}

function abortError(url: string, signal: AbortSignal | undefined): DownloadError {
  return new DownloadError('aborted', 'the download was cancelled', { url, cause: signal?.reason });
}

function isRetriable(e: unknown): boolean {
  if (!(e instanceof DownloadError)) return false;
  if (e.code === 'interrupted' || e.code === 'timeout') return true;
  return e.code === 'http' && e.detail.status !== undefined && (e.detail.status >= 500 || e.detail.status === 429);
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function validatorOf(h: IncomingHttpHeaders): string | null {
  const etag = header(h, 'etag');
  if (etag && !etag.startsWith('W/')) return etag;
  return header(h, 'last-modified') ?? null;
}

// --- progress and files -------------------------------------------------------------------------------



