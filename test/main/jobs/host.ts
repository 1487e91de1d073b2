// A stand-in for the desktop app in its own process (run with `node --import tsx`): a JobManager
// over argv[2] that starts the job in argv[3] (JSON) and prints every AppEvent, and the pid of
// each worker it forks, as JSON lines. The test kills this process to play "the app went away".
import { JobManager } from '../../../src/main/jobs/job-manager';
import { nodeFork } from '../../../src/main/jobs/node-fork';

const [runsRoot, configJson, workerPath] = process.argv.slice(2);
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const fork = nodeFork({ execArgv: ['--import', 'tsx'] });
const manager = new JobManager({
  runsRoot,
  workerPath,
  fork: (modulePath, args) => {
    const handle = fork(modulePath, args);
    out({ host: 'forked', pid: handle.pid });
    return handle;
  },
});
manager.on('event', out);
const run = await manager.start(JSON.parse(configJson));
out({ host: 'started', id: run.id });
