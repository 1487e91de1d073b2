// Hugging Face Hub downloads into a local cache (layout: see hub.ts), with resume, checksum and offline mode.
//
// One file:
//   1. Cache first: if refs/<revision> and snapshots/<commit>/<file> are there, return it with no
//      request at all (pass `refresh: true` to ask the Hub whether the revision moved).
//   2. HEAD <endpoint>/<repo>/resolve/<revision>/<file>, not following the Hub's redirect to its CDN,
//      so X-Linked-Etag (the sha256 of an LFS file), X-Linked-Size and X-Repo-Commit are read from the
//      Hub's own response. Relative redirects (renamed repos) are followed.
//   3. If blobs/<etag> exists, only the snapshot link and the ref are written. Otherwise GET (redirects
//      followed; the token is only sent to the endpoint's origin) into blobs/<etag>.incomplete.
//      A partial file is resumed with `Range: bytes=<have>-` and `If-Range: <validator>` (the ETag the
//      partial was fetched under); a 206 appends, a 200 starts over. Dropped connections and timeouts
//      are retried (`retries`, with backoff) from where they stopped.
//   4. The size is checked, and the SHA-256 against X-Linked-Etag when the Hub sent one (the ETag of
//      small, non-LFS files is a git hash and is not checked). A mismatch deletes the partial file.
//   5. The blob is renamed into place, hard-linked (or copied) to snapshots/<commit>/<file>, and
//      refs/<revision> records the commit.
//
// Concurrency: downloads of the same blob within this process are serialised; two processes
// downloading the same blob at once into the same cache are not coordinated.

import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { fsyncDir, renameWithRetry, sha256File, writeFileAtomic } from '../fsutil/atomic.js';
import { ProgressMeter, readTrimmed, sizeOf } from '../fsutil/transfer.js';
import {
  DEFAULT_REVISION,
  HubError,
  RepoCache,
  describe,
  isCommitHash,
  isHubError,
  lookupCache,
  normalizeEtag,
  resolveEndpoint,
  resolveOffline,
  resolveToken,
  resolveUrl,
  snapshotName,
  validateRepoFile,
  validateRepoId,
  validateRevision,
  type RepoType,
} from './hub.js';

export interface DownloadProgress {
  /** The file's path in the repo, e.g. "onnx/model.onnx". */
  file: string;
  /** Bytes on disk so far, including bytes from an earlier, resumed attempt. */
  received: number;
  /** Total size in bytes, or null when the server did not say. */
  total: number | null;
  /** Transfer speed of this download so far (resumed bytes excluded). */
  bytesPerSecond: number;
  /** Estimated seconds left, or null when the total or the speed is unknown. */
  etaSeconds: number | null;
}

export interface HubRequestOptions {
  /** "model" (default) or "dataset". */
  repoType?: RepoType;
  /** Branch, tag or commit hash; default "main". */
  revision?: string;
  /** Folder holding the cache (created if missing). */
  cacheDir: string;
  /** Hub base URL; default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Access token for private/gated repos; default $HF_TOKEN. Sent as `Authorization: Bearer`. */
  token?: string;
  /** Use only the cache, never the network; default $HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Ask the Hub whether the revision moved even when the file is cached (falls back to the cache if the Hub is unreachable). */
  refresh?: boolean;
  /** Called as bytes arrive (about every 100 ms, plus once at the start and once at the end of each transfer). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Abort the download; the partial file is kept for a later resume and the signal's reason is thrown. */
  signal?: AbortSignal;
  /** Give up when the server sends nothing for this long (connect, headers, or between data); default 30 000 ms. */
  timeoutMs?: number;
  /** How many times a dropped or timed-out transfer (or an HTTP 5xx/429) is retried, resuming; default 3. */
  retries?: number;
  /** Delay before the first retry, doubled each time; default 1000 ms. */
  retryDelayMs?: number;
}

export interface DownloadFileOptions extends HubRequestOptions {
  /** "owner/name". */
  repo: string;
  /** Path inside the repo, e.g. "config.json" or "onnx/model.onnx". */
  file: string;
}

