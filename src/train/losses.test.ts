import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from '../model/backend.ts';
import {
  bradleyTerryLoss,
  clippedPolicyLoss,
  clippedValueLoss,
  dpoLoss,
  gae,
  grpoAdvantages,
  klEstimate,
  klPenaltyRewards,
  lastTokenMask,
  reinforceLoss,
  rlooAdvantages,
  tokenEntropy,
  whiten,
} from './losses.ts';

beforeAll(() => ensureBackend());

const t2 = (rows: number[][]) => tf.tensor2d(rows);
const t1 = (values: number[]) => tf.tensor1d(values);
const values = (x: tf.Tensor) => Array.from(x.dataSync());
const scalar = (x: tf.Tensor) => x.dataSync()[0];

function expectClose(actual: number[], expected: number[], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], digits));
}

describe('gae', () => {
  it('matches the backward recursion with gamma 1, lambda 0.5', () => {
    const out = gae({
      rewards: t2([[0, 0, 1]]),
      values: t2([[0.5, 0.4, 0.2]]),
      mask: t2([[1, 1, 1]]),
      gamma: 1,
      lambda: 0.5,
    });
    // t=2: delta = 1 + 0 - 0.2 = 0.8;                 A2 = 0.8
    // t=1: delta = 0 + 0.2 - 0.4 = -0.2;              A1 = -0.2 + 0.5 * 0.8 = 0.2
    // t=0: delta = 0 + 0.4 - 0.5 = -0.1;              A0 = -0.1 + 0.5 * 0.2 = 0.0
    expectClose(values(out.advantages), [0.0, 0.2, 0.8]);
    // returns = A + V
    expectClose(values(out.returns), [0.5, 0.6, 1.0]);
  });

  it('stops at the mask and ignores padded values, with gamma 0.9', () => {
    const out = gae({
      rewards: t2([[0, 1, 0]]),
      values: t2([[0.3, 0.6, 9]]), // 9 sits on padding and must not leak in
      mask: t2([[1, 1, 0]]),
      gamma: 0.9,
      lambda: 0.5,
    });
    // t=2: padding -> 0
    // t=1: next mask 0, no bootstrap: delta = 1 - 0.6 = 0.4;            A1 = 0.4
    // t=0: delta = 0 + 0.9 * 0.6 - 0.3 = 0.24; A0 = 0.24 + 0.9 * 0.5 * 0.4 = 0.42
    expectClose(values(out.advantages), [0.42, 0.4, 0]);
    // returns: 0.42 + 0.3, 0.4 + 0.6, 0
    expectClose(values(out.returns), [0.72, 1.0, 0]);
  });
});

describe('whiten', () => {
  it('uses only masked entries', () => {
    const out = whiten(t1([1, 2, 3, 100]), t1([1, 1, 1, 0]));
    // mean = 2, population var = (1 + 0 + 1) / 3 = 0.666667, std = 0.816497
    // (1 - 2) / 0.816497 = -1.224745
    expectClose(values(out), [-1.224745, 0, 1.224745, 0]);
  });

  it('keeps the mean when asked', () => {
    const out = whiten(t1([1, 2, 3]), t1([1, 1, 1]), { shiftMean: false });
    // -1.224745 + 2, 0 + 2, 1.224745 + 2
    expectClose(values(out), [0.775255, 2, 3.224745]);
  });
});

describe('clippedPolicyLoss', () => {
  it('takes the pessimistic term and counts clipping', () => {
    const out = clippedPolicyLoss({
      logprobs: t2([[Math.log(1.5), Math.log(0.5), Math.log(1.1), Math.log(0.7)]]),
      oldLogprobs: t2([[0, 0, 0, 0]]),
      advantages: t2([[1, 1, -1, -1]]),
      mask: t2([[1, 1, 1, 1]]),
      clipRange: 0.2,
    });
    // ratio 1.5, A  1: max(-1.5, -1.2) = -1.2   clipped
    // ratio 0.5, A  1: max(-0.5, -0.8) = -0.5
    // ratio 1.1, A -1: max( 1.1,  1.1) =  1.1
    // ratio 0.7, A -1: max( 0.7,  0.8) =  0.8   clipped
    // loss = (-1.2 - 0.5 + 1.1 + 0.8) / 4 = 0.05; clipfrac = 2 / 4
    expect(scalar(out.loss)).toBeCloseTo(0.05, 6);
    expect(scalar(out.clipFraction)).toBeCloseTo(0.5, 6);
    // 0.5 * mean(0.405465^2, 0.693147^2, 0.0953102^2, 0.356675^2)
    //   = 0.5 * (0.164402 + 0.480453 + 0.00908403 + 0.127217) / 4 = 0.0976445
    expect(scalar(out.approxKl)).toBeCloseTo(0.0976445, 5);
  });
});

