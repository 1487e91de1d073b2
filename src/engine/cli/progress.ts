// How job events reach a person: progress bars on a terminal, plain lines otherwise,
// JSON lines with --json.
import cliProgress from 'cli-progress';
import type { JobEvent, Stage } from '../../shared/events';
import { formatBytes, formatDuration } from '../../shared/format';

export type Reporter = ((e: JobEvent) => void) & { close(): void };

const STAGE_LABEL: Record<Stage, string> = {
  download: 'Download',
  tokenize: 'Tokenize',
  teacher: 'Teacher pass',
  train: 'Train',
  evaluate: 'Evaluate',
  export: 'Export',
};

export function jsonReporter(write: (s: string) => void = (s) => process.stdout.write(s)): Reporter {
  const r = ((e: JobEvent) => write(JSON.stringify(e) + '\n')) as Reporter;
  r.close = () => {};
  return r;
}

/** Plain lines (no terminal): one line per stage change, progress at most every 10 s. */
export function lineReporter(write: (s: string) => void = (s) => process.stdout.write(s)): Reporter {
  let last = 0;
  const r = ((e: JobEvent) => {
    const now = Date.now();
    switch (e.type) {
      case 'stage':
        if (e.stage !== 'evaluate') write(`${STAGE_LABEL[e.stage]}: ${e.status === 'start' ? 'started' : `done in ${formatDuration(e.seconds ?? 0)}`}${e.detail ? ` (${e.detail})` : ''}\n`);
        break;
      case 'progress':
        if (now - last > 10_000 || e.done === e.total) {
          last = now;
          const amount = e.unit === 'bytes' ? `${formatBytes(e.done)} / ${formatBytes(e.total)}` : `${e.done} / ${e.total} ${e.unit}`;
          write(`${STAGE_LABEL[e.stage]}: ${amount}${e.etaSeconds !== null && e.done < e.total ? `, ${formatDuration(e.etaSeconds)} left` : ''}\n`);
        }
        break;
      case 'step':
        if (now - last > 10_000 || e.step === e.totalSteps) {
          last = now;
          write(`Train: step ${e.step}/${e.totalSteps} epoch ${e.epoch.toFixed(2)} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.samplesPerSecond.toFixed(0)} samples/s\n`);
        }
        break;
      case 'eval':
        write(`Eval at step ${e.step}: accuracy ${(e.accuracy * 100).toFixed(2)} % (teacher ${(e.teacherAccuracy * 100).toFixed(2)} %), agreement ${(e.agreement * 100).toFixed(2)} %${e.best ? ' — best so far' : ''}\n`);
        break;
      case 'log':
        write(`${e.level === 'info' ? '' : e.level.toUpperCase() + ': '}${e.message}\n`);
        break;
      case 'checkpoint':
      case 'paused':
      case 'resumed':
        break;
      case 'done':
        write(`Finished (${e.status}).${e.summaryPath ? ` Summary: ${e.summaryPath}` : ''}\n`);
        break;
      case 'error':
        write(`Error: ${e.message}\n`);
        break;
    }
  }) as Reporter;
  r.close = () => {};
  return r;
}

/** Progress bars on a terminal. */
export function ttyReporter(): Reporter {
  const lines = lineReporter();
  let bar: cliProgress.SingleBar | null = null;
  let barStage: Stage | null = null;
  let loss = '';
  const stop = () => {
    bar?.stop();
    bar = null;
    barStage = null;
  };
  const ensure = (stage: Stage, total: number, unit: string) => {
    if (bar && barStage === stage) return bar;
    stop();
    barStage = stage;
    bar = new cliProgress.SingleBar(
      { format: `${STAGE_LABEL[stage].padEnd(12)} {bar} {percentage}% | {value}/{total} ${unit} | {rate} | ETA {eta_formatted} {extra}`, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: '', extra: '' });
    return bar;
  };
  const r = ((e: JobEvent) => {
    if (e.type === 'progress') {
      const unit = e.unit === 'bytes' ? 'B' : e.unit;
      ensure(e.stage, e.total, unit).update(e.done, { rate: e.unit === 'bytes' ? `${formatBytes(e.rate)}/s` : `${e.rate.toFixed(0)} ${unit}/s`, extra: '' });
      if (e.done >= e.total) stop();
    } else if (e.type === 'step') {
      loss = `loss ${e.loss.toFixed(4)}`;
      ensure('train', e.totalSteps, 'steps').update(e.step, { rate: `${e.samplesPerSecond.toFixed(0)} samples/s`, extra: loss });
      if (e.step >= e.totalSteps) stop();
    } else if (e.type === 'eval' || e.type === 'log' || e.type === 'done' || e.type === 'error' || (e.type === 'stage' && e.stage !== 'evaluate' && e.stage !== 'train')) {
      if (bar) {
        // Print above the bar without breaking it.
        (bar as unknown as { terminal?: { clearLine(): void; cursorTo(x: number): void } }).terminal?.clearLine();
        (bar as unknown as { terminal?: { cursorTo(x: number): void } }).terminal?.cursorTo(0);
      }
      lines(e);
    }
  }) as Reporter;
  r.close = stop;
  return r;
}
