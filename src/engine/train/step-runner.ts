// Runs the compiled training step in an ONNX Runtime inference session and carries the
// parameters and AdamW moments from one step to the next.
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../models/config';
import type { ParamSpec } from '../models/params';
import { adamwScalars, ADAMW_SCALAR_NAMES } from './adamw';
import { buildStepGraph, stateName, type StepGraphOptions } from './step-graph';

/** One batch, row-major. Token tensors are (B, T); labels (B); teacher logits (B, C). */
export interface Batch {
  size: number;
  seq: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds?: BigInt64Array;
  /** Class ids; rows without a label carry any valid id and `labelled[i] = false`. */
  labels: BigInt64Array;
  labelled?: boolean[];
  teacherLogits: Float32Array;
}

export interface StepResult {
  loss: number;
  kl: number;
  ce: number;
  gradNorm: number;
  /** (B, C) student logits of the forward pass (before the update). */
  logits: Float32Array;
  /** Gradients before clipping, when the graph exposes them. */
  grads?: Map<string, Float32Array>;
}

/** Parameters and optimizer state: everything needed to continue training exactly. */
export interface TrainState {
  /** Number of optimizer steps taken. */
  step: number;
  params: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export interface StepRunnerOptions extends StepGraphOptions {
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export class StepRunner {
  private constructor(
    readonly cfg: ModelConfig,
    readonly specs: ParamSpec[],
    private readonly session: ort.InferenceSession,
    private readonly opts: StepRunnerOptions,
    private state: TrainState,
    private readonly inputNames: Set<string>,
  ) {}

  static async create(cfg: ModelConfig, weights: Map<string, Float32Array>, opts: StepRunnerOptions, state?: TrainState): Promise<StepRunner> {
    const { graph, specs } = buildStepGraph(cfg, opts);
    for (const s of specs) {
      const w = weights.get(s.name);
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (!w) throw new Error(`the student checkpoint has no tensor '${s.name}' (expected shape [${s.shape}])`);
      if (w.length !== n) throw new Error(`the student tensor '${s.name}' has ${w.length} values; the config implies [${s.shape}] = ${n}`);
    }
    const session = await ort.InferenceSession.create(graph.toBytes(), {
      graphOptimizationLevel: 'all',
      ...opts.sessionOptions,
    });
    const init: TrainState = state ?? {
      step: 0,
      params: new Map(specs.map((s) => [s.name, Float32Array.from(weights.get(s.name)!)])),
      m: new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)])),
      v: new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)])),
    };
    return new StepRunner(cfg, specs, session, opts, init, new Set(session.inputNames));
  }

  get step(): number {
    return this.state.step;
  }

  /** The live state (not a copy): valid until the next `run`. */
  currentState(): TrainState {
    return this.state;
  }

  /** One optimizer step at learning rate `lr` (the scheduled rate for this step). */
  async run(batch: Batch, lr: number): Promise<StepResult> {
    const B = batch.size, T = batch.seq, C = this.cfg.numLabels;
    const t = this.state.step + 1;
    const sc = adamwScalars(this.opts.adamw, lr, t);
    const labelled = batch.labelled ?? null;
    const nLabelled = labelled ? labelled.filter(Boolean).length : B;
    const ceWeight = new Float32Array(B);
    for (let i = 0; i < B; i++) ceWeight[i] = (labelled ? labelled[i] : true) && nLabelled > 0 ? 1 / nLabelled : 0;

    const f32 = (a: Float32Array, dims: number[]) => new ort.Tensor('float32', a, dims);
    const i64 = (a: BigInt64Array, dims: number[]) => new ort.Tensor('int64', a, dims);
    const scalar = (x: number) => f32(new Float32Array([x]), []);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(batch.inputIds, [B, T]),
      attention_mask: i64(batch.attentionMask, [B, T]),
      labels: i64(batch.labels, [B]),
      ce_weight: f32(ceWeight, [B]),
      teacher_logits: f32(batch.teacherLogits, [B, C]),
      batch_size: scalar(B),
      [ADAMW_SCALAR_NAMES.decayFactor]: scalar(sc.decayFactor),
      [ADAMW_SCALAR_NAMES.stepSize]: scalar(sc.stepSize),
      [ADAMW_SCALAR_NAMES.bc2Sqrt]: scalar(sc.bc2Sqrt),
    };
    if (this.inputNames.has('token_type_ids')) feeds.token_type_ids = i64(batch.tokenTypeIds ?? new BigInt64Array(B * T), [B, T]);
    for (const s of this.specs) {
      feeds[stateName.param(s.name)] = f32(this.state.params.get(s.name)!, s.shape);
      feeds[stateName.m(s.name)] = f32(this.state.m.get(s.name)!, s.shape);
      feeds[stateName.v(s.name)] = f32(this.state.v.get(s.name)!, s.shape);
    }

    const out = await this.session.run(feeds);
    const next: TrainState = { step: t, params: new Map(), m: new Map(), v: new Map() };
    for (const s of this.specs) {
      next.params.set(s.name, out[stateName.next(stateName.param(s.name))].data as Float32Array);
      next.m.set(s.name, out[stateName.next(stateName.m(s.name))].data as Float32Array);
      next.v.set(s.name, out[stateName.next(stateName.v(s.name))].data as Float32Array);
    }
    this.state = next;
    const num = (k: string) => Number((out[k].data as Float32Array)[0]);
    const result: StepResult = { loss: num('loss'), kl: num('kl'), ce: num('ce'), gradNorm: num('grad_norm'), logits: out.logits.data as Float32Array };
    if (this.opts.exposeGrads) result.grads = new Map(this.specs.map((s) => [s.name, out[stateName.grad(s.name)].data as Float32Array]));
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
