// The real app without Electron: the same services src/main/index.ts wires into the window (settings,
// job manager with real worker processes, AppServices, the validated IPC handlers with their path
// grants), served to a browser through the bridge (./server.ts) together with the built renderer.
//
// Used by the end-to-end tests (test/e2e/), which answer the file dialogs through `pick`, and by
// `npm run dev:browser`, which builds the renderer and runs this file as a program:
//
//   npx tsx src/main/bridge/dev-server.ts [--port N] [--data-dir DIR] [--static DIR] [--allow PATH]...
//
// It prints the page URL (with its one-time token). Without native dialogs, "Choose…" asks on the
// terminal for a path; `--allow` makes a folder usable when its path is typed into the page.
// Plain Node: no 'electron' import (scripts/check-layering.mjs). The job worker runs from source
// (src/main/worker.ts) through tsx, as in the job tests.
import Conf from 'conf';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { AppEvent, PickKind, Settings } from '../../shared/api';
import { installGpuPack } from '../../engine/gpu-pack/gpu-pack';
import { defaultCacheDir } from '../../engine/pipeline/sources';
import { JobManager } from '../jobs/job-manager';
import { nodeFork } from '../jobs/node-fork';
import { AppServices } from '../services/app-services';
import type { CompareOptions } from '../services/compare';
import { makeDoctor } from '../services/doctor';
import { createIpcHandlers } from '../services/ipc-handlers';
import { PathGrants } from '../services/path-grants';
import { SettingsStore } from '../services/settings-store';
import { startBridge, type AppEventSource, type BridgeHandle, type BridgeServices } from './server';

const here = import.meta.dirname;
export const REPO_ROOT = path.resolve(here, '../../..');
/** Where `npm run build` puts the renderer. */
export const BUILT_RENDERER = path.join(REPO_ROOT, 'out', 'renderer');
/** The job worker's TypeScript entry (run through tsx). */
export const WORKER_SOURCE = path.join(REPO_ROOT, 'src', 'main', 'worker.ts');

export interface DevServerOptions {
  /** The app's data folder: settings.json and runs/ (Electron's userData in the desktop app). */
  dataDir: string;
  /** The built renderer (default: out/renderer). */
  staticDir?: string;
  /** The default cache folder (downloads, teacher logits); default: the app's per-user cache. */
  cacheDir?: string;
  /**
   * Answers the app's file dialogs: the chosen absolute path, or null for "cancelled". What it
   * returns is granted like a dialog's choice (folders with everything inside them).
   */
  pick?: (kind: PickKind) => string | null | Promise<string | null>;
  /** "Show in folder"; without it the bridge answers that it cannot. */
  showInFolder?: (target: string) => void | Promise<void>;
  /** Paths usable without a dialog (as if chosen once), e.g. for paths typed into the page. */
  allow?: { path: string; kind: PickKind }[];
  /** Settings applied at start (saved in the data folder like a user's change). */
  settings?: Partial<Settings>;
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The version the app reports (default: package.json's). */
  version?: string;
  /** Comparison measurement options (tests use fewer latency samples). */
  compare?: CompareOptions;
  /** Node flags for the worker processes (default: ['--import', 'tsx']). */
  workerExecArgv?: string[];
  /** Called with each error a service throws (the page sees only its message). */
  onServiceError?: (method: string, error: unknown) => void;
}

export interface DevServer {
  bridge: BridgeHandle;
  /** The page to open: the bridge URL with its address and token in the fragment. */
  pageUrl: string;
  services: AppServices;
  jobs: JobManager;
  grants: PathGrants;
  settings: SettingsStore;
  runsRoot: string;
  /** Stops the bridge, then the running job (after its current step, with a checkpoint), then the model sessions. */
  close(): Promise<void>;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** AppServices' subscribe-returns-unsubscribe events as the on/off pair the bridge takes. */
function eventSource(services: AppServices): AppEventSource {
  const subscriptions = new Map<(e: AppEvent) => void, () => void>();
  return {
    on(listener) {
      if (!subscriptions.has(listener)) subscriptions.set(listener, services.onEvent(listener));
    },
    off(listener) {
      subscriptions.get(listener)?.();
      subscriptions.delete(listener);
    },
  };
}

class DialogUnavailableError extends Error {
  readonly code = 'unavailable';
}

/** Starts the services and the bridge; resolves once the page can be opened. */
export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  const dataDir = path.resolve(o.dataDir);
  await mkdir(dataDir, { recursive: true });
  const cacheDir = o.cacheDir ? path.resolve(o.cacheDir) : defaultCacheDir();
  const version = o.version ?? packageVersion();
  const runsRoot = path.join(dataDir, 'runs');

  // As in src/main/index.ts, with conf (what electron-store builds on) instead of electron-store.
  const settings = SettingsStore.open((opts) => new Conf<Record<string, unknown>>({ cwd: dataDir, configName: 'settings', ...opts }), {
    defaultCacheDir: cacheDir,
  });
  for (const note of settings.notes) console.warn(`[settings] ${note}`);
  if (o.settings) settings.update(o.settings);

