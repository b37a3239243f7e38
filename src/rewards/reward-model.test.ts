import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RewardHead } from '../model/heads.ts';
import { LlamaModel } from '../model/llama.ts';
import { sharedModelsDir } from '../util/paths.ts';
import { RewardModelSource } from './reward-model.ts';

describe('RewardModelSource over stories260K with a reward head', () => {
  let model: LlamaModel;
  let head: RewardHead;

  beforeAll(async () => {
    model = await LlamaModel.fromLlama2c(join(sharedModelsDir(), 'stories260K', 'stories260K.bin'));
    head = new RewardHead({ dim: model.config.dim, seed: 3 });
  });
  afterAll(() => {
    head.dispose();
    model.dispose();
  });

  const items = [
    { prompt: 'Once upon a time', response: ', there was a kind girl.' },
    { prompt: 'Tom had a ball.', response: ' He shared it with his friend and they played all day in the sun.' },
    { prompt: 'The cat', response: ' slept.' },
  ];

  it('scores each item as the head applied to the hidden state at its last token', async () => {
    const outcomes = await new RewardModelSource({ model, head, batchSize: 3 }).score(items);
    const { weight, bias } = head.exportState();
    const expected = items.map((item) => {
      const ids = model.tokenizer.encode(item.prompt + item.response, { bos: true });
      return tf.tidy(() => {
        const { hidden } = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
        const last = Array.from(tf.slice(hidden, [0, ids.length - 1, 0], [1, 1, model.config.dim]).dataSync());
        return last.reduce((sum: number, h: number, i: number) => sum + h * weight[i], bias[0]);
      });
    });
    outcomes.forEach((o, i) => {
      expect(o.ok).toBe(true);
      expect(o.ok && o.reward).toBeCloseTo(expected[i], 4);
    });
    // Padded batches and single items agree.
    const single = await new RewardModelSource({ model, head, batchSize: 1 }).score(items);
    single.forEach((o, i) => expect(o.ok && o.reward).toBeCloseTo(outcomes[i].ok ? outcomes[i].reward : NaN, 4));
  });

  it('normalises with the given statistics', async () => {
    const raw = await new RewardModelSource({ model, head }).score(items.slice(0, 1));
    const scaled = await new RewardModelSource({ model, head, mean: 1, std: 2 }).score(items.slice(0, 1));
    expect(scaled[0].ok && scaled[0].reward).toBeCloseTo(raw[0].ok ? (raw[0].reward - 1) / 2 : NaN, 6);
  });
});
