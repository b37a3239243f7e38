import { describe, expect, it } from 'vitest';

import { FunctionBackend } from '../providers/function-backend.ts';
import { sharedDataDir } from '../util/paths.ts';
import { makeRng } from '../util/rng.ts';
import { auditJudge, formatAuditTable } from './audit.ts';
import { loadGoldSubset } from './gold-sets.ts';
import { LengthCorrectedJudge } from './length-correction.ts';
import { LlmPairwiseJudge } from './pairwise.ts';
import { wilson } from './stats.ts';
import type { Constitution, PairwiseJudge } from './types.ts';

const constitution: Constitution = { name: 'c', principles: [{ id: 'p', text: 'Choose the better response.', weight: 1 }] };
const dataDir = sharedDataDir();

function singleOrderJudge(answer: () => string): LlmPairwiseJudge {
  return new LlmPairwiseJudge({ backend: new FunctionBackend({ id: 'rule', respond: () => ({ text: answer() }) }), constitution, bothOrders: false });
}

describe('gold sets', () => {
  it('load with prompts split from transcripts', () => {
    const hh = loadGoldSubset('hh-harmless', { dataDir });
    expect(hh).toHaveLength(2312);
    expect(hh[0].prompt.startsWith('Human: what are some pranks with a pen i can do?')).toBe(true);
    expect(hh[0].prompt.endsWith('Assistant:')).toBe(true);
    expect(hh[0].better.startsWith('Assistant:')).toBe(false);
    expect(loadGoldSubset('llmbar-natural', { dataDir })).toHaveLength(100);
    expect(loadGoldSubset('llmbar-adversarial', { dataDir })).toHaveLength(134);
    const hhh = loadGoldSubset('cai-hhh', { dataDir });
    expect(hhh).toHaveLength(438);
    expect(hhh[0].better).toMatch(/^If you want to track your wife/);
    expect(hhh[0].worse).toMatch(/^One of the most common ways/);
    const sample = loadGoldSubset('cai-hhh', { dataDir, limit: 20, seed: 3 });
    expect(sample).toHaveLength(20);
    expect(loadGoldSubset('cai-hhh', { dataDir, limit: 20, seed: 3 })).toEqual(sample);
  });
});

describe('auditJudge', () => {
  const items = [
    ...loadGoldSubset('llmbar-natural', { dataDir }),
    ...loadGoldSubset('cai-hhh', { dataDir, limit: 200, seed: 1 }),
  ];

  it('gives an always-"A" judge 0% position consistency and 100% first position', async () => {
    const report = await auditJudge({ judge: singleOrderJudge(() => 'A'), items, progress: false, resamples: 200 });
    for (const subset of report.subsets) {
      expect(subset.failures).toBe(0);
      expect(subset.positionConsistency.value).toBe(0);
      expect(subset.firstPositionRate.value).toBe(1);
      // Both orders combined cancel out: every item is an even split, worth half.
      expect(subset.agreement.value).toBe(0.5);
      expect(subset.singleOrderAgreement.value).toBe(0.5);
    }
    expect(formatAuditTable(report)).toMatch(/llmbar-natural\s+100\s+0\s+50\.0 \[/);
  });

  it('gives a coin-flip judge about 50% agreement', async () => {
    const rng = makeRng(11);
    const report = await auditJudge({ judge: singleOrderJudge(() => (rng.next() < 0.5 ? 'A' : 'B')), items, progress: false, resamples: 200 });
    const hhh = report.subsets.find((s) => s.subset === 'cai-hhh')!;
    expect(hhh.singleOrderAgreement.low).toBeLessThan(0.5);
    expect(hhh.singleOrderAgreement.high).toBeGreaterThan(0.5);
    expect(Math.abs(hhh.agreement.value - 0.5)).toBeLessThan(0.08);
    expect(Math.abs(hhh.positionConsistency.value - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(hhh.firstPositionRate.value - 0.5)).toBeLessThan(0.06);
  });

  it('measures length bias, and a length correction removes it', async () => {
    // A judge that always picks the longer response.
    const longer: PairwiseJudge = {
      id: 'longer',
      async compare({ a, b }) {
        const pA = a.length > b.length ? 0.9 : a.length < b.length ? 0.1 : 0.5;
        return { ok: true, pA, choice: pA > 0.5 ? 'A' : pA < 0.5 ? 'B' : 'tie', principle: 'len', source: 'parsed' };
      },
    };
    const report = await auditJudge({ judge: longer, items, progress: false, resamples: 200 });
    const natural = report.subsets[0];
    expect(natural.longerRate.value).toBe(1);
    expect(natural.lengthCorrelation.value).toBeGreaterThan(0.5);
    expect(natural.lengthSlope.value).toBeGreaterThan(0);
    expect(natural.positionConsistency.value).toBeGreaterThan(0.95);

    const corrected = new LengthCorrectedJudge({ judge: longer, slope: natural.lengthSlope.value });
    const after = await auditJudge({ judge: corrected, items: items.slice(0, 100), progress: false, resamples: 200 });
    expect(Math.abs(after.subsets[0].lengthSlope.value)).toBeLessThan(Math.abs(natural.lengthSlope.value) / 5);
  });
});

describe('wilson', () => {
  it('matches a hand-computed interval', () => {
    // 8 of 10: centre (0.8 + 1.92/10)/(1 + 3.84/10), the standard textbook [0.490, 0.943].
    const e = wilson(8, 10);
    expect(e.low).toBeCloseTo(0.4902, 3);
    expect(e.high).toBeCloseTo(0.9433, 3);
  });
});
