// Settings persisted through conf (what electron-store builds on) in a temp folder: round trip,
// validation of updates, and hand-edited files that must never crash the app.
import Conf from 'conf';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_RECENT_RUNS, MemoryStore, SettingsStore, type KeyValueStore } from '../../../src/main/services/settings-store';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'ds-settings-'));
  roots.push(d);
  return d;
}

const DEFAULT_CACHE = path.resolve('/default/cache');

function open(cwd: string): SettingsStore {
  return SettingsStore.open((o) => new Conf<Record<string, unknown>>({ cwd, configName: 'settings', ...o }), { defaultCacheDir: DEFAULT_CACHE });
}

const file = (cwd: string) => path.join(cwd, 'settings.json');

describe('SettingsStore with conf', () => {
  it('starts from the defaults', () => {
    const s = open(tempDir());
    expect(s.get()).toEqual({ cacheDir: DEFAULT_CACHE, provider: 'auto', threads: null, theme: 'system' });
    expect(s.recentRuns()).toEqual([]);
    expect(s.windowState()).toEqual({ bounds: null, maximized: false });
    expect(s.notes).toEqual([]);
  });

  it('round trip: what is saved is read back by a new store on the same file', () => {
    const cwd = tempDir();
    const a = open(cwd);
    const cache = path.resolve(cwd, 'my-cache');
    expect(a.update({ cacheDir: cache, provider: 'cuda', threads: 4, theme: 'dark' })).toEqual({ cacheDir: cache, provider: 'cuda', threads: 4, theme: 'dark' });
    a.addRecentRun('run-1');
    a.addRecentRun('run-2');
    a.addRecentRun('run-1');
    a.saveWindowState({ bounds: { x: 10, y: 20, width: 900, height: 700 }, maximized: true });

    const b = open(cwd);
    expect(b.get()).toEqual({ cacheDir: cache, provider: 'cuda', threads: 4, theme: 'dark' });
    expect(b.recentRuns()).toEqual(['run-1', 'run-2']);
    expect(b.windowState()).toEqual({ bounds: { x: 10, y: 20, width: 900, height: 700 }, maximized: true });
    expect(b.notes).toEqual([]);
    const onDisk = JSON.parse(readFileSync(file(cwd), 'utf8'));
    expect(onDisk).toMatchObject({ cacheDir: cache, provider: 'cuda', threads: 4, theme: 'dark', recentRuns: ['run-1', 'run-2'] });

    // Back to the default cache folder: stored as "default", not as a path.
    b.update({ cacheDir: DEFAULT_CACHE, threads: null });
    expect(JSON.parse(readFileSync(file(cwd), 'utf8'))).toMatchObject({ cacheDir: null, threads: null });
    expect(open(cwd).get()).toMatchObject({ cacheDir: DEFAULT_CACHE, threads: null });
  });

  it('keeps at most MAX_RECENT_RUNS recent runs, newest first', () => {
    const s = open(tempDir());
    for (let i = 0; i < MAX_RECENT_RUNS + 3; i++) s.addRecentRun(`run-${i}`);
    expect(s.recentRuns()).toHaveLength(MAX_RECENT_RUNS);
    expect(s.recentRuns()[0]).toBe(`run-${MAX_RECENT_RUNS + 2}`);
    s.removeRecentRun(`run-${MAX_RECENT_RUNS + 2}`);
    expect(s.recentRuns()[0]).toBe(`run-${MAX_RECENT_RUNS + 1}`);
  });

  it('refuses bad updates with one message naming every bad field, and changes nothing', () => {
    const s = open(tempDir());
    expect(() => s.update({ theme: 'purple', threads: 0, cacheDir: 'relative/dir' })).toThrow(
      /^Invalid settings — cacheDir: The cache folder must be an absolute path; threads: .*>=1.*; theme: Invalid option: expected one of "system"\|"light"\|"dark"$/,
    );
    expect(() => s.update({ colour: 'red' })).toThrow(/Unrecognized key: "colour"/);
    expect(() => s.update('dark')).toThrow(/Invalid settings — settings: Invalid input: expected object/);
    expect(s.get()).toEqual({ cacheDir: DEFAULT_CACHE, provider: 'auto', threads: null, theme: 'system' });
  });

  it('ignores window states that do not validate', () => {
    const s = open(tempDir());
    s.saveWindowState({ bounds: { x: Number.NaN, y: 0, width: 800, height: 600 }, maximized: false });
    expect(s.windowState()).toEqual({ bounds: null, maximized: false });
  });

  it('a file that is not JSON: defaults and a note, the file repaired, the old one kept as .bak', () => {
    const cwd = tempDir();
    writeFileSync(file(cwd), '{ "theme": "dark", oops');
    const s = open(cwd);
    expect(s.get()).toEqual({ cacheDir: DEFAULT_CACHE, provider: 'auto', threads: null, theme: 'system' });
    expect(s.notes).toHaveLength(1);
    expect(s.notes[0]).toMatch(/^The settings file is not valid JSON \(.+\); the default settings are used/);
    expect(readFileSync(`${file(cwd)}.bak`, 'utf8')).toBe('{ "theme": "dark", oops');
    expect(JSON.parse(readFileSync(file(cwd), 'utf8'))).toMatchObject({ theme: 'system', provider: 'auto' });
    // Changes work and persist afterwards.
    s.update({ theme: 'light' });
    expect(open(cwd).get().theme).toBe('light');
    expect(open(cwd).notes).toEqual([]);
  });

  it('invalid values: each replaced by its default with a note, valid ones kept', () => {
    const cwd = tempDir();
    writeFileSync(
      file(cwd),
      JSON.stringify({ theme: 'dark', provider: 'tpu', threads: -3, cacheDir: 'not/absolute', recentRuns: 'run-1', window: { bounds: { x: 1 }, maximized: 'yes' }, extra: 1 }),
    );
    const s = open(cwd);
    expect(s.get()).toEqual({ cacheDir: DEFAULT_CACHE, provider: 'auto', threads: null, theme: 'dark' });
    expect(s.recentRuns()).toEqual([]);
    expect(s.windowState()).toEqual({ bounds: null, maximized: false });
    const notes = s.notes.join('\n');
    for (const key of ['cacheDir', 'provider', 'threads', 'recentRuns', 'window']) expect(notes).toMatch(new RegExp(`The setting '${key}' in the settings file is invalid`));
    expect(notes).toMatch(/The setting 'provider' .*its default \("auto"\) is used instead/);
    expect(notes).not.toMatch(/'theme'/);
    expect(existsSync(`${file(cwd)}.bak`)).toBe(true);
    expect(open(cwd).notes).toEqual([]);
  });

  it('a JSON value that is not an object is treated like an unreadable file', () => {
    const cwd = tempDir();
    writeFileSync(file(cwd), '[1, 2, 3]');
    const s = open(cwd);
    expect(s.get().theme).toBe('system');
    expect(s.notes[0]).toMatch(/does not hold a JSON object/);
  });

  it('a store that cannot be opened at all: defaults in memory, with a note', () => {
    const s = SettingsStore.open(
      () => {
        throw new Error('EACCES: permission denied');
      },
      { defaultCacheDir: DEFAULT_CACHE },
    );
    expect(s.get().provider).toBe('auto');
    expect(s.notes[0]).toMatch(/could not be opened \(EACCES: permission denied\).*changes will not be saved/);
    s.update({ theme: 'dark' });
    expect(s.get().theme).toBe('dark');
  });

  it('a store whose writes fail keeps the change for the session, with a note', () => {
    const failing: KeyValueStore = Object.assign(new MemoryStore(), {
      set() {
        throw new Error('disk full');
      },
    });
    const s = new SettingsStore(failing, { defaultCacheDir: DEFAULT_CACHE });
    expect(s.update({ theme: 'dark' }).theme).toBe('dark');
    expect(s.notes.join(' ')).toMatch(/'theme' could not be saved \(disk full\)/);
  });
});
