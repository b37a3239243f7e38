import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LlmPairwiseJudge } from '../judge/pairwise.ts';
import type { Constitution, PairwiseVerdict } from '../judge/types.ts';
import { vocabFromSpmTokenizer } from '../model/gguf-vocab.ts';
import { exportGguf } from '../model/gguf-writer.ts';
import { LlamaModel } from '../model/llama.ts';
import { loadLlama2cCheckpoint } from '../model/llama2c.ts';
import { loadLlama2cTokenizer } from '../model/tokenizer-spm.ts';
import { sharedModelsDir } from '../util/paths.ts';
import { CausalLMBackend } from './causal-lm.ts';
import { LlamaCppBackend } from './llama-cpp.ts';

const storiesDir = join(sharedModelsDir(), 'stories260K');
const constitution: Constitution = {
  name: 'stories',
  principles: [{ id: 'kind', text: 'Which story is kinder?', weight: 1 }],
};
const input = { prompt: 'Once upon a time', a: 'Lily shared her toys.', b: 'Tom broke the toys.' };
const render = (messages: { content: string }[]) => messages.slice(1).map((m) => m.content).join('\n') + '\nThe answer is';

let backend: LlamaCppBackend;
let engine: LlamaModel;

beforeAll(async () => {
  const { config, weights } = await loadLlama2cCheckpoint(join(storiesDir, 'stories260K.bin'));
  const tokenizer = await loadLlama2cTokenizer(join(storiesDir, 'tok512.bin'), { vocabSize: config.vocabSize });
  const path = join(mkdtempSync(join(tmpdir(), 'judge-gguf-')), 'stories260K.gguf');
  await exportGguf(path, { config, weights, tokenizer: vocabFromSpmTokenizer(tokenizer) });
  backend = new LlamaCppBackend({ modelPath: path, renderMessages: render });
  engine = await LlamaModel.fromWeights(config, weights, tokenizer, { trainable: false });
});

afterAll(async () => {
  await backend?.close();
  engine?.dispose();
});

describe.skipIf(!existsSync(join(storiesDir, 'stories260K.bin')))('node-llama-cpp judge on stories260K', () => {
  it('decodes the known greedy text', async () => {
    const result = await backend.complete({ prompt: 'Once upon a time', maxTokens: 12, temperature: 0 });
    expect(result.text).toBe(', there was a little girl named Lily. She');
    expect(result.usage).toEqual({ promptTokens: 5, completionTokens: 12 });
  });

  it('gives soft labels that sum to 1 and match the model\'s own log-probs', async () => {
    const judge = new LlmPairwiseJudge({ backend, constitution, topLogprobs: 512 });
    const verdict = (await judge.compare(input)) as PairwiseVerdict;
    expect(verdict.ok).toBe(true);
    expect(verdict.source).toBe('logprobs');

    // Recompute each order with the in-process engine: P(first) = sum of p over tokens that read
    // "A" / ("A" + "B") after the same prompt tokens.
    const answers = Array.from({ length: engine.config.vocabSize }, (_, id) => id)
      .map((id) => ({ id, label: engine.tokenizer.piece(id).trim() }))
      .filter((t) => t.label === 'A' || t.label === 'B');
    expect(answers.length).toBeGreaterThanOrEqual(2);
    const expected: number[] = [];
    for (const [first, second] of [[input.a, input.b], [input.b, input.a]]) {
      const messages = (await import('../judge/templates.ts')).pairwiseMessages({
        templates: (await import('../judge/templates.ts')).defaultTemplates,
        principle: constitution.principles[0].text, prompt: input.prompt, a: first, b: second, chainOfThought: false,
      });
      const ids = await backend.tokenize(render(messages));
      const scores = await engine.scoreContinuations(answers.map(() => ids), answers.map((t) => [t.id]));
      const mass = { A: 0, B: 0 };
      answers.forEach((t, i) => { mass[t.label as 'A' | 'B'] += Math.exp(scores[i][0]); });
      expected.push(mass.A / (mass.A + mass.B));
    }
    const [pFirstA, pFirstB] = expected;
    expect(verdict.perOrder![0]).toBeCloseTo(pFirstA, 4);
    expect(verdict.perOrder![1]).toBeCloseTo(1 - pFirstB, 4);
    // P(A) + P(B) after normalisation is 1 in each order by construction; check the combination.
    expect(verdict.pA).toBeCloseTo((pFirstA + 1 - pFirstB) / 2, 4);
    expect(verdict.pA).toBeGreaterThan(0);
    expect(verdict.pA).toBeLessThan(1);
  });

  it('agrees with the in-process backend on greedy text and top alternatives', async () => {
    const local = new CausalLMBackend({ model: engine, id: 'local:stories260K' });
    const request = { prompt: 'Once upon a time', maxTokens: 8, temperature: 0, topLogprobs: 5 };
    const [fromLlamaCpp, fromEngine] = [await backend.complete(request), await local.complete(request)];
    expect(fromEngine.text).toBe(fromLlamaCpp.text);
    for (let i = 0; i < 8; i++) {
      const mine = fromEngine.logprobs![i];
      const theirs = fromLlamaCpp.logprobs![i];
      expect(mine.logprob).toBeCloseTo(theirs.logprob, 4);
      expect(mine.top![0].logprob).toBeCloseTo(mine.logprob, 6);
      mine.top!.forEach((alt, k) => expect(alt.logprob).toBeCloseTo(theirs.top![k].logprob, 4));
    }
  });
});
