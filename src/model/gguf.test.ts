import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import {
  GgmlType,
  GgufValueType,
  dequantizeQ8_0,
  ggufConfig,
  ggufModel,
  parseGguf,
} from './gguf-reader.ts';
import { ggufVocab, tokenizerFromVocab, tokenizerJsonFromVocab, type GgufVocab } from './gguf-vocab.ts';
import { modelGgufParts, serializeGguf, serializeModelGguf, type GgufMetadataEntry } from './gguf-writer.ts';
import { withRopeStyle } from './hf-layout.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { maxLogitDifference, randomWeights, referenceLogits } from './test-support/reference-forward.ts';
import type { LlamaConfig } from './types.ts';

const tinyRandomPath = join(sharedModelsDir(), 'tiny-random', 'llama-2-tiny-random.gguf');
const tinyRandom = parseGguf(await readFile(tinyRandomPath), tinyRandomPath);

const small: LlamaConfig = {
  dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 6, maxSeqLen: 64,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: 'interleaved', tiedEmbeddings: false, qkvBias: false,
};
const smallVocab: GgufVocab = {
  model: 'llama', tokens: ['<unk>', '<s>', '</s>', '\u2581a', 'b', '\u2581ab'], scores: [0, 0, 0, -1, -2, -3],
  tokenTypes: [2, 3, 3, 1, 1, 1], bosId: 1, eosId: 2, unkId: 0,
};
const tokens = [1, 3, 4, 5, 2, 3];

describe('GGUF reader on the Llama-2 tiny-random file', () => {
  it('reads metadata, config and tensor shapes', () => {
    expect(tinyRandom.version).toBe(3);
    expect(tinyRandom.metadata.get('general.architecture')).toBe('llama');
    expect(tinyRandom.metadata.get('llama.attention.layer_norm_rms_epsilon')).toBe(1e-5);
    expect(ggufConfig(tinyRandom)).toEqual({
      dim: 8, hiddenDim: 32, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 32000, maxSeqLen: 4096,
      normEps: 1e-5, ropeTheta: 10000, ropeStyle: 'interleaved', tiedEmbeddings: false, qkvBias: false,
    });
    const { weights } = ggufModel(tinyRandom);
    expect(weights.tokenEmbedding.length).toBe(32000 * 8);
    expect(weights.layers[0].w2.length).toBe(8 * 32);
    expect(weights.output!.length).toBe(32000 * 8);

    // The F32 norm read straight from the bytes at data start + its offset.
    const info = tinyRandom.tensors.get('output_norm.weight')!;
    const view = new DataView(tinyRandom.bytes.buffer, tinyRandom.bytes.byteOffset);
    const start = tinyRandom.dataOffset + info.offset;
    const direct = Array.from({ length: 8 }, (_, i) => view.getFloat32(start + 4 * i, true));
    expect([...weights.finalNorm]).toEqual(direct);
    // One F16 embedding value decoded by hand: sign, exponent, mantissa.
    const embedding = tinyRandom.tensors.get('token_embd.weight')!;
    const bits = view.getUint16(tinyRandom.dataOffset + embedding.offset + 2 * 12345, true);
    const exponent = (bits >> 10) & 31;
    const byHand = (bits & 0x8000 ? -1 : 1) * (exponent ? 1 + (bits & 1023) / 1024 : (bits & 1023) / 1024) *
      2 ** ((exponent || 1) - 15);
    expect(weights.tokenEmbedding[12345]).toBe(byHand);
  });

  it('tokenizes with the Llama-2 vocabulary inside the file', () => {
    const vocab = ggufVocab(tinyRandom);
    expect(vocab.tokens.length).toBe(32000);
    const tokenizer = tokenizerFromVocab(vocab, tinyRandomPath);
    expect(tokenizer.encode('Hello world')).toEqual([15043, 3186]);
    expect(tokenizer.encode('Once upon a time', { bos: true })).toEqual([1, 9038, 2501, 263, 931]);
    expect(tokenizer.encode('a\nb')).toEqual([263, 13, 29890]);
    expect(tokenizer.decode([1, 15043, 3186, 2])).toBe('Hello world');

    // The same vocabulary as an HF tokenizer.json (merges ordered by score) encodes alike.
    const hf = new HfTokenizer(tokenizerJsonFromVocab(vocab), { bosId: 1, eosId: 2, source: tinyRandomPath });
    for (const text of ['Hello world', 'The quick brown fox, naïve café 日本 🤖!', '  two  spaces\n\ttab']) {
      expect(hf.encode(text)).toEqual(tokenizer.encode(text));
      expect(hf.decode(hf.encode(text))).toBe(text);
    }
  });
});

