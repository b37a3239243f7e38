import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LlamaModel } from '../model/llama.ts';
import { sharedModelsDir } from '../util/paths.ts';
import { checkLibrary } from './checks.ts';
import { createDefaultJudge } from './default-judges.ts';
import type { PairwiseVerdict } from './types.ts';

let model: LlamaModel;
beforeAll(async () => {
  model = await LlamaModel.fromLlama2c(join(sharedModelsDir(), 'stories260K/stories260K.bin'), { trainable: false });
});
afterAll(() => model?.dispose());

describe('the fluency check on stories260K', () => {
  const prompt = 'Once upon a time';
  const fluent = ', there was a little girl named Lily. She loved to play outside.';
  const garbled = ' girl Lily time a upon named there, outside play loved.';

  it('is the mean log-prob of the response tokens given the prompt', async () => {
    const fluency = checkLibrary({ model }).get('fluency')!;
    const promptIds = model.tokenizer.encode(prompt, { bos: true });
    const continuation = model.tokenizer.encode(prompt + fluent, { bos: true }).slice(promptIds.length);
    const [logprobs] = await model.scoreContinuations([promptIds], [continuation]);
    const expected = logprobs.reduce((a, b) => a + b, 0) / logprobs.length;
    expect(await fluency.score(prompt, fluent)).toBeCloseTo(expected, 10);
    expect(await fluency.score(prompt, fluent)).toBeGreaterThan(await fluency.score(prompt, garbled));
  });

  it('lets the default judge with a model prefer the fluent story by the fluency principle', async () => {
    const judge = createDefaultJudge({ model });
    const principle = { id: 'fluency', text: 'fluent', weight: 1, check: 'fluency' };
    const verdict = (await judge.compare({ prompt, a: garbled, b: fluent }, { principle })) as PairwiseVerdict;
    expect(verdict.choice).toBe('B');
    expect(verdict.pA).toBeLessThan(0.2);
  });
});
