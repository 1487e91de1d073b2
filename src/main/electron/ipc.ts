// IPC in the main process: one ipcMain.handle per channel of src/shared/api.ts IPC, each
// refusing calls from any page but ours, then running the validated handler
// (src/main/services/ipc-handlers.ts); app events are pushed to the windows on EVENT_CHANNEL.
import { BrowserWindow, dialog, ipcMain, shell, type IpcMainInvokeEvent, type OpenDialogOptions } from 'electron';
import { EVENT_CHANNEL, IPC, type AppEvent, type InvokableMethod, type PickKind } from '../../shared/api';
import { isTrustedSenderUrl, type IpcHandlers, type NativeDialogs } from '../services/ipc-handlers';

export interface SenderPolicy {
  devServerUrl?: string;
  /** file: URL of the bundled renderer page. */
  rendererUrl: string;
}

/** Only our own page, in its top frame, may call the API. */
export function isTrustedSender(event: IpcMainInvokeEvent, policy: SenderPolicy): boolean {
  const frame = event.senderFrame;
  if (!frame || frame.parent !== null) return false;
  return isTrustedSenderUrl(frame.url, policy);
}

/** Registers every channel; returns a function that removes them. */
export function registerIpc(handlers: IpcHandlers, policy: SenderPolicy): () => void {
  const methods = Object.keys(IPC) as InvokableMethod[];
  for (const method of methods) {
    const channel = IPC[method];
    const handler = handlers[method];
    ipcMain.handle(channel, (event, ...args: unknown[]) => {
      if (!isTrustedSender(event, policy)) throw new Error(`Refused IPC call on ${channel} from an untrusted page`);
      return handler(...args);
    });
  }
  return () => {
    for (const method of methods) ipcMain.removeHandler(IPC[method]);
  };
}

/** Sends an app event to every open window. */
export function pushEvent(e: AppEvent): void {
  for (const win of BrowserWindow.getAllWindows()) {
    if (!win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(EVENT_CHANNEL, e);
  }
}

const DIALOGS: Record<PickKind, OpenDialogOptions> = {
  'data-file': {
    title: 'Choose a data file',
    properties: ['openFile'],
    filters: [
      { name: 'Data files', extensions: ['tsv', 'csv', 'jsonl', 'ndjson', 'parquet'] },
      { name: 'All files', extensions: ['*'] },
    ],
  },
  'model-folder': { title: 'Choose a model folder', properties: ['openDirectory'] },
  'run-folder': { title: 'Choose a run folder', properties: ['openDirectory'] },
  'export-folder': { title: 'Choose where to export', properties: ['openDirectory', 'createDirectory', 'promptToCreate'] },
};

/** Native dialogs, attached to the focused window when there is one. */
export const electronDialogs: NativeDialogs = {
  async pick(kind) {
    const options = DIALOGS[kind];
    const win = BrowserWindow.getFocusedWindow();
    const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0]!;
  },
  showInFolder(path) {
    shell.showItemInFolder(path);
  },
};
