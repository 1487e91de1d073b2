// distill-studio — the headless command-line interface to the engine.
// Exit code 0 on success; otherwise a one-line reason on stderr and a non-zero code.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseJobConfig, type JobConfigInput } from '../../shared/job-config';
import type { JobEvent } from '../../shared/events';
import { evaluateModel, predictTexts } from '../pipeline/actions';
import { runJob } from '../pipeline/run-job';
import { formatPercent } from '../../shared/format';
import { jsonReporter, lineReporter, ttyReporter, type Reporter } from './progress';
import { describeError } from './errors';
import { doctorCommand } from './doctor';
import { exportCommand } from './export';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}".`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}".`);
  return n;
};

function reporter(json: boolean): Reporter {
  if (json) return jsonReporter();
  return process.stderr.isTTY ? ttyReporter() : lineReporter();
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('distill-studio')
    .description('Distill a large fine-tuned text classifier into a small, fast one — on this machine.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let code = 0;
  program
    .command('doctor')
    .description('Show the hardware found and which execution provider training will use, with the reasons.')
    .option('--json', 'print the report as JSON')
    .action(async (o: { json?: boolean }) => {
      code = await doctorCommand(o);
    });

  program
    .command('train')
    .description('Distill a teacher into a student (defaults: the reference SST-2 job).')
    .option('--teacher <hub id|dir>', 'teacher: a Hub id or a folder with onnx/model.onnx')
    .option('--student <hub id|dir>', 'student: a Hub id or a Hugging Face checkpoint folder')
    .option('--train <file|sst2>', 'training data: a CSV/TSV/JSONL/parquet file, or sst2')
    .option('--valid <file>', 'labelled validation file (default: a seeded held-out slice of --train, or the SST-2 validation split)')
    .option('--text-column <name>', 'text column of the data files')
    .option('--label-column <name>', 'label column of the data files')
    .option('--epochs <n>', 'epochs', int('--epochs'))
    .option('--max-steps <n>', 'stop after this many steps', int('--max-steps'))
    .option('--batch-size <n>', 'batch size', int('--batch-size'))
    .option('--lr <x>', 'peak learning rate', num('--lr'))
    .option('--warmup-ratio <r>', 'fraction of steps for linear warm-up', num('--warmup-ratio'))
    .option('--weight-decay <w>', 'AdamW weight decay (not on biases and LayerNorm)', num('--weight-decay'))
    .option('--max-grad-norm <g>', 'clip the gradient norm (0: off)', num('--max-grad-norm'))
    .option('--temperature <t>', 'distillation temperature', num('--temperature'))
    .option('--alpha <a>', 'weight of the distillation term (1 - alpha on the labels)', num('--alpha'))
    .option('--max-length <n>', 'longest token sequence', int('--max-length'))
    .option('--seed <n>', 'seed for data order, splits and new weights', int('--seed'))
    .addOption(new Option('--dropout <on|off>', 'dropout while training').choices(['on', 'off']))
    .addOption(new Option('--order <order>', 'batch order').choices(['bucketed', 'file']))
    .option('--eval-every <n>', 'evaluate every N steps (and at each epoch end)', int('--eval-every'))
    .option('--checkpoint-every <n>', 'write a resumable checkpoint every N steps', int('--checkpoint-every'))
    .option('--early-stopping <n>', 'stop after N evaluations without improvement', int('--early-stopping'))
    .addOption(new Option('--provider <p>', 'execution provider').choices(['auto', 'cpu', 'cuda', 'dml']))
    .option('--threads <n>', 'CPU threads for ONNX Runtime', int('--threads'))
    .option('--valid-fraction <f>', 'held-out fraction when no --valid', num('--valid-fraction'))
    .option('--cache-dir <dir>', 'cache for downloads and teacher logits')
    .option('--offline', 'use only cached downloads')
    .requiredOption('--out <run dir>', 'the run folder')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--json', 'print one JSON event per line')
    .action(async (o: Record<string, unknown>) => {
      const input: JobConfigInput = {
        teacher: o.teacher as string | undefined,
        student: o.student as string | undefined,
        train: o.train as string | undefined,
        valid: (o.valid as string | undefined) ?? null,
        textColumn: (o.textColumn as string | undefined) ?? null,
        labelColumn: (o.labelColumn as string | undefined) ?? null,
        epochs: o.epochs as number | undefined,
        maxSteps: (o.maxSteps as number | undefined) ?? null,
        batchSize: o.batchSize as number | undefined,
        lr: o.lr as number | undefined,
        warmupRatio: o.warmupRatio as number | undefined,
        weightDecay: o.weightDecay as number | undefined,
        maxGradNorm: o.maxGradNorm as number | undefined,
        temperature: o.temperature as number | undefined,
        alpha: o.alpha as number | undefined,
        maxLength: o.maxLength as number | undefined,
        seed: o.seed as number | undefined,
        dropout: o.dropout === undefined ? undefined : o.dropout === 'on',
        order: o.order as 'bucketed' | 'file' | undefined,
        evalEvery: (o.evalEvery as number | undefined) ?? null,
        checkpointEvery: o.checkpointEvery as number | undefined,
        earlyStoppingPatience: (o.earlyStopping as number | undefined) ?? null,
        provider: o.provider as 'auto' | 'cpu' | 'cuda' | 'dml' | undefined,
        threads: (o.threads as number | undefined) ?? null,
        validFraction: o.validFraction as number | undefined,
        cacheDir: (o.cacheDir as string | undefined) ?? null,
        offline: Boolean(o.offline),
      };
      const job = parseJobConfig(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
      const report = reporter(Boolean(o.json));
      const abort = new AbortController();
      // Ctrl-C: finish the step, write a checkpoint, exit; a second Ctrl-C exits at once.
      const onSigint = () => {
        if (abort.signal.aborted) process.exit(130);
        process.stdout.write('\nStopping after this step (a checkpoint is written; continue with --resume). Press Ctrl-C again to quit at once.\n');
        abort.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        const s = await runJob(job, { out: o.out as string, resume: Boolean(o.resume), onEvent: report, control: { signal: abort.signal } });
        report.close();
        if (!o.json) {
          process.stdout.write(
            `Best: step ${s.best.step}, accuracy ${formatPercent(s.best.accuracy, 2)} (teacher ${formatPercent(s.best.teacherAccuracy, 2)}), agreement ${formatPercent(s.best.agreement, 2)}.\n`,
          );
        }
        code = s.status === 'cancelled' ? 130 : 0;
      } catch (e) {
        report.close();
        if (o.json) (report as (e: JobEvent) => void)({ type: 'error', code: (e as { code?: string }).code ?? 'error', message: describeError(e) });
        throw e;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });

  program
    .command('eval')
    .description('Accuracy of a model (run folder, .onnx file or Hugging Face folder) on a data file.')
    .requiredOption('--model <run dir|onnx|hf dir>', 'the model')
    .requiredOption('--data <file>', 'a CSV/TSV/JSONL/parquet file')
    .option('--text-column <name>', 'text column')
    .option('--label-column <name>', 'label column')
    .option('--json', 'print the result as JSON')
    .action(async (o: { model: string; data: string; textColumn?: string; labelColumn?: string; json?: boolean }) => {
      const r = await evaluateModel({ model: o.model, data: o.data, textColumn: o.textColumn, labelColumn: o.labelColumn });
      if (o.json) process.stdout.write(JSON.stringify({ model: r.model, sentences: r.sentences, accuracy: r.accuracy, labels: r.labels }) + '\n');
      else process.stdout.write(`${r.sentences} sentences${r.accuracy === null ? ' (no labels: accuracy not computed)' : `, accuracy ${formatPercent(r.accuracy, 2)}`}\n`);
    });

  program
    .command('export')
    .description('Export the best model of a run as ONNX (fp32 or int8) or a Hugging Face folder, verified on the validation set.')
    .requiredOption('--run <dir>', 'the run folder')
    .addOption(new Option('--format <format>', 'what to write').choices(['onnx', 'onnx-int8', 'hf']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'where to write it')
    .option('--force', 'replace an existing export there')
    .option('--json', 'print the result as JSON')
    .action(async (o: { run: string; format: 'onnx' | 'onnx-int8' | 'hf'; out: string; json?: boolean; force?: boolean }) => {
      code = await exportCommand(o);
    });

  program
    .command('predict')
    .description('Classify sentences with a model.')
    .requiredOption('--model <run dir|onnx|hf dir>', 'the model')
    .argument('<text...>', 'one or more sentences')
    .option('--json', 'print the predictions as JSON')
    .action(async (texts: string[], o: { model: string; json?: boolean }) => {
      const preds = await predictTexts({ model: o.model, texts });
      for (const p of preds) {
        if (o.json) process.stdout.write(JSON.stringify(p) + '\n');
        else process.stdout.write(`${p.label} (${formatPercent(p.probabilities[p.label])})\t${p.text}\n`);
      }
    });

  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    process.stderr.write(`distill-studio: ${describeError(e)}\n`);
    if (process.env.DISTILL_STUDIO_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