describe('clippedValueLoss', () => {
  it('clips the value step around the old prediction', () => {
    const out = clippedValueLoss({
      values: t2([[1.0, 0.5]]),
      oldValues: t2([[0.5, 0.5]]),
      returns: t2([[2.0, 0.0]]),
      mask: t2([[1, 1]]),
      clipRange: 0.2,
    });
    // token 0: v_clip = 0.5 + 0.2 = 0.7; max((1-2)^2, (0.7-2)^2) = max(1, 1.69) = 1.69 clipped
    // token 1: v_clip = 0.5;           max(0.25, 0.25) = 0.25
    // loss = 0.5 * (1.69 + 0.25) / 2 = 0.485
    expect(scalar(out.loss)).toBeCloseTo(0.485, 6);
    expect(scalar(out.clipFraction)).toBeCloseTo(0.5, 6);
  });
});

describe('KL estimators', () => {
  it('k1, k2, k3 at log-ratio +ln2 and -ln2', () => {
    const logp = t1([Math.log(0.5), Math.log(0.25)]);
    const ref = t1([Math.log(0.25), Math.log(0.5)]);
    // r = +0.693147, -0.693147
    expectClose(values(klEstimate(logp, ref, 'k1')), [0.693147, -0.693147]);
    // r^2 / 2 = 0.240227
    expectClose(values(klEstimate(logp, ref, 'k2')), [0.240227, 0.240227]);
    // exp(-r) - 1 + r: 0.5 - 1 + 0.693147 = 0.193147; 2 - 1 - 0.693147 = 0.306853
    expectClose(values(klEstimate(logp, ref, 'k3')), [0.193147, 0.306853]);
  });

  it('per-token penalty puts the score on the last response token', () => {
    const out = klPenaltyRewards({
      scores: t1([2]),
      logprobs: t2([[-1, -1, -2]]),
      refLogprobs: t2([[-1.5, -1, -1]]),
      mask: t2([[1, 1, 0]]),
      klCoef: 0.1,
    });
    // k1 = [0.5, 0, -1] masked -> [0.5, 0, 0]; rewards = -0.1 * kl + [0, 2, 0]
    expectClose(values(out.kl), [0.5, 0, 0]);
    expectClose(values(out.rewards), [-0.05, 2, 0]);
  });

  it('finds the last masked position, empty rows give zeros', () => {
    expectClose(
      values(
        lastTokenMask(
          t2([
            [0, 1, 1, 0],
            [0, 0, 0, 0],
          ]),
        ),
      ),
      [0, 0, 1, 0, 0, 0, 0, 0],
    );
  });
});

describe('tokenEntropy', () => {
  it('is ln 2 for a fair coin and 0.562335 for (0.75, 0.25)', () => {
    const logits = tf.tensor3d([
      [
        [0, 0],
        [Math.log(3), 0],
      ],
    ]);
    // -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.215762 + 0.346574 = 0.562335
    expectClose(values(tokenEntropy(logits)), [0.693147, 0.562335]);
  });
});

