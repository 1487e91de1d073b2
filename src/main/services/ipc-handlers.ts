// One handler per IPC method: arguments validated (ipc-schemas.ts), every path checked against
// what the user chose in a dialog (path-grants.ts), then the service called. The Electron layer
// (src/main/electron/ipc.ts) only adds the sender check and ipcMain.handle; everything here is
// plain Node, so it is tested without Electron.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { InvokableMethod, PickKind } from '../../shared/api';
import type { JobConfigInput } from '../../shared/job-config';
import type { AppServices } from './app-services';
import { parseIpcArgs, sentFields } from './ipc-schemas';
import { PathAccessError, type PathGrants } from './path-grants';

/** What needs native UI (Electron's dialog and shell). */
export interface NativeDialogs {
  /** Opens the dialog for `kind`; the chosen absolute path, or null when cancelled. */
  pick(kind: PickKind): Promise<string | null>;
  showInFolder(path: string): Promise<void> | void;
}

export type IpcHandler = (...args: unknown[]) => Promise<unknown>;
export type IpcHandlers = Record<InvokableMethod, IpcHandler>;

export interface IpcHandlerDeps {
  services: Pick<AppServices, Exclude<keyof AppServices, 'onEvent' | 'dispose' | 'cacheDir' | 'runsRoot'>>;
  grants: PathGrants;
  dialogs: NativeDialogs;
}

/**
 * The engine treats a name that exists on disk as a local path before trying the Hub, relative to
 * the worker's working folder: a Hub id (or 'sst2') must not be a way to reach files that were
 * never chosen in a dialog.
 */
export function checkNotShadowed(name: string, what: string, cwd: string = process.cwd()): void {
  const local = path.resolve(cwd, name);
  if (existsSync(local)) {
    throw new PathAccessError(`${what} "${name}" also names ${local} on this computer, which was not chosen in a dialog: choose the local folder with the dialog, or use the full Hugging Face id.`);
  }
}

/** Checks the path-valued fields of a job configuration. */
function checkJobPaths(c: Record<string, unknown>, grants: PathGrants): void {
  for (const field of ['teacher', 'student'] as const) {
    const v = c[field];
    if (typeof v !== 'string') continue;
    if (path.isAbsolute(v)) grants.check(v, `The ${field} model`);
    else checkNotShadowed(v, `The ${field} model`);
  }
  if (c.train === 'sst2') checkNotShadowed('sst2', 'The training data');
  else if (typeof c.train === 'string') grants.check(c.train, 'The training data file');
  if (typeof c.valid === 'string') grants.check(c.valid, 'The validation data file');
  if (typeof c.cacheDir === 'string') grants.check(c.cacheDir, 'The cache folder');
}

export function createIpcHandlers({ services, grants, dialogs }: IpcHandlerDeps): IpcHandlers {
  return {
    getVersion: async (...a) => {
      parseIpcArgs('getVersion', a);
      return services.getVersion();
    },
    doctor: async (...a) => {
      parseIpcArgs('doctor', a);
      return services.doctor();
    },
    getSettings: async (...a) => {
      parseIpcArgs('getSettings', a);
      return services.getSettings();
    },
    updateSettings: async (...a) => {
      const [patch] = parseIpcArgs('updateSettings', a);
      if (patch.cacheDir !== undefined) grants.check(patch.cacheDir, 'The cache folder');
      return services.updateSettings(patch);
    },
    pick: async (...a) => {
      const [kind] = parseIpcArgs('pick', a);
      const chosen = await dialogs.pick(kind);
      if (chosen === null) return null;
      grants.grant(chosen, kind);
      return chosen;
    },
    previewData: async (...a) => {
      const [file, columns] = parseIpcArgs('previewData', a);
      return services.previewData(grants.check(file, 'The data file'), columns);
    },
    inspectModel: async (...a) => {
      const [source, role] = parseIpcArgs('inspectModel', a);
      return services.inspectModel(path.isAbsolute(source) ? grants.check(source, `The ${role} model`) : source, role);
    },
    installGpuPack: async (...a) => {
      parseIpcArgs('installGpuPack', a);
      return services.installGpuPack();
    },
    startRun: async (...a) => {
      const [config] = parseIpcArgs('startRun', a);
      const sent = sentFields(a[0], config as Record<string, unknown>);
      checkJobPaths(sent, grants);
      return services.startRun(sent as JobConfigInput);
    },
    pauseRun: async (...a) => {
      const [runId] = parseIpcArgs('pauseRun', a);
      return services.pauseRun(runId);
    },
    resumeRun: async (...a) => {
      const [runId] = parseIpcArgs('resumeRun', a);
      return services.resumeRun(runId);
    },
    cancelRun: async (...a) => {
      const [runId] = parseIpcArgs('cancelRun', a);
      return services.cancelRun(runId);
    },
    listRuns: async (...a) => {
      parseIpcArgs('listRuns', a);
      return services.listRuns();
    },
    getRun: async (...a) => {
      const [runId] = parseIpcArgs('getRun', a);
      return services.getRun(runId);
    },
    compare: async (...a) => {
      const [runId] = parseIpcArgs('compare', a);
      return services.compare(runId);
    },
    predictBoth: async (...a) => {
      const [runId, text] = parseIpcArgs('predictBoth', a);
      return services.predictBoth(runId, text);
    },
    exportRun: async (...a) => {
      const [runId, format, outDir] = parseIpcArgs('exportRun', a);
      return services.exportRun(runId, format, grants.check(outDir, 'The export folder'));
    },
    showInFolder: async (...a) => {
      const [target] = parseIpcArgs('showInFolder', a);
      await dialogs.showInFolder(grants.check(target, 'This path'));
    },
    systemUsage: async (...a) => {
      parseIpcArgs('systemUsage', a);
      return services.systemUsage();
    },
  };
}

/**
 * Whether an IPC call comes from our own page: the bundled renderer file (`rendererUrl`, a
 * file: URL), or the dev server's origin during `npm run dev`.
 */
export function isTrustedSenderUrl(url: string, o: { devServerUrl?: string; rendererUrl?: string }): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (o.devServerUrl) {
    try {
      const dev = new URL(o.devServerUrl);
      return u.protocol === dev.protocol && u.host === dev.host;
    } catch {
      return false;
    }
  }
  if (u.protocol !== 'file:') return false;
  if (!o.rendererUrl) return true;
  try {
    return u.host === '' && decodeURIComponent(u.pathname) === decodeURIComponent(new URL(o.rendererUrl).pathname);
  } catch {
    return false;
  }
}
