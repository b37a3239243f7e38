import { describe, expect, it } from 'vitest';

import { wilsonInterval } from '../eval/win-rate.ts';
import type { PairwiseJudge, PreferenceRecord } from '../judge/types.ts';
import { judgeAgreement, mixLabels } from './human-preferences.ts';

const human = (prompt: string, chosen: string, rejected: string): PreferenceRecord => ({
  prompt,
  chosen,
  rejected,
  pChosen: 1,
  judge: 'human',
  source: 'human',
});

/** Prefers the shorter answer; ties on equal length. */
const shorterJudge: PairwiseJudge = {
  id: 'shorter',
  async compare({ a, b }) {
    const pA = a.length < b.length ? 0.9 : a.length > b.length ? 0.1 : 0.5;
    return {
      ok: true,
      pA,
      choice: pA > 0.5 ? 'A' : pA < 0.5 ? 'B' : 'tie',
      principle: 'brevity',
      source: 'parsed',
    };
  },
};

/** Always picks the first answer shown. */
const firstJudge: PairwiseJudge = {
  id: 'first',
  async compare() {
    return { ok: true, pA: 1, choice: 'A', principle: 'none', source: 'parsed' };
  },
};

describe('judgeAgreement', () => {
  const records = [
    human('q1', 'ok', 'a much longer answer'), // judge agrees
    human('q2', 'short', 'longer one'), // agrees
    human('q3', 'the longest answer here', 'tiny'), // disagrees
    human('q4', 'same', 'size'), // tie
    human('q5', 'x', 'yy'), // agrees
  ];

  it('counts agreement, ties as halves, and the Wilson interval', async () => {
    const result = await judgeAgreement({ judge: shorterJudge, records });
    const [low, high] = wilsonInterval(3.5, 5);
    const { meanP, ...counts } = result;
    expect(counts).toEqual({ n: 5, agree: 3, ties: 1, failures: 0, rate: 0.7, low, high });
    expect(meanP).toBeCloseTo((0.9 * 3 + 0.1 + 0.5) / 5, 12);
  });

  it('does not let position bias pass for agreement when the order is randomised', async () => {
    const many = Array.from({ length: 400 }, (_, i) => human(`q${i}`, 'a', 'b'));
    const fixed = await judgeAgreement({ judge: firstJudge, records: many, randomiseOrder: false });
    expect(fixed.rate).toBe(1);
    const shuffled = await judgeAgreement({ judge: firstJudge, records: many, seed: 1 });
    expect(shuffled.low).toBeLessThan(0.5);
    expect(shuffled.high).toBeGreaterThan(0.5);
  });

  it('counts judge failures apart', async () => {
    const flaky: PairwiseJudge = {
      id: 'flaky',
      compare: async ({ prompt }) =>
        prompt === 'q1'
          ? { ok: false, kind: 'parse', message: 'no verdict' }
          : shorterJudge.compare({ prompt, a: 'a', b: 'bb' }),
    };
    const result = await judgeAgreement({
      judge: flaky,
      records: records.slice(0, 2),
      randomiseOrder: false,
    });
    expect(result).toMatchObject({ n: 1, agree: 1, failures: 1, rate: 1 });
  });
});

describe('mixLabels', () => {
  const h = [human('a', 'x', 'y'), { ...human('b', 'x', 'y'), weight: 2 }];
  const ai: PreferenceRecord[] = Array.from({ length: 6 }, (_, i) => ({
    ...human(`c${i}`, 'x', 'y'),
    source: 'ai',
    judge: 'j',
  }));

  it('gives each label its group weight', () => {
    const mixed = mixLabels({ human: h, ai, humanWeight: 3, aiWeight: 0.5 });
    expect(mixed.map((r) => r.weight)).toEqual([3, 6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  it('balances group totals in the given ratio with mean weight 1', () => {
    const mixed = mixLabels({ human: h, ai, humanWeight: 1, aiWeight: 1, mode: 'per-group' });
    const total = (source: string) =>
      mixed.filter((r) => r.source === source).reduce((s, r) => s + r.weight!, 0);
    expect(total('human')).toBeCloseTo(4, 12);
    expect(total('ai')).toBeCloseTo(4, 12);
    // Human weights keep their 1:2 ratio: 4/3 and 8/3.
    expect(mixed[0].weight).toBeCloseTo(4 / 3, 12);
    expect(mixed[1].weight).toBeCloseTo(8 / 3, 12);
  });
});
