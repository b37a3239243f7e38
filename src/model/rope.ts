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
 * The rotation as two dense pieces, x' = x * cos + (x R) * sin, where R maps each pair (a, b)
 * to (-b, a) and cos/sin repeat each pair's angle over its two members. Slicing pairs apart
 * instead would hit the wasm backend's element-by-element slice path, ~100x slower.
 */
export function rotationMatrix(headDim: number, style: LlamaConfig['ropeStyle']): Float32Array {
  const r = new Float32Array(headDim * headDim); // [headDim (in), headDim (out)]
  const half = headDim / 2;
  for (let j = 0; j < half; j++) {
    const [a, b] = style === 'interleaved' ? [2 * j, 2 * j + 1] : [j, j + half];
    r[b * headDim + a] = -1; // out[a] = -x[b]
    r[a * headDim + b] = 1; // out[b] = x[a]
  }
  return r;
}

/** Column of each head dimension in the half-width angle tables, per pairing style. */
export function pairIndex(dimIndex: number, headDim: number, style: LlamaConfig['ropeStyle']): number {
  return style === 'interleaved' ? dimIndex >> 1 : dimIndex % (headDim / 2);
}

/**
 * Rotates x [batch, seqLen, heads, headDim] by cos/sin [batch, seqLen, 1, headDim] (each
 * pair's angle already repeated onto both its members), with rotation = rotationMatrix().
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D,
  rotation: tf.Tensor2D): tf.Tensor4D {
  const [b, t, h, d] = x.shape;
  const turned = tf.reshape(tf.matMul(tf.reshape(x, [b * t * h, d]), rotation), [b, t, h, d]);
  return tf.add(tf.mul(x, cos), tf.mul(turned, sin)) as tf.Tensor4D;
}
