import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from '../model/backend.ts';
import type { PolicyGradientConfigInput } from './policy-gradient-config.ts';
import { PolicyGradientTrainer } from './policy-gradient.ts';
import { LetterFractionReward, toyPrompts } from './toy-task.ts';
import { ToyCausalLM } from './toy-model.ts';

const workDir = mkdtempSync(join(tmpdir(), 'rlaif-pg-'));
beforeAll(() => ensureBackend());
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

async function trainToy(config: PolicyGradientConfigInput) {
  const policy = new ToyCausalLM({ seed: 1 });
  const trainer = await PolicyGradientTrainer.create({
    policy,
    reward: new LetterFractionReward('a'),
    prompts: toyPrompts(),
    config,
  });
  const results = await trainer.train({ silent: true });
  trainer.dispose();
  policy.dispose();
  const scores = results.map((r) => r.metrics['score/mean']);
  return {
    results,
    first: (scores[0] + scores[1]) / 2,
    last: (scores.at(-1)! + scores.at(-2)!) / 2,
  };
}

const common = {
  seed: 3,
  steps: 30,
  promptsPerStep: 4,
  samplesPerPrompt: 4,
  sampling: { maxNewTokens: 8 },
  optimizer: { learningRate: 0.03 },
  kl: { coef: 0.01 },
};

describe('sequence-level policy gradients on the toy task', () => {
  for (const algo of ['reinforce', 'rloo', 'grpo'] as const) {
    it(`${algo} raises the reward far above where it started with a finite KL`, async () => {
      const { results, first, last } = await trainToy({
        ...common,
        algo,
        epochs: algo === 'grpo' ? 2 : 1,
      });
      expect(first).toBeLessThan(0.2);
      expect(last).toBeGreaterThan(0.6);
      for (const r of results) expect(Number.isFinite(r.metrics['objective/kl'])).toBe(true);
      if (algo === 'grpo') expect(typeof results[0].metrics['reward/flat_groups']).toBe('number');
    });
  }

  it('GRPO counts groups whose rewards are all equal', async () => {
    // With one-token responses most groups of 4 share the same (zero) reward.
    const { results } = await trainToy({
      ...common,
      algo: 'grpo',
      steps: 2,
      sampling: { maxNewTokens: 1 },
    });
    const flat = results[0].metrics['reward/flat_groups'];
    expect(flat).toBeGreaterThanOrEqual(1);
    expect(flat).toBeLessThanOrEqual(4);
  });

  it('follows the learning-rate schedule over the steps', async () => {
    const { results } = await trainToy({
      ...common,
      algo: 'rloo',
      steps: 4,
      optimizer: { learningRate: 0.04, schedule: 'linear', warmupSteps: 2 },
    });
    // warmup: 0.04 * 1/2, 0.04 * 2/2;
    // then linear decay over the 2 remaining steps: 0.04 * (1 - 0), 0.04 * (1 - 1/2)
    expect(results.map((r) => r.metrics['optimizer/lr'])).toEqual([0.02, 0.04, 0.04, 0.02]);
  });

  it('rejects RLOO with a single sample per prompt, naming the setting', async () => {
    await expect(trainToy({ ...common, algo: 'rloo', samplesPerPrompt: 1 })).rejects.toThrow(
      /samplesPerPrompt >= 2/,
    );
  });
});

describe('policy-gradient checkpoints', () => {
  it('REINFORCE resumes with its moving-average baseline on the same curve', async () => {
    const config = { ...common, algo: 'reinforce' as const, steps: 4, checkpointEvery: 2 };
    const run = async (dir: string, steps: number, resume: boolean) => {
      const policy = new ToyCausalLM({ seed: 1 });
      const trainer = await PolicyGradientTrainer.create({
        policy,
        reward: new LetterFractionReward('a'),
        prompts: toyPrompts(),
        config,
        checkpointDir: dir,
      });
      if (resume) expect(await trainer.resume()).toBe(true);
      const results = await trainer.train({ steps, silent: true });
      trainer.dispose();
      policy.dispose();
      return results.map((r) =>
        Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !k.startsWith('perf/'))),
      );
    };
    const straight = await run(join(workDir, 'a'), 4, false);
    await run(join(workDir, 'b'), 2, false);
    const resumed = await run(join(workDir, 'b'), 4, true);
    expect(resumed).toEqual(straight.slice(2));
    expect(resumed[0]['policy/baseline']).toBe(straight[2]['policy/baseline']);
  });
});
