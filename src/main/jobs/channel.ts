// The two ends of the pipe between the job manager and a job worker, whichever way the worker
// was started:
//   - in Electron, with utilityProcess.fork: the worker talks over process.parentPort (a
//     MessagePort-like: 'message' events whose payload is in e.data, postMessage to answer);
//   - in plain Node (CLI, tests), with child_process.fork: process.send / process.on('message').
// Nothing here imports 'electron': the Electron layer hands its utilityProcess in (see
// utilityProcessFork), so this folder runs and is tested in plain Node.
import type { ParentMessage, WorkerMessage } from './protocol';

// --- worker side ---------------------------------------------------------------------------

/** The worker's end: raw messages in (validate them with parseParentMessage), typed messages out. */
export interface WorkerChannel {
  readonly kind: 'electron' | 'node';
  /** Resolves once the message is handed to the transport (never rejects: a gone parent is not an error here). */
  post(message: WorkerMessage): Promise<void>;
  onMessage(listener: (data: unknown) => void): void;
  /** The parent went away (Node only: an Electron utility process is ended with its parent). */
  onDisconnect(listener: () => void): void;
}

interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

/** The channel to the process that started this one, or null when it was not started as a worker. */
export function openWorkerChannel(proc: NodeJS.Process = process): WorkerChannel | null {
  const parentPort = (proc as NodeJS.Process & { parentPort?: ParentPortLike }).parentPort;
  if (parentPort) {
    return {
      kind: 'electron',
      post: async (message) => {
        try {
          parentPort.postMessage(message);
        } catch {
          // the parent is gone; nothing to tell
        }
      },
      onMessage: (listener) => void parentPort.on('message', (e) => listener(e?.data)),
      onDisconnect: () => {},
    };
  }
  if (typeof proc.send === 'function') {
    return {
      kind: 'node',
      post: (message) =>
        new Promise<void>((resolve) => {
          if (!proc.connected || !proc.send) return resolve();
          try {
            proc.send(message, undefined, {}, () => resolve());
          } catch {
            resolve();
          }
        }),
      onMessage: (listener) => void proc.on('message', (data: unknown) => listener(data)),
      onDisconnect: (listener) => void proc.on('disconnect', listener),
    };
  }
  return null;
}

// --- parent side -----------------------------------------------------------------------------

/**
 * A started worker process as the job manager sees it. An Electron UtilityProcess has this
 * shape (postMessage, kill, pid, stdout/stderr, 'message' and 'exit' events); a Node
 * ChildProcess is wrapped by nodeFork (src/main/jobs/node-fork.ts).
 */
export interface WorkerHandle {
  readonly pid?: number | undefined;
  postMessage(message: ParentMessage): void;
  /** Ends the process at once (SIGTERM on POSIX). */
  kill(): unknown;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  /** Emitted once when the process has ended; `signal` when the platform tells it. */
  on(event: 'exit', listener: (code: number | null, signal?: string | null) => void): unknown;
  /** Present when the process was started with piped output (its lines go to worker.log). */
  readonly stdout?: NodeJS.ReadableStream | null;
  readonly stderr?: NodeJS.ReadableStream | null;
  /** Set by wrappers that know why the process could not be started at all. */
  readonly startError?: string | null;
}

/** How the job manager starts a worker: modulePath is the worker entry, args its argv. */
export type ForkWorker = (modulePath: string, args: string[]) => WorkerHandle;

/** The part of Electron's `utilityProcess` module used here (structural: no 'electron' import). */
export interface UtilityProcessModule {
  fork(modulePath: string, args?: string[], options?: { stdio?: 'pipe' | 'ignore' | 'inherit'; serviceName?: string; env?: NodeJS.ProcessEnv }): WorkerHandle;
}

/**
 * The Electron fork function: `new JobManager({ fork: utilityProcessFork(utilityProcess), … })`.
 * Output is piped so the manager can keep it in the run's worker.log.
 */
export function utilityProcessFork(utilityProcess: UtilityProcessModule, options: { env?: NodeJS.ProcessEnv } = {}): ForkWorker {
  return (modulePath, args) =>
    utilityProcess.fork(modulePath, args, { stdio: 'pipe', serviceName: 'Distill Studio job', ...(options.env ? { env: options.env } : {}) });
}