describe('GGUF writer', () => {
  it('round-trips metadata of every type, arrays included', () => {
    const metadata: GgufMetadataEntry[] = [
      { key: 'u8', type: GgufValueType.UINT8, value: 250 }, { key: 'i8', type: GgufValueType.INT8, value: -5 },
      { key: 'u16', type: GgufValueType.UINT16, value: 65000 }, { key: 'i16', type: GgufValueType.INT16, value: -300 },
      { key: 'u32', type: GgufValueType.UINT32, value: 4e9 }, { key: 'i32', type: GgufValueType.INT32, value: -7 },
      { key: 'f32', type: GgufValueType.FLOAT32, value: 0.1 },
      { key: 'f64', type: GgufValueType.FLOAT64, value: Math.PI },
      { key: 'bool', type: GgufValueType.BOOL, value: true },
      { key: 'str', type: GgufValueType.STRING, value: 'héllo' },
      { key: 'u64', type: GgufValueType.UINT64, value: 2n ** 60n },
      { key: 'i64', type: GgufValueType.INT64, value: -3 },
      { key: 'strings', type: GgufValueType.STRING, value: ['a', '', '▁b'] },
      { key: 'floats', type: GgufValueType.FLOAT32, value: [1.5, -2] },
    ];
    const parsed = parseGguf(serializeGguf(metadata, [], 64), 'meta.gguf');
    expect(Object.fromEntries(parsed.metadata)).toEqual({
      u8: 250, i8: -5, u16: 65000, i16: -300, u32: 4e9, i32: -7, f32: 0.1, f64: Math.PI, bool: true,
      str: 'héllo', u64: 2n ** 60n, i64: -3, strings: ['a', '', '▁b'], floats: [1.5, -2], 'general.alignment': 64,
    });
    expect(parsed.alignment).toBe(64);
    expect(parsed.dataOffset % 64).toBe(0);
  });

  it('writes a llama model that reads back with identical weights, and F16 within half precision', () => {
    const weights = randomWeights(small, 5);
    const back = ggufModel(parseGguf(serializeModelGguf({ config: small, weights, tokenizer: smallVocab }), 'w.gguf'));
    expect(back.config).toEqual(small);
    expect(back.weights).toEqual(weights);
    expect(ggufVocab(parseGguf(serializeModelGguf({ config: small, weights, tokenizer: smallVocab }), 'w.gguf')))
      .toMatchObject({
        model: 'llama', tokens: smallVocab.tokens, scores: smallVocab.scores, tokenTypes: [2, 3, 3, 1, 1, 1],
      });

    const f16Bytes = serializeModelGguf({ config: small, weights, tokenizer: smallVocab, fileType: 'F16' });
    const f16 = ggufModel(parseGguf(f16Bytes, 'h.gguf'));
    expect(f16.weights.finalNorm).toEqual(weights.finalNorm); // norms stay F32
    const wq = f16.weights.layers[1].wq;
    wq.forEach((value, i) => expect(Math.abs(value - weights.layers[1].wq[i])).toBeLessThanOrEqual(2 ** -11 * 0.25));
  });

  it('permutes half-RoPE models into llama order and writes biased models as qwen2', () => {
    const interleavedWeights = randomWeights(small, 6);
    const half = withRopeStyle(small, interleavedWeights, 'half');
    const back = ggufModel(parseGguf(serializeModelGguf({ ...half, tokenizer: smallVocab }), 'p.gguf'));
    expect(back.config.ropeStyle).toBe('interleaved');
    expect(back.weights).toEqual(interleavedWeights);

    const qwen: LlamaConfig = { ...small, ropeStyle: 'half', qkvBias: true, tiedEmbeddings: true };
    const qwenWeights = randomWeights(qwen, 8);
    const qwenBytes = serializeModelGguf({ config: qwen, weights: qwenWeights, tokenizer: smallVocab });
    const file = parseGguf(qwenBytes, 'q.gguf');
    expect(file.metadata.get('general.architecture')).toBe('qwen2');
    expect(file.tensors.has('blk.1.attn_k.bias')).toBe(true);
    const qwenBack = ggufModel(file);
    expect(qwenBack.config).toEqual(qwen);
    expect(maxLogitDifference(
      referenceLogits(qwenBack.config, qwenBack.weights, tokens),
      referenceLogits(qwen, qwenWeights, tokens),
    )).toBe(0);
  });

  it('reads BF16 tensors and version-2 files', () => {
    const weights = randomWeights(small, 4);
    const parts = modelGgufParts({ config: small, weights, tokenizer: smallVocab });
    const index = parts.tensors.findIndex((t) => t.name === 'blk.1.attn_output.weight');
    // bfloat16 is the top 16 bits of a float32: truncate, then expect exactly those values back.
    const words = new Uint32Array(Float32Array.from(weights.layers[1].wo).buffer);
    const bf16 = Uint16Array.from(words, (w) => w >>> 16);
    parts.tensors[index] = { ...parts.tensors[index], type: GgmlType.BF16, bytes: new Uint8Array(bf16.buffer) };
    const bytes = serializeGguf(parts.metadata, parts.tensors);
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, 2, true); // v2 has the same layout
    const file = parseGguf(bytes, 'bf16.gguf');
    expect(file.version).toBe(2);
    const expected = new Float32Array(Uint32Array.from(words, (w) => (w & 0xffff0000) >>> 0).buffer);
    expect(ggufModel(file).weights.layers[1].wo).toEqual(expected);
  });

  it('dequantises Q8_0 blocks', () => {
    const block = new Uint8Array(34);
    new DataView(block.buffer).setUint16(0, 0x3800, true); // scale 0.5
    for (let i = 0; i < 32; i++) new DataView(block.buffer).setInt8(2 + i, i * 8 - 128);
    expect([...dequantizeQ8_0(block)]).toEqual(Array.from({ length: 32 }, (_, i) => (i * 8 - 128) / 2));

    // A whole model whose ffn_up matrix of layer 0 ([40, 16], 20 blocks) is stored as Q8_0.
    const parts = modelGgufParts({ config: small, weights: randomWeights(small, 2), tokenizer: smallVocab });
    const quantised = new Uint8Array(20 * 34);
    const view = new DataView(quantised.buffer);
    for (let b = 0; b < 20; b++) {
      view.setUint16(b * 34, 0x3400, true); // scale 0.25
      for (let i = 0; i < 32; i++) view.setInt8(b * 34 + 2 + i, ((b * 32 + i) % 256) - 128);
    }
    const index = parts.tensors.findIndex((t) => t.name === 'blk.0.ffn_up.weight');
    parts.tensors[index] = { ...parts.tensors[index], type: GgmlType.Q8_0, bytes: quantised };
    const { weights } = ggufModel(parseGguf(serializeGguf(parts.metadata, parts.tensors), 'q8.gguf'));
    expect([...weights.layers[0].w3]).toEqual(Array.from({ length: 640 }, (_, i) => ((i % 256) - 128) / 4));
  });
});

