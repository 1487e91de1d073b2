// scripts/start.mjs helpers. These never run the Electron installer: tests must not download anything.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { downloadHost, electronStatus, explainFailure, firstErrorLine } from '../../scripts/start.mjs';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fakeElectron(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'electron-pkg-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'electron', version: '45.6.1' }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('electronStatus', () => {
  it('is not ok before the runtime is downloaded', () => {
    expect(electronStatus(fakeElectron({}), {})).toEqual({ ok: false, reason: 'runtime not downloaded yet' });
  });

  it('is not ok when path.txt points at a missing executable', () => {
    const status = electronStatus(fakeElectron({ 'path.txt': 'electron' }), {});
    expect(status.ok).toBe(false);
  });

  it('is not ok when the downloaded runtime is another version', () => {
    const dir = fakeElectron({ 'path.txt': 'electron', 'dist/electron': '', 'dist/version': 'v44.0.0' });
    expect(electronStatus(dir, {})).toEqual({ ok: false, reason: 'runtime is 44.0.0, package wants 45.6.1' });
  });

  it('is ok when the matching runtime is on disk', () => {
    const dir = fakeElectron({ 'path.txt': 'electron', 'dist/electron': '', 'dist/version': 'v45.6.1' });
    expect(electronStatus(dir, {})).toEqual({ ok: true, executable: join(dir, 'dist', 'electron') });
  });
});

describe('failure messages', () => {
  const stack = [
    'TypeError: fetch failed',
    '    at node:internal/deps/undici/undici:14976:13',
    '    at async FetchDownloader.download (file:///x/FetchDownloader.js:46:30)',
  ].join('\n');

  it('reduces a stack trace to its first error line', () => {
    expect(firstErrorLine(stack)).toBe('TypeError: fetch failed');
    expect(firstErrorLine('')).toBe('unknown error');
  });

  it('keeps non-network reasons as they are', async () => {
    await expect(explainFailure('Error: EACCES: permission denied, mkdir \'/x/dist\'\n    at foo', {})).resolves.toBe(
      "EACCES: permission denied, mkdir '/x/dist'",
    );
  });

  it('uses the configured mirror host for the network probe', () => {
    expect(downloadHost({})).toBe('github.com');
    expect(downloadHost({ ELECTRON_MIRROR: 'https://npmmirror.com/mirrors/electron/' })).toBe('npmmirror.com');
  });
});
