// The app's settings: validated with zod, persisted through a small key-value interface that
// electron-store (in the app) and conf (in tests) both satisfy. A settings file someone edited
// by hand never crashes the app: what cannot be read is replaced by its default, with a note.
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ProviderChoice, Settings } from '../../shared/api';

/** What the settings need from electron-store / conf. */
export interface KeyValueStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  /** The whole stored object; assigning it replaces the file's contents. */
  store: Record<string, unknown>;
  /** The file behind the store, when there is one (conf and electron-store have it). */
  readonly path?: string;
}

/** An in-memory KeyValueStore: the fallback when the settings file cannot be opened at all. */
export class MemoryStore implements KeyValueStore {
  private data: Record<string, unknown> = {};
  get(key: string): unknown {
    return this.data[key];
  }
  set(key: string, value: unknown): void {
    this.data = { ...this.data, [key]: value };
  }
  get store(): Record<string, unknown> {
    return { ...this.data };
  }
  set store(value: Record<string, unknown>) {
    this.data = { ...value };
  }
}

const absolutePath = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(4096, `${what} is too long`)
    .refine((p) => !p.includes('\0'), `${what} must not contain NUL characters`)
    .refine((p) => path.isAbsolute(p), `${what} must be an absolute path`);

export const ProviderChoiceSchema = z.enum(['auto', 'cpu', 'cuda', 'dml']);
export const ThemeSchema = z.enum(['system', 'light', 'dark']);
export const ThreadsSchema = z.number().int().min(1).max(256).nullable();

export const BoundsSchema = z.object({
  x: z.number().int().min(-100_000).max(100_000),
  y: z.number().int().min(-100_000).max(100_000),
  width: z.number().int().min(100).max(100_000),
  height: z.number().int().min(100).max(100_000),
});
export type Bounds = z.infer<typeof BoundsSchema>;

export const WindowStateSchema = z.object({
  /** Normal (not maximized) bounds; null: let the window manager place it. */
  bounds: BoundsSchema.nullable(),
  maximized: z.boolean(),
});
export type WindowState = z.infer<typeof WindowStateSchema>;

export const MAX_RECENT_RUNS = 10;
const RunIdLike = z.string().min(1).max(200);

/** The settings file, one schema per key (each key is validated on its own). */
export const PERSISTED = {
  /** null: the default per-user cache folder. */
  cacheDir: absolutePath('The cache folder').nullable(),
  provider: ProviderChoiceSchema,
  threads: ThreadsSchema,
  theme: ThemeSchema,
  recentRuns: z.array(RunIdLike).max(MAX_RECENT_RUNS),
  window: WindowStateSchema,
} as const;

export interface PersistedSettings {
  cacheDir: string | null;
  provider: ProviderChoice;
  threads: number | null;
  theme: Settings['theme'];
  recentRuns: string[];
  window: WindowState;
}

type Key = keyof PersistedSettings;
const KEYS = Object.keys(PERSISTED) as Key[];

export function defaultPersisted(): PersistedSettings {
  return { cacheDir: null, provider: 'auto', threads: null, theme: 'system', recentRuns: [], window: { bounds: null, maximized: false } };
}

