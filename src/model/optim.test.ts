import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from './backend.ts';
import { AdamW, clipByGlobalNorm, disposeMap, GradientAccumulator, trainStep } from './optim.ts';
import { learningRateAt } from './schedules.ts';

describe('AdamW', () => {
  beforeAll(async () => {
    await ensureBackend();
  });

  it('matches a hand computation with decoupled weight decay', () => {
    // One matrix (decays) and one vector (does not), loss = sum(w^2) / 2 + sum(b), so the
    // gradients are w and 1.
    const w = tf.variable(tf.tensor2d([[1, -2]]), true, 'hand_w');
    const b = tf.variable(tf.tensor1d([0.5]), true, 'hand_b');
    const opt = new AdamW([w, b], { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5 });
    const loss = () => tf.add(tf.mul(tf.sum(tf.square(w)), 0.5), tf.sum(b)) as tf.Scalar;

    const first = trainStep({ loss, optimizer: opt });
    expect(first.loss).toBeCloseTo(2.5 + 0.5, 6);
    // Step 1: m_hat = g, v_hat = g^2, so the Adam step is lr * sign(g) (up to eps);
    // w <- w * (1 - lr * wd) - lr * sign(g) = [1 * 0.95 - 0.1, -2 * 0.95 + 0.1].
    expect(Array.from(w.dataSync())).toEqual([expect.closeTo(0.85, 6), expect.closeTo(-1.8, 6)]);
    expect(b.dataSync()[0]).toBeCloseTo(0.4, 6);
    expect(first.gradNorm).toBeCloseTo(Math.sqrt(1 + 4 + 1), 5);

    // Step 2 for w[0]: g = 0.85; m = 0.9 * 0.1 + 0.1 * 0.85; v = 0.99 * 0.01 + 0.01 * 0.85^2.
    trainStep({ loss, optimizer: opt, lr: 0.05 });
    const m = 0.09 + 0.085;
    const v = 0.0099 + 0.007225;
    const step = (m / (1 - 0.81)) / (Math.sqrt(v / (1 - 0.9801)) + 1e-8);
    expect(w.dataSync()[0]).toBeCloseTo(0.85 * (1 - 0.05 * 0.5) - 0.05 * step, 6);
    expect(opt.step).toBe(2);
    opt.dispose();
    w.dispose();
    b.dispose();
  });

  it('exports and imports its state so a resumed run continues identically', () => {
    const make = () => tf.variable(tf.tensor2d([[0.3, -0.7], [1.1, 0.2]]), true);
    const target = tf.tensor2d([[1, 2], [3, 4]]);
    const lossOf = (v: tf.Variable) => () => tf.sum(tf.square(tf.sub(v, target))) as tf.Scalar;

    const a = make();
    const optA = new AdamW([a], { lr: 0.01 });
    for (let i = 0; i < 3; i++) trainStep({ loss: lossOf(a), optimizer: optA });
    const saved = optA.exportState();
    const savedWeights = Float32Array.from(a.dataSync());
    trainStep({ loss: lossOf(a), optimizer: optA });

    const b = make();
    b.assign(tf.tensor2d(savedWeights, [2, 2]));
    const optB = new AdamW([b], { lr: 0.01 });
    optB.importState(saved);
    expect(optB.step).toBe(3);
    trainStep({ loss: lossOf(b), optimizer: optB });
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => optB.importState({ ...saved, m: [] })).toThrow(/holds 0 variables/);
    [optA, optB, a, b, target].forEach((t) => t.dispose());
  });
});

describe('gradient utilities', () => {
  it('clips to the global norm and reports the norm before clipping', () => {
    const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([4]) };
    const { grads: clipped, norm } = clipByGlobalNorm(grads, 1);
    expect(norm).toBeCloseTo(5, 6);
    expect(Array.from(clipped.a.dataSync())).toEqual([expect.closeTo(0.6, 6), 0]);
    expect(clipped.b.dataSync()[0]).toBeCloseTo(0.8, 6);
    const untouched = clipByGlobalNorm(grads, 10);
    expect(untouched.norm).toBeCloseTo(5, 6);
    expect(Array.from(untouched.grads.a.dataSync())).toEqual([3, 0]);
    [grads, clipped, untouched.grads].forEach(disposeMap);
  });

  it('accumulates a weighted mean of micro-batch gradients', () => {
    const acc = new GradientAccumulator();
    const g1 = { w: tf.tensor1d([1, 2]) };
    const g2 = { w: tf.tensor1d([4, 8]) };
    acc.add(g1, 1);
    acc.add(g2, 3);
    expect(acc.weight).toBe(4);
    const mean = acc.take();
    expect(Array.from(mean.w.dataSync())).toEqual([13 / 4, 26 / 4]);
    expect(acc.weight).toBe(0);
    [g1, g2, mean].forEach(disposeMap);
  });
});

describe('learning-rate schedules', () => {
  it('warms up linearly, then holds, decays linearly or along a cosine', () => {
    const base = { baseLr: 1e-3, warmupSteps: 4, totalSteps: 14 };
    expect(learningRateAt(0, { kind: 'constant', ...base })).toBeCloseTo(2.5e-4, 12);
    expect(learningRateAt(3, { kind: 'constant', ...base })).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(100, { kind: 'constant', ...base })).toBe(1e-3);
    expect(learningRateAt(9, { kind: 'linear', ...base })).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(14, { kind: 'linear', ...base })).toBe(0);
    expect(learningRateAt(9, { kind: 'cosine', ...base })).toBeCloseTo(5e-4, 12);
    // A quarter of the way: (1 + cos(pi / 4)) / 2 of the range above the floor.
    expect(learningRateAt(6.5, { kind: 'cosine', ...base, minLr: 1e-4 }))
      .toBeCloseTo(1e-4 + 9e-4 * (1 + Math.SQRT1_2) / 2, 12);
    expect(() => learningRateAt(5, { kind: 'cosine', baseLr: 1 })).toThrow(/totalSteps/);
  });
});