export interface DownloadResult {
  /** The local file: snapshots/<commit>/<file>. */
  path: string;
  /** The snapshot folder, usable as a plain model/dataset directory. */
  snapshotDir: string;
  /** The commit hash the revision resolved to (the revision's own name if the server sent none). */
  commit: string;
  /** True when no request was made (or the refreshed ETag matched a blob already cached). */
  fromCache: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const DEFAULT_RETRY_DELAY_MS = 1000;
const MAX_REDIRECTS = 10;
const USER_AGENT = `distill-studio (node ${process.version})`;

/** Download one file (or find it in the cache) and return its local path. */
export async function downloadFile(options: DownloadFileOptions): Promise<string> {
  return (await downloadFileDetailed(options)).path;
}

/** downloadFile, returning the snapshot folder and commit as well. */
export async function downloadFileDetailed(options: DownloadFileOptions): Promise<DownloadResult> {
  const { repo, file } = options;
  const revision = options.revision ?? DEFAULT_REVISION;
  const repoType = options.repoType ?? 'model';
  validateRepoId(repo);
  validateRepoFile(repo, file);
  validateRevision(repo, revision);
  const cache = new RepoCache(options.cacheDir, repo, repoType);
  const what = describe(repo, file, revision, repoType);
  const offline = resolveOffline(options.offline);

  const cached = lookupCache(cache, file, revision);
  if (offline || !options.refresh) {
    if (cached.kind === 'hit') return hitResult(cache, cached.path, cached.commit);
    if (cached.kind === 'absent') {
      throw new HubError('not-found', `file not found: ${what} does not exist on the Hub (cached answer): check the file name`, { repo, file, status: 404 });
    }
    if (offline) {
      throw new HubError('offline-miss', `${what} is not in the cache and offline mode is on: connect once or choose a local folder`, { repo, file });
    }
  }

  const ctx: Ctx = {
    repo,
    file,
    revision,
    repoType,
    what,
    cache,
    endpoint: resolveEndpoint(options.endpoint),
    token: resolveToken(options.token),
    signal: options.signal,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: options.retries ?? DEFAULT_RETRIES,
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    onProgress: options.onProgress,
  };
  try {
    return await downloadOnline(ctx);
  } catch (e) {
    // refresh: an unreachable Hub is no reason to fail when the file is cached.
    if (cached.kind === 'hit' && isHubError(e) && (e.code === 'network' || e.code === 'timeout')) {
      return hitResult(cache, cached.path, cached.commit);
    }
    throw e;
  }
}

function hitResult(cache: RepoCache, path: string, commit: string): DownloadResult {
  return { path, commit, snapshotDir: cache.snapshotDir(commit), fromCache: true };
}

// ---------------------------------------------------------------------------------------------
// Repo folders

/** A file to fetch: a path, or alternatives in order of preference (the first that exists is used). */
export type RepoFileSpec = string | { file: string | readonly string[]; optional?: boolean };

/** What a model folder needs: config, tokenizer files, weights (safetensors preferred), and an ONNX export if any. */
export const MODEL_FOLDER_FILES: readonly RepoFileSpec[] = [
  'config.json',
  { file: 'tokenizer.json', optional: true },
  { file: 'tokenizer_config.json', optional: true },
  { file: 'special_tokens_map.json', optional: true },
  { file: 'vocab.txt', optional: true },
  { file: 'vocab.json', optional: true },
  { file: 'merges.txt', optional: true },
  { file: ['model.safetensors', 'pytorch_model.bin'] },
  { file: 'onnx/model.onnx', optional: true },
];

export interface RepoFilesResult {
  /** The local snapshot folder holding every downloaded file under its repo path. */
  dir: string;
  /** The commit the revision resolved to. */
  commit: string;
  /** Repo path -> local path, for every file fetched (for alternatives: the one that existed). */
  files: Record<string, string>;
  /** Optional files (or alternative groups, joined with " | ") that do not exist, or are not cached in offline mode. */
  skipped: string[];
}

/**
 * Download several files of one repo into one snapshot folder and return that folder. After the first
 * file the revision is pinned to its commit, so a branch moving mid-way cannot mix two versions.
 * Required files that are missing throw (HubError 'not-found' or 'offline-miss'); optional ones are skipped.
 */
export async function downloadRepoFiles(
  repo: string,
  files: readonly RepoFileSpec[],
  options: HubRequestOptions,
): Promise<RepoFilesResult> {
  validateRepoId(repo);
  const repoType = options.repoType ?? 'model';
  let revision = options.revision ?? DEFAULT_REVISION;
  let commit: string | null = null;
  const out: Record<string, string> = {};
  const skipped: string[] = [];

  for (const spec of files) {
    const names = typeof spec === 'string' ? [spec] : typeof spec.file === 'string' ? [spec.file] : [...spec.file];
    const optional = typeof spec !== 'string' && spec.optional === true;
    if (names.length === 0) continue;
    let firstOfflineMiss: HubError | null = null;
    let lastNotFound: HubError | null = null;
    let got = false;
    for (const name of names) {
      try {
        const r = await downloadFileDetailed({ ...options, repo, file: name, revision });
        out[name] = r.path;
        got = true;
        if (commit === null) {
          commit = r.commit;
          if (isCommitHash(r.commit)) revision = r.commit;
        }
        break;
      } catch (e) {
        if (isHubError(e, 'not-found')) lastNotFound = e;
        else if (isHubError(e, 'offline-miss')) firstOfflineMiss ??= e;
        else throw e;
      }
    }
    if (got) continue;
    if (optional) {
      skipped.push(names.join(' | '));
      continue;
    }
    if (firstOfflineMiss) throw firstOfflineMiss;
    if (names.length > 1) {
      throw new HubError('not-found', `none of ${names.join(', ')} found in ${describe(repo, undefined, options.revision ?? DEFAULT_REVISION, repoType)}: check the repository id`, {
        repo,
        file: names[0],
        status: 404,
        cause: lastNotFound ?? undefined,
      });
    }
    throw lastNotFound!;
  }

  const cache = new RepoCache(options.cacheDir, repo, repoType);
  commit ??= cache.resolveRevision(revision) ?? snapshotName(revision);
  return { dir: cache.snapshotDir(commit), commit, files: out, skipped };
}

// ---------------------------------------------------------------------------------------------
// Online path

interface Ctx {
  repo: string;
  file: string;
  revision: string;
  repoType: RepoType;
  what: string;
  cache: RepoCache;
  endpoint: string;
  token: string | undefined;
  signal: AbortSignal | undefined;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  onProgress: ((p: DownloadProgress) => void) | undefined;
}

interface FileMeta {
  etag: string;
  sha256: string | null;
  size: number | null;
  commit: string | null;
}

async function downloadOnline(ctx: Ctx): Promise<DownloadResult> {
  const { cache, file, revision } = ctx;
  const url = resolveUrl(ctx.endpoint, ctx.repo, file, revision, ctx.repoType);
  // The GETs go to the resolve URL again (not the CDN URL seen by HEAD) so every retry gets a freshly
  // signed CDN redirect.
  const meta = await headFile(ctx, url);
  const commit = meta.commit ?? snapshotName(revision);
  const blobPath = cache.blob(meta.etag);

  let fromCache = true;
  await withLock(blobPath, async () => {
    if (await isFile(blobPath)) return;
    fromCache = false;
    await fetchBlob(ctx, url, meta, blobPath);
  });

  const path = cache.snapshotFile(commit, file);
  await linkInto(blobPath, path);
  if (revision !== commit) await writeRef(cache, revision, commit);
  return { path, commit, snapshotDir: cache.snapshotDir(commit), fromCache };
}

/** HEAD the resolve URL; stops at the Hub's own answer (the one carrying X-Linked-*), follows renames. */
async function headFile(ctx: Ctx, url: string): Promise<FileMeta> {
  let current = new URL(url);
  let commit: string | null = null;
  for (let hop = 0; ; hop++) {
    const res = await send(ctx, current, 'HEAD', requestHeaders(ctx, current, {}));
    res.body.resume();
    const h = res.headers;
    const repoCommit = header(h, 'x-repo-commit');
    if (repoCommit && isCommitHash(repoCommit)) commit ??= repoCommit;
    const linkedEtag = header(h, 'x-linked-etag');
    const location = header(h, 'location');
    const isRedirect = res.status >= 300 && res.status < 400;

    if (isRedirect && !linkedEtag && location) {
      if (hop >= MAX_REDIRECTS) throw new HubError('http', `too many redirects for ${ctx.what}`, { repo: ctx.repo, file: ctx.file, status: res.status });
      current = new URL(location, current);
      continue;
    }
    if (!isRedirect && (res.status < 200 || res.status >= 300)) {
      const err = statusError(ctx, res.status, h);
      if (err.code === 'not-found' && header(h, 'x-error-code') === 'EntryNotFound' && commit !== null) {
        await rememberAbsent(ctx, commit).catch(() => {});
      }
      throw err;
    }
    if (isRedirect && !location) throw new HubError('http', `the Hub answered HTTP ${res.status} without a Location for ${ctx.what}`, { repo: ctx.repo, file: ctx.file, status: res.status });

    const rawEtag = linkedEtag ?? header(h, 'etag');
    if (!rawEtag) {
      throw new HubError('http', `the server sent no ETag for ${ctx.what}: is ${ctx.endpoint} a Hugging Face Hub (HF_ENDPOINT)?`, { repo: ctx.repo, file: ctx.file, status: res.status });
    }
    const etag = normalizeEtag(rawEtag);
    const sha256 = linkedEtag && /^[0-9a-f]{64}$/.test(etag) ? etag : null;
    const sizeText = header(h, 'x-linked-size') ?? (isRedirect ? undefined : header(h, 'content-length'));
    const size = sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : null;
    return { etag, sha256, size, commit };
  }
}

async function rememberAbsent(ctx: Ctx, commit: string): Promise<void> {
  const marker = ctx.cache.noExistMarker(commit, ctx.file);
  await mkdir(dirname(marker), { recursive: true });
  await writeFile(marker, '');
  if (ctx.revision !== commit) await writeRef(ctx.cache, ctx.revision, commit);
}

async function writeRef(cache: RepoCache, revision: string, commit: string): Promise<void> {
  const refPath = cache.ref(revision);
  try {
    if ((await readFile(refPath, 'utf8')).trim() === commit) return;
  } catch {
    // no ref yet
  }
  await mkdir(dirname(refPath), { recursive: true });
  await writeFileAtomic(refPath, commit);
}

/** Download into blobPath + '.incomplete' (resuming), verify, and rename to blobPath. */
async function fetchBlob(ctx: Ctx, resolve: string, meta: FileMeta, blobPath: string): Promise<void> {
  const partial = `${blobPath}.incomplete`;
  const validatorPath = `${partial}.etag`;
  await mkdir(dirname(blobPath), { recursive: true });
  const onProgress = ctx.onProgress;
  const meter = new ProgressMeter(onProgress && ((p) => onProgress({ file: ctx.file, ...p })));

  for (let attempt = 0; ; attempt++) {
    try {
      await transferOnce(ctx, resolve, meta, partial, validatorPath, meter, true);
      break;
    } catch (e) {
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      if (!isRetriable(e) || attempt >= ctx.retries) throw e;
      try {
        await sleep(ctx.retryDelayMs * 2 ** attempt, undefined, { signal: ctx.signal });
      } catch {
        throw ctx.signal?.reason ?? e;
      }
    }
  }

  const size = (await stat(partial)).size;
  if (meta.size !== null && size !== meta.size) {
    await discard(partial, validatorPath);
    throw new HubError('checksum', `downloaded ${ctx.what} has ${size} bytes but the Hub announced ${meta.size}; the partial file was deleted: try again`, { repo: ctx.repo, file: ctx.file });
  }
  if (meta.sha256 !== null) {
    const actual = await sha256File(partial);
    if (actual !== meta.sha256) {
      await discard(partial, validatorPath);
      throw new HubError('checksum', `downloaded ${ctx.what} is corrupt: SHA-256 ${actual} but the Hub announced ${meta.sha256}; the file was deleted: try again`, { repo: ctx.repo, file: ctx.file });
    }
  }
  await renameWithRetry(partial, blobPath);
  await rm(validatorPath, { force: true });
  await fsyncDir(dirname(blobPath));
}

/** One GET: resume or restart the partial file and stream the body into it. */
async function transferOnce(
  ctx: Ctx,
  resolve: string,
  meta: FileMeta,
  partial: string,
  validatorPath: string,
  meter: ProgressMeter,
  mayRestart: boolean,
): Promise<void> {
  let have = await sizeOf(partial);
  let validator = have > 0 ? await readTrimmed(validatorPath) : null;
  // Without a validator or a checksum there is no way to tell a stale partial from a good one.
  if ((have > 0 && validator === null && meta.sha256 === null) || (meta.size !== null && have > meta.size)) {
    await discard(partial, validatorPath);
    have = 0;
    validator = null;
  }
  const extra: Record<string, string> = {};
  if (have > 0) {
    extra.Range = `bytes=${have}-`;
    if (validator !== null) extra['If-Range'] = validator;
  }
  const res = await get(ctx, resolve, extra);
  const h = res.headers;
  let total: number | null;
  let flags: 'a' | 'w';

  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(h, 'content-range') ?? '');
    if (!m || Number(m[1]) !== have) {
      res.body.destroy();
      await discard(partial, validatorPath);
      if (!mayRestart) throw new HubError('http', `the server sent an unusable partial response for ${ctx.what}`, { repo: ctx.repo, file: ctx.file, status: 206 });
      return transferOnce(ctx, resolve, meta, partial, validatorPath, meter, false);
    }
    total = m[3] !== '*' ? Number(m[3]) : meta.size;
    flags = 'a';
  } else if (res.status === 200) {
    have = 0;
    const len = header(h, 'content-length');
    total = len !== undefined && /^\d+$/.test(len) ? Number(len) : meta.size;
    flags = 'w';
    const etag = header(h, 'etag');
    const next = etag && !etag.startsWith('W/') ? etag : (header(h, 'last-modified') ?? null);
    if (next !== null) await writeFile(validatorPath, next);
    else await rm(validatorPath, { force: true });
  } else if (res.status === 416) {
    res.body.resume();
    if (meta.size !== null && have === meta.size) return; // already complete
    await discard(partial, validatorPath);
    if (!mayRestart) throw statusError(ctx, 416, h);
    return transferOnce(ctx, resolve, meta, partial, validatorPath, meter, false);
  } else {
    res.body.resume();
    throw statusError(ctx, res.status, h);
  }

  const fh = await open(partial, flags);
  let received = have;
  try {
    meter.update(received, total, true);
    const it = res.body[Symbol.asyncIterator]();
    while (true) {
      let step: IteratorResult<Buffer>;
      try {
        step = await it.next();
      } catch (e) {
        throw classify(ctx, e, res.timedOut(), true);
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
    throw new HubError('network', `the connection closed early while downloading ${ctx.what} (${received} of ${total} bytes); the partial download is kept and will resume`, { repo: ctx.repo, file: ctx.file });
  }
}

/** GET with redirects followed; the token only goes to the endpoint's origin. */
async function get(ctx: Ctx, url: string, extra: Record<string, string>): Promise<Response> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await send(ctx, current, 'GET', requestHeaders(ctx, current, extra));
    const location = header(res.headers, 'location');
    if (res.status >= 300 && res.status < 400 && location) {
      res.body.resume();
      if (hop >= MAX_REDIRECTS) throw new HubError('http', `too many redirects for ${ctx.what}`, { repo: ctx.repo, file: ctx.file, status: res.status });
      current = new URL(location, current);
      continue;
    }
    return res;
  }
}

