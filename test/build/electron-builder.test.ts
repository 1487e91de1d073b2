// Packaging configuration (electron-builder.yml) and installer icons (build/). Nothing is built or
// downloaded here: the config is read with electron-builder's own loader, checked against its
// schema, and its file patterns are run through electron-builder's own matchers.
import { existsSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ICNS_TYPES, ICO_SIZES, LINUX_SIZES, crc32 as generatorCrc32, encodeIco, encodeIcns, encodePng, renderIcon } from '../../build/make-icons.mjs';

const root = resolve(import.meta.dirname, '../..');
// electron-builder's internals, resolved the way electron-builder itself resolves them.
const builderRequire = createRequire(createRequire(join(root, 'package.json')).resolve('electron-builder/package.json'));

type Patterns = (string | { from?: string; to?: string; filter?: string | string[] })[] | string | null | undefined;
interface PlatformOptions {
  target?: unknown;
  files?: Patterns;
  icon?: string;
  category?: string;
  maintainer?: string;
  [key: string]: unknown;
}
interface Config extends PlatformOptions {
  appId?: string;
  productName?: string;
  directories?: { output?: string; buildResources?: string };
  asar?: boolean;
  asarUnpack?: Patterns;
  npmRebuild?: boolean;
  win?: PlatformOptions;
  mac?: PlatformOptions;
  linux?: PlatformOptions;
  nsis?: Record<string, unknown>;
  publish?: unknown;
}
type Filter = (file: string, stat: Pick<Stats, 'isDirectory'>) => boolean;
interface Matcher {
  createFilter(): Filter;
}
type Expander = (pattern: string) => string;

const { getConfig, validateConfiguration } = builderRequire('app-builder-lib/out/util/config/config') as {
  getConfig(projectDir: string, configPath: string | null, fromOptions: null): Promise<Config>;
  validateConfiguration(config: Config, logger: unknown): Promise<void>;
};
const fileMatcher = builderRequire('app-builder-lib/out/fileMatcher') as {
  getMainFileMatchers(
    appDir: string,
    destination: string,
    expander: Expander,
    platformOptions: PlatformOptions,
    platformPackager: unknown,
    outDir: string,
    isElectronCompile: boolean,
  ): Matcher[];
  getNodeModuleFileMatcher(appDir: string, destination: string, expander: Expander, platformOptions: PlatformOptions, packager: unknown): Matcher;
  getFileMatchers(
    config: Config,
    name: string,
    destination: string,
    options: { macroExpander: Expander; customBuildOptions: PlatformOptions; globalOutDir: string; defaultSrc: string },
  ): Matcher[] | null;
};
const { DebugLogger, log } = builderRequire('builder-util') as { DebugLogger: new (enabled: boolean) => unknown; log: { info: unknown } };

const PLATFORMS = { win: 'win32', mac: 'darwin', linux: 'linux' } as const;
type PlatformKey = keyof typeof PLATFORMS;
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
const file = { isDirectory: () => false };
const dest = '/packaged/app';
const outDir = join(root, 'dist');
const expanderFor =
  (arch: string): Expander =>
  (pattern) =>
    pattern.replace(/\$\{arch\}/g, arch);

let config: Config;
beforeAll(async () => {
  log.info = () => {}; // "loaded configuration" noise
  config = await getConfig(root, null, null);
});

/** The patterns of a `files`-like option, whichever form electron-builder normalised it to. */
function patternsOf(value: Patterns): string[] {
  if (value == null) return [];
  if (typeof value === 'string') return [value];
  return value.flatMap((p) => (typeof p === 'string' ? [p] : [p.filter ?? []].flat()));
}

/** Targets of a platform as names, whichever form they are written in. */
function targetNames(options: PlatformOptions | undefined): string[] {
  const list = [options?.target ?? []].flat() as (string | { target: string })[];
  return list.map((t) => (typeof t === 'string' ? t : t.target).toLowerCase());
}

function targetArchs(options: PlatformOptions | undefined): string[] {
  const list = [options?.target ?? []].flat() as (string | { target: string; arch?: string | string[] })[];
  return [...new Set(list.flatMap((t) => (typeof t === 'string' ? [] : [t.arch ?? []].flat())))];
}

/** Every ORT binary file shipped in node_modules, relative to the project root, and its platform/arch. */
function ortBinaries(): { path: string; platform: string; arch: string }[] {
  const out: { path: string; platform: string; arch: string }[] = [];
  const base = join(root, ORT_BIN);
  for (const platform of readdirSync(base)) {
    for (const arch of readdirSync(join(base, platform))) {
      for (const name of readdirSync(join(base, platform, arch))) out.push({ path: `${ORT_BIN}/${platform}/${arch}/${name}`, platform, arch });
    }
  }
  return out;
}

