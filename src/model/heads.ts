/**
 * Small trainable heads on top of a model's final hidden states: a value head (a scalar per
 * token, for PPO's critic) and a reward head (a scalar per sequence, read at the last real
 * token, for Bradley-Terry reward models). Each owns its variables and can be saved and loaded
 * as plain arrays.
 */
import * as tf from '@tensorflow/tfjs-core';

import { makeRng } from '../util/rng.ts';

export interface HeadOptions {
  /** Width of the hidden states the head reads. */
  dim: number;
  /** Seed of the weight initialisation; default 0. */
  seed?: number;
  /**
   * Weights start uniform in +-initScale / sqrt(dim) (PyTorch's Linear default at 1); 0 starts
   * the head at exactly zero output. Default 1.
   */
  initScale?: number;
}

/** Plain-array state of a head, for checkpoints. */
export interface HeadState {
  weight: Float32Array; // [dim]
  bias: Float32Array; // [1]
}

let headCounter = 0;

class LinearHead {
  readonly dim: number;
  readonly weight: tf.Variable; // [dim, 1]
  readonly bias: tf.Variable; // [1]

  constructor(kind: string, options: HeadOptions) {
    const { dim } = options;
    const rng = makeRng(options.seed ?? 0).fork(kind);
    const bound = (options.initScale ?? 1) / Math.sqrt(dim);
    const init = Float32Array.from({ length: dim }, () => (rng.next() * 2 - 1) * bound);
    const id = headCounter++;
    this.dim = dim;
    this.weight = tf.variable(tf.tensor2d(init, [dim, 1]), true, `${kind}_weight_${id}`);
    this.bias = tf.variable(tf.zeros([1]), true, `${kind}_bias_${id}`);
  }

  /** Scalar per position: hidden [B, T, dim] -> [B, T]. */
  protected perToken(hidden: tf.Tensor3D): tf.Tensor2D {
    const [batch, seqLen, dim] = hidden.shape;
    if (dim !== this.dim) throw new Error(`head expects width ${this.dim}, got hidden of ${dim}`);
    return tf.tidy(() => {
      const flat = tf.matMul(tf.reshape(hidden, [batch * seqLen, dim]), this.weight);
      return tf.reshape(tf.add(flat, this.bias), [batch, seqLen]) as tf.Tensor2D;
    });
  }

  variables(): tf.Variable[] {
    return [this.weight, this.bias];
  }

  exportState(): HeadState {
    return {
      weight: Float32Array.from(this.weight.dataSync() as Float32Array),
      bias: Float32Array.from(this.bias.dataSync() as Float32Array),
    };
  }

  importState(state: HeadState): void {
    if (state.weight.length !== this.dim || state.bias.length !== 1) {
      throw new Error(`head state has ${state.weight.length} weights and ${state.bias.length} ` +
        `biases, expected ${this.dim} and 1`);
    }
    this.weight.assign(tf.tensor2d(state.weight, [this.dim, 1]));
    this.bias.assign(tf.tensor1d(state.bias));
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}

/** PPO critic: a value estimate at every token. */
export class ValueHead extends LinearHead {
  constructor(options: HeadOptions) {
    super('value_head', options);
  }

  /** hidden [B, T, dim] -> values [B, T]. Differentiable. */
  apply(hidden: tf.Tensor3D): tf.Tensor2D {
    return this.perToken(hidden);
  }
}

/** Reward model head: one score per sequence, read at its last real token. */
export class RewardHead extends LinearHead {
  constructor(options: HeadOptions) {
    super('reward_head', options);
  }

  /**
   * hidden [B, T, dim], mask [B, T] (1 = real token, either padding side) -> rewards [B].
   * Without a mask the last position is read. Differentiable.
   */
  apply(hidden: tf.Tensor3D, mask?: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const perToken = this.perToken(hidden);
      const seqLen = hidden.shape[1];
      const last = mask ? lastRealIndex(mask) : tf.fill([hidden.shape[0]], seqLen - 1, 'int32');
      return tf.sum(tf.mul(perToken, tf.oneHot(last as tf.Tensor1D, seqLen)), 1) as tf.Tensor1D;
    });
  }
}

/** Index of the last position with mask 1 in each row: mask [B, T] -> int32 [B]. */
export function lastRealIndex(mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const seqLen = mask.shape[1];
    // (t + 1) where real, 0 where padding; the arg max is the last real position.
    const ranks = tf.mul(tf.cast(mask, 'float32'), tf.range(1, seqLen + 1, 1, 'float32'));
    return tf.cast(tf.argMax(ranks, 1), 'int32') as tf.Tensor1D;
  });
}
