import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import { vocabFromSpmTokenizer } from './gguf-vocab.ts';
import { exportGguf } from './gguf-writer.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';
import { referenceLogits } from './test-support/reference-forward.ts';
import { loadLlama2cTokenizer } from './tokenizer-spm.ts';

const storiesDir = join(sharedModelsDir(), 'stories260K');
const reference = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
const scratch = await mkdtemp(join(tmpdir(), 'rlaif-gguf-export-'));
const ggufPath = join(scratch, 'stories260K.gguf');

const { config, weights } = await loadLlama2cCheckpoint(join(storiesDir, 'stories260K.bin'));
const tokenizer = await loadLlama2cTokenizer(join(storiesDir, 'tok512.bin'), { vocabSize: config.vocabSize });

let llama: Llama;
let model: LlamaModel;

beforeAll(async () => {
  await exportGguf(ggufPath, { config, weights, tokenizer: vocabFromSpmTokenizer(tokenizer) });
  // One thread: with 2 cores shared, more threads are many times slower here.
  llama = await getLlama({ gpu: false, maxThreads: 0, logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: ggufPath });
});

afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
  await rm(scratch, { recursive: true, force: true });
});

/**
 * The plain float64 reference's greedy choice after each prefix of `sequence`, from one
 * teacher-forced pass: equal to `sequence` itself exactly when `sequence` is greedy.
 */
function referenceArgmaxes(sequence: number[], promptLength: number): number[] {
  const logits = referenceLogits(config, weights, sequence.slice(0, -1));
  return logits.slice(promptLength - 1).map((row) => row.indexOf(Math.max(...row)));
}

describe('GGUF export of stories260K in node-llama-cpp', () => {
  it('tokenizes like our tokenizer and decodes the reference text greedily', async () => {
    const context = await model.createContext({ threads: 1, contextSize: 256, flashAttention: false });
    try {
      // node-llama-cpp's tokenize() adds no BOS.
      const prompt = [1, ...model.tokenize('Once upon a time')] as Token[];
      expect(prompt).toEqual(tokenizer.encode('Once upon a time', { bos: true }));

      const generated: Token[] = [];
      for await (const token of context.getSequence().evaluate(prompt, { temperature: 0 })) {
        generated.push(token);
        if (generated.length === 64) break;
      }
      const text = tokenizer.decode([...prompt, ...generated]);
      expect(text.startsWith(reference)).toBe(true);
      expect(model.detokenize(generated)).toBe(tokenizer.decode(generated));
      expect(generated).toEqual(referenceArgmaxes([...prompt, ...generated], prompt.length));
    } finally {
      await context.dispose();
    }
  });

  it('gives next-token probabilities equal to the reference computation', async () => {
    const context = await model.createContext({
      threads: 1, contextSize: 128, flashAttention: false,
      experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
    });
    try {
      const text = tokenizer.encode('Once upon a time, there was a big dog. It liked to run.', { bos: true }) as Token[];
      const outputs = await context.getSequence().controlledEvaluate(
        text.map((token) => [token, { generateNext: { probabilities: true } }] as const),
      );
      const logits = referenceLogits(config, weights, text);
      let worst = 0;
      for (let t = 0; t + 1 < text.length; t++) {
        const row = logits[t];
        const max = Math.max(...row);
        const logSum = Math.log(row.reduce((sum, v) => sum + Math.exp(v - max), 0)) + max;
        const ours = row[text[t + 1]] - logSum;
        const theirs = Math.log(outputs[t]!.next!.probabilities!.get(text[t + 1])!);
        worst = Math.max(worst, Math.abs(ours - theirs));
      }
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await context.dispose();
    }
  });
});
