// Runs the compiled training step in an ONNX Runtime inference session and carries the
// parameter buffers and AdamW moments from one step to the next.
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../models/config';
import { adamwScalars, ADAMW_SCALAR_NAMES } from './adamw';
import { bufferKeys, bufferName, packBuffers, unpackViews, zeroBuffers, type Buffers, type ParamLayout } from './param-layout';
import { buildStepGraph, gradName, type StepGraphOptions } from './step-graph';

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

/** Parameters and optimizer state by Hugging Face name: everything needed to continue exactly. */
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
  private step_ = 0;
  private p: Buffers;
  private m: Buffers;
  private v: Buffers;

  private constructor(
    readonly cfg: ModelConfig,
    readonly layout: ParamLayout,
    private readonly session: ort.InferenceSession,
    private readonly opts: StepRunnerOptions,
    weights: Map<string, Float32Array>,
    state?: TrainState,
  ) {
    if (state) {
      this.step_ = state.step;
      this.p = packBuffers(layout, state.params);
      this.m = packBuffers(layout, state.m);
      this.v = packBuffers(layout, state.v);
    } else {
      this.p = packBuffers(layout, weights);
      this.m = zeroBuffers(layout);
      this.v = zeroBuffers(layout);
    }
  }

  /** Compiles the step graph for `cfg` and opens it; `state` continues an earlier run exactly. */
  static async create(cfg: ModelConfig, weights: Map<string, Float32Array>, opts: StepRunnerOptions, state?: TrainState): Promise<StepRunner> {
    const { graph, layout } = buildStepGraph(cfg, opts);
    const source = state?.params ?? weights;
    for (const s of layout.specs) {
      const w = source.get(s.name);
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (!w) throw new Error(`the student checkpoint has no tensor '${s.name}' (expected shape [${s.shape}])`);
      if (w.length !== n) throw new Error(`the student tensor '${s.name}' has ${w.length} values; its config implies [${s.shape}] = ${n}`);
    }
    const session = await ort.InferenceSession.create(graph.toBytes(), { graphOptimizationLevel: 'all', ...opts.sessionOptions });
    return new StepRunner(cfg, layout, session, opts, weights, state);
  }

  get step(): number {
    return this.step_;
  }

  /** Parameters and moments by name, as views of the live buffers: valid until the next `run`. */
  currentState(): TrainState {
    return { step: this.step_, params: unpackViews(this.layout, this.p), m: unpackViews(this.layout, this.m), v: unpackViews(this.layout, this.v) };
  }

  /** One optimizer step at learning rate `lr` (the scheduled rate for this step). */
  async run(batch: Batch, lr: number): Promise<StepResult> {
    const B = batch.size, T = batch.seq, C = this.cfg.numLabels;
    const t = this.step_ + 1;
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
    if (this.cfg.arch === 'bert') feeds.token_type_ids = i64(batch.tokenTypeIds ?? new BigInt64Array(B * T), [B, T]);
    const dims = (key: string) => (key === this.layout.table.key ? [this.layout.table.rows, this.layout.table.width] : [this.p.get(key)!.length]);
    for (const key of bufferKeys(this.layout)) {
      feeds[bufferName.param(key)] = f32(this.p.get(key)!, dims(key));
      feeds[bufferName.m(key)] = f32(this.m.get(key)!, dims(key));
      feeds[bufferName.v(key)] = f32(this.v.get(key)!, dims(key));
    }

    const out = await this.session.run(feeds);
    for (const key of bufferKeys(this.layout)) {
      this.p.set(key, out[bufferName.next(bufferName.param(key))].data as Float32Array);
      this.m.set(key, out[bufferName.next(bufferName.m(key))].data as Float32Array);
      this.v.set(key, out[bufferName.next(bufferName.v(key))].data as Float32Array);
    }
    this.step_ = t;
    const num = (k: string) => Number((out[k].data as Float32Array)[0]);
    const result: StepResult = { loss: num('loss'), kl: num('kl'), ce: num('ce'), gradNorm: num('grad_norm'), logits: out.logits.data as Float32Array };
    if (this.opts.exposeGrads) result.grads = new Map(this.layout.specs.map((s) => [s.name, out[gradName(s.name)].data as Float32Array]));
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
