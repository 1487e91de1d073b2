// Starting a job worker with Node's child_process.fork (CLI, tests, any plain-Node host), as a
// WorkerHandle: the same shape as an Electron UtilityProcess.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { ForkWorker, WorkerHandle } from './channel';
import type { ParentMessage } from './protocol';

export interface NodeForkOptions {
  /**
   * Node flags for the worker. To run the TypeScript entry (src/main/worker.ts) without a
   * build, pass ['--import', 'tsx'].
   */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

class ChildProcessHandle extends EventEmitter implements WorkerHandle {
  private exited = false;
  /** Why the process could not be started, when it could not. */
  startError: string | null = null;

  constructor(private readonly child: ChildProcess) {
    super();
    child.on('message', (data: unknown) => this.emit('message', data));
    // 'close' comes after 'exit' once stdout/stderr are drained: the log is complete by then.
    child.on('close', (code, signal) => this.exitOnce(code, signal));
    child.on('error', (e) => {
      // Could not be started (or could not be signalled): without a pid it will never 'close'.
      if (child.pid === undefined) {
        this.startError = `Could not start the worker: ${e.message}`;
        this.exitOnce(null, null);
      }
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stdout(): Readable | null {
    return this.child.stdout;
  }

  get stderr(): Readable | null {
    return this.child.stderr;
  }

  postMessage(message: ParentMessage): void {
    if (!this.child.connected) return;
    try {
      this.child.send(message, (e) => {
        if (e) this.emit('send-error', e);
      });
    } catch {
      // channel closed between the check and the send: the exit handler reports it
    }
  }

  kill(): boolean {
    return this.child.kill();
  }

  private exitOnce(code: number | null, signal: NodeJS.Signals | null) {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', code, signal);
  }
}

/** A ForkWorker that uses child_process.fork, with piped output and structured-clone messages. */
export function nodeFork(options: NodeForkOptions = {}): ForkWorker {
  return (modulePath, args) =>
    new ChildProcessHandle(
      fork(modulePath, args, {
        execArgv: options.execArgv ?? [],
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        // Structured clone like Electron's postMessage: NaN and Infinity survive (JSON would make them null).
        serialization: 'advanced',
      }),
    );
}
