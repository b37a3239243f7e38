import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { LlamaModel } from '../model/llama.ts';
import { loadModel } from '../model/load.ts';
import { sharedModelsDir } from '../util/paths.ts';
import { saveFinalPolicy } from './stage-rl.ts';

const modelDir = join(sharedModelsDir(), 'stories260K');

async function greedy(model: LlamaModel, prompt: string): Promise<string> {
  const ids = model.tokenizer.encode(prompt, { bos: true });
  const [result] = await model.generate([ids], { maxNewTokens: 16, temperature: 0 });
  return model.tokenizer.decode(result.tokens);
}

describe("the run's final policy", () => {
  it('loads with loadModel and generates the same greedy text as the policy saved', async () => {
    const source = await loadModel(join(modelDir, 'stories260K.bin'));
    const policy = await LlamaModel.fromWeights(source.config, source.weights, source.tokenizer);
    const dir = join(mkdtempSync(join(tmpdir(), 'rlaif-final-')), 'final');
    await saveFinalPolicy(dir, policy);

    const loaded = await loadModel(dir);
    expect(loaded.format).toBe('checkpoint');
    const reopened = await LlamaModel.fromWeights(loaded.config, loaded.weights, loaded.tokenizer);
    const expected = await greedy(policy, 'Once upon a time');
    expect(expected.length).toBeGreaterThan(10);
    expect(await greedy(reopened, 'Once upon a time')).toBe(expected);

    // A folder without tokenizer.json loads with an explicit llama2.c tokenizer file.
    rmSync(join(dir, 'tokenizer.json'));
    await expect(loadModel(dir)).rejects.toThrow(/tokenizer\.json/);
    const withFile = await loadModel(dir, { tokenizerPath: join(modelDir, 'tok512.bin') });
    const third = await LlamaModel.fromWeights(withFile.config, withFile.weights, withFile.tokenizer);
    expect(await greedy(third, 'Once upon a time')).toBe(expected);
    policy.dispose();
    reopened.dispose();
    third.dispose();
  });
});