/** What `updateSettings` accepts: any subset of Settings, nothing else. */
export const SettingsPatchSchema = z
  .strictObject({
    cacheDir: absolutePath('The cache folder'),
    provider: ProviderChoiceSchema,
    threads: ThreadsSchema,
    theme: ThemeSchema,
  })
  .partial();

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** "cacheDir: must be an absolute path; theme: ..." from a zod error. */
export function describeIssues(error: z.ZodError, root = 'value'): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : root}: ${i.message}`).join('; ');
}

/** Options for electron-store / conf that make an unreadable file a note instead of an exception. */
export interface BackingStoreOptions {
  deserialize: (text: string) => Record<string, unknown>;
  serialize: (value: Record<string, unknown>) => string;
  clearInvalidConfig: boolean;
}

/**
 * Opens the settings' backing store with `make` (e.g. `(o) => new ElectronStore({ name: 'settings', ...o })`).
 * A file that is not JSON reads as empty (with a note); a store that cannot be opened at all is
 * replaced by memory for this session (with a note). Never throws.
 */
export function openBackingStore(make: (options: BackingStoreOptions) => KeyValueStore): { store: KeyValueStore; notes: string[] } {
  const notes = new Set<string>();
  const options: BackingStoreOptions = {
    clearInvalidConfig: false,
    serialize: (value) => JSON.stringify(value, null, 2),
    deserialize: (text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        notes.add(`The settings file is not valid JSON (${(e as Error).message}); the default settings are used and the file will be rewritten (the old one is kept as .bak).`);
        return {};
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        notes.add('The settings file does not hold a JSON object; the default settings are used and the file will be rewritten (the old one is kept as .bak).');
        return {};
      }
      return value as Record<string, unknown>;
    },
  };
  let store: KeyValueStore;
  try {
    store = make(options);
  } catch (e) {
    notes.add(`The settings could not be opened (${(e as Error).message}); the default settings are used for this session and changes will not be saved.`);
    store = new MemoryStore();
  }
  return {
    store,
    get notes() {
      return [...notes];
    },
  };
}

export interface SettingsStoreOptions {
  /** The cache folder when the settings name none. */
  defaultCacheDir: string;
  /** Notes from opening the store (openBackingStore). */
  notes?: readonly string[];
}

/** The settings, read once, validated key by key, written through on every change. */
export class SettingsStore {
  private state: PersistedSettings;
  private readonly problems: string[] = [];

  constructor(
    private readonly kv: KeyValueStore,
    private readonly options: SettingsStoreOptions,
  ) {
    this.problems.push(...(options.notes ?? []));
    let raw: Record<string, unknown> = {};
    try {
      raw = kv.store ?? {};
    } catch (e) {
      this.problems.push(`The settings file could not be read (${(e as Error).message}); the default settings are used.`);
    }
    const defaults = defaultPersisted();
    const state = { ...defaults } as Record<Key, unknown>;
    let invalid = this.problems.length > 0;
    for (const key of KEYS) {
      if (!Object.prototype.hasOwnProperty.call(raw, key) || raw[key] === undefined) continue;
      const r = PERSISTED[key].safeParse(raw[key]);
      if (r.success) state[key] = r.data;
      else {
        invalid = true;
        this.problems.push(`The setting '${key}' in the settings file is invalid (${describeIssues(r.error, key)}); its default (${JSON.stringify(defaults[key])}) is used instead.`);
      }
    }
    this.state = state as unknown as PersistedSettings;
    if (invalid) this.rewrite();
  }

  /** Opens the backing store with `make` (see openBackingStore) and reads the settings from it. */
  static open(make: (options: BackingStoreOptions) => KeyValueStore, options: Omit<SettingsStoreOptions, 'notes'>): SettingsStore {
    const { store, notes } = openBackingStore(make);
    return new SettingsStore(store, { ...options, notes });
  }

  /** Plain sentences about settings that could not be read (shown by the doctor, logged). */
  get notes(): string[] {
    return [...this.problems];
  }

  get(): Settings {
    const s = this.state;
    return { cacheDir: s.cacheDir ?? this.options.defaultCacheDir, provider: s.provider, threads: s.threads, theme: s.theme };
  }

  /** Validates and applies a partial update; throws SettingsError naming every bad field. */
  update(patch: unknown): Settings {
    const r = SettingsPatchSchema.safeParse(patch);
    if (!r.success) throw new SettingsError(`Invalid settings — ${describeIssues(r.error, 'settings')}`);
    const p = r.data;
    if (p.cacheDir !== undefined) this.write('cacheDir', path.resolve(p.cacheDir) === path.resolve(this.options.defaultCacheDir) ? null : path.resolve(p.cacheDir));
    if (p.provider !== undefined) this.write('provider', p.provider);
    if (p.threads !== undefined) this.write('threads', p.threads);
    if (p.theme !== undefined) this.write('theme', p.theme);
    return this.get();
  }

  recentRuns(): string[] {
    return [...this.state.recentRuns];
  }

  /** Moves `runId` to the front of the recent runs (at most MAX_RECENT_RUNS are kept). */
  addRecentRun(runId: string): void {
    const id = RunIdLike.parse(runId);
    this.write('recentRuns', [id, ...this.state.recentRuns.filter((r) => r !== id)].slice(0, MAX_RECENT_RUNS));
  }

  removeRecentRun(runId: string): void {
    if (this.state.recentRuns.includes(runId)) this.write('recentRuns', this.state.recentRuns.filter((r) => r !== runId));
  }

  windowState(): WindowState {
    const w = this.state.window;
    return { bounds: w.bounds ? { ...w.bounds } : null, maximized: w.maximized };
  }

  /** Saves the window's state; values that do not validate (e.g. NaN bounds) are ignored. */
  saveWindowState(state: WindowState): void {
    const r = WindowStateSchema.safeParse(state);
    if (r.success) this.write('window', r.data);
  }

  private write<K extends Key>(key: K, value: PersistedSettings[K]): void {
    this.state = { ...this.state, [key]: value };
    try {
      this.kv.set(key, value);
    } catch (e) {
      this.problems.push(`The setting '${key}' could not be saved (${(e as Error).message}); it applies until the app closes.`);
    }
  }

  /** Replaces an invalid file with the valid state, keeping the old file as <file>.bak. */
  private rewrite(): void {
    try {
      const file = this.kv.path;
      if (file && existsSync(file)) copyFileSync(file, `${file}.bak`);
      this.kv.store = { ...this.state };
    } catch (e) {
      this.problems.push(`The settings file could not be repaired (${(e as Error).message}); the defaults apply until the app closes.`);
    }
  }
}