function nodeModulesFilter(platform: PlatformKey, arch: string): (path: string) => boolean {
  const packager = { config, debugLogger: new DebugLogger(false) };
  const matcher = fileMatcher.getNodeModuleFileMatcher(root, dest, expanderFor(arch), config[platform] ?? {}, packager);
  const filter = matcher.createFilter();
  return (path) => filter(join(root, path), file);
}

/**
 * Whether a project file is packed for `platform`: electron-builder copies every file set its main
 * matchers produce (the top-level `files`, the platform's `files`, its defaults), so any of them counts.
 */
function appFilesFilter(platform: PlatformKey): (path: string) => boolean {
  const platformPackager = {
    info: { isPrepackedAppAsar: false, projectDir: root, buildResourcesDir: config.directories?.buildResources ?? 'build', config, debugLogger: new DebugLogger(false) },
  };
  const matchers = fileMatcher.getMainFileMatchers(root, dest, expanderFor('x64'), config[platform] ?? {}, platformPackager, outDir, false);
  const filters = matchers.map((m) => m.createFilter());
  return (path) => filters.some((filter) => filter(join(root, path), file));
}

describe('electron-builder.yml', () => {
  it('is the configuration electron-builder loads, and it passes electron-builder’s schema', async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
    // The validator does reject mistakes (so the check above means something).
    await expect(validateConfiguration({ ...config, nsis: { ...config.nsis, oneclick: false } }, new DebugLogger(false))).rejects.toThrow(
      /Invalid configuration object/,
    );
  });

  it('names the app and its folders', () => {
    expect(config.appId).toMatch(/^[a-z][\w-]*(\.[a-z][\w-]*)+$/);
    expect(config.productName).toBe('Distill Studio');
    expect(config.directories).toEqual({ output: 'dist', buildResources: 'build' });
    expect(config.publish).toBeNull();
    expect(config.npmRebuild).toBe(false);
  });

  it('builds NSIS on Windows, a DMG on macOS, AppImage and deb on Linux', () => {
    expect(targetNames(config.win)).toEqual(['nsis']);
    expect(targetNames(config.mac)).toEqual(['dmg']);
    expect(targetNames(config.linux).sort()).toEqual(['appimage', 'deb']);
  });

  it('only targets architectures onnxruntime-node has binaries for', () => {
    const binaries = ortBinaries();
    for (const platform of Object.keys(PLATFORMS) as PlatformKey[]) {
      const archs = targetArchs(config[platform]);
      expect(archs.length, platform).toBeGreaterThan(0);
      for (const arch of archs) {
        expect(
          binaries.some((b) => b.platform === PLATFORMS[platform] && b.arch === arch && b.path.endsWith('onnxruntime_binding.node')),
          `${platform} ${arch}`,
        ).toBe(true);
      }
    }
  });

  it('installs per user with NSIS, letting the user choose the folder', () => {
    expect(config.nsis).toMatchObject({ oneClick: false, perMachine: false, allowToChangeInstallationDirectory: true });
  });

  it('fills in the Linux and macOS metadata', () => {
    expect(config.linux?.category?.split(';')).toEqual(expect.arrayContaining(['Development', 'Science']));
    expect(config.linux?.maintainer).toMatch(/<[^@\s>]+@[^@\s>]+>/);
    expect(config.mac?.category).toBe('public.app-category.developer-tools');
  });

  it('packs into an asar archive with onnxruntime-node unpacked', () => {
    expect(config.asar).toBe(true);
    for (const platform of Object.keys(PLATFORMS) as PlatformKey[]) {
      const matchers = fileMatcher.getFileMatchers(config, 'asarUnpack', dest, {
        macroExpander: expanderFor('x64'),
        customBuildOptions: config[platform] ?? {},
        globalOutDir: outDir,
        defaultSrc: root,
      });
      const filter = matchers![0]!.createFilter();
      const unpacked = (path: string) => filter(join(root, path), file);
      for (const b of ortBinaries()) expect(unpacked(b.path), b.path).toBe(true);
      expect(unpacked('node_modules/onnxruntime-node/dist/index.js')).toBe(true);
      expect(unpacked('node_modules/ws/index.js')).toBe(false);
      expect(unpacked('out/main/index.js')).toBe(false);
    }
  });

  it.each([
    ['win', 'x64'],
    ['win', 'arm64'],
    ['mac', 'arm64'],
    ['linux', 'x64'],
    ['linux', 'arm64'],
  ] as const)('ships only the %s %s onnxruntime-node binaries', (platform, arch) => {
    const keep = nodeModulesFilter(platform, arch);
    const binaries = ortBinaries();
    const kept = binaries.filter((b) => keep(b.path));
    expect(kept.length).toBeGreaterThan(0);
    for (const b of binaries) {
      expect(keep(b.path), b.path).toBe(b.platform === PLATFORMS[platform] && b.arch === arch);
    }
    // The rest of onnxruntime-node and other dependencies stay.
    expect(keep('node_modules/onnxruntime-node/dist/index.js')).toBe(true);
    expect(keep('node_modules/onnxruntime-node/package.json')).toBe(true);
    expect(keep('node_modules/ws/lib/websocket.js')).toBe(true);
  });

  it.each(Object.keys(PLATFORMS) as PlatformKey[])('packs the built app but no sources, tests or tooling (%s)', (platform) => {
    const included = appFilesFilter(platform);
    for (const path of ['out/main/index.js', 'out/main/worker.js', 'out/preload/index.cjs', 'out/renderer/index.html', 'out/renderer/assets/index.js', 'package.json']) {
      expect(included(path), path).toBe(true);
    }
    const excluded = [
      'src/main/index.ts',
      'src/engine/train/trainer.ts',
      'test/main/bridge/server.test.ts',
      'bench/engine.bench.ts',
      'scratch/notes.txt',
      'scripts/start.mjs',
      'build/icon.png',
      'build/make-icons.mjs',
      'dist/Distill Studio-0.1.0.AppImage',
      'resources/README.md',
      'README.md',
      'electron.vite.config.ts',
      'vitest.config.ts',
      'eslint.config.js',
      'tsconfig.json',
      'electron-builder.yml',
      'package-lock.json',
      '.npmrc',
    ];
    for (const path of excluded) expect(included(path), path).toBe(false);
  });

  it('keeps per-platform patterns in the filter form (bare "!…" strings would pack the whole project)', () => {
    expect(patternsOf(config.files)).toEqual(expect.arrayContaining(['out/**', 'package.json']));
    for (const platform of Object.keys(PLATFORMS) as PlatformKey[]) {
      const files = [config[platform]?.files ?? []].flat();
      expect(files.length, platform).toBeGreaterThan(0);
      for (const entry of files) expect(typeof entry, platform).toBe('object');
      expect(patternsOf(config[platform]?.files).every((p) => p.startsWith('!node_modules/onnxruntime-node/'))).toBe(true);
    }
  });

  it('points at icons that exist', () => {
    for (const platform of Object.keys(PLATFORMS) as PlatformKey[]) {
      const icon = config[platform]?.icon;
      expect(icon, platform).toBeTruthy();
      expect(existsSync(join(root, icon!)), icon).toBe(true);
    }
  });
});

