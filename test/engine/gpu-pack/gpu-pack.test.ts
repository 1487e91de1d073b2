// The GPU pack against a real HTTP server on 127.0.0.1 serving a package built by the test.
// ortBinDir is always a temporary folder: the real node_modules is never written.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  GpuPackError,
  gpuPackDir,
  gpuPackStatus,
  gpuPackUrl,
  installGpuPack,
  listStaging,
  onnxRuntimeVersion,
  type GpuPackProgress,
  type InstallGpuPackOptions,
} from '../../../src/engine/gpu-pack/gpu-pack';
import { CUDA_PROVIDER_LIB, SHARED_PROVIDER_LIB, providerAvailability } from '../../../src/engine/runtime/providers';
import { REPO_ROOT } from '../../support/shared';
import { FakeNuget } from './fake-nuget';
import { CUDA13_NEEDS, buildNupkg, fakeElf, type FakePackage } from './nupkg';

const VERSION = '1.30.0';

let tmp: string;
let dataDir: string;
let ortBinDir: string;
let server: FakeNuget;
let pkg: FakePackage;

beforeEach(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'distill-gpupack-'));
  dataDir = path.join(tmp, 'data');
  ortBinDir = path.join(tmp, 'ort-bin');
  mkdirSync(ortBinDir, { recursive: true });
  writeFileSync(path.join(ortBinDir, 'onnxruntime_binding.node'), 'binding');
  pkg = buildNupkg({ version: VERSION });
  server = new FakeNuget(VERSION, pkg);
  await server.start();
});

afterEach(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function opts(extra: Partial<InstallGpuPackOptions> = {}): InstallGpuPackOptions {
  return {
    dataDir,
    ortBinDir,
    version: VERSION,
    endpoint: server.flatContainer,
    registrationEndpoint: server.registrationBase,
    platform: 'linux',
    arch: 'x64',
    retryDelayMs: 10,
    timeoutMs: 10_000,
    ...extra,
  };
}

const status = () => gpuPackStatus({ dataDir, ortBinDir, version: VERSION, platform: 'linux', arch: 'x64' });

async function expectPackError(p: Promise<unknown>, code: string): Promise<GpuPackError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GpuPackError);
    expect((e as GpuPackError).code).toBe(code);
    expect((e as GpuPackError).message).not.toContain('\n');
    return e as GpuPackError;
  }
  throw new Error(`expected a GpuPackError '${code}'`);
}

