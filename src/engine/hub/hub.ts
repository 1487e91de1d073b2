// Hugging Face Hub basics shared by the downloader: settings (endpoint, token), URLs, the error type
// and the on-disk cache layout. No network here; see download.ts.
//
// Cache layout (the same shape as huggingface_hub's, so the folders look familiar):
//
//   <cacheDir>/
//     models--<owner>--<name>/          (datasets--<owner>--<name>/ for datasets)
//       blobs/<etag>                    file content, named by its ETag: the sha256 for LFS files
//                                       (X-Linked-Etag), the git blob hash for small files
//       blobs/<etag>.incomplete         a partial download, resumed with a Range request
//       blobs/<etag>.incomplete.etag    the validator the partial was fetched under (sent as If-Range)
//       refs/<revision>                 text file: the commit that <revision> (e.g. main) pointed to
//       snapshots/<commit>/<file path>  the file as the repo names it: a hard link to its blob
//                                       (a copy where hard links are not possible)
//       .no_exist/<commit>/<file path>  empty marker: the Hub said this file does not exist there
//
// Where the server sends no X-Repo-Commit the snapshot folder is named after the revision itself.
// Snapshot files are regular files, so any tool can read the folder as a plain model directory.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_REVISION = 'main';

export type RepoType = 'model' | 'dataset';

export type HubErrorCode =
  /** The repository, revision or file does not exist (HTTP 404), or a file is marked absent in the cache. */
  | 'not-found'
  /** HTTP 401/403: a private or gated repository, or a token without access. */
  | 'unauthorized'
  /** No answer (or no data) from the server within timeoutMs. */
  | 'timeout'
  /** The connection failed: refused, reset, DNS, cut mid-transfer. */
  | 'network'
  /** The downloaded bytes do not match the SHA-256 (or size) the Hub announced. */
  | 'checksum'
  /** Offline mode and the file is not in the cache. */
  | 'offline-miss'
  /** Any other HTTP status, or a response that is not what the Hub sends. */
  | 'http'
  /** The repo id, revision or file path is malformed. */
  | 'invalid-argument';

export class HubError extends Error {
  override readonly name = 'HubError';
  readonly code: HubErrorCode;
  readonly repo: string;
  readonly file: string | undefined;
  /** The HTTP status, when the error comes from a response. */
  readonly status: number | undefined;