describe('package.json', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    main: string;
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    build?: unknown;
  };

  it('has `npm run dist` = build, then electron-builder', () => {
    expect(pkg.scripts['dist']).toBe('npm run build && electron-builder');
  });

  it('fits what electron-builder packs', () => {
    expect(pkg.main.startsWith('out/')).toBe(true);
    // electron and electron-builder must not be runtime dependencies; onnxruntime-node must be one.
    expect(pkg.devDependencies['electron']).toBeDefined();
    expect(pkg.devDependencies['electron-builder']).toBeDefined();
    expect(pkg.dependencies['electron']).toBeUndefined();
    expect(pkg.dependencies['onnxruntime-node']).toBeDefined();
    // One source of configuration: electron-builder.yml (a "build" key would be ignored beside it).
    expect(pkg.build).toBeUndefined();
  });

  it('is documented in the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.split(/^## /m).find((s) => s.startsWith('Packaging'));
    expect(section).toBeDefined();
    expect(section).toContain('npm run dist');
  });
});

// ---- Icons ---------------------------------------------------------------------------------------

interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Parses and checks a PNG: signature, chunk CRCs, IHDR first, IEND last, IDAT inflating to the right size. */
function readPng(buf: Buffer): PngInfo {
  expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let offset = 8;
  let info: PngInfo | null = null;
  const idat: Buffer[] = [];
  let ended = false;
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const data = buf.subarray(offset + 8, offset + 8 + length);
    expect(buf.readUInt32BE(offset + 8 + length), `${type} CRC`).toBe(crc32(buf.subarray(offset + 4, offset + 8 + length)));
    if (info === null) expect(type).toBe('IHDR');
    if (type === 'IHDR') info = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), bitDepth: data[8]!, colorType: data[9]! };
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
    if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  expect(ended).toBe(true);
  expect(offset).toBe(buf.length);
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[info!.colorType as 0 | 2 | 4 | 6];
  expect(channels, 'greyscale/RGB(A) colour type').toBeDefined();
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe(info!.height * (1 + Math.ceil((info!.width * channels! * info!.bitDepth) / 8)));
  return info!;
}

