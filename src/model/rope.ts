/**
 * Rotary position embeddings: angle tables and their application to query/key tensors in the
 * two pairings checkpoints use ('interleaved' = llama2.c/GGUF llama, 'half' = HF/Qwen2).
 */
import * as tf from '@tensorflow/tfjs-core';

import type { LlamaConfig } from './types.ts';

export interface RopeTables {
  cos: Float32Array; // [maxSeqLen, headDim / 2]
  sin: Float32Array; // [maxSeqLen, headDim / 2]
  half: number; // headDim / 2
}

/** Pair j of position p turns by p * theta^(-2j / headDim). */
export function ropeTables(config: LlamaConfig): RopeTables {
  const headDim = config.dim / config.nHeads;
  const half = headDim / 2;
  const cos = new Float32Array(config.maxSeqLen * half);
  const sin = new Float32Array(config.maxSeqLen * half);
  for (let p = 0; p < config.maxSeqLen; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p * Math.pow(config.ropeTheta, (-2 * j) / headDim);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin, half };
}

/**
 * Rotates x [batch, seqLen, heads, headDim] by the angles cos/sin [batch, seqLen, 1, headDim/2]
 * already gathered for each token's position.
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D,
  style: LlamaConfig['ropeStyle']): tf.Tensor4D {
  const [b, t, h, d] = x.shape;
  const half = d / 2;
  if (style === 'half') {
    const [x0, x1] = tf.split(x, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
    const r0 = tf.sub(tf.mul(x0, cos), tf.mul(x1, sin));
    const r1 = tf.add(tf.mul(x0, sin), tf.mul(x1, cos));
    return tf.concat([r0, r1], 3) as tf.Tensor4D;
  }
  const pairs = tf.reshape(x, [b, t, h, half, 2]);
  const [x0, x1] = tf.split(pairs, 2, 4).map((p) => tf.reshape(p, [b, t, h, half]));
  const r0 = tf.sub(tf.mul(x0, cos), tf.mul(x1, sin));
  const r1 = tf.add(tf.mul(x0, sin), tf.mul(x1, cos));
  return tf.reshape(tf.stack([r0, r1], 4), [b, t, h, d]) as tf.Tensor4D;
}