describe('dpoLoss', () => {
  const base = () => ({
    policyChosen: t1([-1]),
    policyRejected: t1([-2]),
    refChosen: t1([-1.5]),
    refRejected: t1([-1.5]),
  });

  it('sigmoid loss, implicit rewards and accuracy', () => {
    const out = dpoLoss({ ...base(), beta: 0.5 });
    // h = (-1 + 1.5) - (-2 + 1.5) = 1; beta h = 0.5; -log sigmoid(0.5) = log(1 + e^-0.5) = 0.474077
    expect(scalar(out.loss)).toBeCloseTo(0.474077, 5);
    expectClose(values(out.chosenRewards), [0.25]); // 0.5 * 0.5
    expectClose(values(out.rejectedRewards), [-0.25]); // 0.5 * -0.5
    expect(scalar(out.accuracy)).toBe(1);
  });

  it('label smoothing mixes in the flipped label', () => {
    const out = dpoLoss({ ...base(), beta: 0.5, labelSmoothing: 0.1 });
    // 0.9 * 0.474077 + 0.1 * log(1 + e^0.5) = 0.426669 + 0.1 * 0.974077 = 0.524077
    expect(scalar(out.loss)).toBeCloseTo(0.524077, 5);
  });

  it('takes a per-pair epsilon (soft labels)', () => {
    const out = dpoLoss({ ...base(), beta: 0.5, labelSmoothing: t1([0.1]) });
    // same as the scalar epsilon 0.1 above: 0.524077
    expect(scalar(out.loss)).toBeCloseTo(0.524077, 5);
  });

  it('IPO regresses the margin to 1 / (2 beta)', () => {
    const out = dpoLoss({ ...base(), beta: 0.25, lossType: 'ipo' });
    // (h - 1 / 0.5)^2 = (1 - 2)^2 = 1
    expect(scalar(out.loss)).toBeCloseTo(1, 6);
  });
});

describe('bradleyTerryLoss', () => {
  it('is the cross-entropy against a soft label', () => {
    const loss = bradleyTerryLoss({
      chosenRewards: t1([1, 0]),
      rejectedRewards: t1([0, 0]),
      pChosen: t1([0.8, 0.5]),
    });
    // d = 1: -(0.8 log sig(1) + 0.2 log sig(-1)) = 0.8 * 0.313262 + 0.2 * 1.313262 = 0.513262
    // d = 0: -(0.5 ln 0.5 + 0.5 ln 0.5) = 0.693147
    // mean = (0.513262 + 0.693147) / 2 = 0.603204
    expect(scalar(loss)).toBeCloseTo(0.603204, 5);
  });

  it('weights records and subtracts a margin', () => {
    const weighted = bradleyTerryLoss({
      chosenRewards: t1([1, 0]),
      rejectedRewards: t1([0, 0]),
      pChosen: t1([0.8, 0.5]),
      weights: t1([3, 1]),
    });
    // (3 * 0.513262 + 0.693147) / 4 = 0.558233
    expect(scalar(weighted)).toBeCloseTo(0.558233, 5);
    const margin = bradleyTerryLoss({
      chosenRewards: t1([1]),
      rejectedRewards: t1([0]),
      pChosen: t1([1]),
      margin: 1,
    });
    // d = 1 - 0 - 1 = 0: -log sigmoid(0) = 0.693147
    expect(scalar(margin)).toBeCloseTo(0.693147, 5);
  });
});

describe('sequence baselines', () => {
  it('RLOO leaves each sample out of its own baseline', () => {
    // baselines (6 - 1) / 2 = 2.5, (6 - 2) / 2 = 2, (6 - 3) / 2 = 1.5
    expectClose(values(rlooAdvantages(t2([[1, 2, 3]]))), [-1.5, 0, 1.5]);
  });

  it('GRPO normalises per group and zeroes flat groups', () => {
    const { advantages, flatGroups } = grpoAdvantages(
      t2([
        [1, 2, 3],
        [5, 5, 5],
      ]),
    );
    // mean 2, sample std sqrt((1 + 0 + 1) / 2) = 1: (r - 2) / (1 + 1e-4)
    expectClose(values(advantages), [-0.9999, 0, 0.9999, 0, 0, 0], 4);
    expect(flatGroups).toBe(1);
  });

  it('REINFORCE weights sequence log-probs by the advantage', () => {
    // -mean(1 * -2, -0.5 * -3) = -mean(-2, 1.5) = 0.25
    expect(scalar(reinforceLoss(t1([-2, -3]), t1([1, -0.5])))).toBeCloseTo(0.25, 6);
  });
});