describe('icons in build/', () => {
  const build = join(root, 'build');

  it('has a 512x512 RGBA icon.png', () => {
    const info = readPng(readFileSync(join(build, 'icon.png')));
    expect(info).toEqual({ width: 512, height: 512, bitDepth: 8, colorType: 6 });
  });

  it('has Linux icons named by their size, 16 to 512', () => {
    const names = readdirSync(join(build, 'icons')).filter((n) => n.endsWith('.png'));
    expect(names).toEqual(expect.arrayContaining(['16x16.png', '32x32.png', '48x48.png', '256x256.png', '512x512.png']));
    for (const name of names) {
      const size = Number(/^(\d+)x\1\.png$/.exec(name)?.[1]);
      expect(size, name).toBeGreaterThan(0);
      const info = readPng(readFileSync(join(build, 'icons', name)));
      expect([info.width, info.height], name).toEqual([size, size]);
    }
  });

  it('has a Windows icon.ico with a 256x256 image and valid entries', () => {
    const ico = readFileSync(join(build, 'icon.ico'));
    expect(ico.readUInt16LE(0)).toBe(0);
    expect(ico.readUInt16LE(2)).toBe(1);
    const count = ico.readUInt16LE(4);
    const sizes: number[] = [];
    for (let i = 0; i < count; i++) {
      const e = 6 + i * 16;
      const size = ico[e] === 0 ? 256 : ico[e]!;
      const bytes = ico.readUInt32LE(e + 8);
      const offset = ico.readUInt32LE(e + 12);
      expect(offset + bytes).toBeLessThanOrEqual(ico.length);
      const data = ico.subarray(offset, offset + bytes);
      if (data.subarray(0, 4).toString('hex') === '89504e47') {
        const info = readPng(data);
        expect([info.width, info.height]).toEqual([size, size]);
      } else {
        // BITMAPINFOHEADER: width, then height doubled (image + mask), 32 bits per pixel.
        expect(data.readUInt32LE(0)).toBe(40);
        expect([data.readInt32LE(4), data.readInt32LE(8), data.readUInt16LE(14)]).toEqual([size, size * 2, 32]);
      }
      sizes.push(size);
    }
    expect(sizes).toEqual(expect.arrayContaining([16, 32, 48, 256]));
  });

  it('has a macOS icon.icns with 512 and 1024 pixel images', () => {
    const icns = readFileSync(join(build, 'icon.icns'));
    expect(icns.toString('latin1', 0, 4)).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const sizes = new Map<string, number>();
    let offset = 8;
    while (offset < icns.length) {
      const type = icns.toString('latin1', offset, offset + 4);
      const length = icns.readUInt32BE(offset + 4);
      expect(length).toBeGreaterThan(8);
      const info = readPng(icns.subarray(offset + 8, offset + length));
      expect(info.width).toBe(info.height);
      sizes.set(type, info.width);
      offset += length;
    }
    expect(offset).toBe(icns.length);
    expect(sizes.get('ic09')).toBe(512);
    expect(sizes.get('ic10')).toBe(1024);
    expect(sizes.get('ic08')).toBe(256);
  });

  it('are what build/make-icons.mjs writes (its encoders, checked at small sizes)', () => {
    const small = [16, 32, 64];
    const png = encodePng(16, renderIcon(16));
    expect(readPng(png)).toEqual({ width: 16, height: 16, bitDepth: 8, colorType: 6 });
    const rgba = renderIcon(64);
    // Transparent outside the rounded square, opaque in the middle.
    expect(rgba[3]).toBe(0);
    expect(rgba[(32 * 64 + 32) * 4 + 3]).toBe(255);
    const ico = encodeIco(small.map((size) => ({ size, rgba: renderIcon(size) })));
    expect(ico.readUInt16LE(4)).toBe(small.length);
    const icns = encodeIcns((size) => encodePng(size, Buffer.alloc(size * size * 4)));
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    expect(ICNS_TYPES.map(([type]) => type)).toEqual(expect.arrayContaining(['ic08', 'ic09', 'ic10']));
    expect(LINUX_SIZES).toContain(512);
    expect(ICO_SIZES).toContain(256);
    expect(generatorCrc32(Buffer.from('IEND', 'latin1'))).toBe(0xae426082);
  });
});
