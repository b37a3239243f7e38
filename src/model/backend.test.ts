import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from './backend.ts';

// A loss touching every kernel the engine registers: transposed matMuls (forward and in the
// backward pass) and gather, whose gradient is an UnsortedSegmentSum.
function lossAndGrads(table: Float32Array, weight: Float32Array, other: Float32Array) {
  return tf.tidy(() => {
    const tableVar = tf.tensor2d(table, [6, 4]);
    const weightVar = tf.tensor2d(weight, [3, 4]);
    const otherVar = tf.tensor3d(other, [2, 5, 3]);
    const ids = tf.tensor1d([1, 4, 1, 0, 5], 'int32');
    const f = (t: tf.Tensor, w: tf.Tensor, o: tf.Tensor) => {
      const rows = tf.gather(t, ids); // [5, 4]
      const projected = tf.matMul(rows, w, false, true); // [5, 3]
      const batched = tf.matMul(o, tf.stack([projected, projected]), true, false); // [2, 3, 3]
      const both = tf.matMul(batched, batched, true, true);
      return tf.sum(tf.tanh(both));
    };
    const { value, grads } = tf.valueAndGrads(f)([tableVar, weightVar, otherVar]);
    return [value.dataSync()[0], ...grads.map((g) => Array.from(g.dataSync()))] as const;
  });
}

describe('engine backend', () => {
  beforeAll(async () => {
    await ensureBackend();
  });

  it('selects wasm and matches the cpu backend on transposed matMul and gather gradients', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const random = (n: number, seed: number) =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * 0.8);
    const table = random(24, 1);
    const weight = random(12, 2);
    const other = random(30, 3);

    const onWasm = lossAndGrads(table, weight, other);
    await tf.setBackend('cpu');
    const onCpu = lossAndGrads(table, weight, other);
    await tf.setBackend('wasm');

    expect(onWasm[0]).toBeCloseTo(onCpu[0], 5);
    for (let k = 1; k < onCpu.length; k++) {
      const a = onWasm[k] as number[];
      const b = onCpu[k] as number[];
      expect(a.length).toBe(b.length);
      const maxDiff = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
      expect(maxDiff).toBeLessThan(1e-5);
    }
    // Rows 2 and 3 of the table are never gathered: their gradient is exactly zero.
    const tableGrad = onWasm[1] as number[];
    expect(tableGrad.slice(8, 16).every((v) => v === 0)).toBe(true);
    expect(tableGrad.slice(4, 8).some((v) => v !== 0)).toBe(true);
  });
});
