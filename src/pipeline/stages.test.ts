import { describe, expect, it } from 'vitest';

import type { PairwiseInput, PairwiseJudge, PairwiseResult } from '../judge/types.ts';
import { RunStore, openRunDatabase } from '../store/run-store.ts';
import { BothOrdersJudge } from './both-orders.ts';
import { pairsFor } from './stage-judge.ts';

/** A judge with a fixed first-position bias: P(A) = 0.7 for "good" vs anything, else 0.4. */
class BiasedJudge implements PairwiseJudge {
  readonly id = 'biased';
  calls: PairwiseInput[] = [];
  async compare(input: PairwiseInput): Promise<PairwiseResult> {
    this.calls.push(input);
    const pA = input.a === 'good' ? 0.7 : 0.4;
    return { ok: true, pA, choice: pA > 0.5 ? 'A' : 'B', principle: 'p', source: 'parsed' };
  }
}

describe('both orders', () => {
  it('asks twice, swapped, and averages P(A) over the orders', async () => {
    const inner = new BiasedJudge();
    const judge = new BothOrdersJudge(inner, false);
    const result = await judge.compare({ prompt: 'x', a: 'good', b: 'bad' }, { key: 'k' });
    expect(inner.calls.map((c) => [c.a, c.b])).toEqual([['good', 'bad'], ['bad', 'good']]);
    // First order 0.7; second order P(bad first) = 0.4, so P(good) = 0.6; mean 0.65.
    expect(result).toMatchObject({ ok: true, choice: 'A', consistent: true });
    if (!result.ok) throw new Error('no verdict');
    expect(result.pA).toBeCloseTo(0.65, 12);
    expect(result.perOrder).toEqual([0.7, 0.6]);
  });

  it('flags orders that disagree', async () => {
    const inner: PairwiseJudge = {
      id: 'first-wins',
      compare: async () => ({ ok: true, pA: 0.8, choice: 'A', principle: 'p', source: 'parsed' }),
    };
    const result = await new BothOrdersJudge(inner, false).compare({ prompt: 'x', a: 'u', b: 'v' });
    expect(result).toMatchObject({ ok: true, pA: 0.5, choice: 'tie', consistent: false });
  });

  it('calls a judge that asks both orders itself only once', async () => {
    const inner = new BiasedJudge();
    await new BothOrdersJudge(inner, true).compare({ prompt: 'x', a: 'good', b: 'bad' });
    expect(inner.calls).toHaveLength(1);
  });
});

describe('pairs and store', () => {
  it('forms K/2 disjoint pairs, then more on request', () => {
    expect(pairsFor(4)).toEqual([[0, 1], [2, 3]]);
    expect(pairsFor(5)).toEqual([[0, 1], [2, 3]]);
    expect(pairsFor(4, 1)).toEqual([[0, 1]]);
    expect(pairsFor(4, 4)).toEqual([[0, 1], [2, 3], [0, 2], [0, 3]]);
  });

  it('stores each sample and preference once however often it is written', () => {
    const store = new RunStore(openRunDatabase(':memory:'));
    const sample = { promptIndex: 0, sampleIndex: 1, prompt: 'p', response: 'r', finishReason: 'length' };
    store.addSamples([sample]);
    store.addSamples([{ ...sample, response: 'other' }]);
    expect(store.samples()).toEqual([sample]);
    expect(store.sampledPrompts(1)).toEqual(new Set([0]));
    expect(store.sampledPrompts(2)).toEqual(new Set());

    const preference = {
      promptIndex: 0, pair: [0, 1] as [number, number], prompt: 'p', chosen: 'a', rejected: 'b',
      pChosen: 0.8, judge: 'j', source: 'ai' as const,
    };
    store.addPreferences([preference, preference]);
    expect(store.preferences()).toEqual([preference]);

    store.markStarted('judge', 10);
    expect(store.stageStatus('judge')).toBe('running');
    store.markDone('judge', 20, { preferences: 1 });
    store.markStarted('judge', 30);
    expect(store.stageStatus('judge')).toBe('done');
    expect(store.stageDetail('judge')).toEqual({ preferences: 1 });
  });
});
