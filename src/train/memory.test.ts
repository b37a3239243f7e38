import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from '../model/backend.ts';
import { DpoTrainer, OnlineDpoTrainer } from './dpo.ts';
import type { OnlineTrainer } from './online-trainer.ts';
import { PolicyGradientTrainer } from './policy-gradient.ts';
import { PpoTrainer } from './ppo.ts';
import { LetterFractionReward, toyPreferences, toyPrompts } from './toy-task.ts';
import { ToyCausalLM } from './toy-model.ts';

beforeAll(() => ensureBackend());

describe('tensor memory', () => {
  it('a training step of any algorithm leaves no tensors behind', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const reward = new LetterFractionReward('a');
    const prompts = toyPrompts();
    const cfg = { sampling: { maxNewTokens: 6 }, optimizer: { learningRate: 0.01 } };
    const trainers: [string, OnlineTrainer][] = [
      [
        'ppo',
        await PpoTrainer.create({
          policy,
          reward,
          prompts,
          config: { ...cfg, batchSize: 8, miniBatchSize: 4 },
        }),
      ],
      [
        'grpo',
        await PolicyGradientTrainer.create({
          policy,
          reward,
          prompts,
          config: { ...cfg, algo: 'grpo', epochs: 2 },
        }),
      ],
      [
        'reinforce',
        await PolicyGradientTrainer.create({
          policy,
          reward,
          prompts,
          config: { ...cfg, algo: 'reinforce' },
        }),
      ],
      [
        'online-dpo',
        await OnlineDpoTrainer.create({ policy, judge: reward, prompts, config: cfg }),
      ],
      [
        'dpo',
        await DpoTrainer.create({
          policy,
          records: toyPreferences(40, 1),
          config: { epochs: 3, optimizer: cfg.optimizer },
        }),
      ],
    ];
    for (const [name, trainer] of trainers) {
      // The first steps allocate what lives for the whole run (moments, caches).
      await trainer.trainStep();
      await trainer.trainStep();
      const before = tf.memory().numTensors;
      await trainer.trainStep();
      await trainer.trainStep();
      expect({ name, tensors: tf.memory().numTensors }).toEqual({ name, tensors: before });
      trainer.dispose();
    }
    policy.dispose();
  });
});