function requestHeaders(ctx: Ctx, url: URL, extra: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity', ...extra };
  if (ctx.token && url.origin === new URL(ctx.endpoint).origin) headers.Authorization = `Bearer ${ctx.token}`;
  return headers;
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** Whether the idle timeout fired (so a later body error is a timeout, not a reset). */
  timedOut: () => boolean;
}

function send(ctx: Ctx, url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>): Promise<Response> {
  return new Promise((resolve, reject) => {
    if (ctx.signal?.aborted) {
      reject(ctx.signal.reason);
      return;
    }
    const mod = url.protocol === 'https:' ? https : http;
    let timedOut = false;
    let req: http.ClientRequest;
    try {
      req = mod.request(url, { method, headers, timeout: ctx.timeoutMs, signal: ctx.signal });
    } catch (e) {
      reject(new HubError('invalid-argument', `cannot request ${url.origin} (${(e as Error).message}): check HF_ENDPOINT`, { repo: ctx.repo, file: ctx.file, cause: e }));
      return;
    }
    req.on('timeout', () => {
      timedOut = true;
      req.destroy(new Error('timeout'));
    });
    req.on('error', (e) => reject(classify(ctx, e, timedOut, false)));
    req.on('response', (res) => {
      res.on('error', () => {}); // surfaced by whoever reads the body; never an unhandled 'error' event
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, timedOut: () => timedOut });
    });
    req.end();
  });
}

