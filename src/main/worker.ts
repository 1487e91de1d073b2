// Job worker entry point, built as its own file (out/main/worker.js) and started once per job:
// in Electron with utilityProcess.fork (messages over process.parentPort), in plain Node with
// child_process.fork (process.send / 'message'), e.g. `node --import tsx src/main/worker.ts`.
// The protocol is in ./jobs/protocol.ts; the work in ./jobs/worker-runtime.ts.
import { runJob } from '../engine/pipeline/run-job';
import { openWorkerChannel } from './jobs/channel';
import { serveWorker } from './jobs/worker-runtime';

const channel = openWorkerChannel();
if (!channel) {
  process.stderr.write('This is the Distill Studio job worker: the app starts it (utilityProcess.fork or child_process.fork); it does nothing on its own.\n');
  process.exit(2);
}

// When the app is gone its end of our output pipes may be closed: never die of EPIPE.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const exit = (code: number) => {
  // parentPort.postMessage has no completion callback: give the last message a moment to leave.
  if (channel.kind === 'electron') setTimeout(() => process.exit(code), 100);
  else process.exit(code);
};

const worker = serveWorker(channel, { runJob, exit });
process.on('uncaughtException', (e) => void worker.fail(e));
process.on('unhandledRejection', (e) => void worker.fail(e));
