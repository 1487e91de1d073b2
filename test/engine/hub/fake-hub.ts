// A small, real HTTP server on 127.0.0.1 that answers like the Hugging Face Hub's resolve endpoint:
//
//   HEAD/GET /{owner}/{name}/resolve/{rev}/{file}            models
//   HEAD/GET /datasets/{owner}/{name}/resolve/{rev}/{file}   datasets
//   small files: 200, ETag = git blob hash, X-Repo-Commit, Content-Length, Accept-Ranges
//   LFS files:   302 to /cdn/{sha256}?sig=…, with X-Linked-Etag = "sha256", X-Linked-Size, X-Repo-Commit
//   GET /cdn/{sha256}: the bytes, with ETag, Accept-Ranges, Range + If-Range (206 / 200 / 416)
//   errors: 401 for private repos without the token, 404 + X-Error-Code (RepoNotFound, EntryNotFound, RevisionNotFound)
//
// Knobs per file let a test cut the connection, change the CDN's ETag, serve corrupt bytes or hang.

import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  data: Buffer;
  /** Stored in LFS: served through a 302 to /cdn with X-Linked-Etag/X-Linked-Size. */
  lfs?: boolean;
  /** The CDN's ETag for this blob (default: the quoted sha256). Change it to make If-Range fail. */
  cdnEtag?: string;
  /** On the next `cutTimes` GETs of the bytes, send only this many body bytes then destroy the socket. */
  cutAfterBytes?: number;
  cutTimes?: number;
  /** On every GET of the bytes, send this many body bytes then stall (never finish). */
  stallAfterBytes?: number;
  /** Bytes actually sent instead of `data` (the announced sha256/size still come from `data`). */
  serveBytes?: Buffer;
  /** Never answer any request for this file. */
  hang?: boolean;
}

export interface FakeRepo {
  type: 'model' | 'dataset';
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
  files: Record<string, FakeFile>;
}

export interface LoggedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The status the server answered (undefined while pending or if it never answered). */
  status?: number;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const gitBlobHash = (b: Buffer): string =>
  createHash('sha1').update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b])).digest('hex');

export class FakeHub {
  readonly commit = randomBytes(20).toString('hex');
  readonly repos = new Map<string, FakeRepo>(); // key: "model:owner/name" / "dataset:owner/name"
  readonly requests: LoggedRequest[] = [];
  private server: http.Server | null = null;
  private base = '';

  get url(): string {
    return this.base;
  }

  addRepo(repo: string, spec: FakeRepo): FakeRepo {
    this.repos.set(`${spec.type}:${repo}`, spec);
    return spec;
  }

  /** Requests whose path starts with `prefix` (and, if given, with this method). */
  requestsTo(prefix: string, method?: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix) && (method === undefined || r.method === method));
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
    return this.base;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const entry: LoggedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers };
    this.requests.push(entry);
    const send = (status: number, headers: Record<string, string | number> = {}, body?: Buffer): void => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);

    if (path.startsWith('/cdn/')) {
      const sha = path.slice('/cdn/'.length);
      const file = this.findBlob(sha);
      if (!file) return send(404);
      if (file.hang) return;
      return this.serveBytes(req, res, entry, file, file.cdnEtag ?? `"${sha}"`);
    }

    const m = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!m) return send(404, { 'X-Error-Code': 'RepoNotFound' });
    const type = m[1] ? 'dataset' : 'model';
    const repo = this.repos.get(`${type}:${m[2]}`);
    if (!repo) return send(404, { 'X-Error-Code': 'RepoNotFound' });
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) return send(401);
    if (m[3] !== 'main' && m[3] !== this.commit) return send(404, { 'X-Error-Code': 'RevisionNotFound' });
    const file = repo.files[m[4]];
    if (!file) return send(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': this.commit });
    if (file.hang) return; // never answer

    if (file.lfs) {
      const sha = sha256(file.data);
      return send(302, {
        Location: `/cdn/${sha}?sig=${randomBytes(4).toString('hex')}`,
        'X-Linked-Etag': `"${sha}"`,
        'X-Linked-Size': file.data.length,
        ETag: `"${sha}"`,
        'X-Repo-Commit': this.commit,
        'Content-Length': 0,
      });
    }
    res.setHeader('X-Repo-Commit', this.commit);
    return this.serveBytes(req, res, entry, file, `"${gitBlobHash(file.data)}"`);
  }

  private findBlob(sha: string): FakeFile | undefined {
    for (const repo of this.repos.values()) {
      for (const f of Object.values(repo.files)) if (f.lfs && sha256(f.data) === sha) return f;
    }
    return undefined;
  }

  /** The bytes with Range / If-Range support, and the cut-the-connection knob. */
  private serveBytes(req: IncomingMessage, res: ServerResponse, entry: LoggedRequest, file: FakeFile, etag: string): void {
    const body = file.serveBytes ?? file.data;
    const len = body.length;
    const headers: Record<string, string | number> = { ETag: etag, 'Accept-Ranges': 'bytes' };
    let status = 200;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === etag)) {
      start = Number(range[1]);
      if (start >= len) {
        entry.status = 416;
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${len}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${len - 1}/${len}`;
    }
    const slice = body.subarray(start);
    headers['Content-Length'] = slice.length;
    entry.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (file.stallAfterBytes !== undefined) {
      res.write(slice.subarray(0, file.stallAfterBytes));
      return;
    }
    if (file.cutAfterBytes !== undefined && (file.cutTimes ?? 0) > 0) {
      file.cutTimes = (file.cutTimes ?? 0) - 1;
      res.write(slice.subarray(0, file.cutAfterBytes), () => {
        // Give the bytes a moment to reach the client, then drop the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(slice);
  }
}

/** Pseudo-random bytes of a given size (deterministic per seed). */
export function fixtureBytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
