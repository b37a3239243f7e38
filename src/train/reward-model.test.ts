import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from '../model/backend.ts';
import { LlamaModel } from '../model/llama.ts';
import { randomWeights } from '../model/test-support/reference-forward.ts';
import { expectedCalibrationError, trainRewardModel } from './reward-model-trainer.ts';
import { RewardModel } from './reward-model.ts';
import { toyPreferences } from './toy-task.ts';
import { ToyCausalLM, ToyTokenizer, tinyLlamaConfig } from './toy-model.ts';

const workDir = mkdtempSync(join(tmpdir(), 'rlaif-rm-'));
beforeAll(() => ensureBackend());
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('expectedCalibrationError', () => {
  it('weights each bin gap by its share of predictions', () => {
    // bin [0, 0.5): preds 0.1, 0.15 (mean 0.125), labels 0, 1 (mean 0.5): |0.125 - 0.5| * 2/4 = 0.1875
    // bin [0.5, 1]: preds 0.8, 0.9 (mean 0.85), labels 1, 1 (mean 1):     |0.85 - 1| * 2/4 = 0.075
    expect(expectedCalibrationError([0.1, 0.15, 0.8, 0.9], [0, 1, 1, 1], 2)).toBeCloseTo(
      0.2625,
      10,
    );
  });
});

describe('Bradley-Terry reward model', () => {
  it('ranks held-out pairs of a known scorer with more than 90% accuracy', async () => {
    const model = new RewardModel(new ToyCausalLM({ seed: 1 }));
    const records = toyPreferences(300, 11);
    const report = await trainRewardModel({
      model,
      records,
      config: {
        seed: 4,
        epochs: 6,
        batchSize: 16,
        validationFraction: 0.2,
        optimizer: { learningRate: 0.02 },
      },
      silent: true,
    });
    expect(report.validation!.pairs).toBe(60);
    expect(report.validation!.accuracy).toBeGreaterThan(0.9);
    expect(report.validation!.brier).toBeLessThan(0.15);
    expect(report.validation!.ece).toBeLessThan(0.2);

    // The offset makes the records' responses average 0.
    const rewards = await model.rewards(
      records.flatMap((r) => [
        { prompt: r.prompt, response: r.chosen },
        { prompt: r.prompt, response: r.rejected },
      ]),
    );
    expect(Math.abs(rewards.reduce((a, b) => a + b, 0) / rewards.length)).toBeLessThan(1e-4);

    // As a RewardSource: an all-'a' answer beats one without any.
    const [best, worst] = await model.score([
      { prompt: 'bc', response: 'aaaaaa' },
      { prompt: 'bc', response: 'bcdefg' },
    ]);
    expect(best.ok && worst.ok && best.reward > worst.reward).toBe(true);
    model.dispose();
  });

  it('source weights let human labels override contradicting AI labels', async () => {
    const truth = toyPreferences(160, 21);
    // Half the pairs come from a "judge" that prefers the opposite; the other half are human.
    const records = truth.map((r, i) =>
      i % 2 === 0
        ? { ...r, source: 'human' as const }
        : { ...r, chosen: r.rejected, rejected: r.chosen, source: 'ai' as const },
    );
    const train = (sourceWeights: { ai?: number; human?: number }) => {
      const model = new RewardModel(new ToyCausalLM({ seed: 1 }));
      return trainRewardModel({
        model,
        records,
        silent: true,
        config: {
          seed: 4,
          epochs: 4,
          batchSize: 16,
          validationFraction: 0,
          sourceWeights,
          optimizer: { learningRate: 0.02 },
        },
      }).then(async () => {
        const [a, b] = await model.rewards([
          { prompt: 'bc', response: 'aaaaaa' },
          { prompt: 'bc', response: 'bcdefg' },
        ]);
        model.dispose();
        return a - b;
      });
    };
    expect(await train({ human: 1, ai: 0 })).toBeGreaterThan(0);
    expect(await train({ human: 0, ai: 1 })).toBeLessThan(0);
  });

  it('saves and loads with the same rewards and offset', async () => {
    const config = tinyLlamaConfig;
    const tokenizer = new ToyTokenizer(16);
    const backbone = await LlamaModel.fromWeights(config, randomWeights(config, 2, 0.3), tokenizer);
    const model = new RewardModel(backbone, { seed: 3 });
    await trainRewardModel({
      model,
      records: toyPreferences(24, 2),
      config: { epochs: 1, batchSize: 8, optimizer: { learningRate: 0.01 } },
      silent: true,
    });
    const items = [
      { prompt: 'bc', response: 'aab' },
      { prompt: 'de', response: 'klm' },
    ];
    const before = await model.rewards(items);
    const dir = join(workDir, 'rm');
    await model.save(dir);

    const loaded = await RewardModel.load(dir, { tokenizer });
    expect(loaded.offset).toBe(model.offset);
    const after = await loaded.rewards(items);
    after.forEach((r, i) => expect(r).toBeCloseTo(before[i], 5));
    expect(loaded.metrics['rm/train_loss']).toBeCloseTo(model.metrics['rm/train_loss'], 10);
    model.dispose();
    loaded.dispose();
  });
});
