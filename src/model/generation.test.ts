import { describe, expect, it } from 'vitest';

import { makeRng } from '../util/rng.ts';
import { sampleToken } from './generation.ts';

const logits = Float32Array.from([2, 1, 0, -1, 3]);
const logZ = Math.log([2, 1, 0, -1, 3].reduce((acc, v) => acc + Math.exp(v), 0));

describe('sampleToken', () => {
  it('takes the first maximum when greedy and reports the temperature-1 log-prob and entropy', () => {
    const picked = sampleToken(logits, 0, undefined, undefined, makeRng(1));
    expect(picked.token).toBe(4);
    expect(picked.logprob).toBeCloseTo(3 - logZ, 6);
    const p = [2, 1, 0, -1, 3].map((v) => Math.exp(v - logZ));
    expect(picked.entropy).toBeCloseTo(-p.reduce((acc, q) => acc + q * Math.log(q), 0), 6);
    expect(sampleToken(Float32Array.from([1, 5, 5]), 0, undefined, undefined, makeRng(1)).token)
      .toBe(1);
  });

  it('keeps only the top-k / top-p candidates but reports full-distribution log-probs', () => {
    const rng = makeRng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const s = sampleToken(logits, 1, 2, undefined, rng);
      seen.add(s.token);
      expect(s.logprob).toBeCloseTo(logits[s.token] - logZ, 6);
    }
    expect([...seen].sort()).toEqual([0, 4]);

    // p(4) = 0.636, p(0) = 0.234: top-p 0.8 keeps exactly those two, top-p 0.5 only token 4.
    const nucleus = new Set<number>();
    for (let i = 0; i < 300; i++) nucleus.add(sampleToken(logits, 1, undefined, 0.8, rng).token);
    expect([...nucleus].sort()).toEqual([0, 4]);
    for (let i = 0; i < 50; i++) expect(sampleToken(logits, 1, undefined, 0.5, rng).token).toBe(4);
  });

  it('samples in proportion to softmax(logits / T)', () => {
    const rng = makeRng(7);
    const counts = new Array(5).fill(0);
    const draws = 20000;
    for (let i = 0; i < draws; i++) counts[sampleToken(logits, 2, undefined, undefined, rng).token]++;
    const tempered = [2, 1, 0, -1, 3].map((v) => Math.exp(v / 2));
    const total = tempered.reduce((a, b) => a + b, 0);
    counts.forEach((c, i) => expect(Math.abs(c / draws - tempered[i] / total)).toBeLessThan(0.015));
    const s = sampleToken(logits, 2, undefined, undefined, makeRng(1));
    expect(s.logprob).toBeCloseTo(logits[s.token] / 2 - Math.log(total), 6);
  });
});
