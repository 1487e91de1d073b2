// A real HTTP server on 127.0.0.1 that answers like nuget.org for one package:
//   HEAD/GET /v3-flatcontainer/<id>/<ver>/<id>.<ver>.nupkg   bytes, ETag, Accept-Ranges, Range + If-Range (206/200/416)
//   GET /v3/registration5-semver1/<id>/<ver>.json             registration leaf: { catalogEntry: <url> }
//   GET /v3/catalog0/data/<date>/<id>.<ver>.json              catalog leaf: packageHash (SHA-512, base64), packageSize
// Knobs let a test cut the connection, serve damaged bytes, slow the transfer, or hide the catalog.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakePackage } from './nupkg';

const ID = 'microsoft.ml.onnxruntime.gpu.linux';

export interface LoggedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  status?: number;
}

export class FakeNuget {
  readonly requests: LoggedRequest[] = [];
  /** On the next `cutTimes` GETs of the package, send this many body bytes, then drop the connection. */
  cutAfterBytes = 0;
  cutTimes = 0;
  /** Bytes sent instead of the package (the catalog still describes the real one). */
  serveBytes: Buffer | null = null;
  /** Send the body in chunks of this size with a pause between them. */
  throttle: { chunk: number; delayMs: number } | null = null;
  /** 'ok', or a status for the registration leaf (404: a mirror without a catalog). */
  registration: 'ok' | number = 'ok';
  /** The package's ETag; change it to make If-Range fail. */
  etag = '"0x8DC5A2B7C1D2E3F"';
  private server: http.Server | null = null;
  private base = '';

  constructor(
    readonly version: string,
    public pkg: FakePackage,
  ) {}

  get url(): string {
    return this.base;
  }
  get flatContainer(): string {
    return `${this.base}/v3-flatcontainer`;
  }
  get registrationBase(): string {
    return `${this.base}/v3/registration5-semver1`;
  }
  get packagePath(): string {
    return `/v3-flatcontainer/${ID}/${this.version}/${ID}.${this.version}.nupkg`;
  }

  packageRequests(method?: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path === this.packagePath && (method === undefined || r.method === method));
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const log: LoggedRequest = { method: req.method ?? '', path, headers: req.headers };
    this.requests.push(log);
    const send = (status: number, headers: Record<string, string | number>, body?: Buffer | string) => {
      log.status = status;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };

    if (path === this.packagePath) return this.servePackage(req, res, log);

    if (path === `/v3/registration5-semver1/${ID}/${this.version}.json`) {
      if (this.registration !== 'ok') return send(this.registration, { 'Content-Type': 'application/xml' }, '<Error><Code>BlobNotFound</Code></Error>');
      return send(
        200,
        { 'Content-Type': 'application/json' },
        JSON.stringify({
          '@id': `${this.base}${path}`,
          '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
          catalogEntry: `${this.base}/v3/catalog0/data/2026.09.17.21.04.11/${ID}.${this.version}.json`,
          listed: true,
          packageContent: `${this.base}${this.packagePath}`,
          published: '2026-09-17T21:01:47.39+00:00',
          registration: `${this.base}/v3/registration5-semver1/${ID}/index.json`,
        }),
      );
    }
    if (path === `/v3/catalog0/data/2026.09.17.21.04.11/${ID}.${this.version}.json`) {
      return send(
        200,
        { 'Content-Type': 'application/json' },
        JSON.stringify({
          '@type': ['PackageDetails', 'catalog:Permalink'],
          id: 'Microsoft.ML.OnnxRuntime.Gpu.Linux',
          version: this.version,
          packageHash: this.pkg.sha512,
          packageHashAlgorithm: 'SHA512',
          packageSize: this.pkg.bytes.length,
          listed: true,
        }),
      );
    }
    return send(404, { 'Content-Type': 'application/xml' }, '<Error><Code>BlobNotFound</Code></Error>');
  }

  private async servePackage(req: IncomingMessage, res: ServerResponse, log: LoggedRequest): Promise<void> {
    const data = this.serveBytes ?? this.pkg.bytes;
    const total = data.length;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: this.etag,
      'Last-Modified': 'Wed, 17 Sep 2026 21:01:47 GMT',
    };
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const ifRange = req.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === this.etag)) {
      start = Number(range[1]);
      if (start >= total) {
        log.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${total}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${total - 1}/${total}`;
    }
    headers['Content-Length'] = total - start;
    log.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let body = data.subarray(start);
    if (this.cutTimes > 0) {
      this.cutTimes--;
      res.write(body.subarray(0, this.cutAfterBytes));
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    if (this.throttle) {
      const { chunk, delayMs } = this.throttle;
      while (body.length > 0) {
        if (res.destroyed) return;
        res.write(body.subarray(0, chunk));
        body = body.subarray(chunk);
        await new Promise((r) => setTimeout(r, delayMs));
      }
      res.end();
      return;
    }
    res.end(body);
  }
}