  constructor(
    code: HubErrorCode,
    message: string,
    options: { repo: string; file?: string; status?: number; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.repo = options.repo;
    this.file = options.file;
    this.status = options.status;
  }
}

export function isHubError(e: unknown, code?: HubErrorCode): e is HubError {
  return e instanceof HubError && (code === undefined || e.code === code);
}

/** The Hub base URL: the option, else $HF_ENDPOINT, else https://huggingface.co (no trailing slash). */
export function resolveEndpoint(endpoint?: string): string {
  const value = endpoint || process.env.HF_ENDPOINT || DEFAULT_ENDPOINT;
  return value.replace(/\/+$/, '');
}

/** The access token: the option, else $HF_TOKEN; undefined when neither is set. */
export function resolveToken(token?: string): string | undefined {
  return token || process.env.HF_TOKEN || undefined;
}

/** Offline when the option says so, else when $HF_HUB_OFFLINE is 1/true/yes/on. */
export function resolveOffline(offline?: boolean): boolean {
  if (offline !== undefined) return offline;
  const v = (process.env.HF_HUB_OFFLINE ?? '').trim().toLowerCase();
  return v === '1' || v === 'true' || v === 'yes' || v === 'on';
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Check a repo id ("owner/name", or a legacy bare "name"); throws HubError('invalid-argument'). */
export function validateRepoId(repo: string): void {
  const parts = repo.split('/');
  const ok = parts.length >= 1 && parts.length <= 2 && parts.every((p) => NAME_RE.test(p) && !p.includes('..'));
  if (!ok || repo.length > 200) {
    throw new HubError('invalid-argument', `invalid repository id "${repo}": expected owner/name, e.g. google-bert/bert-base-uncased`, { repo });
  }
}

/** Check a path inside a repo ("config.json", "onnx/model.onnx"); throws HubError('invalid-argument'). */
export function validateRepoFile(repo: string, file: string): void {
  const parts = file.split('/');
  const bad =
    file.length === 0 ||
    file.includes('\\') ||
    file.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..');
  if (bad) throw new HubError('invalid-argument', `invalid file path "${file}" in ${repo}: use a relative path such as onnx/model.onnx`, { repo, file });
}

/** Check a revision (branch, tag, commit hash, refs/pr/N). */
export function validateRevision(repo: string, revision: string): void {
  const bad = revision.length === 0 || revision.includes('\\') || revision.includes('\0') || revision.split('/').some((p) => p === '' || p === '.' || p === '..');
  if (bad) throw new HubError('invalid-argument', `invalid revision "${revision}" for ${repo}`, { repo });
}

export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** `${endpoint}/{repo}/resolve/{revision}/{file}`, with `/datasets` before the repo for datasets. */
export function resolveUrl(endpoint: string, repo: string, file: string, revision: string, repoType: RepoType): string {
  const prefix = repoType === 'dataset' ? '/datasets' : '';
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}${prefix}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** "models--owner--name" / "datasets--owner--name". */
export function repoFolderName(repo: string, repoType: RepoType): string {
  return [`${repoType}s`, ...repo.split('/')].join('--');
}

/** A header ETag as a file-name-safe blob name: W/ and quotes dropped. */
export function normalizeEtag(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1')
    .replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Folder-safe snapshot name for a revision when no commit hash is known. */
export function snapshotName(revisionOrCommit: string): string {
  return revisionOrCommit.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Paths of one repository's cache folder. */
export class RepoCache {
  readonly root: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: string,
    readonly repoType: RepoType,
  ) {
    this.root = join(cacheDir, repoFolderName(repo, repoType));
  }

  blob(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  ref(revision: string): string {
    return join(this.root, 'refs', ...revision.split('/'));
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', snapshotName(commit));
  }

  snapshotFile(commit: string, file: string): string {
    return join(this.snapshotDir(commit), ...file.split('/'));
  }

  noExistMarker(commit: string, file: string): string {
    return join(this.root, '.no_exist', snapshotName(commit), ...file.split('/'));
  }

  /** The commit `revision` points to in the cache: itself for a commit hash, else refs/<revision>; null if unknown. */
  resolveRevision(revision: string): string | null {
    if (isCommitHash(revision)) return revision;
    try {
      const text = readFileSync(this.ref(revision), 'utf8').trim();
      return text.length > 0 ? text : null;
    } catch {
      return null;
    }
  }
}

export type CacheLookup =
  | { kind: 'hit'; path: string; commit: string }
  | { kind: 'absent'; commit: string }
  | { kind: 'miss' };

/** Look a file up in the cache without any network: a hit, known absent (.no_exist marker), or a miss. */
export function lookupCache(cache: RepoCache, file: string, revision: string): CacheLookup {
  const commit = cache.resolveRevision(revision);
  if (commit === null) return { kind: 'miss' };
  const path = cache.snapshotFile(commit, file);
  try {
    if (statSync(path).isFile()) return { kind: 'hit', path, commit };
  } catch {
    // not there
  }
  if (existsSync(cache.noExistMarker(commit, file))) return { kind: 'absent', commit };
  return { kind: 'miss' };
}

/** "owner/name/file (revision main)" for messages; the revision is left out when it is main. */
export function describe(repo: string, file: string | undefined, revision: string, repoType: RepoType): string {
  const kind = repoType === 'dataset' ? 'dataset ' : '';
  const where = file === undefined ? `${kind}${repo}` : `${kind}${repo}/${file}`;
  return revision === DEFAULT_REVISION ? where : `${where} (revision ${revision})`;
}
