import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import { saveCheckpoint } from './checkpoint.ts';
import { ggufModel, parseGguf } from './gguf-reader.ts';
import { ggufVocab, tokenizerFromVocab, tokenizerJsonFromVocab, vocabFromSpmTokenizer } from './gguf-vocab.ts';
import { serializeModelGguf } from './gguf-writer.ts';
import { hfConfigFromLlama, toHfTensors, withRopeStyle } from './hf-layout.ts';
import { loadHfModel } from './hf-loader.ts';
import { LlamaModel } from './llama.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';
import { writeSafetensors } from './safetensors.ts';
import { maxLogitDifference, randomWeights, referenceLogits } from './test-support/reference-forward.ts';
import { loadLlama2cTokenizer, SpmTokenizer } from './tokenizer-spm.ts';
import type { LlamaConfig, LlamaWeights, Tokenizer } from './types.ts';

const scratch = await mkdtemp(join(tmpdir(), 'rlaif-hf-loader-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const storiesDir = join(sharedModelsDir(), 'stories260K');
const stories = await loadLlama2cCheckpoint(join(storiesDir, 'stories260K.bin'));
const storiesTokenizer = await loadLlama2cTokenizer(join(storiesDir, 'tok512.bin'), { vocabSize: 512 });
const storiesVocab = vocabFromSpmTokenizer(storiesTokenizer);

/** A tiny byte-level BPE tokenizer.json (Qwen2/SmolLM style) over 8 tokens. */
const byteLevelJson = {
  version: '1.0',
  added_tokens: [{
    id: 7, content: '<|endoftext|>', special: true, single_word: false, lstrip: false, rstrip: false,
    normalized: false,
  }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null,
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
    fuse_unk: false, byte_fallback: false,
    vocab: { h: 0, i: 1, '\u0120': 2, hi: 3, '\u0120hi': 4, '!': 5, '\u0120h': 6 },
    merges: ['h i', '\u0120 hi'],
  },
};

/** Writes an HF folder (no rlaif key): half-RoPE tensors, config.json, tokenizer files. */
async function writeHfFolder(
  dir: string,
  config: LlamaConfig,
  weights: LlamaWeights,
  tokenizerJson: Record<string, unknown>,
  options: { shards?: number; modelConfig?: Record<string, unknown> } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const half = withRopeStyle(config, weights, 'half');
  const tensors = toHfTensors(half.config, half.weights)
    .map((t): [string, { shape: number[]; data: Float32Array }] => [t.name, t]);
  if (options.shards) {
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < options.shards; s++) {
      const name = `model-0000${s + 1}-of-0000${options.shards}.safetensors`;
      const part = tensors.filter((_, i) => i % options.shards! === s);
      for (const [tensorName] of part) weightMap[tensorName] = name;
      await writeSafetensors(join(dir, name), part, { format: 'pt' });
    }
    const index = JSON.stringify({ metadata: {}, weight_map: weightMap });
    await writeFile(join(dir, 'model.safetensors.index.json'), index);
  } else {
    await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  }
  const hfConfig = { ...hfConfigFromLlama(half.config, { bosId: 1, eosId: 2 }), ...options.modelConfig };
  await writeFile(join(dir, 'config.json'), JSON.stringify(hfConfig));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
}

async function engineLogits(config: LlamaConfig, weights: LlamaWeights, tokenizer: Tokenizer, ids: number[]) {
  const model = await LlamaModel.fromWeights(config, weights, tokenizer, { trainable: false });
  try {
    return tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.arraySync()[0]);
  } finally {
    model.dispose();
  }
}

