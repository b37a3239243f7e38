/**
 * Optimisation on tf.Variables: AdamW with decoupled weight decay (Loshchilov & Hutter 2019),
 * global-norm gradient clipping, gradient accumulation over micro-batches, and a one-call
 * training step. Optimiser state exports to plain arrays for checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWOptions {
  /** Learning rate when step() is not given one; default 1e-3. */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999 (0.95 is common for language models). */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay per unit of learning rate; default 0.01. */
  weightDecay?: number;
  /**
   * Which variables decay. Default: matrices only (rank >= 2), not norms, biases or heads'
   * scalars, as is usual for transformers.
   */
  decays?: (variable: tf.Variable) => boolean;
}

/** Plain-array optimiser state, in the order of the variables it was created with. */
export interface AdamWState {
  step: number;
  names: string[];
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  readonly variables: tf.Variable[];
  private readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly decays: boolean[];
  private m: tf.Variable[];
  private v: tf.Variable[];
  private stepCount = 0;

  constructor(variables: tf.Variable[], options: AdamWOptions = {}) {
    this.variables = variables;
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    const decays = options.decays ?? ((v: tf.Variable) => v.rank >= 2);
    this.decays = variables.map(decays);
    this.m = variables.map((v) => tf.variable(tf.zerosLike(v), false));
    this.v = variables.map((v) => tf.variable(tf.zerosLike(v), false));
  }

  get step(): number {
    return this.stepCount;
  }

  /**
   * Applies one update. `grads` maps variable names to gradients (what tf.variableGrads
   * returns). Variables without a gradient (frozen, or unused this step) are left untouched,
   * decay included, as PyTorch's AdamW does.
   */
  applyGradients(grads: tf.NamedTensorMap, lr = this.lr): void {
    this.stepCount++;
    const t = this.stepCount;
    const correction1 = 1 - Math.pow(this.beta1, t);
    const correction2 = 1 - Math.pow(this.beta2, t);
    tf.tidy(() => {
      this.variables.forEach((variable, i) => {
        const decay = this.decays[i] ? lr * this.weightDecay : 0;
        const grad = grads[variable.name];
        if (!grad) return;
        const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(grad, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        // p <- p - lr * (m_hat / (sqrt(v_hat) + eps)) - lr * wd * p
        const denom = tf.add(tf.sqrt(tf.div(v, correction2)), this.eps);
        const update = tf.div(tf.div(m, correction1), denom);
        const decayed = decay > 0 ? tf.mul(variable, 1 - decay) : variable;
        variable.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    });
  }

  exportState(): AdamWState {
    return {
      step: this.stepCount,
      names: this.variables.map((v) => v.name),
      m: this.m.map((t) => Float32Array.from(t.dataSync() as Float32Array)),
      v: this.v.map((t) => Float32Array.from(t.dataSync() as Float32Array)),
    };
  }

  importState(state: AdamWState): void {
    if (state.m.length !== this.variables.length || state.v.length !== this.variables.length) {
      throw new Error(`optimiser state holds ${state.m.length} variables, this optimiser ` +
        `${this.variables.length}`);
    }
    this.variables.forEach((variable, i) => {
      if (state.m[i].length !== variable.size || state.v[i].length !== variable.size) {
        throw new Error(`optimiser state entry ${i} (${state.names[i]}) has ` +
          `${state.m[i].length} values, variable ${variable.name} has ${variable.size}`);
      }
      this.m[i].assign(tf.tensor(state.m[i], variable.shape));
      this.v[i].assign(tf.tensor(state.v[i], variable.shape));
    });
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm. Returns new tensors (the inputs
 * are not disposed) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number):
  { grads: tf.NamedTensorMap; norm: number } {
  const names = Object.keys(grads);
  const norm = tf.tidy(() => {
    const squares = names.map((name) => tf.sum(tf.square(grads[name])));
    return squares.length > 0 ? Math.sqrt(tf.addN(squares).dataSync()[0]) : 0;
  });
  const scale = norm > maxNorm && norm > 0 ? maxNorm / norm : 1;
  const clipped: tf.NamedTensorMap = {};
  for (const name of names) {
    clipped[name] = scale === 1 ? tf.clone(grads[name]) : tf.tidy(() => tf.mul(grads[name], scale));
  }
  return { grads: clipped, norm };
}

/** Sums gradients of several micro-batches, then hands back their weighted mean. */
export class GradientAccumulator {
  private sums: tf.NamedTensorMap = {};
  private totalWeight = 0;

  /** Adds one micro-batch's gradients (not disposed) with a weight, e.g. its token count. */
  add(grads: tf.NamedTensorMap, weight = 1): void {
    for (const [name, grad] of Object.entries(grads)) {
      const previous = this.sums[name];
      this.sums[name] = tf.tidy(() => {
        const scaled = tf.mul(grad, weight);
        return previous ? tf.add(previous, scaled) : scaled;
      });
      previous?.dispose();
    }
    this.totalWeight += weight;
  }

  get weight(): number {
    return this.totalWeight;
  }

  /** The weighted mean gradient; the accumulator is empty afterwards. */
  take(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const [name, sum] of Object.entries(this.sums)) {
      out[name] = tf.tidy(() => tf.div(sum, this.totalWeight || 1));
      sum.dispose();
    }
    this.sums = {};
    this.totalWeight = 0;
    return out;
  }
}

export interface TrainStepOptions {
  /** Builds the scalar loss; called inside the gradient tape. */
  loss: () => tf.Scalar;
  optimizer: AdamW;
  /** Learning rate of this step; default the optimiser's. */
  lr?: number;
  /** Clip the global gradient norm to this; default no clipping. */
  maxGradNorm?: number;
}

/** Loss, gradients of the optimiser's variables, optional clipping, one AdamW update. */
export function trainStep(options: TrainStepOptions): { loss: number; gradNorm: number } {
  const { value, grads } = tf.variableGrads(options.loss, options.optimizer.variables);
  const loss = value.dataSync()[0];
  value.dispose();
  const { grads: clipped, norm } = clipByGlobalNorm(grads, options.maxGradNorm ?? Infinity);
  disposeMap(grads);
  options.optimizer.applyGradients(clipped, options.lr);
  disposeMap(clipped);
  return { loss, gradNorm: norm };
}

export function disposeMap(map: tf.NamedTensorMap): void {
  for (const t of Object.values(map)) t.dispose();
}
