import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LlamaModel } from '../model/llama.ts';
import { sharedModelsDir } from '../util/paths.ts';
import {
  completionLoss,
  evaluateCompletionLoss,
  tokenizeExample,
  trainSft,
  type SftExample,
} from './sft.ts';

const checkpoint = join(sharedModelsDir(), 'stories260K', 'stories260K.bin');

// Revisions in the shape critique and revision produces: a story opening and a kinder ending.
const revisions: SftExample[] = [
  {
    prompt: 'Once upon a time, a dragon',
    completion: ' shared his toys with the little bunny and they became friends.',
  },
  {
    prompt: 'Tom was angry at his sister.',
    completion: ' Then he said sorry, and they hugged and played with the ball.',
  },
  {
    prompt: 'The big dog ran to the park.',
    completion: ' He helped a lost cat find her mom, and everyone was happy.',
  },
  {
    prompt: "Lily broke her mom's vase.",
    completion: ' She told the truth, and her mom gave her a big hug.',
  },
];

describe('SFT on revisions with stories260K', () => {
  let model: LlamaModel;

  beforeAll(async () => {
    model = await LlamaModel.fromLlama2c(checkpoint);
  });
  afterAll(() => model.dispose());

  it('splits prompt and completion at the prompt tokens', () => {
    const { ids, promptLength } = tokenizeExample(model.tokenizer, revisions[0], {
      maxLength: 512,
    });
    const promptIds = model.tokenizer.encode(revisions[0].prompt, { bos: true });
    expect(ids.slice(0, promptLength)).toEqual(promptIds);
    expect(ids[0]).toBe(model.tokenizer.bosId);
    expect(model.tokenizer.decode(ids.slice(promptLength)).trim()).toBe(
      revisions[0].completion.trim(),
    );
  });

  it('the masked loss equals the mean teacher-forced NLL of the completion tokens, padding included', async () => {
    const batch = revisions
      .slice(0, 2)
      .map((e) => tokenizeExample(model.tokenizer, e, { maxLength: 512 }));
    expect(batch[0].ids.length).not.toBe(batch[1].ids.length);
    const loss = completionLoss(model, batch);
    const value = loss.dataSync()[0];
    loss.dispose();

    const scored = await model.scoreContinuations(
      batch.map((e) => e.ids.slice(0, e.promptLength)),
      batch.map((e) => e.ids.slice(e.promptLength)),
    );
    const all = scored.flat();
    const reference = -all.reduce((a, b) => a + b, 0) / all.length;
    expect(value).toBeCloseTo(reference, 4);
  });

  it('lowers the loss on the revisions', async () => {
    const trainable = await LlamaModel.fromLlama2c(checkpoint);
    try {
      const before = evaluateCompletionLoss(trainable, revisions);
      const { losses, steps } = await trainSft({
        model: trainable,
        examples: revisions,
        epochs: 6,
        batchSize: 4,
        learningRate: 3e-3,
      });
      const after = evaluateCompletionLoss(trainable, revisions);
      expect(steps).toBe(6);
      expect(losses[0]).toBeCloseTo(before, 4);
      expect(after).toBeLessThan(before * 0.8);
      // The frozen copy is untouched: only the trained model moved.
      expect(evaluateCompletionLoss(model, revisions)).toBeCloseTo(before, 5);
    } finally {
      trainable.dispose();
    }
  }, 120_000);
});
