/**
 * AdamW (Loshchilov & Hutter 2019, decoupled weight decay) over tf.Variables, with its moment
 * estimates exportable as plain arrays so a checkpoint restores the optimiser exactly, and
 * gradient clipping by global norm (Pascanu et al. 2013).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWOptions {
  learningRate: number;
  /** 0.9 */
  beta1?: number;
  /** 0.999 */
  beta2?: number;
  /** 1e-8 */
  eps?: number;
  /** Decoupled weight decay; 0 by default. */
  weightDecay?: number;
}

/** Optimiser state as plain data: the step count and both moments of every variable, in order. */
export interface AdamWState {
  step: number;
  moments: { shape: number[]; m: Float32Array; v: Float32Array }[];
}

export class AdamW {
  learningRate: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private step = 0;
  private m: tf.Variable[] = [];
  private v: tf.Variable[] = [];

  constructor(options: AdamWOptions) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  /** One update of `variables` by `grads` (same order, same shapes). */
  apply(variables: tf.Variable[], grads: tf.Tensor[]): void {
    if (this.m.length === 0) {
      this.m = variables.map((x) => tf.variable(tf.zerosLike(x), false));
      this.v = variables.map((x) => tf.variable(tf.zerosLike(x), false));
    }
    this.step++;
    const correction1 = 1 - this.beta1 ** this.step;
    const correction2 = 1 - this.beta2 ** this.step;
    const lr = this.learningRate;
    tf.tidy(() => {
      variables.forEach((x, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.beta1, this.m[i]), tf.mul(1 - this.beta1, g));
        const v = tf.add(tf.mul(this.beta2, this.v[i]), tf.mul(1 - this.beta2, tf.square(g)));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const direction = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), this.eps));
        const decayed = this.weightDecay > 0 ? tf.mul(x, 1 - lr * this.weightDecay) : x;
        x.assign(tf.sub(decayed, tf.mul(lr, direction)));
      });
    });
  }

  exportState(): AdamWState {
    return {
      step: this.step,
      moments: this.m.map((m, i) => ({
        shape: m.shape.slice(),
        m: new Float32Array(m.dataSync()),
        v: new Float32Array(this.v[i].dataSync()),
      })),
    };
  }

  importState(state: AdamWState): void {
    this.dispose();
    this.step = state.step;
    this.m = state.moments.map((s) => tf.variable(tf.tensor(s.m, s.shape), false));
    this.v = state.moments.map((s) => tf.variable(tf.tensor(s.v, s.shape), false));
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
    this.m = [];
    this.v = [];
  }
}

/**
 * Scales gradients so their joint L2 norm is at most `maxNorm`; returns the clipped gradients
 * and the norm before clipping (NaN or Infinity when a gradient is not finite).
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const normTensor = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
  const norm = normTensor.dataSync()[0];
  normTensor.dispose();
  if (!Number.isFinite(norm) || norm <= maxNorm || maxNorm <= 0) return { grads, norm };
  const scale = maxNorm / (norm + 1e-6);
  return { grads: grads.map((g) => tf.mul(g, scale)), norm };
}
