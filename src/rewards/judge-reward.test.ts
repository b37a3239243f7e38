import { describe, expect, it } from 'vitest';

import { createEvaluatorJudge } from '../judge/default-judges.ts';
import type { PairwiseJudge } from '../judge/types.ts';
import { JudgeReward } from './judge-reward.ts';

const happy =
  'The little bunny shared her carrots with her friends, and they all laughed and played happily together.';
const grim = 'The bunny was sad and alone. It was dark and terrible, and she cried and cried.';

describe('JudgeReward', () => {
  it('rewards the response the embedded evaluator prefers over the baseline', async () => {
    const reward = new JudgeReward({ judge: createEvaluatorJudge(), center: 0.5 });
    const outcomes = await reward.score([
      { prompt: 'A story:', response: happy, reference: grim },
      { prompt: 'A story:', response: grim, reference: happy },
      { prompt: 'A story:', response: happy },
    ]);
    expect(reward.id).toBe('judge:embedded:evaluator');
    const [better, worse, missing] = outcomes;
    expect(better.ok && better.reward).toBeGreaterThan(0);
    expect(worse.ok && worse.reward).toBeLessThan(0);
    // The same judge, the two orders: p and 1 - p.
    expect(better.ok && worse.ok && better.reward + worse.reward).toBeCloseTo(0, 6);
    expect(missing).toEqual({ ok: false, reason: 'no baseline response to compare with' });
  });

  it('passes judge failures through as failures', async () => {
    const failing: PairwiseJudge = {
      id: 'down',
      compare: async () => ({ ok: false, kind: 'timeout', message: 'no reply in 30 s' }),
    };
    const reward = new JudgeReward({ judge: failing, baseline: 'x' });
    expect(await reward.score([{ prompt: 'p', response: 'r' }])).toEqual([
      { ok: false, reason: 'timeout: no reply in 30 s' },
    ]);
  });
});