  const jobs = new JobManager({ runsRoot, fork: nodeFork({ execArgv: o.workerExecArgv ?? ['--import', 'tsx'] }), workerPath: WORKER_SOURCE });
  const services = new AppServices({
    runs: jobs,
    settings,
    version,
    paths: { runsRoot, cacheDir },
    compare: o.compare,
    doctor: makeDoctor({
      dataDir,
      cacheDir: () => settings.get().cacheDir,
      override: () => settings.get().provider,
      versions: () => ({ app: version, electron: 'none (browser bridge)', node: process.versions.node, chrome: 'the browser' }),
    }),
    installGpuPack: ({ onProgress, signal }) => installGpuPack({ dataDir, onProgress, signal }),
  });

  const grants = new PathGrants({ runsRoot: () => runsRoot, cacheDir: () => settings.get().cacheDir });
  for (const a of o.allow ?? []) grants.grant(path.resolve(a.path), a.kind);
  const handlers = createIpcHandlers({
    services,
    grants,
    dialogs: {
      async pick(kind) {
        if (!o.pick) throw new DialogUnavailableError('Choosing a file needs the desktop app: this browser session has no file dialog.');
        const chosen = await o.pick(kind);
        return chosen === null ? null : path.resolve(chosen);
      },
      async showInFolder(target) {
        if (!o.showInFolder) throw new DialogUnavailableError('Showing a file in its folder needs the desktop app.');
        await o.showInFolder(target);
      },
    },
  });

  let bridge: BridgeHandle;
  try {
    bridge = await startBridge({
      // The validated handlers, exactly what the desktop app's IPC calls: same argument checks, same path grants.
      services: handlers as unknown as BridgeServices,
      events: eventSource(services),
      staticDir: o.staticDir ?? BUILT_RENDERER,
      port: o.port,
      onServiceError: o.onServiceError,
    });
  } catch (e) {
    await Promise.allSettled([jobs.shutdown(5_000), services.dispose()]);
    throw e;
  }

  let closing: Promise<void> | null = null;
  return {
    bridge,
    pageUrl: bridge.pageUrl,
    services,
    jobs,
    grants,
    settings,
    runsRoot,
    close() {
      closing ??= (async () => {
        await bridge.close();
        await Promise.allSettled([jobs.shutdown(30_000), services.dispose()]);
      })();
      return closing;
    },
  };
}

// --- `npm run dev:browser` -------------------------------------------------------------------

const PICK_PROMPTS: Record<PickKind, string> = {
  'data-file': 'a data file (CSV, TSV, JSON lines, Parquet)',
  'model-folder': 'a model folder',
  'run-folder': 'a run folder',
  'export-folder': 'a folder to export into',
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'data-dir': { type: 'string', default: path.join(REPO_ROOT, '.cache', 'dev-browser') },
      static: { type: 'string', default: BUILT_RENDERER },
      allow: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: tsx src/main/bridge/dev-server.ts [--port N] [--data-dir DIR] [--static DIR] [--allow PATH]...\n' +
        'Serves the built renderer (npm run build) with the real services over the browser bridge.\n' +
        '  --data-dir  settings and runs (default .cache/dev-browser)\n' +
        '  --allow     a file or folder the page may use when its path is typed in (repeatable)',
    );
    return;
  }
  const port = Number(values.port);
  const interactive = process.stdin.isTTY === true;
  const rl = interactive ? createInterface({ input: process.stdin, output: process.stdout }) : null;
  let asking: Promise<unknown> = Promise.resolve();
  const ask = (question: string): Promise<string> => {
    const answer = asking.then(() => rl!.question(question));
    asking = answer.catch(() => undefined);
    return answer;
  };

  const server = await startDevServer({
    dataDir: values['data-dir'],
    staticDir: values.static,
    port,
    allow: values.allow.map((p) => ({ path: p, kind: 'model-folder' as const })),
    pick: rl
      ? async (kind) => {
          const answer = (await ask(`\nThe page asks for ${PICK_PROMPTS[kind]}. Type an absolute path (empty: cancel): `)).trim();
          return answer === '' ? null : path.resolve(answer);
        }
      : undefined,
    showInFolder: (target) => console.log(`[show in folder] ${target}`),
    onServiceError: (method, e) => console.error(`[${method}] ${e instanceof Error ? e.message : String(e)}`),
  });
  console.log(`Distill Studio in the browser (runs in ${server.runsRoot}).\nOpen:\n\n  ${server.pageUrl}\n`);
  if (!interactive) console.log('stdin is not a terminal: "Choose…" buttons will say there is no file dialog; use --allow and type paths.');

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping (a running job stops after its current step and can be resumed)…');
    rl?.close();
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // With a terminal interface open, Ctrl+C arrives as readline's SIGINT, not the process's.
  rl?.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
