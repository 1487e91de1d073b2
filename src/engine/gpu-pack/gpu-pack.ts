// The GPU pack: ONNX Runtime's CUDA provider libraries, which are too large for the npm package
// and so are downloaded on demand, into the app's data folder, then copied next to the
// onnxruntime-node binding (the folder ONNX Runtime loads provider libraries from).
//
// What it is: the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux of exactly the version of
// onnxruntime-node in use (read from its package.json at run time) - the same package that
// onnxruntime-node's own install script fetches. From it, two files:
//     runtimes/linux-x64/native/libonnxruntime_providers_shared.so
//     runtimes/linux-x64/native/libonnxruntime_providers_cuda.so
// (the TensorRT provider in the same folder is not taken). The CUDA runtime and cuDNN are not
// in it: the smoke test says plainly when they are missing.
//
// Steps of installGpuPack:
//   1. HEAD <flat container>/<id>/<ver>/<id>.<ver>.nupkg for its size; check the free disk space.
//   2. The expected checksum. NuGet's flat container serves no checksum file (the
//      `.nupkg.sha512` next to packages is written by the NuGet *client* into its local cache).
//      NuGet publishes the SHA-512 of every package in its catalog: the registration leaf
//      <registration>/<id>/<ver>.json names a catalog leaf whose `packageHash` (base64) and
//      `packageHashAlgorithm` ("SHA512") describe the .nupkg as served. That is fetched when
//      reachable; when it is not (a mirror without a catalog), the download is still checked
//      as a zip (the CRC-32 of every extracted file against the archive's directory) and the
//      manifest records which check was made ("verifiedBy").
//   3. GET into downloads/<file>.nupkg.part, resuming an interrupted download (Range/If-Range).
//   4. SHA-512 (when known) and size; on mismatch the download is deleted, nothing installed.
//   5. Extract the two files into gpu-pack/<ver>.staging-*, checking each CRC-32, read which
//      CUDA and cuDNN the provider links against (ELF DT_NEEDED), write manifest.json (with the
//      SHA-256 of the .nupkg and of each file), then rename the folder to gpu-pack/<ver>.
//   6. Copy both files into ortBinDir: each to a temporary name, fsync, then renamed over the
//      target, the shared library first (ONNX Runtime's availability check looks for the CUDA
//      one), so the folder never holds a half-written library.
// The extracted copy stays in the data folder, so an app update that replaces node_modules only
// needs the copy step again (gpuPackStatus says 'downloaded'; installGpuPack does no download).

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

import { fsyncDir, renameWithRetry, writeJsonAtomic } from '../fsutil/atomic';
import { freeDiskBytes } from '../hardware/disk';
import { CUDA_PROVIDER_LIB, SHARED_PROVIDER_LIB, defaultOrtBinDir } from '../runtime/providers';
import { cudaMajorFromNeeded, cudnnMajorFromNeeded, readElfDynamic } from './elf';
import { ProgressMeter, sizeOf, type TransferProgress } from '../fsutil/transfer';
import { DownloadError, discardPartial, downloadResumable, getJson, headUrl } from './http';

export const GPU_PACK_PACKAGE_ID = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
export const DEFAULT_FLAT_CONTAINER = 'https://api.nuget.org/v3-flatcontainer';
export const DEFAULT_REGISTRATION = 'https://api.nuget.org/v3/registration5-semver1';

/** The files taken from the package, in the order they are installed. */
export const GPU_PACK_FILES: readonly { name: string; entry: string }[] = [
  { name: SHARED_PROVIDER_LIB, entry: `runtimes/linux-x64/native/${SHARED_PROVIDER_LIB}` },
  { name: CUDA_PROVIDER_LIB, entry: `runtimes/linux-x64/native/${CUDA_PROVIDER_LIB}` },
];

const MANIFEST = 'manifest.json';

// --- errors ---------------------------------------------------------------------------------------

export type GpuPackErrorCode =
  | 'unsupported-platform'
  | 'offline'
  | 'timeout'
  | 'interrupted'
  | 'not-found'
  | 'http'
  | 'checksum'
  | 'corrupt'
  | 'disk-full'
  | 'install-failed'
  | 'busy'
  | 'cancelled';