describe('Hugging Face folders', () => {
  it('loads a Llama folder with the logits of its GGUF export (stories260K weights)', async () => {
    const dir = join(scratch, 'llama');
    await writeHfFolder(dir, stories.config, stories.weights, tokenizerJsonFromVocab(storiesVocab));
    const hf = await loadHfModel(dir);
    expect(hf.format).toBe('hf');
    expect(hf.config).toEqual({ ...stories.config, ropeStyle: 'half' });
    expect(hf.tokenizer).toBeInstanceOf(SpmTokenizer);

    const text = 'Once upon a time, there was a little girl named Lily. She loved to play.';
    const ids = hf.tokenizer.encode(text, { bos: true });
    expect(ids).toEqual(storiesTokenizer.encode(text, { bos: true }));
    expect(hf.tokenizer.decode(ids)).toBe(text);

    const exported = serializeModelGguf({ config: hf.config, weights: hf.weights, tokenizer: storiesVocab });
    const gguf = ggufModel(parseGguf(exported, 'e.gguf'));
    expect(gguf.config.ropeStyle).toBe('interleaved');
    const viaHf = await engineLogits(hf.config, hf.weights, hf.tokenizer, ids);
    const viaGguf = await engineLogits(gguf.config, gguf.weights, hf.tokenizer, ids);
    const viaLlama2c = await engineLogits(stories.config, stories.weights, storiesTokenizer, ids);
    expect(maxLogitDifference(viaHf, viaGguf)).toBeLessThan(1e-4);
    expect(maxLogitDifference(viaHf, viaLlama2c)).toBeLessThan(1e-4);
    expect(maxLogitDifference(viaHf, referenceLogits(stories.config, stories.weights, ids))).toBeLessThan(1e-4);
  });

  it('loads sharded Qwen2-style folders with biases, tied embeddings and a byte-level tokenizer', async () => {
    const config: LlamaConfig = {
      dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 10, maxSeqLen: 64, normEps: 1e-6,
      ropeTheta: 1e6, ropeStyle: 'half', tiedEmbeddings: true, qkvBias: true,
    };
    const weights = randomWeights(config, 4);
    const dir = join(scratch, 'qwen');
    const modelConfig = { bos_token_id: null, eos_token_id: 7 };
    await writeHfFolder(dir, config, weights, byteLevelJson, { shards: 3, modelConfig });
    const hf = await loadHfModel(dir);
    expect(hf.config).toEqual(config);
    expect(hf.weights).toEqual(weights);
    expect(hf.tokenizer.encode('hi hi!')).toEqual([3, 4, 5]);
    expect(hf.tokenizer.eosId).toBe(7);
    expect(hf.tokenizer.decode([3, 4, 5, 7])).toBe('hi hi!');
    expect(hf.tokenizer.piece(4)).toBe(' hi');

    const ids = [3, 4, 5, 6, 0];
    const ggufFile = parseGguf(serializeModelGguf({ ...hf, tokenizer: hf.tokenizer }), 'q.gguf');
    const gguf = ggufModel(ggufFile);
    const vocab = ggufVocab(ggufFile);
    expect(vocab).toMatchObject({ model: 'gpt2', merges: ['h i', '\u0120 hi'], eosId: 7 });
    expect(vocab.tokens.slice(7)).toEqual(['<|endoftext|>', '[PAD8]', '[PAD9]']);
    expect(tokenizerFromVocab(vocab, 'q.gguf').encode('hi hi!<|endoftext|>')).toEqual([3, 4, 5, 7]);
    expect(maxLogitDifference(
      await engineLogits(hf.config, hf.weights, hf.tokenizer, ids),
      await engineLogits(gguf.config, gguf.weights, hf.tokenizer, ids),
    )).toBeLessThan(1e-4);
  });

  it('loads SmolLM-style folders (llama, tied, digits split before byte-level BPE) and exports them', async () => {
    const config: LlamaConfig = {
      dim: 16, hiddenDim: 24, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 12, maxSeqLen: 64, normEps: 1e-5,
      ropeTheta: 10000, ropeStyle: 'interleaved', tiedEmbeddings: true, qkvBias: false,
    };
    const weights = randomWeights(config, 12);
    const digitsFirst = {
      ...byteLevelJson,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevelJson.pre_tokenizer],
      },
      model: {
        ...byteLevelJson.model,
        vocab: { ...byteLevelJson.model.vocab, '1': 8, '2': 9, '12': 10 },
        merges: [...byteLevelJson.model.merges, '1 2'],
      },
    };
    const dir = join(scratch, 'smollm');
    await writeHfFolder(dir, config, weights, digitsFirst, { modelConfig: { eos_token_id: 7, bos_token_id: 7 } });
    const hf = await loadHfModel(dir);
    expect(hf.config).toEqual({ ...config, ropeStyle: 'half' });
    // Digits are split one by one before BPE, so the merge "1 2" never applies.
    expect(hf.tokenizer.encode('hi12')).toEqual([3, 8, 9]);

    const file = parseGguf(serializeModelGguf({ ...hf, tokenizer: hf.tokenizer }), 'smollm.gguf');
    expect(file.metadata.get('general.architecture')).toBe('llama');
    const vocab = ggufVocab(file);
    expect(vocab.pre).toBe('smollm');
    expect(tokenizerFromVocab(vocab, 'smollm.gguf').encode('hi12')).toEqual([3, 8, 9]);
    const back = ggufModel(file);
    expect(maxLogitDifference(
      referenceLogits(back.config, back.weights, [3, 8, 9, 4]),
      referenceLogits(config, weights, [3, 8, 9, 4]),
    )).toBeLessThan(1e-9);
  });

  it('reads the Llama-2 vocabulary as a SentencePiece-style tokenizer.json like the GGUF tokenizer', async () => {
    const path = join(sharedModelsDir(), 'tiny-random', 'llama-2-tiny-random.gguf');
    const file = parseGguf(await readFile(path), path);
    const vocab = ggufVocab(file);
    const { config, weights } = ggufModel(file);
    const dir = join(scratch, 'llama2-vocab');
    await writeHfFolder(dir, config, weights, tokenizerJsonFromVocab(vocab));
    const hf = await loadHfModel(dir);
    const gguf = tokenizerFromVocab(vocab, path);
    expect(hf.tokenizer.encode('Hello world')).toEqual([15043, 3186]);
    for (const text of ['The quick brown fox, naïve café 日本 🤖!', '  two  spaces\n\ttab', 'unbelievably']) {
      expect(hf.tokenizer.encode(text, { bos: true })).toEqual(gguf.encode(text, { bos: true }));
      expect(hf.tokenizer.decode(hf.tokenizer.encode(text))).toBe(gguf.decode(gguf.encode(text)));
    }
  });

  it('loads our checkpoints with their tokenizer and the weights as saved', async () => {
    const dir = join(scratch, 'checkpoint');
    await saveCheckpoint(dir, stories.config, stories.weights, { tokenizer: storiesTokenizer });
    const loaded = await loadHfModel(dir);
    expect(loaded.format).toBe('checkpoint');
    expect(loaded.config).toEqual(stories.config);
    expect(loaded.weights).toEqual(stories.weights);
    const text = 'Lily and Ben played with a red ball. "Look!" she said.';
    expect(loaded.tokenizer.encode(text, { bos: true })).toEqual(storiesTokenizer.encode(text, { bos: true }));
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect([config.bos_token_id, config.eos_token_id]).toEqual([1, 2]);
  });

  it('names the file and the fault', async () => {
    const config: LlamaConfig = {
      ...stories.config, vocabSize: 6, dim: 8, hiddenDim: 8, nHeads: 2, nKvHeads: 2, nLayers: 1,
    };
    const weights = randomWeights(config, 1);
    const dir = join(scratch, 'bad');
    await writeHfFolder(dir, config, weights, byteLevelJson);
    await expect(loadHfModel(dir)).rejects.toThrow(
      /bad\/tokenizer\.json: tokenizer does not fit the model: it has 8 tokens, the model's vocabulary has 6/,
    );
    await rm(join(dir, 'tokenizer.json'));
    await expect(loadHfModel(dir)).rejects.toThrow(/bad\/tokenizer\.json: cannot read/);

    const hfConfig = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...hfConfig, model_type: 'mistral' }));
    await expect(loadHfModel(dir)).rejects.toThrow(/config\.json: field "model_type": "mistral" is not supported/);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...hfConfig, intermediate_size: 12 }));
    await expect(loadHfModel(dir)).rejects.toThrow(
      /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[8,8\], the config implies \[12,8\]/,
    );
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...hfConfig, num_hidden_layers: 2 }));
    await expect(loadHfModel(dir)).rejects.toThrow(
      /model\.safetensors: tensor "model\.layers\.1\.input_layernorm\.weight" is missing/,
    );
  });
});
