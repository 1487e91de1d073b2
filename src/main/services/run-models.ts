// A run's teacher and student, opened for inference and kept open between calls (the comparison
// view and "try a sentence" both use them). The student is the run's best checkpoint, the same
// weights summary.json's best accuracy was measured on; a newer best checkpoint reopens it.
import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadTokenizer, type TextTokenizer } from '../../engine/data/tokenizer';
import { studentOnnxBytes } from '../../engine/export/onnx-export';
import { loadRunModel } from '../../engine/pipeline/export-run';
import type { ModelConfig } from '../../engine/models/config';
import { parameterCount, parameterSpecs } from '../../engine/models/params';
import { parseModelConfig } from '../../engine/models/config';
import { openTeacher } from '../../engine/teacher/teacher-model';

export interface OpenedSide {
  source: string;
  session: ort.InferenceSession;
  tokenizer: TextTokenizer;
  inputs: string[];
  parameters: number | null;
  /** Size of the model on disk (the teacher's ONNX file; the student's export/model.onnx, or its fp32 ONNX size). */
  sizeBytes: number;
}

export interface OpenedRun {
  runDir: string;
  labels: string[];
  maxLength: number;
  /** The run's validation sentences and the labels they were scored against (validation.jsonl). */
  valid: { texts: string[]; labels: number[] };
  teacher: OpenedSide;
  student: OpenedSide & { cfg: ModelConfig };
}

interface RunConfigFile {
  job: { teacher: string; student: string };
  resolved: { teacher: { dir: string; onnx: string } };
}

export class RunModelsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunModelsError';
  }
}

function teacherParameters(dir: string): number | null {
  try {
    const json = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as unknown;
    return parameterCount(parameterSpecs(parseModelConfig(json, path.join(dir, 'config.json'))));
  } catch {
    return null;
  }
}

/** Opens the teacher and the best student of a run folder. */
export async function openRun(runDir: string, sessionOptions: ort.InferenceSession.SessionOptions = {}): Promise<OpenedRun> {
  const m = await loadRunModel(runDir);
  const run = JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8')) as RunConfigFile;
  const teacherFile = run.resolved.teacher.onnx;
  if (!existsSync(teacherFile)) {
    throw new RunModelsError(`The teacher of this run is no longer at ${teacherFile}: put it back (or download it again by starting a run with it) to compare.`);
  }
  const [teacherTok, studentTok] = await Promise.all([loadTokenizer(run.resolved.teacher.dir), loadTokenizer(m.studentDir)]);
  const bytes = studentOnnxBytes(m.cfg, m.weights);
  const teacher = await openTeacher(teacherFile, sessionOptions);
  let student: ort.InferenceSession;
  try {
    student = await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (e) {
    await teacher.session.release();
    throw e;
  }
  const exported = path.join(runDir, 'export', 'model.onnx');
  return {
    runDir,
    labels: m.labels,
    maxLength: m.maxLength,
    valid: m.valid,
    teacher: {
      source: run.job.teacher,
      session: teacher.session,
      tokenizer: teacherTok,
      inputs: teacher.inputs,
      parameters: teacherParameters(run.resolved.teacher.dir),
      sizeBytes: statSync(teacherFile).size,
    },
    student: {
      source: run.job.student,
      session: student,
      tokenizer: studentTok,
      inputs: [...student.inputNames],
      parameters: parameterCount(parameterSpecs(m.cfg)),
      sizeBytes: existsSync(exported) ? statSync(exported).size : bytes.byteLength,
      cfg: m.cfg,
    },
  };
}

export async function releaseRun(r: OpenedRun): Promise<void> {
  await Promise.allSettled([r.teacher.session.release(), r.student.session.release()]);
}

/** What identifies the best checkpoint's version: a new best reopens the run. */
function stampOf(runDir: string): string {
  try {
    const st = statSync(path.join(runDir, 'checkpoints', 'best', 'model.safetensors'));
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return 'none';
  }
}

interface Entry {
  stamp: string;
  opened: Promise<OpenedRun>;
  /** Uses of one run's sessions run one after another (latency is measured alone). */
  queue: Promise<unknown>;
}

export interface RunModelsOptions {
  sessionOptions?: () => ort.InferenceSession.SessionOptions;
  /** Runs kept open at once (least recently used are closed first; default 2). */
  max?: number;
  open?: typeof openRun;
}

/** Opened runs by folder, least recently used closed first. */
export class RunModels {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly o: RunModelsOptions = {}) {}

  /** Runs `fn` with the opened run, after any earlier use of the same run has finished. */
  async use<T>(runDir: string, fn: (r: OpenedRun) => Promise<T>): Promise<T> {
    const key = path.resolve(runDir);
    const stamp = stampOf(key);
    let entry = this.entries.get(key);
    if (entry && entry.stamp !== stamp) {
      this.entries.delete(key);
      const old = entry;
      void old.queue.finally(() => old.opened.then(releaseRun, () => undefined));
      entry = undefined;
    }
    if (!entry) {
      const opened = (this.o.open ?? openRun)(key, this.o.sessionOptions?.() ?? {});
      entry = { stamp, opened, queue: Promise.resolve() };
      // A failed open is not cached.
      opened.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    } else {
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    this.evict();
    const e = entry;
    const result = e.queue.then(async () => fn(await e.opened));
    e.queue = result.catch(() => undefined);
    return result;
  }

  /** Number of runs held open. */
  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    const max = this.o.max ?? 2;
    while (this.entries.size > max) {
      const [key, e] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(key);
      void e.queue.finally(() => e.opened.then(releaseRun, () => undefined));
    }
  }

  /** Closes every session. */
  async dispose(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(all.map((e) => e.queue.finally(() => e.opened.then(releaseRun, () => undefined))));
  }
}