/** Nothing of the pack anywhere: not next to ORT, not extracted, no download left over. */
function expectNothingInstalled(): void {
  expect(readdirSync(ortBinDir)).toEqual(['onnxruntime_binding.node']);
  expect(existsSync(gpuPackDir(dataDir, VERSION))).toBe(false);
  const downloads = path.join(dataDir, 'gpu-pack', 'downloads');
  expect(existsSync(downloads) ? readdirSync(downloads) : []).toEqual([]);
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('GPU pack basics', () => {
  it('is the NuGet package of the installed onnxruntime-node version', () => {
    const installed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string };
    expect(onnxRuntimeVersion()).toBe(installed.version);
    expect(gpuPackUrl('1.30.0')).toBe(
      'https://api.nuget.org/v3-flatcontainer/microsoft.ml.onnxruntime.gpu.linux/1.30.0/microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg',
    );
  });

  it('status is not-installed before, installed after; ONNX Runtime then finds the CUDA provider', async () => {
    expect(await status()).toMatchObject({ state: 'not-installed', reason: 'The GPU pack is not installed.', cudaMajor: null });
    const before = providerAvailability({ platform: 'linux', arch: 'x64', ortBinDir, supportedBackends: () => ['cpu', 'cuda'] });
    expect(before.cuda.available).toBe(false);

    const r = await installGpuPack(opts());
    expect(r.downloaded).toBe(true);
    expect(readFileSync(path.join(ortBinDir, CUDA_PROVIDER_LIB)).equals(pkg.cudaLib)).toBe(true);
    expect(readFileSync(path.join(ortBinDir, SHARED_PROVIDER_LIB)).equals(pkg.sharedLib)).toBe(true);
    expect(statSync(path.join(ortBinDir, CUDA_PROVIDER_LIB)).mode & 0o777).toBe(0o755);
    expect(readdirSync(ortBinDir).sort()).toEqual(['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'onnxruntime_binding.node']); // no TensorRT
    expect(r.manifest).toMatchObject({
      package: 'Microsoft.ML.OnnxRuntime.Gpu.Linux',
      version: VERSION,
      url: `${server.flatContainer}/microsoft.ml.onnxruntime.gpu.linux/1.30.0/microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg`,
      nupkgBytes: pkg.bytes.length,
      nupkgSha256: pkg.sha256,
      nupkgSha512: pkg.sha512,
      verifiedBy: 'nuget-sha512',
      cudaMajor: 13,
      cudnnMajor: 9,
      needs: CUDA13_NEEDS,
    });
    expect(r.manifest.files.map((f) => [f.name, f.bytes])).toEqual([
      [SHARED_PROVIDER_LIB, pkg.sharedLib.length],
      [CUDA_PROVIDER_LIB, pkg.cudaLib.length],
    ]);
    expect(JSON.parse(readFileSync(path.join(gpuPackDir(dataDir, VERSION), 'manifest.json'), 'utf8'))).toEqual(r.manifest);

    expect(await status()).toMatchObject({ state: 'installed', cudaMajor: 13, reason: `The GPU pack ${VERSION} is installed in ${ortBinDir}.` });
    expect((await gpuPackStatus({ dataDir, ortBinDir, version: VERSION, platform: 'linux', arch: 'x64', deep: true })).state).toBe('installed');
    const after = providerAvailability({ platform: 'linux', arch: 'x64', ortBinDir, supportedBackends: () => ['cpu', 'cuda'] });
    expect(after.cuda).toMatchObject({ available: true, libraryDir: ortBinDir });

    // HEAD for the size, the catalog for the checksum, one GET; nothing left behind.
    expect(server.requests.map((q) => `${q.method} ${q.path.split('/').slice(0, 3).join('/')}`)).toEqual([
      'HEAD /v3-flatcontainer/microsoft.ml.onnxruntime.gpu.linux',
      'GET /v3/registration5-semver1',
      'GET /v3/catalog0',
      'GET /v3-flatcontainer/microsoft.ml.onnxruntime.gpu.linux',
    ]);
    expect(server.packageRequests('GET')[0].headers.range).toBeUndefined();
    expect(readdirSync(path.join(dataDir, 'gpu-pack', 'downloads'))).toEqual([]);
    expect(await listStaging(dataDir)).toEqual([]);
  });

  it('reports progress for every phase: received, total, rate and time left', async () => {
    server.throttle = { chunk: 32 * 1024, delayMs: 15 };
    const events: GpuPackProgress[] = [];
    await installGpuPack(opts({ onProgress: (p) => events.push(p) }));
    const phases = [...new Set(events.map((e) => e.phase))];
    expect(phases).toEqual(['download', 'verify', 'extract', 'install']);

    const dl = events.filter((e) => e.phase === 'download');
    expect(dl.length).toBeGreaterThanOrEqual(3);
    expect(dl.every((e) => e.total === pkg.bytes.length)).toBe(true);
    for (let i = 1; i < dl.length; i++) expect(dl[i].received).toBeGreaterThanOrEqual(dl[i - 1].received);
    expect(dl[0].received).toBe(0);
    expect(dl.at(-1)!.received).toBe(pkg.bytes.length);
    expect(dl.at(-1)!.etaSeconds).toBe(0);
    const middle = dl.filter((e) => e.received > 0 && e.received < pkg.bytes.length);
    expect(middle.length).toBeGreaterThan(0);
    expect(middle.every((e) => e.bytesPerSecond > 0 && typeof e.etaSeconds === 'number' && e.etaSeconds > 0)).toBe(true);

    const inst = events.filter((e) => e.phase === 'install');
    expect(inst.at(-1)).toMatchObject({ received: pkg.cudaLib.length + pkg.sharedLib.length, total: pkg.cudaLib.length + pkg.sharedLib.length });
  });
});

describe('interrupted downloads resume with Range', () => {
  it('a dropped connection is retried from where it stopped, within one install', async () => {
    server.cutAfterBytes = 100_000;
    server.cutTimes = 1;
    const r = await installGpuPack(opts());
    expect(r.manifest.nupkgSha256).toBe(pkg.sha256);
    const gets = server.packageRequests('GET');
    expect(gets).toHaveLength(2);
    expect(gets[1].headers.range).toBe('bytes=100000-');
    expect(gets[1].headers['if-range']).toBe(server.etag);
    expect(gets[1].status).toBe(206);
    expect(readFileSync(path.join(ortBinDir, CUDA_PROVIDER_LIB)).equals(pkg.cudaLib)).toBe(true);
  });

  it('across two installs: the first fails, keeps the partial file; the second continues it', async () => {
    server.cutAfterBytes = 150_000;
    server.cutTimes = 1;
    const e = await expectPackError(installGpuPack(opts({ retries: 0 })), 'interrupted');
    expect(e.message).toMatch(/^The GPU pack download was interrupted \(.*\) after 150 kB of \d+ kB; try again and it will continue where it stopped, or keep using the CPU\.$/);
    expect(await status()).toMatchObject({ state: 'partial', partialBytes: 150_000 });
    expect(readdirSync(ortBinDir)).toEqual(['onnxruntime_binding.node']);

    await installGpuPack(opts());
    const gets = server.packageRequests('GET');
    expect(gets.at(-1)!.headers.range).toBe('bytes=150000-');
    expect(gets.at(-1)!.status).toBe(206);
    expect((await status()).state).toBe('installed');
  });

  it('when the file changed on the server (If-Range fails), it starts over and still ends right', async () => {
    server.cutAfterBytes = 120_000;
    server.cutTimes = 1;
    await expectPackError(installGpuPack(opts({ retries: 0 })), 'interrupted');
    server.etag = '"0x8DC5A2B7C1D2FFF"';
    await installGpuPack(opts());
    const last = server.packageRequests('GET').at(-1)!;
    expect(last.headers.range).toBe('bytes=120000-');
    expect(last.status).toBe(200); // the server ignored the range: the download restarted
    expect(readFileSync(path.join(ortBinDir, CUDA_PROVIDER_LIB)).equals(pkg.cudaLib)).toBe(true);
  });

  it('a cancelled download keeps its partial file and says it will continue', async () => {
    server.throttle = { chunk: 16 * 1024, delayMs: 20 };
    const ac = new AbortController();
    const p = installGpuPack(
      opts({
        signal: ac.signal,
        onProgress: (e) => {
          if (e.phase === 'download' && e.received >= 64 * 1024) ac.abort();
        },
      }),
    );
    const e = await expectPackError(p, 'cancelled');
    expect(e.message).toBe('The GPU pack download was cancelled; the next attempt continues where it stopped.');
    const s = await status();
    expect(s.state).toBe('partial');
    expect(s.partialBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(readdirSync(ortBinDir)).toEqual(['onnxruntime_binding.node']);
  });
});

describe('damaged downloads install nothing', () => {
  it("bytes that do not match NuGet's SHA-512: an error, the download deleted", async () => {
    const bad = Buffer.from(pkg.bytes);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    server.serveBytes = bad;
    const e = await expectPackError(installGpuPack(opts()), 'checksum');
    expect(e.message).toBe(
      'The downloaded GPU pack is damaged (its SHA-512 checksum does not match the one NuGet publishes); it was deleted and nothing was installed: try again.',
    );
    expectNothingInstalled();
    expect((await status()).state).toBe('not-installed');
  });

  it('without a catalog (a mirror), a damaged library inside the zip is caught by its CRC-32', async () => {
    server.registration = 404;
    const bad = Buffer.from(pkg.bytes);
    // Damage the stored (uncompressed) shared library's bytes: the zip still opens, the CRC does not match.
    const at = bad.indexOf(pkg.sharedLib.subarray(200, 264));
    expect(at).toBeGreaterThan(0);
    bad[at + 10] ^= 0x55;
    server.serveBytes = bad;
    const e = await expectPackError(installGpuPack(opts()), 'corrupt');
    expect(e.message).toMatch(/^The downloaded GPU pack is damaged \(runtimes\/linux-x64\/native\/libonnxruntime_providers_shared\.so fails its CRC-32 check\); it was deleted and nothing was installed: try again\.$/);
    expectNothingInstalled();
    expect(await listStaging(dataDir)).toEqual([]);
  });

  it('without a catalog, damaged compressed data is caught while extracting', async () => {
    server.registration = 404;
    const bad = Buffer.from(pkg.bytes);
    const at = bad.indexOf(Buffer.from('runtimes/linux-x64/native/libonnxruntime_providers_cuda.so')) + 60 + 5000; // inside its deflate stream
    for (let i = 0; i < 64; i++) bad[at + i] ^= 0xa5;
    server.serveBytes = bad;
    const e = await expectPackError(installGpuPack(opts()), 'corrupt');
    expect(e.message).toMatch(/libonnxruntime_providers_cuda\.so (cannot be decompressed|fails its CRC-32 check)/);
    expectNothingInstalled();
  });

  it('something that is not a zip at all', async () => {
    server.registration = 404;
    server.serveBytes = Buffer.from('<html><body>Captive portal: please log in</body></html>');
    const e = await expectPackError(installGpuPack(opts()), 'corrupt');
    expect(e.message).toMatch(/^The downloaded GPU pack is damaged \(it is not a valid zip file: .*\); it was deleted and nothing was installed: try again\.$/);
    expectNothingInstalled();
  });

  it('a package without the CUDA provider', async () => {
    const partial = buildNupkg({ version: VERSION, omit: ['runtimes/linux-x64/native/libonnxruntime_providers_cuda.so'] });
    server.pkg = partial;
    const e = await expectPackError(installGpuPack(opts()), 'corrupt');
    expect(e.message).toBe(
      'The downloaded package has no runtimes/linux-x64/native/libonnxruntime_providers_cuda.so, so it is not a Linux GPU pack; nothing was installed: please report this.',
    );
    expectNothingInstalled();
  });

  it('without a catalog a good package still installs, and the manifest says how it was checked', async () => {
    server.registration = 404;
    const r = await installGpuPack(opts());
    expect(r.manifest.verifiedBy).toBe('zip-crc32');
    expect(r.manifest.nupkgSha512).toBe(pkg.sha512);
  });

  it('an expected SHA-512 given by the caller (hex) is used instead of the catalog', async () => {
    const hex = Buffer.from(pkg.sha512, 'base64').toString('hex');
    const r = await installGpuPack(opts({ expectedSha512: hex, registrationEndpoint: false }));
    expect(r.manifest.verifiedBy).toBe('nuget-sha512');
    expect(server.requests.some((q) => q.path.startsWith('/v3/registration'))).toBe(false);
    const wrong = 'A'.repeat(86) + '==';
    rmSync(gpuPackDir(dataDir, VERSION), { recursive: true });
    await expectPackError(installGpuPack(opts({ expectedSha512: wrong, registrationEndpoint: false })), 'checksum');
  });
});

describe('errors in one line', () => {
  it('offline (connection refused): connect to the internet or keep using the CPU', async () => {
    const port = await closedPort();
    const e = await expectPackError(installGpuPack(opts({ endpoint: `http://127.0.0.1:${port}/v3-flatcontainer` })), 'offline');
    expect(e.message).toBe(`Could not download the GPU pack (no network: connect ECONNREFUSED 127.0.0.1:${port}). Connect to the internet or keep using the CPU.`);
    expectNothingInstalled();
  });

  it('offline (no DNS): the same sentence', async () => {
    const e = await expectPackError(installGpuPack(opts({ endpoint: 'http://distill-studio-gpu-pack.invalid/v3-flatcontainer', timeoutMs: 15_000 })), 'offline');
    expect(e.message).toMatch(/^Could not download the GPU pack \(no network: getaddrinfo (ENOTFOUND|EAI_AGAIN) distill-studio-gpu-pack\.invalid\)\. Connect to the internet or keep using the CPU\.$/);
  });

  it('a version NuGet does not have: not found', async () => {
    const e = await expectPackError(installGpuPack(opts({ version: '9.9.9' })), 'not-found');
    expect(e.message).toBe(`The GPU pack for ONNX Runtime 9.9.9 was not found at ${new URL(server.url).host} (HTTP 404): update Distill Studio, or keep using the CPU.`);
  });

  it('not Linux x64: says what to use instead', async () => {
    const e = await expectPackError(installGpuPack(opts({ platform: 'win32' })), 'unsupported-platform');
    expect(e.message).toBe('The GPU pack is for Linux only; this computer runs Windows (where DirectML uses the GPU with no download).');
    expect((await gpuPackStatus({ dataDir, ortBinDir, version: VERSION, platform: 'linux', arch: 'arm64' })).state).toBe('unsupported-platform');
    expect(server.requests).toEqual([]);
  });

  it('the ONNX Runtime folder cannot be written: the pack stays downloaded for a later copy', async () => {
    const missing = path.join(tmp, 'no-such-ort-bin');
    const e = await expectPackError(installGpuPack(opts({ ortBinDir: missing })), 'install-failed');
    expect(e.message).toBe(`The GPU pack was downloaded, but it could not be copied next to ONNX Runtime in ${missing} (ENOENT): reinstall Distill Studio, or keep using the CPU.`);
    expect((await gpuPackStatus({ dataDir, ortBinDir: missing, version: VERSION, platform: 'linux', arch: 'x64' })).state).toBe('downloaded');
  });

  it('another install in progress (a live process holds the lock): busy; a stale lock is taken over', async () => {
    mkdirSync(path.join(dataDir, 'gpu-pack'), { recursive: true });
    const lock = path.join(dataDir, 'gpu-pack', '.install.lock');
    writeFileSync(lock, String(process.ppid));
    const e = await expectPackError(installGpuPack(opts()), 'busy');
    expect(e.message).toMatch(/already being installed by another Distill Studio window or command \(process \d+\): wait for it to finish\.$/);
    writeFileSync(lock, '2147483646'); // no such process
    await installGpuPack(opts());
    expect(existsSync(lock)).toBe(false);
  });
});

describe('reinstall, repair and libraries from elsewhere', () => {
  it('installing again when installed makes no request', async () => {
    await installGpuPack(opts());
    const n = server.requests.length;
    const r = await installGpuPack(opts());
    expect(r.downloaded).toBe(false);
    expect(server.requests.length).toBe(n);
  });

  it('after an app update removed the libraries: status "downloaded", and install only copies', async () => {
    await installGpuPack(opts());
    rmSync(path.join(ortBinDir, CUDA_PROVIDER_LIB));
    rmSync(path.join(ortBinDir, SHARED_PROVIDER_LIB));
    expect(await status()).toMatchObject({ state: 'downloaded', cudaMajor: 13 });
    const n = server.requests.length;
    const r = await installGpuPack(opts());
    expect(r.downloaded).toBe(false);
    expect(server.requests.length).toBe(n);
    expect((await status()).state).toBe('installed');
  });

  it('a damaged installed library is detected by a deep status and replaced by install', async () => {
    await installGpuPack(opts());
    const target = path.join(ortBinDir, CUDA_PROVIDER_LIB);
    const bytes = readFileSync(target);
    bytes[1000] ^= 1;
    writeFileSync(target, bytes);
    expect((await status()).state).toBe('installed'); // sizes match
    expect((await gpuPackStatus({ dataDir, ortBinDir, version: VERSION, platform: 'linux', arch: 'x64', deep: true })).state).toBe('downloaded');
  });

  it('provider libraries put there by someone else are reported as external, with their CUDA version', async () => {
    writeFileSync(path.join(ortBinDir, CUDA_PROVIDER_LIB), fakeElf({ needed: ['libcudart.so.12', 'libcudnn.so.9'] }));
    writeFileSync(path.join(ortBinDir, SHARED_PROVIDER_LIB), fakeElf({ needed: ['libc.so.6'] }));
    expect(await status()).toMatchObject({ state: 'external', cudaMajor: 12 });
  });

  it('two installs at once in one process: one download', async () => {
    const [a, b] = await Promise.all([installGpuPack(opts()), installGpuPack(opts())]);
    expect([a.downloaded, b.downloaded].sort()).toEqual([false, true]);
    expect(server.packageRequests('GET')).toHaveLength(1);
  });
});

describe('crash leftovers', () => {
  it('staging folders of a killed install are removed by the next one', async () => {
    const leftover = path.join(dataDir, 'gpu-pack', `${VERSION}.staging-deadbeef`);
    mkdirSync(leftover, { recursive: true });
    writeFileSync(path.join(leftover, CUDA_PROVIDER_LIB), 'half a library');
    expect(await listStaging(dataDir)).toEqual([`${VERSION}.staging-deadbeef`]);
    await installGpuPack(opts());
    expect(await listStaging(dataDir)).toEqual([]);
    expect((await status()).state).toBe('installed');
  });
});