describe('GGUF errors name the file and the fault', () => {
  const bytes = serializeModelGguf({ config: small, weights: randomWeights(small, 1), tokenizer: smallVocab });

  it('rejects a wrong magic number, an old version and a truncated file', () => {
    const wrongMagic = bytes.slice();
    wrongMagic.set([0x47, 0x47, 0x4d, 0x4c]);
    expect(() => parseGguf(wrongMagic, 'm.gguf')).toThrow(/m\.gguf: not a GGUF file: magic number/);
    const version1 = bytes.slice();
    new DataView(version1.buffer).setUint32(4, 1, true);
    expect(() => parseGguf(version1, 'v.gguf')).toThrow(/v\.gguf: GGUF version 1 is not supported/);
    expect(() => parseGguf(bytes.subarray(0, 200), 'cut.gguf')).toThrow(/cut\.gguf: truncated/);
    expect(() => parseGguf(bytes.subarray(0, bytes.length - 64), 'end.gguf')).toThrow(
      /end\.gguf: truncated: tensor "output\.weight" ends at byte/,
    );
  });

  it('rejects unsupported tensor types and architectures', () => {
    const parts = modelGgufParts({ config: small, weights: randomWeights(small, 1), tokenizer: smallVocab });
    const index = parts.tensors.findIndex((t) => t.name === 'blk.1.ffn_down.weight');
    parts.tensors[index] = { ...parts.tensors[index], type: 12 }; // Q4_K
    const file = parseGguf(serializeGguf(parts.metadata, parts.tensors), 'quant.gguf');
    expect(() => ggufModel(file)).toThrow(
      /quant\.gguf: tensor "blk\.1\.ffn_down\.weight" has type Q4_K, which is not supported/,
    );
    const withFreqs = modelGgufParts({ config: small, weights: randomWeights(small, 1), tokenizer: smallVocab });
    withFreqs.tensors.push({ name: 'rope_freqs.weight', dims: [2], type: GgmlType.F32, bytes: new Uint8Array(8) });
    expect(() => ggufModel(parseGguf(serializeGguf(withFreqs.metadata, withFreqs.tensors), 'l3.gguf'))).toThrow(
      /l3\.gguf: RoPE frequency factors \(tensor "rope_freqs\.weight"\) are not supported/,
    );
    const gptMetadata = [{ key: 'general.architecture', type: GgufValueType.STRING, value: 'gpt2' } as const];
    const gpt = parseGguf(serializeGguf(gptMetadata, []), 'g.gguf');
    expect(() => ggufModel(gpt)).toThrow(/g\.gguf: architecture "gpt2" is not supported/);
    expect(() => ggufVocab(gpt)).toThrow(/g\.gguf: metadata "tokenizer\.ggml\.model" is missing/);
  });
});

describe('byte-level BPE vocabularies (gpt2)', () => {
  it('encodes with merges, keeps control tokens whole and decodes bytes', () => {
    const vocab: GgufVocab = {
      model: 'gpt2', tokens: ['a', 'b', 'c', '\u0120', 'ab', '\u0120ab', '<|endoftext|>', '\u00c3', '\u00a9'],
      tokenTypes: [1, 1, 1, 1, 1, 1, 3, 1, 1], merges: ['a b', '\u0120 ab'], bosId: 6, eosId: 6, pre: 'qwen2',
    };
    const tokenizer = tokenizerFromVocab(vocab, 'bpe.gguf');
    expect(tokenizer.encode('ab ab')).toEqual([4, 5]);
    expect(tokenizer.encode('ab<|endoftext|>c')).toEqual([4, 6, 2]);
    expect(tokenizer.encode('é')).toEqual([7, 8]); // UTF-8 bytes c3 a9 as byte-level characters
    expect(tokenizer.decode([4, 5, 6])).toBe('ab ab');
    expect(tokenizer.decode([7, 8])).toBe('é');
    expect(tokenizer.piece(5)).toBe(' ab');
    expect(tokenizer.piece(6)).toBe('');
  });
});
