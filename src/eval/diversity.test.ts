import { describe, expect, it } from 'vitest';

import { collapseAlarm, distinctN, diversityOf, selfSimilarity } from './diversity.ts';
import { wilsonInterval, winRate } from './win-rate.ts';

describe('diversity', () => {
  it('counts distinct n-grams over the pooled set', () => {
    // Words: the cat the dog | the cat -> 6 unigrams, 3 unique; bigrams: 3 + 1 = 4, unique 3.
    const texts = ['The cat, the dog.', 'the cat'];
    expect(distinctN(texts, 1)).toBeCloseTo(3 / 6, 12);
    expect(distinctN(texts, 2)).toBeCloseTo(3 / 4, 12);
    expect(distinctN([''], 2)).toBe(0);
  });

  it('self-similarity is the mean pairwise Jaccard of bigram sets', () => {
    // {a b, b c} vs {a b, b d}: 1 shared of 3 -> 1/3; identical pair -> 1; disjoint -> 0.
    expect(selfSimilarity(['a b c', 'a b d'])).toBeCloseTo(1 / 3, 12);
    expect(selfSimilarity(['a b c', 'a b c', 'x y'])).toBeCloseTo((1 + 0 + 0) / 3, 12);
  });

  it('raises the collapse alarm when diversity drops', () => {
    const start = diversityOf(['Tom ran to the park.', 'Lily sang a song.', 'The dog was happy.']);
    const same = diversityOf(['Tom ran to the park.', 'Tom ran to the park.', 'Tom ran to the park.']);
    expect(start.meanWords).toBeCloseTo(13 / 3, 12);
    expect(collapseAlarm(start, start)).toBeUndefined();
    expect(collapseAlarm(start, same)).toMatch(/distinct-2 fell/);
  });
});

describe('win rate', () => {
  it('counts ties as half and gives the Wilson interval', () => {
    const result = winRate([0.9, 0.7, 0.5, 0.2]);
    expect(result).toMatchObject({ wins: 2, ties: 1, losses: 1, n: 4, rate: 2.5 / 4 });
    expect(result.meanP).toBeCloseTo(0.575, 12);
    // Wilson for 8 of 10 at 95%: [0.4902, 0.9433] (textbook value).
    const [low, high] = wilsonInterval(8, 10);
    expect(low).toBeCloseTo(0.4902, 4);
    expect(high).toBeCloseTo(0.9433, 4);
  });
});
