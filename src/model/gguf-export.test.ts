import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import { tokenizerFromVocab, vocabFromSpmTokenizer, type GgufVocab } from './gguf-vocab.ts';
import { exportGguf } from './gguf-writer.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';
import { randomWeights, referenceLogits } from './test-support/reference-forward.ts';
import { loadLlama2cTokenizer } from './tokenizer-spm.ts';
import type { LlamaConfig, LlamaWeights } from './types.ts';

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
    const text = tokenizer.encode('Once upon a time, there was a big dog. It liked to run.', { bos: true });
    expect(await worstLogprobError(model, config, weights, text)).toBeLessThan(1e-4);
  });

  it('exports qwen2 models with a byte-level vocabulary that node-llama-cpp reads alike', async () => {
    const qwen: LlamaConfig = {
      dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 264, maxSeqLen: 128,
      normEps: 1e-6, ropeTheta: 1e6, ropeStyle: 'half', tiedEmbeddings: true, qkvBias: true,
    };
    const qwenWeights = randomWeights(qwen, 3, 0.3);
    const vocab = byteLevelVocab();
    const path = join(scratch, 'qwen.gguf');
    await exportGguf(path, { config: qwen, weights: qwenWeights, tokenizer: vocab });
    const qwenModel = await llama.loadModel({ modelPath: path });
    try {
      const ours = tokenizerFromVocab(vocab, path);
      const text = 'hi the thin hit 42!\nok<|im_start|>';
      expect(qwenModel.tokenize(text, true)).toEqual(ours.encode(text));
      const ids = ours.encode('hi the thin hit, then the hint');
      expect(await worstLogprobError(qwenModel, qwen, qwenWeights, ids)).toBeLessThan(1e-4);
    } finally {
      await qwenModel.dispose();
    }
  });
});

/** All 256 GPT-2 byte stand-ins, a few merged tokens and two control tokens (ids 262, 263). */
function byteLevelVocab(): GgufVocab {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  let shifted = 0;
  const bytes = Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + shifted++));
  const words = ['hi', '\u0120hi', 'th', '\u0120th', 'the', '\u0120the'];
  return {
    model: 'gpt2',
    tokens: [...bytes, ...words, '<|endoftext|>', '<|im_start|>'],
    tokenTypes: [...bytes.map(() => 1), ...words.map(() => 1), 3, 3],
    merges: ['h i', '\u0120 hi', 't h', '\u0120 th', 'th e', '\u0120th e'],
    bosId: 262,
    eosId: 262,
    pre: 'qwen2',
  };
}

/**
 * Largest gap between node-llama-cpp's log p(next token) and the float64 reference over `ids`,
 * with flash attention off and an F32 KV cache.
 */
async function worstLogprobError(
  target: LlamaModel,
  modelConfig: LlamaConfig,
  modelWeights: LlamaWeights,
  ids: number[],
): Promise<number> {
  const context = await target.createContext({
    threads: 1, contextSize: 128, flashAttention: false,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });
  try {
    const outputs = await context.getSequence().controlledEvaluate(
      (ids as Token[]).map((token) => [token, { generateNext: { probabilities: true } }] as const),
    );
    const logits = referenceLogits(modelConfig, modelWeights, ids);
    let worst = 0;
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = logits[t];
      const max = Math.max(...row);
      const logSum = Math.log(row.reduce((sum, v) => sum + Math.exp(v - max), 0)) + max;
      const theirs = Math.log(outputs[t]!.next!.probabilities!.get(ids[t + 1] as Token)!);
      worst = Math.max(worst, Math.abs(row[ids[t + 1]] - logSum - theirs));
    }
    return worst;
  } finally {
    await context.dispose();
  }
}
