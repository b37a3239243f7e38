/**
 * A linear head from a model's hidden states to one number per position: the value head of PPO
 * (on the policy's hidden states) and the reward head of a reward model (read at the last real
 * token).
 */
import * as tf from '@tensorflow/tfjs-core';

export class ScalarHead {
  readonly weight: tf.Variable; // [dim, 1]
  readonly bias: tf.Variable; // [1]

  constructor(readonly dim: number, options: { seed?: number; name?: string } = {}) {
    // Small initial outputs keep early value/reward estimates near 0 instead of random scale.
    const init = tf.tidy(() => tf.mul(tf.randomNormal([dim, 1], 0, 1, 'float32', options.seed ?? 0), 0.1 / Math.sqrt(dim)));
    this.weight = tf.variable(init, true);
    this.bias = tf.variable(tf.zeros([1]), true);
    init.dispose();
  }

  /** hidden: [batch, T, dim] -> [batch, T]. */
  apply(hidden: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const [batch, steps, dim] = hidden.shape;
      const flat = tf.add(tf.matMul(tf.reshape(hidden, [batch * steps, dim]), this.weight), this.bias);
      return tf.reshape(flat, [batch, steps]) as tf.Tensor2D;
    });
  }

  variables(): tf.Variable[] {
    return [this.weight, this.bias];
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}
