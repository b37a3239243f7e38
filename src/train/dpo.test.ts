import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from '../model/backend.ts';
import type { PairwiseInput, PairwiseJudge, PairwiseResult } from '../judge/types.ts';
import { DpoTrainer, OnlineDpoTrainer } from './dpo.ts';
import {
  LetterFractionReward,
  letterFraction,
  meanSampledReward,
  toyPreferences,
  toyPrompts,
} from './toy-task.ts';
import { ToyCausalLM } from './toy-model.ts';

beforeAll(() => ensureBackend());

const reward = new LetterFractionReward('a');
const evalPrompts = [...toyPrompts(), ...toyPrompts(), ...toyPrompts(), ...toyPrompts()];
const score = (policy: ToyCausalLM) =>
  meanSampledReward({ policy, prompts: evalPrompts, reward, maxNewTokens: 8, seed: 99 });

describe('offline DPO', () => {
  it('raises the toy reward from preferences of a known scorer', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const before = await score(policy);
    const trainer = await DpoTrainer.create({
      policy,
      records: toyPreferences(80, 5),
      config: {
        seed: 2,
        epochs: 6,
        batchSize: 8,
        beta: 0.1,
        optimizer: { learningRate: 0.03 },
        validationFraction: 0.2,
      },
    });
    const cacheBefore = trainer.referenceCache();
    const results = await trainer.train({ silent: true });
    // Reference log-probs are computed once and reused (same object after training).
    expect(trainer.referenceCache()).toBe(cacheBefore);
    expect(results).toHaveLength(6 * 8);
    const after = await score(policy);
    const validation = trainer.evaluate();
    expect(before).toBeLessThan(0.2);
    expect(after).toBeGreaterThan(0.5);
    expect(validation.accuracy).toBeGreaterThan(0.8);
    expect(results.at(-1)!.metrics['reward/margin']).toBeGreaterThan(0);
    trainer.dispose();
    policy.dispose();
  });
});

/** Prefers the response with more a's, with a soft 0.9 / 0.1 probability. */
class LetterJudge implements PairwiseJudge {
  readonly id = 'letter-judge';
  async compare(input: PairwiseInput): Promise<PairwiseResult> {
    const [a, b] = [letterFraction(input.a, 'a'), letterFraction(input.b, 'a')];
    if (a === b) return { ok: true, pA: 0.5, choice: 'tie', principle: 'count', source: 'parsed' };
    const pA = a > b ? 0.9 : 0.1;
    return { ok: true, pA, choice: a > b ? 'A' : 'B', principle: 'count', source: 'parsed' };
  }
}

describe('online DPO', () => {
  it('raises the toy reward with a judge in the loop', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const before = await score(policy);
    const trainer = await OnlineDpoTrainer.create({
      policy,
      judge: new LetterJudge(),
      prompts: toyPrompts(),
      config: {
        seed: 2,
        steps: 30,
        promptsPerStep: 8,
        beta: 0.1,
        sampling: { maxNewTokens: 8 },
        optimizer: { learningRate: 0.03 },
      },
    });
    const results = await trainer.train({ silent: true });
    const after = await score(policy);
    expect(before).toBeLessThan(0.2);
    expect(after).toBeGreaterThan(0.5);
    for (const r of results) expect(Number.isFinite(r.metrics['objective/kl'])).toBe(true);
    expect(results.some((r) => r.metrics['judge/ties'] > 0)).toBe(true);
    trainer.dispose();
    policy.dispose();
  });
});