function classify(ctx: Ctx, e: unknown, timedOut: boolean, midTransfer: boolean): unknown {
  if (ctx.signal?.aborted) return ctx.signal.reason;
  if (e instanceof HubError) return e;
  const opts = { repo: ctx.repo, file: ctx.file, cause: e };
  if (timedOut) {
    return new HubError('timeout', `timed out after ${formatSeconds(ctx.timeoutMs)} waiting for the Hub (${ctx.what}): check your connection or try again`, opts);
  }
  const code = (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e);
  if (midTransfer) {
    return new HubError('network', `the connection dropped while downloading ${ctx.what} (${code}); the partial download is kept and will resume`, opts);
  }
  return new HubError('network', `could not reach the Hub at ${new URL(ctx.endpoint).host} for ${ctx.what} (${code}): check your connection or HF_ENDPOINT, or use offline mode`, opts);
}

function statusError(ctx: Ctx, status: number, h: IncomingHttpHeaders): HubError {
  const { repo, file, what } = ctx;
  const opts = { repo, file, status };
  const errorCode = header(h, 'x-error-code');
  if (errorCode === 'GatedRepo') {
    return new HubError('unauthorized', `${repo} is gated: accept its terms on its Hub page and set HF_TOKEN to a token of that account (${what})`, opts);
  }
  if (errorCode === 'EntryNotFound') {
    return new HubError('not-found', `file not found: ${what} does not exist: check the file name`, opts);
  }
  if (errorCode === 'RevisionNotFound') {
    return new HubError('not-found', `revision not found: ${repo} has no branch, tag or commit "${ctx.revision}" (${what})`, opts);
  }
  if (errorCode === 'RepoNotFound') {
    return new HubError('not-found', `repository not found: check the id "${repo}"; if it is private, set HF_TOKEN (${what})`, opts);
  }
  if (status === 401 || status === 403) {
    const fix = ctx.token ? 'the token in use (HF_TOKEN) has no access to it: check it or accept the terms on its Hub page' : 'set HF_TOKEN to a token with access';
    return new HubError('unauthorized', `${repo} is private or gated: ${fix} (HTTP ${status}, ${what})`, opts);
  }
  if (status === 404) {
    return new HubError('not-found', `repository or file not found: check the id "${repo}" and the file "${file}" (${what})`, opts);
  }
  const hint = status >= 500 || status === 429 ? ': the Hub is busy or down, try again later' : '';
  return new HubError('http', `the Hub answered HTTP ${status} for ${what}${hint}`, opts);
}

