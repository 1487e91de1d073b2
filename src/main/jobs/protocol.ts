// The messages between the job manager (main process) and a job worker (its own process), with
// zod validators used on both sides: whatever crosses the process boundary is checked before it
// is acted on, and a malformed message is rejected with one line that says what is wrong.
//
//   parent -> worker   start (once) | pause | resume | cancel
//   worker -> parent   ready (once, when it listens) | event | log | finished | failed
//
// `ready` exists because a Node child started with child_process.fork drops messages that
// arrive before it has a 'message' listener (its module graph is still loading): the parent
// sends `start` only once the worker has said it is listening.
import { z } from 'zod';
import type { RunSummary } from '../../engine/pipeline/api';
import type { JobEvent } from '../../shared/events';
import { JobConfigSchema, type JobConfig } from '../../shared/job-config';

/** Any JS number, NaN and ±Infinity included (structured clone keeps them; a loss may be NaN). */
const num = z.custom<number>((v) => typeof v === 'number', { message: 'expected a number' });
const stage = z.enum(['download', 'tokenize', 'teacher', 'train', 'evaluate', 'export']);
const evalMetrics = {
  accuracy: num,
  teacherAccuracy: num,
  agreement: num,
  loss: num,
  kl: num,
  ce: num,
  sentences: num,
};

export const JobEventSchema: z.ZodType<JobEvent> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stage'), stage, status: z.enum(['start', 'end']), seconds: num.optional(), detail: z.string().optional() }),
  z.object({ type: z.literal('progress'), stage, done: num, total: num, unit: z.string(), rate: num, etaSeconds: num.nullable() }),
  z.object({ type: z.literal('step'), step: num, totalSteps: num, epoch: num, loss: num, kl: num, ce: num, lr: num, gradNorm: num, samplesPerSecond: num }),
  z.object({ type: z.literal('eval'), step: num, epoch: num, best: z.boolean(), ...evalMetrics }),
  z.object({ type: z.literal('checkpoint'), step: num, path: z.string(), best: z.boolean() }),
  z.object({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
  z.object({ type: z.literal('paused'), step: num }),
  z.object({ type: z.literal('resumed'), step: num }),
  z.object({ type: z.literal('done'), status: z.enum(['completed', 'cancelled', 'early-stopped']), summaryPath: z.string().nullable() }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);

/** summary.json as the worker reports it: the fields the manager reads are checked, the rest passes through. */
const RunSummarySchema = z.custom<RunSummary>(
  (v) =>
    z
      .looseObject({
        status: z.enum(['completed', 'cancelled', 'early-stopped']),
        steps: num,
        best: z.looseObject({ accuracy: num, step: num }),
        final: z.looseObject({ accuracy: num, step: num }),
      })
      .safeParse(v).success,
  { message: 'expected a run summary (status, steps, best, final)' },
);

const runId = z.string().min(1).max(200);

export const ParentMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), runId, runDir: z.string().min(1), config: JobConfigSchema, resume: z.boolean() }),
  z.object({ type: z.literal('pause') }),
  z.object({ type: z.literal('resume') }),
  z.object({ type: z.literal('cancel') }),
]);

export const WorkerMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int() }),
  z.object({ type: z.literal('event'), event: JobEventSchema }),
  z.object({ type: z.literal('log'), line: z.string() }),
  z.object({ type: z.literal('finished'), status: z.enum(['completed', 'cancelled', 'early-stopped']), summary: RunSummarySchema.nullable() }),
  z.object({ type: z.literal('failed'), message: z.string(), code: z.string() }),
]);

export type StartMessage = { type: 'start'; runId: string; runDir: string; config: JobConfig; resume: boolean };
export type ParentMessage = StartMessage | { type: 'pause' } | { type: 'resume' } | { type: 'cancel' };
export type WorkerMessage =
  | { type: 'ready'; pid: number }
  | { type: 'event'; event: JobEvent }
  | { type: 'log'; line: string }
  /** summary: null when the run was cancelled before it produced one (e.g. during the teacher pass). */
  | { type: 'finished'; status: RunSummary['status']; summary: RunSummary | null }
  | { type: 'failed'; message: string; code: string };

// The hand-written types above are what the code uses; these lines keep them and the schemas in step.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _parentInSync: Same<z.infer<typeof ParentMessageSchema>, ParentMessage> = true;
const _workerInSync: Same<z.infer<typeof WorkerMessageSchema>, WorkerMessage> = true;
void _parentInSync;
void _workerInSync;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'message'}: ${i.message}`)
    .join('; ');
}

function preview(data: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(data) ?? String(data);
  } catch {
    s = String(data);
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Validates a message for the worker; throws ProtocolError (one line) when it is malformed. */
export function parseParentMessage(data: unknown): ParentMessage {
  const r = ParentMessageSchema.safeParse(data);
  if (!r.success) throw new ProtocolError(`Malformed message to the worker (${describeIssues(r.error)}): ${preview(data)}`);
  return r.data;
}

/** Validates a message from the worker; throws ProtocolError (one line) when it is malformed. */
export function parseWorkerMessage(data: unknown): WorkerMessage {
  const r = WorkerMessageSchema.safeParse(data);
  if (!r.success) throw new ProtocolError(`Malformed message from the worker (${describeIssues(r.error)}): ${preview(data)}`);
  return r.data;
}