/** A GPU pack failure; `message` is one line a non-expert can act on. */
export class GpuPackError extends Error {
  override readonly name = 'GpuPackError';
  constructor(
    readonly code: GpuPackErrorCode,
    message: string,
    readonly detail: { url?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message);
  }
}

// --- versions and URLs --------------------------------------------------------------------------

const requireHere = createRequire(import.meta.url);

/** The installed onnxruntime-node's version ("1.30.0"), read from its package.json now. */
export function onnxRuntimeVersion(): string {
  const pkg = JSON.parse(readFileSync(requireHere.resolve('onnxruntime-node/package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string' || !pkg.version) throw new Error('onnxruntime-node/package.json has no version');
  return pkg.version;
}

/** <flat container>/<id>/<ver>/<id>.<ver>.nupkg, ids and versions lower-cased as NuGet's flat container wants. */
export function gpuPackUrl(version: string, endpoint: string = DEFAULT_FLAT_CONTAINER): string {
  const id = GPU_PACK_PACKAGE_ID.toLowerCase();
  const v = version.toLowerCase();
  return `${endpoint.replace(/\/+$/, '')}/${id}/${v}/${id}.${v}.nupkg`;
}

export function gpuPackRoot(dataDir: string): string {
  return path.join(dataDir, 'gpu-pack');
}

export function gpuPackDir(dataDir: string, version: string): string {
  return path.join(gpuPackRoot(dataDir), version);
}

function downloadPath(dataDir: string, version: string): string {
  return path.join(gpuPackRoot(dataDir), 'downloads', `${GPU_PACK_PACKAGE_ID.toLowerCase()}.${version.toLowerCase()}.nupkg`);
}

// --- manifest and status ----------------------------------------------------------------------------

export interface GpuPackManifest {
  schema: 1;
  package: string;
  version: string;
  url: string;
  nupkgBytes: number;
  nupkgSha256: string;
  /** Base64, as NuGet publishes it. */
  nupkgSha512: string;
  /** 'nuget-sha512': matched the catalog's SHA-512; 'zip-crc32': only the zip's own checksums (no catalog). */
  verifiedBy: 'nuget-sha512' | 'zip-crc32';
  files: { name: string; entry: string; bytes: number; sha256: string }[];
  /** CUDA major the provider links against (libcudart.so.N), null when not found. */
  cudaMajor: number | null;
  cudnnMajor: number | null;
  /** The provider library's DT_NEEDED list. */
  needs: string[];
  installedAt: string;
}

export type GpuPackState =
  /** Our files are next to ONNX Runtime. */
  | 'installed'
  /** Provider libraries are next to ONNX Runtime but did not come from us (onnxruntime-node's own installer). */
  | 'external'
  /** Extracted in the data folder but not (or no longer) next to ONNX Runtime: installGpuPack only copies. */
  | 'downloaded'
  /** An interrupted download is waiting to be resumed. */
  | 'partial'
  | 'not-installed'
  | 'unsupported-platform';

export interface GpuPackStatus {
  state: GpuPackState;
  version: string;
  packDir: string;
  ortBinDir: string;
  manifest: GpuPackManifest | null;
  /** Bytes of an interrupted download. */
  partialBytes: number;
  cudaMajor: number | null;
  /** One plain sentence. */
  reason: string;
}

export interface GpuPackStatusOptions {
  dataDir: string;
  ortBinDir?: string;
  version?: string;
  platform?: NodeJS.Platform;
  arch?: string;
  /** Also compare SHA-256 of the installed files (reads them; default: sizes only). */
  deep?: boolean;
}

/** Where the GPU pack stands. Reads files only; never downloads. */
export async function gpuPackStatus(options: GpuPackStatusOptions): Promise<GpuPackStatus> {
  const version = options.version ?? onnxRuntimeVersion();
  const ortBinDir = options.ortBinDir ?? defaultOrtBinDir();
  const packDir = gpuPackDir(options.dataDir, version);
  const base = { version, packDir, ortBinDir, partialBytes: 0 };
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  if (platform !== 'linux' || arch !== 'x64') {
    return { ...base, state: 'unsupported-platform', manifest: null, cudaMajor: null, reason: unsupportedPlatformText(platform, arch) };
  }
  const manifest = await readManifest(packDir, version);
  if (manifest && (await installedMatches(manifest, ortBinDir, options.deep ?? false))) {
    return { ...base, state: 'installed', manifest, cudaMajor: manifest.cudaMajor, reason: `The GPU pack ${version} is installed in ${ortBinDir}.` };
  }
  const present = await Promise.all(GPU_PACK_FILES.map((f) => isFile(path.join(ortBinDir, f.name))));
  if (!manifest && present.every(Boolean)) {
    const elf = await readElfDynamic(path.join(ortBinDir, CUDA_PROVIDER_LIB)).catch(() => null);
    return {
      ...base,
      state: 'external',
      manifest: null,
      cudaMajor: elf ? cudaMajorFromNeeded(elf.needed) : null,
      reason: `CUDA provider libraries that Distill Studio did not install are in ${ortBinDir}; they are used as they are.`,
    };
  }
  if (manifest) {
    return {
      ...base,
      state: 'downloaded',
      manifest,
      cudaMajor: manifest.cudaMajor,
      reason: `The GPU pack ${version} is downloaded but not in place next to ONNX Runtime (after an update, for example): installing it again only copies it, with no download.`,
    };
  }
  const partialBytes = await sizeOf(`${downloadPath(options.dataDir, version)}.part`);
  if (partialBytes > 0) {
    return { ...base, partialBytes, state: 'partial', manifest: null, cudaMajor: null, reason: `The GPU pack download stopped after ${formatBytes(partialBytes)}; it will continue where it stopped.` };
  }
  return { ...base, state: 'not-installed', manifest: null, cudaMajor: null, reason: 'The GPU pack is not installed.' };
}

async function readManifest(packDir: string, version: string): Promise<GpuPackManifest | null> {
  try {
    const m = JSON.parse(await readFile(path.join(packDir, MANIFEST), 'utf8')) as GpuPackManifest;
    if (m.schema !== 1 || m.version !== version || !Array.isArray(m.files)) return null;
    for (const f of GPU_PACK_FILES) {
      const rec = m.files.find((x) => x.name === f.name);
      if (!rec || (await sizeOf(path.join(packDir, f.name))) !== rec.bytes) return null;
    }
    return m;
  } catch {
    return null;
  }
}

async function installedMatches(m: GpuPackManifest, ortBinDir: string, deep: boolean): Promise<boolean> {
  for (const f of m.files) {
    const target = path.join(ortBinDir, f.name);
    if ((await sizeOf(target)) !== f.bytes) return false;
    if (deep && (await hashFile(target, ['sha256'])).sha256 !== f.sha256) return false;
  }
  return true;
}

// --- install ------------------------------------------------------------------------------------------

export type GpuPackPhase = 'download' | 'verify' | 'extract' | 'install';

export interface GpuPackProgress extends TransferProgress {
  phase: GpuPackPhase;
}

export interface InstallGpuPackOptions {
  /** The app's data folder; the pack goes to <dataDir>/gpu-pack/<version>. */
  dataDir: string;
  /** onnxruntime-node's binary folder (default: the installed package's). Tests use a temp folder. */
  ortBinDir?: string;
  /** Package version (default: the installed onnxruntime-node's). */
  version?: string;
  /** NuGet flat container base URL (default https://api.nuget.org/v3-flatcontainer). */
  endpoint?: string;
  /** NuGet registration base URL for the published SHA-512; false: do not look it up. */
  registrationEndpoint?: string | false;
  /** The expected SHA-512 (base64 or hex), instead of asking NuGet's catalog. */
  expectedSha512?: string;
  onProgress?: (p: GpuPackProgress) => void;
  signal?: AbortSignal;
  /** Idle timeout per request (default 30 000 ms). */
  timeoutMs?: number;
  /** Retries of a dropped transfer (default 3). */
  retries?: number;
  retryDelayMs?: number;
  platform?: NodeJS.Platform;
  arch?: string;
}

export interface InstallGpuPackResult {
  manifest: GpuPackManifest;
  packDir: string;
  ortBinDir: string;
  /** False when the extracted pack was already in the data folder and only copied. */
  downloaded: boolean;
}

/** Downloads (or reuses), verifies, extracts and installs the GPU pack. Throws GpuPackError. */
export async function installGpuPack(options: InstallGpuPackOptions): Promise<InstallGpuPackResult> {
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  if (platform !== 'linux' || arch !== 'x64') throw new GpuPackError('unsupported-platform', unsupportedPlatformText(platform, arch));
  const version = options.version ?? onnxRuntimeVersion();
  const ortBinDir = options.ortBinDir ?? defaultOrtBinDir();
  const root = gpuPackRoot(options.dataDir);
  const packDir = gpuPackDir(options.dataDir, version);
  await mkdir(root, { recursive: true });

  return withInstallLock(root, async () => {
    // Folders left by an install that was killed half-way (we hold the lock: none is in use).
    for (const name of await listStaging(options.dataDir)) await rm(path.join(root, name), { recursive: true, force: true });
    let manifest = await readManifest(packDir, version);
    let downloaded = false;
    if (!manifest) {
      manifest = await downloadAndExtract(options, version, packDir);
      downloaded = true;
    }
    await copyIntoOrt(packDir, manifest, ortBinDir, options.onProgress);
    return { manifest, packDir, ortBinDir, downloaded };
  });
}

async function downloadAndExtract(options: InstallGpuPackOptions, version: string, packDir: string): Promise<GpuPackManifest> {
  const url = gpuPackUrl(version, options.endpoint);
  const http = { signal: options.signal, timeoutMs: options.timeoutMs };
  const nupkg = downloadPath(options.dataDir, version);
  const part = `${nupkg}.part`;

  let head;
  try {
    head = await headUrl(url, http);
  } catch (e) {
    throw downloadFailure(e, url, version, 0, null);
  }
  const have = await sizeOf(part);
  if (head.size !== null) {
    // The .nupkg, then the extracted libraries (larger than their compressed form) beside it.
    const need = head.size - have + head.size * 2;
    const free = await freeDiskBytes(options.dataDir).catch(() => Infinity);
    if (free < need) {
      throw new GpuPackError(
        'disk-full',
        `Not enough free disk space for the GPU pack: it needs about ${formatBytes(need)} in ${options.dataDir} and ${formatBytes(free)} are free. Free some space, or keep using the CPU.`,
      );
    }
  }
  const expected = options.expectedSha512 !== undefined ? normalizeSha512(options.expectedSha512) : await publishedSha512(options, version);

  try {
    await downloadResumable(url, part, {
      ...http,
      retries: options.retries,
      retryDelayMs: options.retryDelayMs,
      expectedSize: head.size,
      onProgress: options.onProgress ? (p) => options.onProgress!({ phase: 'download', ...p }) : undefined,
    });
  } catch (e) {
    throw downloadFailure(e, url, version, await sizeOf(part), head.size);
  }

  // Verify: size, then the hashes in one read.
  const size = await sizeOf(part);
  const expectedSize = expected?.size ?? head.size;
  if (expectedSize !== null && size !== expectedSize) {
    await discardPartial(part);
    throw new GpuPackError('corrupt', `The downloaded GPU pack is damaged (${size} bytes instead of ${expectedSize}); it was deleted and nothing was installed: try again.`, { url });
  }
  const hashes = await hashFile(part, ['sha256', 'sha512'], options.onProgress ? (p) => options.onProgress!({ phase: 'verify', ...p }) : undefined);
  if (expected && hashes.sha512 !== expected.sha512) {
    await discardPartial(part);
    throw new GpuPackError(
      'checksum',
      'The downloaded GPU pack is damaged (its SHA-512 checksum does not match the one NuGet publishes); it was deleted and nothing was installed: try again.',
      { url },
    );
  }
  await renameWithRetry(part, nupkg);
  await rm(`${part}.validator`, { force: true });

  try {
    const manifest = await extract(nupkg, packDir, {
      version,
      url,
      nupkgBytes: size,
      nupkgSha256: hashes.sha256,
      nupkgSha512: hashes.sha512,
      verifiedBy: expected ? 'nuget-sha512' : 'zip-crc32',
      onProgress: options.onProgress,
    });
    return manifest;
  } finally {
    await rm(nupkg, { force: true }); // verified and extracted, or damaged: either way not needed again
  }
}

/** SHA-512 and size NuGet's catalog publishes for the package, or null when it cannot be had. */
async function publishedSha512(options: InstallGpuPackOptions, version: string): Promise<{ sha512: string; size: number | null } | null> {
  if (options.registrationEndpoint === false) return null;
  const base = (options.registrationEndpoint ?? DEFAULT_REGISTRATION).replace(/\/+$/, '');
  const http = { signal: options.signal, timeoutMs: options.timeoutMs };
  try {
    const leaf = (await getJson(`${base}/${GPU_PACK_PACKAGE_ID.toLowerCase()}/${version.toLowerCase()}.json`, http)) as { catalogEntry?: unknown } | null;
    const catalogUrl = typeof leaf?.catalogEntry === 'string' ? leaf.catalogEntry : (leaf?.catalogEntry as { '@id'?: unknown } | undefined)?.['@id'];
    if (typeof catalogUrl !== 'string') return null;
    const entry = (await getJson(catalogUrl, http)) as { packageHash?: unknown; packageHashAlgorithm?: unknown; packageSize?: unknown } | null;
    if (!entry || typeof entry.packageHash !== 'string' || String(entry.packageHashAlgorithm).toUpperCase() !== 'SHA512') return null;
    const sha512 = normalizeSha512(entry.packageHash);
    return sha512 ? { sha512: sha512.sha512, size: typeof entry.packageSize === 'number' ? entry.packageSize : null } : null;
  } catch (e) {
    if (options.signal?.aborted) throw new GpuPackError('cancelled', cancelledText(), { cause: e });
    return null; // a mirror without a catalog: the zip's own checks still apply
  }
}

/** A SHA-512 given as base64 (NuGet) or hex, as base64; null when it is neither. */
function normalizeSha512(text: string): { sha512: string; size: null } | null {
  const t = text.trim();
  if (/^[0-9a-f]{128}$/i.test(t)) return { sha512: Buffer.from(t, 'hex').toString('base64'), size: null };
  const b = Buffer.from(t, 'base64');
  return b.length === 64 ? { sha512: b.toString('base64'), size: null } : null;
}

interface ExtractInfo {
  version: string;
  url: string;
  nupkgBytes: number;
  nupkgSha256: string;
  nupkgSha512: string;
  verifiedBy: GpuPackManifest['verifiedBy'];
  onProgress?: (p: GpuPackProgress) => void;
}

/** Extracts the provider libraries into a staging folder, checks them, and renames it to packDir. */
async function extract(nupkg: string, packDir: string, info: ExtractInfo): Promise<GpuPackManifest> {
  const staging = `${packDir}.staging-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    let zip: ZipFile;
    try {
      zip = await yauzl.openPromise(nupkg, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false });
    } catch (e) {
      throw corrupt(`it is not a valid zip file: ${(e as Error).message}`, e);
    }
    const files: GpuPackManifest['files'] = [];
    try {
      const entries = new Map<string, Entry>();
      try {
        for await (const entry of zip.eachEntry()) entries.set(entry.fileName.replace(/\\/g, '/').toLowerCase(), entry);
      } catch (e) {
        throw corrupt(`its table of contents is broken: ${(e as Error).message}`, e);
      }
      const wanted = GPU_PACK_FILES.map((f) => ({ ...f, zipEntry: entries.get(f.entry.toLowerCase()) }));
      const missing = wanted.filter((w) => !w.zipEntry).map((w) => w.entry);
      if (missing.length > 0) {
        throw new GpuPackError(
          'corrupt',
          `The downloaded package has no ${missing.join(' or ')}, so it is not a Linux GPU pack; nothing was installed: please report this.`,
        );
      }
      const total = wanted.reduce((n, w) => n + w.zipEntry!.uncompressedSize, 0);
      const meter = new ProgressMeter(info.onProgress ? (p) => info.onProgress!({ phase: 'extract', ...p }) : undefined);
      let done = 0;
      meter.update(0, total, true);
      for (const w of wanted) {
        const entry = w.zipEntry!;
        if (entry.isEncrypted() || !entry.canDecodeFileData()) throw corrupt(`${w.entry} is stored in a way that cannot be read`);
        const target = path.join(staging, w.name);
        const fh = await open(target, 'w', 0o755);
        const sha = createHash('sha256');
        let crc = 0;
        let bytes = 0;
        try {
          const stream = await zip.openReadStreamPromise(entry);
          try {
            for await (const chunk of stream) {
              const b = chunk as Buffer;
              crc = crc32(b, crc);
              sha.update(b);
              bytes += b.length;
              await fh.write(b);
              done += b.length;
              meter.update(done, total, false);
            }
          } catch (e) {
            if (e instanceof GpuPackError) throw e;
            throw corrupt(`${w.entry} cannot be decompressed: ${(e as Error).message}`, e);
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        const want = (entry as Entry & { crc32: number }).crc32 >>> 0;
        if ((crc >>> 0) !== want || bytes !== entry.uncompressedSize) throw corrupt(`${w.entry} fails its CRC-32 check`);
        files.push({ name: w.name, entry: w.entry, bytes, sha256: sha.digest('hex') });
      }
      meter.update(done, total, true);
    } finally {
      zip.close();
    }

    const elf = await readElfDynamic(path.join(staging, CUDA_PROVIDER_LIB)).catch(() => null);
    const needs = elf?.needed ?? [];
    const manifest: GpuPackManifest = {
      schema: 1,
      package: GPU_PACK_PACKAGE_ID,
      version: info.version,
      url: info.url,
      nupkgBytes: info.nupkgBytes,
      nupkgSha256: info.nupkgSha256,
      nupkgSha512: info.nupkgSha512,
      verifiedBy: info.verifiedBy,
      files,
      cudaMajor: cudaMajorFromNeeded(needs),
      cudnnMajor: cudnnMajorFromNeeded(needs),
      needs,
      installedAt: new Date().toISOString(),
    };
    await writeJsonAtomic(path.join(staging, MANIFEST), manifest);
    await fsyncDir(staging);

    // Replace any older copy of this version (a damaged one that failed readManifest).
    const old = `${packDir}.old-${randomBytes(4).toString('hex')}`;
    const hadOld = await rename(packDir, old).then(
      () => true,
      () => false,
    );
    await renameWithRetry(staging, packDir);
    await fsyncDir(path.dirname(packDir));
    if (hadOld) await rm(old, { recursive: true, force: true });
    return manifest;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

function corrupt(why: string, cause?: unknown): GpuPackError {
  return new GpuPackError('corrupt', `The downloaded GPU pack is damaged (${why}); it was deleted and nothing was installed: try again.`, { cause });
}

/** Copies the extracted files next to ONNX Runtime: temp name, fsync, rename; shared library first. */
async function copyIntoOrt(packDir: string, manifest: GpuPackManifest, ortBinDir: string, onProgress?: (p: GpuPackProgress) => void): Promise<void> {
  const total = manifest.files.reduce((n, f) => n + f.bytes, 0);
  const meter = new ProgressMeter(onProgress ? (p) => onProgress({ phase: 'install', ...p }) : undefined);
  meter.update(0, total, true);
  if (await installedMatches(manifest, ortBinDir, false)) {
    meter.update(total, total, true);
    return;
  }
  const temps: { tmp: string; target: string }[] = [];
  try {
    const st = await stat(ortBinDir).catch(() => null);
    if (!st?.isDirectory()) throw Object.assign(new Error(`${ortBinDir} does not exist`), { code: 'ENOENT' });
    let done = 0;
    for (const f of GPU_PACK_FILES) {
      const rec = manifest.files.find((x) => x.name === f.name)!;
      const target = path.join(ortBinDir, f.name);
      const tmp = path.join(ortBinDir, `.${f.name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      temps.push({ tmp, target });
      await copyFile(path.join(packDir, f.name), tmp);
      const fh = await open(tmp, 'r+');
      try {
        await fh.chmod(0o755);
        await fh.sync();
      } finally {
        await fh.close();
      }
      done += rec.bytes;
      meter.update(done, total, true);
    }
    for (const t of temps) await renameWithRetry(t.tmp, t.target);
    await fsyncDir(ortBinDir);
  } catch (e) {
    for (const t of temps) await rm(t.tmp, { force: true });
    if (e instanceof GpuPackError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    const fix =
      code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'run Distill Studio from a folder you can write to (not a read-only install), or keep using the CPU.'
        : code === 'ENOSPC'
          ? 'free some disk space and try again, or keep using the CPU.'
          : 'reinstall Distill Studio, or keep using the CPU.';
    throw new GpuPackError('install-failed', `The GPU pack was downloaded, but it could not be copied next to ONNX Runtime in ${ortBinDir} (${code}): ${fix}`, {
      cause: e,
    });
  }
}

// --- errors in words -----------------------------------------------------------------------------------

function downloadFailure(e: unknown, url: string, version: string, have: number, total: number | null): GpuPackError {
  if (e instanceof GpuPackError) return e;
  if ((e as NodeJS.ErrnoException)?.code === 'ENOSPC') {
    return new GpuPackError('disk-full', 'The disk became full while downloading the GPU pack: free some space and try again (the download will continue where it stopped).', {
      url,
      cause: e,
    });
  }
  if (!(e instanceof DownloadError)) throw e;
  const host = new URL(url).host;
  const d = { url, status: e.detail.status, cause: e };
  switch (e.code) {
    case 'offline':
      return new GpuPackError('offline', `Could not download the GPU pack (no network: ${e.message}). Connect to the internet or keep using the CPU.`, d);
    case 'timeout':
      return new GpuPackError('timeout', `Could not download the GPU pack (${host} stopped answering). Check your connection and try again, or keep using the CPU.`, d);
    case 'interrupted': {
      const sofar = total ? `${formatBytes(have)} of ${formatBytes(total)}` : formatBytes(have);
      return new GpuPackError(
        'interrupted',
        `The GPU pack download was interrupted (${e.message}) after ${sofar}; try again and it will continue where it stopped, or keep using the CPU.`,
        d,
      );
    }
    case 'not-found':
      return new GpuPackError('not-found', `The GPU pack for ONNX Runtime ${version} was not found at ${host} (HTTP 404): update Distill Studio, or keep using the CPU.`, d);
    case 'aborted':
      return new GpuPackError('cancelled', cancelledText(), d);
    case 'http': {
      const later = e.detail.status !== undefined && (e.detail.status >= 500 || e.detail.status === 429) ? 'the server is busy or down: try again later' : 'try again later';
      return new GpuPackError('http', `Could not download the GPU pack (${host} answered HTTP ${e.detail.status ?? '?'}): ${later}, or keep using the CPU.`, d);
    }
  }
}

function cancelledText(): string {
  return 'The GPU pack download was cancelled; the next attempt continues where it stopped.';
}

function unsupportedPlatformText(platform: string, arch: string): string {
  if (platform !== 'linux') {
    const name = ({ win32: 'Windows', darwin: 'macOS' } as Record<string, string>)[platform] ?? platform;
    return `The GPU pack is for Linux only; this computer runs ${name}${platform === 'win32' ? ' (where DirectML uses the GPU with no download)' : ''}.`;
  }
  return `The GPU pack is for x64 processors only; this computer's processor is ${arch}.`;
}

// --- small helpers -----------------------------------------------------------------------------------------

/** Serialises installs in this process, and across processes with a lock file holding the owner's pid. */
const inProcess = new Map<string, Promise<unknown>>();

async function withInstallLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const prev = inProcess.get(root) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  inProcess.set(root, chained);
  await prev.catch(() => undefined);
  const lock = path.join(root, '.install.lock');
  try {
    await takeLockFile(lock);
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  } finally {
    release();
    if (inProcess.get(root) === chained) inProcess.delete(root);
  }
}

async function takeLockFile(lock: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new GpuPackError('busy', `The GPU pack is already being installed by another Distill Studio window or command (process ${pid}): wait for it to finish.`);
      }
      await rm(lock, { force: true }); // left by a process that is gone
    }
  }
  throw new GpuPackError('busy', 'The GPU pack is already being installed by another Distill Studio window or command: wait for it to finish.');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function hashFile<K extends 'sha256' | 'sha512'>(
  file: string,
  algorithms: K[],
  onProgress?: (p: TransferProgress) => void,
): Promise<Record<K, string>> {
  const hashes = algorithms.map((a) => createHash(a));
  const total = await sizeOf(file);
  const meter = new ProgressMeter(onProgress);
  let done = 0;
  meter.update(0, total, true);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      for (const h of hashes) h.update(chunk);
      done += bytesRead;
      meter.update(done, total, false);
    }
  } finally {
    await fh.close();
  }
  meter.update(done, total, true);
  const out = {} as Record<K, string>;
  algorithms.forEach((a, i) => (out[a] = hashes[i].digest(a === 'sha512' ? 'base64' : 'hex')));
  return out;
}


async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return 'unknown';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`;
  return `${n} bytes`;
}

/** Leftover staging folders from a crash (for tests and cleanup tools). */
export async function listStaging(dataDir: string): Promise<string[]> {
  try {
    return (await readdir(gpuPackRoot(dataDir))).filter((n) => n.includes('.staging-') || n.includes('.old-'));
  } catch {
    return [];
  }
}
