import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ModelFormatError } from '../util/errors.ts';
import { sharedModelsDir } from '../util/paths.ts';
import { loadLlama2cCheckpoint, parseLlama2cCheckpoint } from './llama2c.ts';

const checkpointPath = join(sharedModelsDir(), 'stories260K', 'stories260K.bin');

function withHeader(bytes: Uint8Array, index: number, value: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  new DataView(copy.buffer).setInt32(index * 4, value, true);
  return copy;
}

function expectFault(run: () => unknown, ...fragments: string[]) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ModelFormatError);
    const message = (error as Error).message;
    expect(message.startsWith('model.bin: ')).toBe(true);
    for (const fragment of fragments) expect(message).toContain(fragment);
    return;
  }
  throw new Error('expected a ModelFormatError');
}

describe('llama2.c checkpoint loader', () => {
  const bytes = new Uint8Array(readFileSync(checkpointPath));

  it('reads the stories260K header and weights in llama2.c order', async () => {
    const { config, weights } = await loadLlama2cCheckpoint(checkpointPath);
    expect(config).toEqual({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512,
      maxSeqLen: 512, normEps: 1e-5, ropeTheta: 10000, ropeStyle: 'interleaved',
      tiedEmbeddings: true, qkvBias: false,
    });
    const floats = new Float32Array(bytes.buffer.slice(28));
    // First embedding value, the first wq value of layer 0 and the final norm, read by offset.
    expect(weights.tokenEmbedding[0]).toBe(floats[0]);
    const wqStart = 512 * 64 + 5 * 64;
    expect(weights.layers[0].wq[0]).toBe(floats[wqStart]);
    expect(weights.layers[1].wq[0]).toBe(floats[wqStart + 64 * 64]);
    const w3End = wqStart + 5 * (64 * 64 + 2 * 32 * 64 + 64 * 64) + 5 * 64 + 5 * 3 * 172 * 64;
    expect(Array.from(weights.finalNorm)).toEqual(Array.from(floats.subarray(w3End, w3End + 64)));
    expect(weights.output).toBeUndefined();
    expect(weights.layers[4].w3.length).toBe(172 * 64);
  });

  it('reads an untied classifier after the rope tables when vocab_size is negative', () => {
    // dim 4, hidden 8, 1 layer, 2 heads, 1 kv head, vocab -3 (untied), seq_len 2.
    const header = [4, 8, 1, 2, 1, -3, 2];
    const floats = 3 * 4 + 4 + 16 + 8 + 8 + 16 + 4 + 3 * 32 + 4;
    const freq = 2 * 2; // seq_len * head_size
    const data = new Float32Array(floats + freq + 12).map((_, i) => i);
    const file = new Uint8Array(28 + data.byteLength);
    new Int32Array(file.buffer, 0, 7).set(header);
    file.set(new Uint8Array(data.buffer), 28);
    const { config, weights } = parseLlama2cCheckpoint(file, 'tiny.bin');
    expect(config.tiedEmbeddings).toBe(false);
    expect(config.vocabSize).toBe(3);
    expect(Array.from(weights.output!)).toEqual(Array.from(data.subarray(floats + freq)));
  });

  it('names the file and the fault for truncated files', () => {
    expectFault(() => parseLlama2cCheckpoint(bytes.subarray(0, 12), 'model.bin'),
      'truncated', 'header');
    expectFault(() => parseLlama2cCheckpoint(bytes.subarray(0, bytes.length - 4), 'model.bin'),
      'truncated', 'needs 1056540 bytes', 'has 1056536');
  });

  it('rejects nonsense headers and sizes that do not match the header', () => {
    expectFault(() => parseLlama2cCheckpoint(withHeader(bytes, 0, 0), 'model.bin'),
      'not a llama2.c checkpoint', 'dim 0');
    expectFault(() => parseLlama2cCheckpoint(withHeader(bytes, 4, 3), 'model.bin'),
      'n_heads 8 is not a multiple of n_kv_heads 3');
    expectFault(() => parseLlama2cCheckpoint(withHeader(bytes, 2, 4), 'model.bin'),
      'bytes more than its header describes');
    // A GGUF or text file read as a checkpoint: its first bytes make no sense as a header.
    const text = new TextEncoder().encode('GGUF and then some text that is not a checkpoint');
    expectFault(() => parseLlama2cCheckpoint(text, 'model.bin'), 'not a llama2.c checkpoint');
  });

  it('reports a missing file with its path', async () => {
    await expect(loadLlama2cCheckpoint('/nonexistent/model.bin')).rejects.toThrow(
      /\/nonexistent\/model\.bin: cannot read llama2\.c checkpoint/);
  });
});
