import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from '../model/backend.ts';
import {
  clipScores,
  packSequences,
  penaliseUnfinished,
  promptsForStep,
  splitPromptResponse,
} from './rollout.ts';
import { ToyTokenizer } from './toy-model.ts';

beforeAll(() => ensureBackend());

describe('promptsForStep', () => {
  it('visits every prompt once per epoch, in a seeded order', () => {
    const prompts = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'].map((prompt) => ({ prompt }));
    const epoch = [1, 2, 3].flatMap((step) =>
      promptsForStep(prompts, { step, count: 2, seed: 7 }).map((p) => p.prompt),
    );
    expect([...epoch].sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    expect(promptsForStep(prompts, { step: 2, count: 2, seed: 7 })).toEqual(
      promptsForStep(prompts, { step: 2, count: 2, seed: 7 }),
    );
    expect(() => promptsForStep([], { step: 1, count: 1, seed: 0 })).toThrow(/at least one prompt/);
  });
});

describe('packSequences', () => {
  it('right-pads and marks the targets that are response tokens', () => {
    const packed = packSequences(
      [
        [1, 5],
        [1, 6, 7],
      ],
      [[8, 2], [9]],
      [true, true],
    );
    expect(packed.tokens.arraySync()).toEqual([
      [1, 5, 8, 2],
      [1, 6, 7, 9],
    ]);
    expect(packed.attention.arraySync()).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    // Row 0 predicts 8 from position 1 and 2 from position 2; row 1 predicts 9 from position 2.
    expect(packed.responseMask.arraySync()).toEqual([
      [0, 1, 1],
      [0, 0, 1],
    ]);
    const dropped = packSequences([[1, 5]], [[8]], [false]);
    expect(dropped.responseMask.arraySync()).toEqual([[0, 0]]);
  });
});

describe('score shaping', () => {
  it('penalises responses that never ended and clips', () => {
    // 0.5 ended, 0.5 - 1 = -0.5 hit the cap, NaN stays NaN
    expect(penaliseUnfinished([0.5, 0.5, Number.NaN], [true, false, false], 1)).toEqual([
      0.5,
      -0.5,
      Number.NaN,
    ]);
    expect(clipScores([-12, 3, 12], 10)).toEqual([-10, 3, 10]);
    expect(clipScores([-12, 12], 0)).toEqual([-12, 12]);
  });
});

describe('splitPromptResponse', () => {
  it('splits the tokens of the whole text at the prompt', () => {
    const tokenizer = new ToyTokenizer(16);
    // BOS = 1, letters from id 3: b = 4, c = 5, a = 3
    expect(splitPromptResponse(tokenizer, 'bc', 'aab')).toEqual({
      promptTokens: [1, 4, 5],
      responseTokens: [3, 3, 4],
    });
    expect(splitPromptResponse(tokenizer, 'bcd', 'a', 2)).toEqual({
      promptTokens: [5, 6],
      responseTokens: [3],
    });
  });
});
