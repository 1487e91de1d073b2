// Hub downloads against a real HTTP server on 127.0.0.1 (fake-hub.ts): cache layout and hits,
// progress, resume with Range/If-Range, checksum, auth and not-found errors, timeouts, offline mode.

import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  MODEL_FOLDER_FILES,
  downloadFile,
  downloadFileDetailed,
  downloadRepoFiles,
  type DownloadFileOptions,
  type DownloadProgress,
} from '../../../src/engine/hub/download.js';
import { HubError, isHubError, resolveUrl } from '../../../src/engine/hub/hub.js';
import { FakeHub, fixtureBytes, gitBlobHash, sha256, type FakeFile } from './fake-hub.js';

const REPO = 'acme/tiny-bert';
const SMALL = fixtureBytes(3 * 1024, 7);
const BIG = fixtureBytes(2 * 1024 * 1024, 11);

let hub: FakeHub;
let cacheDir: string;
let files: Record<string, FakeFile>;

beforeEach(async () => {
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HF_ENDPOINT', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  hub = new FakeHub();
  files = {
    'config.json': { data: SMALL },
    'model.safetensors': { data: BIG, lfs: true },
  };
  hub.addRepo(REPO, { type: 'model', files });
  await hub.start();
  cacheDir = await mkdtemp(join(tmpdir(), 'hub-test-'));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await hub.close();
  await rm(cacheDir, { recursive: true, force: true });
});

const opts = (extra: Partial<DownloadFileOptions> & { file: string }): DownloadFileOptions => ({
  repo: REPO,
  cacheDir,
  endpoint: hub.url,
  retryDelayMs: 0,
  ...extra,
});

