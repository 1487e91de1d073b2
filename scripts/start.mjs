#!/usr/bin/env node
// `npm start` / `npm run dev`: make sure the Electron runtime is on disk, then launch the app.
//
// `npm ci` does not download Electron (see .npmrc); the runtime is fetched here on first use, so
// the engine, CLI and tests never need it. Usage: node scripts/start.mjs [preview|dev] [electron-vite args...]

import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** Where the `electron` package lives, without loading it (its index.js would start a download). */
export function electronPackageDir() {
  return dirname(require.resolve('electron/package.json'));
}

/**
 * Whether the Electron runtime for the installed `electron` package is on disk; mirrors the
 * checks in node_modules/electron/install.js.
 * @returns {{ ok: true, executable: string } | { ok: false, reason: string }}
 */
export function electronStatus(dir = electronPackageDir(), env = process.env) {
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const pathFile = join(dir, 'path.txt');
  if (!existsSync(pathFile)) return { ok: false, reason: 'runtime not downloaded yet' };
  const relExecutable = readFileSync(pathFile, 'utf8').trim();
  const executable = env.ELECTRON_OVERRIDE_DIST_PATH
    ? join(env.ELECTRON_OVERRIDE_DIST_PATH, relExecutable)
    : join(dir, 'dist', relExecutable);
  if (!existsSync(executable)) return { ok: false, reason: `runtime executable missing (${relExecutable})` };
  if (!env.ELECTRON_OVERRIDE_DIST_PATH) {
    const versionFile = join(dir, 'dist', 'version');
    const installed = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim().replace(/^v/, '') : '';
    if (installed !== version) return { ok: false, reason: `runtime is ${installed || 'unknown'}, package wants ${version}` };
  }
  return { ok: true, executable };
}

/** A one-line reason from install.js's stderr (it prints a stack trace on failure). */
export function firstErrorLine(stderr) {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at ') && !l.startsWith('npm warn'));
  return lines.find((l) => /error/i.test(l)) ?? lines[0] ?? 'unknown error';
}

/** The host the runtime is downloaded from (Electron's default, or the configured mirror). */
export function downloadHost(env = process.env) {
  const mirror = env.ELECTRON_MIRROR || env.npm_config_electron_mirror;
  try {
    return mirror ? new URL(mirror).hostname : 'github.com';
  } catch {
    return 'github.com';
  }
}

/** Turn install.js's output into a short, human reason; a bare "fetch failed" gets a DNS probe. */
export async function explainFailure(stderr, env = process.env) {
  const reason = firstErrorLine(stderr).replace(/^(TypeError|Error):\s*/, '');
  if (!/fetch failed|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|network/i.test(reason)) return reason;
  const host = downloadHost(env);
  try {
    await lookup(host);
    return `${reason}: ${host} is reachable by name but the download failed`;
  } catch (err) {
    const code = err && typeof err === 'object' && 'code' in err ? String(err.code) : 'lookup failed';
    return `no network: cannot resolve ${host} (${code})`;
  }
}

/** Run node_modules/electron/install.js, showing a progress message; resolves to stderr on failure, null on success. */
function runElectronInstall(dir, version) {
  return new Promise((resolvePromise) => {
    console.log(`Fetching the Electron ${version} runtime (first run only, about 100 MB)...`);
    const started = Date.now();
    const child = spawn(process.execPath, [join(dir, 'install.js')], {
      stdio: ['ignore', 'inherit', 'pipe'],
      env: { ...process.env, ELECTRON_GET_NO_PROGRESS: '1' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const ticker = setInterval(() => {
      console.log(`  still downloading the Electron runtime (${Math.round((Date.now() - started) / 1000)} s)...`);
    }, 15_000);
    const finish = (ok, extra = '') => {
      clearInterval(ticker);
      resolvePromise(ok ? null : stderr + extra);
    };
    child.on('error', (err) => finish(false, `\nError: ${err.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) console.log(`Electron runtime ready (${Math.round((Date.now() - started) / 1000)} s).`);
      finish(code === 0, signal ? `\nError: installer stopped by ${signal}` : '');
    });
  });
}

export async function main(argv = process.argv.slice(2)) {
  const mode = argv[0] === 'dev' || argv[0] === 'preview' ? argv[0] : 'preview';
  const passThrough = argv[0] === mode ? argv.slice(1) : argv;

  let dir;
  try {
    dir = electronPackageDir();
  } catch {
    console.error('The electron package is not installed. Run `npm ci` first.');
    return 1;
  }
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (!electronStatus(dir).ok) {
    const failure = await runElectronInstall(dir, version);
    const after = electronStatus(dir);
    if (failure !== null || !after.ok) {
      const reason = failure !== null ? await explainFailure(failure) : after.reason;
      console.error(
        `Could not download the Electron runtime (${reason}). ` +
          'Connect to the internet once and run `npm start` again; the engine and CLI work without it.',
      );
      return 1;
    }
  }

  const cli = resolve(dirname(require.resolve('electron-vite/package.json')), 'bin/electron-vite.js');
  const child = spawn(process.execPath, [cli, mode, ...passThrough], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  return new Promise((resolveCode) => {
    child.on('close', (code, signal) => resolveCode(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
