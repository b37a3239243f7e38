import { describe, expect, it } from 'vitest';

import { RewardMixture } from './mixture.ts';
import { NumericAnswerVerifier } from './numeric-answer.ts';
import { FormatVerifier } from './text-checks.ts';
import type { RewardItem, RewardOutcome, RewardSource } from './types.ts';

/** A source that answers from a table keyed by response: a number, or a failure reason. */
function tableSource(id: string, table: Record<string, number | string>): RewardSource {
  return {
    id,
    async score(items: RewardItem[]): Promise<RewardOutcome[]> {
      return items.map((item) => {
        const entry = table[item.response];
        return typeof entry === 'number'
          ? { ok: true, reward: entry }
          : { ok: false, reason: entry };
      });
    },
  };
}

const items: RewardItem[] = ['a', 'b', 'c'].map((response) => ({ prompt: 'p', response }));

describe('RewardMixture', () => {
  it('weights rewards and renormalises when an optional source fails', async () => {
    const mixture = new RewardMixture({
      components: [
        { source: tableSource('rm', { a: 2, b: 1, c: 0.5 }), weight: 3 },
        {
          source: tableSource('judge', { a: 1, b: 'judge timed out', c: 0 }),
          weight: 1,
          required: false,
        },
      ],
    });
    const outcomes = await mixture.score(items);
    // a: 3*2 + 1*1 = 7. b: judge dropped, 3*1 * (4/3) = 4. c: 3*0.5 + 0 = 1.5.
    expect(outcomes).toEqual([
      { ok: true, reward: 7, details: { components: { rm: 2, judge: 1 }, dropped: [] } },
      { ok: true, reward: 4, details: { components: { rm: 1, judge: null }, dropped: ['judge'] } },
      { ok: true, reward: 1.5, details: { components: { rm: 0.5, judge: 0 }, dropped: [] } },
    ]);
    expect(mixture.id).toBe('mixture(rm*3+judge*1)');
  });

  it('fails an item when a required source fails, or when all fail', async () => {
    const mixture = new RewardMixture({
      id: 'mix',
      components: [
        { source: tableSource('verifier', { a: 1, b: 'no reference', c: 'x' }), weight: 1 },
        { source: tableSource('judge', { a: 0, b: 1, c: 'y' }), weight: 1, required: false },
      ],
    });
    const outcomes = await mixture.score(items);
    expect(outcomes[0]).toMatchObject({ ok: true, reward: 1 });
    expect(outcomes[1]).toEqual({ ok: false, reason: 'verifier: no reference' });
    expect(outcomes[2]).toEqual({ ok: false, reason: 'verifier: x' });

    const optionalOnly = new RewardMixture({
      components: [
        { source: tableSource('j1', { a: 'down' }), weight: 1, required: false },
        { source: tableSource('j2', { a: 'down too' }), weight: 1, required: false },
      ],
    });
    const [all] = await optionalOnly.score([items[0]]);
    expect(all).toEqual({ ok: false, reason: 'every component failed (j1: down; j2: down too)' });
  });

  it('treats a source that throws as failing on every item', async () => {
    const broken: RewardSource = {
      id: 'broken',
      score: async () => {
        throw new Error('connection reset');
      },
    };
    const mixture = new RewardMixture({
      components: [
        { source: new FormatVerifier({ maxChars: 1 }), weight: 2 },
        { source: broken, weight: 1, required: false },
      ],
    });
    const outcomes = await mixture.score(items);
    expect(outcomes.map((o) => o.ok && o.reward)).toEqual([3, 3, 3]);
    const strict = new RewardMixture({ components: [{ source: broken, weight: 1 }] });
    expect((await strict.score([items[0]]))[0]).toEqual({
      ok: false,
      reason: 'broken: threw: connection reset',
    });
  });

  it('mixes a real verifier with a format check', async () => {
    const mixture = new RewardMixture({
      components: [
        { source: new NumericAnswerVerifier(), weight: 0.8 },
        { source: new FormatVerifier({ pattern: '####' }), weight: 0.2 },
      ],
    });
    const outcomes = await mixture.score([
      { prompt: 'q', response: 'so #### 12', reference: '#### 12' },
      { prompt: 'q', response: 'it is 12', reference: '#### 12' },
      { prompt: 'q', response: '#### 13', reference: '#### 12' },
    ]);
    expect(outcomes.map((o) => (o.ok ? +o.reward.toFixed(6) : null))).toEqual([1, 0.8, 0.2]);
  });

  it('rejects bad weights', () => {
    const source = tableSource('s', {});
    expect(() => new RewardMixture({ components: [{ source, weight: -1 }] })).toThrow(/weight/);
    expect(() => new RewardMixture({ components: [{ source, weight: 0 }] })).toThrow(/sum to 0/);
    expect(() => new RewardMixture({ components: [] })).toThrow(/component/);
  });
});