async function expectHubError(p: Promise<unknown>, code: HubError['code']): Promise<HubError> {
  const e = await p.then(
    () => {
      throw new Error(`expected a HubError '${code}', got success`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HubError);
  expect((e as HubError).code).toBe(code);
  return e as HubError;
}

const repoRoot = () => join(cacheDir, 'models--acme--tiny-bert');

describe('resolveUrl', () => {
  it('builds model and dataset URLs', () => {
    expect(resolveUrl('https://huggingface.co', 'a/b', 'onnx/model.onnx', 'main', 'model')).toBe(
      'https://huggingface.co/a/b/resolve/main/onnx/model.onnx',
    );
    expect(resolveUrl('https://hf.example', 'a/b', 'train.csv', 'refs/pr/1', 'dataset')).toBe(
      'https://hf.example/datasets/a/b/resolve/refs%2Fpr%2F1/train.csv',
    );
  });
});

describe('downloadFile', () => {
  it('downloads a small file and a redirected LFS file, then serves both from the cache with no request', async () => {
    const small = await downloadFile(opts({ file: 'config.json' }));
    const big = await downloadFile(opts({ file: 'model.safetensors' }));
    expect(readFileSync(small).equals(SMALL)).toBe(true);
    expect(readFileSync(big).equals(BIG)).toBe(true);

    // Layout: blobs by ETag, refs/main -> commit, snapshots/<commit>/<file>.
    expect(small).toBe(join(repoRoot(), 'snapshots', hub.commit, 'config.json'));
    expect(big).toBe(join(repoRoot(), 'snapshots', hub.commit, 'model.safetensors'));
    expect(readFileSync(join(repoRoot(), 'refs', 'main'), 'utf8')).toBe(hub.commit);
    expect(readFileSync(join(repoRoot(), 'blobs', sha256(BIG))).equals(BIG)).toBe(true);
    expect(existsSync(join(repoRoot(), 'blobs', gitBlobHash(SMALL)))).toBe(true);
    expect(readdirSync(join(repoRoot(), 'blobs')).sort()).toEqual([gitBlobHash(SMALL), sha256(BIG)].sort());

    // The LFS file: HEAD stops at the Hub's 302 (X-Linked-*), the GET follows it to /cdn.
    expect(hub.requestsTo(`/${REPO}/resolve/main/model.safetensors`).map((r) => `${r.method} ${r.status}`)).toEqual([
      'HEAD 302',
      'GET 302',
    ]);
    expect(hub.requestsTo('/cdn/').map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200']);

    const before = hub.requests.length;
    const again = await downloadFileDetailed(opts({ file: 'model.safetensors' }));
    expect(again.path).toBe(big);
    expect(again.fromCache).toBe(true);
    expect(again.commit).toBe(hub.commit);
    expect(await downloadFile(opts({ file: 'config.json' }))).toBe(small);
    expect(hub.requests.length).toBe(before);
  });

  it('refresh: asks the Hub with one HEAD, reuses the blob, and falls back to the cache when the Hub is down', async () => {
    const path = await downloadFile(opts({ file: 'model.safetensors' }));
    const before = hub.requests.length;
    const r = await downloadFileDetailed(opts({ file: 'model.safetensors', refresh: true }));
    expect(r.path).toBe(path);
    expect(r.fromCache).toBe(true);
    expect(hub.requests.slice(before).map((q) => q.method)).toEqual(['HEAD']);

    await hub.close();
    const down = await downloadFileDetailed(opts({ file: 'model.safetensors', refresh: true }));
    expect(down.path).toBe(path);
  });

  it('reports progress up to the total', async () => {
    const events: DownloadProgress[] = [];
    await downloadFile(opts({ file: 'model.safetensors', onProgress: (p: DownloadProgress) => events.push(p) }));
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < events.length; i++) expect(events[i].received).toBeGreaterThanOrEqual(events[i - 1].received);
    const last = events[events.length - 1];
    expect(last).toMatchObject({ file: 'model.safetensors', received: BIG.length, total: BIG.length, etaSeconds: 0 });
    expect(events.every((e) => e.total === BIG.length && e.bytesPerSecond >= 0)).toBe(true);
    expect(events[0].received).toBe(0);
  });

  it('resumes an interrupted transfer with a Range request (automatic retry)', async () => {
    files['model.safetensors'].cutAfterBytes = 700_000;
    files['model.safetensors'].cutTimes = 1;
    const path = await downloadFile(opts({ file: 'model.safetensors', retries: 2 }));
    expect(sha256(readFileSync(path))).toBe(sha256(BIG));

    const cdn = hub.requestsTo('/cdn/', 'GET');
    expect(cdn.length).toBe(2);
    expect(cdn[0].headers.range).toBeUndefined();
    const m = /^bytes=(\d+)-$/.exec(String(cdn[1].headers.range));
    expect(m).not.toBeNull();
    const have = Number(m![1]);
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(700_000);
    expect(cdn[1].headers['if-range']).toBe(`"${sha256(BIG)}"`);
    expect(cdn[1].status).toBe(206);
    expect(readdirSync(join(repoRoot(), 'blobs'))).toEqual([sha256(BIG)]); // no .incomplete left
  });

  it('keeps the partial file when retries run out, and a later call resumes it', async () => {
    files['model.safetensors'].cutAfterBytes = 500_000;
    files['model.safetensors'].cutTimes = 1;
    const err = await expectHubError(downloadFile(opts({ file: 'model.safetensors', retries: 0 })), 'network');
    expect(err.message).toContain(REPO);
    expect(err.message).toContain('model.safetensors');
    const partial = join(repoRoot(), 'blobs', `${sha256(BIG)}.incomplete`);
    const have = statSync(partial).size;
    expect(have).toBeGreaterThan(0);

    const path = await downloadFile(opts({ file: 'model.safetensors', retries: 0 }));
    expect(readFileSync(path).equals(BIG)).toBe(true);
    const cdn = hub.requestsTo('/cdn/', 'GET');
    expect(cdn[1].headers.range).toBe(`bytes=${have}-`);
    expect(cdn[1].status).toBe(206);
    expect(existsSync(partial)).toBe(false);
  });

  it('restarts from zero when If-Range no longer matches (the server answers 200)', async () => {
    const f = files['model.safetensors'];
    f.cdnEtag = '"v1"';
    f.cutAfterBytes = 400_000;
    f.cutTimes = 1;
    await expectHubError(downloadFile(opts({ file: 'model.safetensors', retries: 0 })), 'network');
    f.cdnEtag = '"v2"'; // the CDN object was replaced: the partial is no longer valid for it

    const path = await downloadFile(opts({ file: 'model.safetensors', retries: 0 }));
    expect(readFileSync(path).equals(BIG)).toBe(true);
    const cdn = hub.requestsTo('/cdn/', 'GET');
    expect(cdn.length).toBe(2);
    expect(cdn[1].headers.range).toMatch(/^bytes=\d+-$/);
    expect(cdn[1].headers['if-range']).toBe('"v1"');
    expect(cdn[1].status).toBe(200);
  });

  it('restarts from zero over a garbage partial file with a stale validator', async () => {
    const blobs = join(repoRoot(), 'blobs');
    await import('node:fs/promises').then((fs) => fs.mkdir(blobs, { recursive: true }));
    writeFileSync(join(blobs, `${sha256(BIG)}.incomplete`), Buffer.alloc(12_345, 0xab));
    writeFileSync(join(blobs, `${sha256(BIG)}.incomplete.etag`), '"stale"');
    const path = await downloadFile(opts({ file: 'model.safetensors' }));
    expect(readFileSync(path).equals(BIG)).toBe(true);
    const cdn = hub.requestsTo('/cdn/', 'GET');
    expect(cdn.map((r) => [r.headers.range, r.headers['if-range'], r.status])).toEqual([['bytes=12345-', '"stale"', 200]]);
  });

  it('rejects bytes that do not match X-Linked-Etag and leaves no file behind', async () => {
    const bad = Buffer.from(BIG);
    bad[1234] ^= 0xff;
    files['model.safetensors'].serveBytes = bad;
    const err = await expectHubError(downloadFile(opts({ file: 'model.safetensors', retries: 3 })), 'checksum');
    expect(err.message).toContain(`${REPO}/model.safetensors`);
    expect(err.message).toContain(sha256(BIG));
    expect(readdirSync(join(repoRoot(), 'blobs'))).toEqual([]);
    expect(existsSync(join(repoRoot(), 'snapshots'))).toBe(false);
    expect(hub.requestsTo('/cdn/').length).toBe(1); // a checksum error is not retried
  });

  it('does not check the git ETag of small files', async () => {
    files['config.json'].serveBytes = Buffer.from('{"served": "different bytes of another size"}');
    const path = await downloadFile(opts({ file: 'config.json' }));
    expect(readFileSync(path, 'utf8')).toContain('different bytes');
  });

  it('401: a private repo without a token says to set HF_TOKEN; the token (option or env) is sent as Bearer', async () => {
    hub.addRepo('acme/secret', { type: 'model', token: 'hf_abc', files: { 'config.json': { data: SMALL } } });
    const err = await expectHubError(downloadFile(opts({ repo: 'acme/secret', file: 'config.json' })), 'unauthorized');
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/acme\/secret.*private or gated.*HF_TOKEN/);
    expect(err.message).toContain('config.json');
    expect(err.message).not.toContain('\n');

    const path = await downloadFile(opts({ repo: 'acme/secret', file: 'config.json', token: 'hf_abc' }));
    expect(readFileSync(path).equals(SMALL)).toBe(true);
    expect(hub.requests[hub.requests.length - 1].headers.authorization).toBe('Bearer hf_abc');

    await rm(cacheDir, { recursive: true, force: true });
    vi.stubEnv('HF_TOKEN', 'hf_abc');
    await downloadFile(opts({ repo: 'acme/secret', file: 'config.json' }));
  });

  it('404: missing file or repository gives a not-found error naming them', async () => {
    const e1 = await expectHubError(downloadFile(opts({ file: 'nope.json' })), 'not-found');
    expect(e1.message).toContain(`${REPO}/nope.json`);
    expect(e1.status).toBe(404);
    const e2 = await expectHubError(downloadFile(opts({ repo: 'acme/missing', file: 'config.json' })), 'not-found');
    expect(e2.message).toMatch(/not found: check the id "acme\/missing"/);

    // A bare 404 without X-Error-Code.
    const bare = http.createServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const port = (bare.address() as AddressInfo).port;
    try {
      const e3 = await expectHubError(
        downloadFile(opts({ file: 'config.json', endpoint: `http://127.0.0.1:${port}` })),
        'not-found',
      );
      expect(e3.message).toMatch(/^repository or file not found: check the id "acme\/tiny-bert"/);
    } finally {
      bare.closeAllConnections();
      await new Promise((r) => bare.close(r));
    }
  });

  it('times out when the server never answers', async () => {
    files['config.json'].hang = true;
    const t0 = Date.now();
    const err = await expectHubError(downloadFile(opts({ file: 'config.json', timeoutMs: 150 })), 'timeout');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err.message).toMatch(/timed out after 150 ms .*acme\/tiny-bert\/config.json/);
  });

  it('times out when a transfer stalls mid-body, resuming on each retry', async () => {
    files['model.safetensors'].stallAfterBytes = 100_000;
    const err = await expectHubError(downloadFile(opts({ file: 'model.safetensors', timeoutMs: 150, retries: 1 })), 'timeout');
    expect(err.file).toBe('model.safetensors');
    const cdn = hub.requestsTo('/cdn/', 'GET');
    expect(cdn.length).toBe(2);
    expect(cdn[1].headers.range).toMatch(/^bytes=\d+-$/);
    expect(existsSync(join(repoRoot(), 'blobs', `${sha256(BIG)}.incomplete`))).toBe(true);
  });

  it('connection refused gives a network error', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    const err = await expectHubError(downloadFile(opts({ file: 'config.json', endpoint: `http://127.0.0.1:${port}` })), 'network');
    expect(err.message).toMatch(/could not reach the Hub .*ECONNREFUSED/);
  });

  it('offline: a cached file is served, a missing one is a clear offline-miss', async () => {
    const path = await downloadFile(opts({ file: 'config.json' }));
    await hub.close();
    expect(await downloadFile(opts({ file: 'config.json', offline: true }))).toBe(path);

    const err = await expectHubError(downloadFile(opts({ file: 'model.safetensors', offline: true })), 'offline-miss');
    expect(err.message).toBe(
      'acme/tiny-bert/model.safetensors is not in the cache and offline mode is on: connect once or choose a local folder',
    );
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    await expectHubError(downloadFile(opts({ file: 'model.safetensors' })), 'offline-miss');
    expect(await downloadFile(opts({ file: 'config.json' }))).toBe(path);
  });

  it('datasets use /datasets/ in the URL and datasets-- in the cache', async () => {
    const rows = Buffer.from('text,label\nhello,1\n');
    hub.addRepo('acme/reviews', { type: 'dataset', files: { 'data/train.csv': { data: rows } } });
    const path = await downloadFile(opts({ repo: 'acme/reviews', repoType: 'dataset', file: 'data/train.csv' }));
    expect(readFileSync(path).equals(rows)).toBe(true);
    expect(path).toBe(join(cacheDir, 'datasets--acme--reviews', 'snapshots', hub.commit, 'data', 'train.csv'));
    expect(hub.requests.map((r) => r.path)).toContain('/datasets/acme/reviews/resolve/main/data/train.csv');
    // A model repo of the same name is a different repo.
    await expectHubError(downloadFile(opts({ repo: 'acme/reviews', file: 'data/train.csv' })), 'not-found');
  });

  it('uses HF_ENDPOINT when no endpoint option is given, and accepts a commit hash as revision', async () => {
    vi.stubEnv('HF_ENDPOINT', hub.url + '/');
    const r = await downloadFileDetailed(opts({ file: 'config.json', revision: hub.commit, endpoint: undefined }));
    expect(r.commit).toBe(hub.commit);
    expect(hub.requests[0].path).toBe(`/${REPO}/resolve/${hub.commit}/config.json`);
    expect(existsSync(join(repoRoot(), 'refs'))).toBe(false);
  });

  it('rejects malformed repo ids and file paths before any request', async () => {
    await expectHubError(downloadFile(opts({ repo: 'not a repo', file: 'config.json' })), 'invalid-argument');
    await expectHubError(downloadFile(opts({ file: '../../etc/passwd' })), 'invalid-argument');
    expect(hub.requests.length).toBe(0);
  });

  it('an aborted signal rejects with its reason', async () => {
    files['config.json'].hang = true;
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('user cancelled')), 50);
    await expect(downloadFile(opts({ file: 'config.json', signal: ac.signal }))).rejects.toThrow('user cancelled');
  });

  it('concurrent downloads of the same file fetch it once', async () => {
    const [a, b] = await Promise.all([
      downloadFile(opts({ file: 'model.safetensors' })),
      downloadFile(opts({ file: 'model.safetensors' })),
    ]);
    expect(a).toBe(b);
    expect(hub.requestsTo('/cdn/', 'GET').length).toBe(1);
    expect(readFileSync(a).equals(BIG)).toBe(true);
  });
});

