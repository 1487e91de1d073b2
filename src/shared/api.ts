// The contract between the renderer and the rest of the app. The preload script implements
// `DistillApi` with IPC calls and exposes it as `window.api`; the main process answers on the
// channels in `IPC`. This file is shared by every process, so it imports nothing.

/** The API the renderer sees as `window.api`. */
export interface DistillApi {
  /** The app version, as the main process reports it (`app.getVersion()`). */
  getVersion(): Promise<string>;
  /**
   * Environment diagnostics. For now the main process reports only the runtime it is running on
   * (app, Electron, Node and Chrome versions, platform, architecture); engine and GPU checks come later.
   */
  doctor(): Promise<unknown>;
}

/** IPC channel names, one per `DistillApi` method. */
export const IPC = {
  getVersion: 'app:get-version',
  doctor: 'app:doctor',
} as const satisfies Record<keyof DistillApi, string>;

export type IpcChannel = (typeof IPC)[keyof typeof IPC];
