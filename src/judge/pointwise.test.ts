import { describe, expect, it } from 'vitest';

import { FunctionBackend, lastUserText } from '../providers/function-backend.ts';
import { LlmListwiseJudge, LlmPointwiseJudge, rankingToPairs } from './pointwise.ts';
import type { Constitution, ListwiseVerdict, PointwiseVerdict } from './types.ts';

const constitution: Constitution = {
  name: 't',
  principles: [
    { id: 'kind', text: 'Rate kindness.', weight: 1 },
    { id: 'clear', text: 'Rate clarity.', weight: 3 },
  ],
};

describe('LlmPointwiseJudge', () => {
  it('takes the probability-weighted expected score and scales it to [-1, 1]', async () => {
    const top = [
      { token: '8', logprob: Math.log(0.6) },
      { token: '9', logprob: Math.log(0.25) },
      { token: ' 7', logprob: Math.log(0.1) },
      { token: 'Great', logprob: Math.log(0.05) },
    ];
    const backend = new FunctionBackend({
      id: 's',
      supportsLogprobs: true,
      respond: () => ({ text: '8', logprobs: [{ token: '8', logprob: Math.log(0.6), top }] }),
    });
    const judge = new LlmPointwiseJudge({ backend, constitution });
    const verdict = (await judge.score({ prompt: 'p', response: 'r' }, { principle: constitution.principles[0] })) as PointwiseVerdict;
    const expected = (8 * 0.6 + 9 * 0.25 + 7 * 0.1) / 0.95;
    expect(verdict.score).toBeCloseTo(expected, 12);
    expect(verdict.reward).toBeCloseTo((expected - 5.5) / 4.5, 12);
    expect(verdict.distribution![7]).toBeCloseTo(0.6 / 0.95, 12);
    expect(verdict.source).toBe('logprobs');
  });

  it('parses a score without log-probs and averages all principles by weight', async () => {
    const backend = new FunctionBackend({
      id: 'p',
      respond: (request) => ({ text: lastUserText(request).includes('kindness') ? 'Fine.\nScore: 10' : 'Meh.\nScore: 2' }),
    });
    const judge = new LlmPointwiseJudge({ backend, constitution, chainOfThought: true, mode: 'all' });
    const verdict = (await judge.score({ prompt: 'p', response: 'r' })) as PointwiseVerdict;
    expect(verdict.score).toBeCloseTo((10 * 1 + 2 * 3) / 4, 12);
    expect(verdict.reward).toBeCloseTo((4 - 5.5) / 4.5, 12);
    expect(backend.calls).toBe(2);

    const silent = new FunctionBackend({ id: 'x', respond: () => ({ text: 'no idea' }) });
    expect(await new LlmPointwiseJudge({ backend: silent, constitution }).score({ prompt: 'p', response: 'r' }))
      .toMatchObject({ ok: false, kind: 'parse' });
  });
});

describe('LlmListwiseJudge', () => {
  it('maps a ranking of shuffled candidates back to the given order', async () => {
    const responses = ['alpha', 'beta', 'gamma', 'delta'];
    // The judge ranks by a fixed preference: gamma > alpha > delta > beta, whatever the order shown.
    const preference = ['gamma', 'alpha', 'delta', 'beta'];
    const backend = new FunctionBackend({
      id: 'l',
      respond(request) {
        const text = lastUserText(request);
        const shownAt = (word: string) => Number(new RegExp(`\\[Response (\\d)\\]\\n${word}`).exec(text)![1]);
        return { text: preference.map(shownAt).join(' > ') };
      },
    });
    const judge = new LlmListwiseJudge({ backend, constitution, seed: 5 });
    const verdict = (await judge.rank({ prompt: 'p', responses })) as ListwiseVerdict;
    expect(verdict.ranking).toEqual([2, 0, 3, 1]);
    expect(rankingToPairs([2, 0, 3])).toEqual([[2, 0], [2, 3], [0, 3]]);

    const bad = new FunctionBackend({ id: 'b', respond: () => ({ text: '1 > 1 > 2' }) });
    expect(await new LlmListwiseJudge({ backend: bad, constitution }).rank({ prompt: 'p', responses: ['a', 'b', 'c'] }))
      .toMatchObject({ ok: false, kind: 'parse' });
  });
});
