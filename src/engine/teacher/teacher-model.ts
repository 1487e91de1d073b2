// The teacher: an ONNX export (as Optimum writes it) that maps token tensors to `logits`.
// It never trains; the engine only runs it, feeding exactly the inputs it declares.
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { CLASSIFIER_INPUTS, type ClassifierInput } from '../infer/classify';
import path from 'node:path';

export class TeacherModelError extends Error {
  constructor(
    readonly code: 'missing' | 'unreadable' | 'no-logits' | 'unknown-input',
    message: string,
  ) {
    super(message);
    this.name = 'TeacherModelError';
  }
}


export interface TeacherModel {
  session: ort.InferenceSession;
  file: string;
  /** The token inputs this graph declares (DistilBERT has no token_type_ids). */
  inputs: ClassifierInput[];
}

/** The ONNX file of a teacher folder: `onnx/model.onnx`, else `model.onnx`. */
export function teacherOnnxPath(dirOrFile: string): string {
  if (dirOrFile.endsWith('.onnx')) return dirOrFile;
  for (const rel of ['onnx/model.onnx', 'model.onnx']) {
    const p = path.join(dirOrFile, rel);
    if (existsSync(p)) return p;
  }
  throw new TeacherModelError(
    'missing',
    `No ONNX model in ${dirOrFile}: expected onnx/model.onnx or model.onnx. Export the teacher with Optimum (optimum-cli export onnx) or pick a Hub model that ships one.`,
  );
}

/** Opens a teacher ONNX model and checks that it is a text classifier we can feed. */
export async function openTeacher(dirOrFile: string, options: ort.InferenceSession.SessionOptions = {}): Promise<TeacherModel> {
  const file = teacherOnnxPath(dirOrFile);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', ...options });
  } catch (e) {
    throw new TeacherModelError('unreadable', `${file} could not be loaded by ONNX Runtime: ${firstLine(e)}. Re-export the model or download it again.`);
  }
  if (!session.outputNames.includes('logits')) {
    await session.release();
    throw new TeacherModelError(
      'no-logits',
      `${file} has no 'logits' output (it has: ${session.outputNames.join(', ') || 'none'}). Export the teacher as a sequence-classification model (optimum-cli export onnx --task text-classification).`,
    );
  }
  const unknown = session.inputNames.filter((n) => !(CLASSIFIER_INPUTS as readonly string[]).includes(n));
  if (unknown.length || !session.inputNames.includes('input_ids')) {
    await session.release();
    throw new TeacherModelError(
      'unknown-input',
      `${file} declares inputs ${session.inputNames.join(', ')}; a text classifier takes input_ids and optionally attention_mask and token_type_ids.`,
    );
  }
  return { session, file, inputs: session.inputNames as ClassifierInput[] };
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}
