// For the end-to-end tests (test/e2e/): the Chromium to drive, the built renderer they load (built
// here when missing or older than its sources), and where their screenshots go.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { REPO_ROOT } from './shared';

/** Debian's chromium (CI installs it through .ci/run); CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';

/** Flags for a quiet headless Chromium on a machine without network: no background requests, no GPU, no sandbox (containers). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Null when Chromium is there; otherwise why the e2e tests cannot run. */
export function chromiumMissingReason(): string | null {
  return existsSync(CHROMIUM_PATH)
    ? null
    : `${CHROMIUM_PATH} not found: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** `npm run build`'s renderer output. */
export const BUILT_RENDERER = path.join(REPO_ROOT, 'out', 'renderer');

/** What the renderer bundle is built from. */
const RENDERER_INPUTS = ['src/renderer', 'src/shared', 'electron.vite.config.ts'].map((p) => path.join(REPO_ROOT, p));

function newestMtime(target: string): number {
  const st = statSync(target);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(target)) newest = Math.max(newest, newestMtime(path.join(target, entry)));
  return newest;
}

/** Why out/renderer must be (re)built, or null when it is newer than every source file. */
export function rendererBuildNeeded(): string | null {
  const index = path.join(BUILT_RENDERER, 'index.html');
  if (!existsSync(index)) return 'out/renderer is missing';
  const built = statSync(index).mtimeMs;
  const newest = Math.max(...RENDERER_INPUTS.filter((p) => existsSync(p)).map(newestMtime));
  return newest > built ? 'out/renderer is older than its sources' : null;
}

/**
 * Makes sure out/renderer is current, running `npm run build` when it is not. Returns null when
 * the renderer is ready, or a sentence saying why it could not be built (the tests skip with it).
 */
export function ensureRendererBuilt(timeoutMs = 240_000): string | null {
  const why = rendererBuildNeeded();
  if (!why) return null;
  console.log(`[e2e] ${why}: running npm run build …`);
  const started = Date.now();
  const r = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs, env: process.env });
  if (r.error || r.status !== 0) {
    const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('npm warn'))
      .slice(-6)
      .join(' | ');
    const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
    return `npm run build failed (${how})${output ? `: ${output}` : ''}`;
  }
  console.log(`[e2e] renderer built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return rendererBuildNeeded() ? 'npm run build succeeded but out/renderer is still older than its sources' : null;
}

/** test-artifacts/<name>/ (gitignored), emptied of earlier screenshots. */
export function artifactsDir(name: string): string {
  const dir = path.join(REPO_ROOT, 'test-artifacts', name);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.png')) rmSync(path.join(dir, f), { force: true });
  return dir;
}