describe('downloadRepoFiles', () => {
  it('fetches a model folder, picking the weights that exist and skipping absent optional files', async () => {
    const onnx = fixtureBytes(50_000, 3);
    hub.addRepo('acme/legacy', {
      type: 'model',
      files: {
        'config.json': { data: SMALL },
        'tokenizer.json': { data: Buffer.from('{"tok": true}') },
        'pytorch_model.bin': { data: BIG, lfs: true },
        'onnx/model.onnx': { data: onnx, lfs: true },
      },
    });
    const r = await downloadRepoFiles('acme/legacy', MODEL_FOLDER_FILES, { cacheDir, endpoint: hub.url });
    expect(r.dir).toBe(join(cacheDir, 'models--acme--legacy', 'snapshots', hub.commit));
    expect(r.commit).toBe(hub.commit);
    expect(Object.keys(r.files).sort()).toEqual(['config.json', 'onnx/model.onnx', 'pytorch_model.bin', 'tokenizer.json']);
    expect(readFileSync(join(r.dir, 'pytorch_model.bin')).equals(BIG)).toBe(true);
    expect(readFileSync(join(r.dir, 'onnx', 'model.onnx')).equals(onnx)).toBe(true);
    expect(r.skipped).toEqual(['tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'vocab.json', 'merges.txt']);
    // After the first file the revision is pinned to its commit.
    expect(hub.requests.some((q) => q.path.includes(`/resolve/${hub.commit}/`))).toBe(true);

    // Second time: everything (including "absent") answers from the cache, with no request.
    const before = hub.requests.length;
    const again = await downloadRepoFiles('acme/legacy', MODEL_FOLDER_FILES, { cacheDir, endpoint: hub.url });
    expect(again).toEqual(r);
    expect(hub.requests.length).toBe(before);

    // And offline.
    await hub.close();
    const offline = await downloadRepoFiles('acme/legacy', MODEL_FOLDER_FILES, { cacheDir, offline: true });
    expect(offline.dir).toBe(r.dir);
  });

  it('a missing required file throws; offline, missing optional files are skipped', async () => {
    const err = await expectHubError(
      downloadRepoFiles(REPO, ['config.json', { file: ['model.bin', 'weights.bin'] }], { cacheDir, endpoint: hub.url }),
      'not-found',
    );
    expect(err.message).toMatch(/none of model\.bin, weights\.bin found in acme\/tiny-bert/);

    const r = await downloadRepoFiles(REPO, ['config.json', { file: 'vocab.txt', optional: true }], {
      cacheDir,
      offline: true,
    });
    expect(r.skipped).toEqual(['vocab.txt']);
    expect(isHubError(await downloadRepoFiles(REPO, ['model.safetensors'], { cacheDir, offline: true }).catch((e) => e), 'offline-miss')).toBe(true);
  });
});
