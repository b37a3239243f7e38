/**
 * Reader for llama2.c checkpoints (`run.c`'s legacy format): a header of seven int32 values,
 * then every weight as float32 in a fixed order. A negative vocabulary size in the header
 * means the output classifier is stored separately instead of shared with the embedding.
 */
import { readFile } from 'node:fs/promises';

import { ModelFormatError } from '../util/errors.ts';
import type { LlamaConfig, LlamaLayerWeights, LlamaWeights } from './types.ts';

const HEADER_BYTES = 7 * 4;

// Generous bounds that only exclude headers that cannot describe a real model.
const MAX_DIM = 1 << 16;
const MAX_LAYERS = 1024;
const MAX_VOCAB = 1 << 22;
const MAX_SEQ_LEN = 1 << 20;

export interface Llama2cCheckpoint {
  config: LlamaConfig;
  weights: LlamaWeights;
}

/** Reads a llama2.c `.bin` checkpoint; throws ModelFormatError naming the file and fault. */
export async function loadLlama2cCheckpoint(path: string): Promise<Llama2cCheckpoint> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ModelFormatError(path, `cannot read llama2.c checkpoint (${(error as Error).message})`,
      { cause: error });
  }
  return parseLlama2cCheckpoint(bytes, path);
}

/** Parses checkpoint bytes; `file` only names the source in errors. */
export function parseLlama2cCheckpoint(bytes: Uint8Array, file: string): Llama2cCheckpoint {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new ModelFormatError(file,
      `truncated llama2.c checkpoint: ${bytes.byteLength} bytes, shorter than the 28-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = Array.from({ length: 7 }, (_, i) => view.getInt32(i * 4, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, signedVocab, maxSeqLen] = header;
  const vocabSize = Math.abs(signedVocab);
  const config: LlamaConfig = {
    dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, maxSeqLen,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeStyle: 'interleaved',
    tiedEmbeddings: signedVocab > 0,
    qkvBias: false,
  };
  validateHeader(config, file, header);

  const headDim = dim / nHeads;
  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  const freqFloats = maxSeqLen * headDim; // freq_cis_real and freq_cis_imag, unused
  const floatsBeforeFreq = vocabSize * dim +
    nLayers * (2 * dim + qDim * dim + 2 * kvDim * dim + dim * qDim + 3 * hiddenDim * dim) + dim;
  const classifierFloats = config.tiedEmbeddings ? 0 : vocabSize * dim;
  const expectedBytes = HEADER_BYTES + 4 * (floatsBeforeFreq + freqFloats + classifierFloats);
  if (bytes.byteLength < expectedBytes) {
    throw new ModelFormatError(file,
      `truncated llama2.c checkpoint: the header (dim ${dim}, ${nLayers} layers, vocab ` +
      `${vocabSize}) needs ${expectedBytes} bytes, the file has ${bytes.byteLength}`);
  }
  if (bytes.byteLength > expectedBytes) {
    throw new ModelFormatError(file,
      `llama2.c checkpoint has ${bytes.byteLength - expectedBytes} bytes more than its header ` +
      `describes (${expectedBytes}); the header does not match the weights`);
  }

  // Copy once into an aligned buffer: the file's Buffer may start at an odd offset.
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset + HEADER_BYTES,
    bytes.byteOffset + expectedBytes));
  let cursor = 0;
  const take = (count: number): Float32Array => {
    const out = all.slice(cursor, cursor + count);
    cursor += count;
    return out;
  };
  // Weights of one kind are stored for all layers together, layer after layer.
  const perLayer = (count: number): Float32Array[] =>
    Array.from({ length: nLayers }, () => take(count));

  const tokenEmbedding = take(vocabSize * dim);
  const attnNorm = perLayer(dim);
  const wq = perLayer(qDim * dim);
  const wk = perLayer(kvDim * dim);
  const wv = perLayer(kvDim * dim);
  const wo = perLayer(dim * qDim);
  const ffnNorm = perLayer(dim);
  const w1 = perLayer(hiddenDim * dim);
  const w2 = perLayer(dim * hiddenDim);
  const w3 = perLayer(hiddenDim * dim);
  const finalNorm = take(dim);
  cursor += freqFloats;
  const output = config.tiedEmbeddings ? undefined : take(vocabSize * dim);

  const layers: LlamaLayerWeights[] = Array.from({ length: nLayers }, (_, l) => ({
    attnNorm: attnNorm[l], wq: wq[l], wk: wk[l], wv: wv[l], wo: wo[l],
    ffnNorm: ffnNorm[l], w1: w1[l], w2: w2[l], w3: w3[l],
  }));
  const weights: LlamaWeights = { tokenEmbedding, layers, finalNorm };
  if (output) weights.output = output;
  return { config, weights };
}

function validateHeader(config: LlamaConfig, file: string, header: number[]): void {
  const fault = (problem: string) =>
    new ModelFormatError(file, `not a llama2.c checkpoint: ${problem} (header ${header.join(', ')})`);
  const inRange = (name: string, value: number, max: number) => {
    if (!(value > 0 && value <= max)) throw fault(`${name} ${value} is outside 1..${max}`);
  };
  inRange('dim', config.dim, MAX_DIM);
  inRange('hidden_dim', config.hiddenDim, 8 * MAX_DIM);
  inRange('n_layers', config.nLayers, MAX_LAYERS);
  inRange('n_heads', config.nHeads, config.dim);
  inRange('n_kv_heads', config.nKvHeads, config.nHeads);
  inRange('vocab_size', config.vocabSize, MAX_VOCAB);
  inRange('seq_len', config.maxSeqLen, MAX_SEQ_LEN);
  if (config.dim % config.nHeads !== 0) {
    throw fault(`dim ${config.dim} is not a multiple of n_heads ${config.nHeads}`);
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    throw fault(`n_heads ${config.nHeads} is not a multiple of n_kv_heads ${config.nKvHeads}`);
  }
  if ((config.dim / config.nHeads) % 2 !== 0) {
    throw fault(`head size ${config.dim / config.nHeads} is odd; rotary embeddings need pairs`);
  }
}