function isRetriable(e: unknown): boolean {
  if (!isHubError(e)) return false;
  if (e.code === 'network' || e.code === 'timeout') return true;
  return e.code === 'http' && e.status !== undefined && (e.status >= 500 || e.status === 429);
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

// ---------------------------------------------------------------------------------------------
// Progress


// ---------------------------------------------------------------------------------------------
// Files


async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}


async function discard(partial: string, validatorPath: string): Promise<void> {
  await rm(partial, { force: true });
  await rm(validatorPath, { force: true });
}

/** Make `target` the same file as `blob`: a hard link, or a copy where links are impossible; replaced atomically. */
async function linkInto(blob: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  try {
    const [a, b] = await Promise.all([stat(blob), stat(target)]);
    if (a.ino !== 0 && a.ino === b.ino && a.dev === b.dev) return;
  } catch {
    // target missing
  }
  const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    try {
      await link(blob, tmp);
    } catch {
      await copyFile(blob, tmp);
    }
    await renameWithRetry(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

const locks = new Map<string, Promise<void>>();

async function withLock(key: string, fn: () => Promise<void>): Promise<void> {
  const prev = locks.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  locks.set(key, chained);
  await prev;
  try {
    await fn();
  } finally {
    release();
    if (locks.get(key) === chained) locks.delete(key);
  }
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}
