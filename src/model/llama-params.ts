/**
 * The parameters of a LlamaModel as TensorFlow.js variables, and their conversion to and from
 * plain LlamaWeights. Matrices are held as [in, out] (the transpose of the [out, in] file
 * layout) so the forward pass multiplies without transposing; LoRA adapters, when enabled, sit
 * beside the attention projections they adapt.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { Rng } from '../util/rng.ts';
import type { LlamaConfig, LlamaLayerWeights, LlamaWeights } from './types.ts';

export type LoraTarget = 'wq' | 'wk' | 'wv' | 'wo';

export interface LoraOptions {
  /** Inner rank of each adapter; 4-16 is typical. */
  rank: number;
  /** Scale numerator: the update is (alpha / rank) * A B. Default: 2 * rank. */
  alpha?: number;
  /** Projections that get an adapter; default all four attention projections. */
  targets?: LoraTarget[];
}

export interface LoraAdapter {
  a: tf.Variable; // [in, rank], random
  b: tf.Variable; // [rank, out], zero so training starts from the base model
  scale: number;
}

export interface LayerParams {
  attnNorm: tf.Variable; // [dim]
  wq: tf.Variable; // [dim, nHeads * headDim]
  wk: tf.Variable; // [dim, nKvHeads * headDim]
  wv: tf.Variable; // [dim, nKvHeads * headDim]
  wo: tf.Variable; // [nHeads * headDim, dim]
  bq?: tf.Variable;
  bk?: tf.Variable;
  bv?: tf.Variable;
  ffnNorm: tf.Variable; // [dim]
  w1: tf.Variable; // [dim, hiddenDim]
  w2: tf.Variable; // [hiddenDim, dim]
  w3: tf.Variable; // [dim, hiddenDim]
  lora: Partial<Record<LoraTarget, LoraAdapter>>;
}

export interface LlamaParams {
  tokenEmbedding: tf.Variable; // [vocab, dim]
  layers: LayerParams[];
  finalNorm: tf.Variable; // [dim]
  /** [dim, vocab]; absent when tied to the embedding. */
  output?: tf.Variable;
}

let variableCounter = 0;

function variable(values: Float32Array, shape: number[], trainable: boolean, name: string) {
  return tf.variable(tf.tensor(values, shape, 'float32'), trainable,
    `${name}_${variableCounter++}`);
}

/** [out, in] row-major -> [in, out] row-major. */
export function transposeMatrix(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  }
  return out;
}

export function checkWeights(config: LlamaConfig, weights: LlamaWeights): void {
  const headDim = config.dim / config.nHeads;
  const q = config.nHeads * headDim;
  const kv = config.nKvHeads * headDim;
  const expect = (name: string, array: Float32Array | undefined, size: number) => {
    if (!array || array.length !== size) {
      throw new Error(`weights.${name} has ${array?.length ?? 'no'} values, the config needs ${size}`);
    }
  };
  expect('tokenEmbedding', weights.tokenEmbedding, config.vocabSize * config.dim);
  expect('finalNorm', weights.finalNorm, config.dim);
  if (!config.tiedEmbeddings) expect('output', weights.output, config.vocabSize * config.dim);
  if (weights.layers.length !== config.nLayers) {
    throw new Error(`weights have ${weights.layers.length} layers, the config ${config.nLayers}`);
  }
  weights.layers.forEach((layer, l) => {
    const p = `layers[${l}].`;
    expect(p + 'attnNorm', layer.attnNorm, config.dim);
    expect(p + 'wq', layer.wq, q * config.dim);
    expect(p + 'wk', layer.wk, kv * config.dim);
    expect(p + 'wv', layer.wv, kv * config.dim);
    expect(p + 'wo', layer.wo, config.dim * q);
    expect(p + 'ffnNorm', layer.ffnNorm, config.dim);
    expect(p + 'w1', layer.w1, config.hiddenDim * config.dim);
    expect(p + 'w2', layer.w2, config.dim * config.hiddenDim);
    expect(p + 'w3', layer.w3, config.hiddenDim * config.dim);
    if (config.qkvBias) {
      expect(p + 'bq', layer.bq, q);
      expect(p + 'bk', layer.bk, kv);
      expect(p + 'bv', layer.bv, kv);
    }
  });
}

/** Variables holding `weights`; `trainable` marks them for optimisers. */
export function createParams(config: LlamaConfig, weights: LlamaWeights,
  trainable: boolean): LlamaParams {
  checkWeights(config, weights);
  const { dim, hiddenDim, vocabSize } = config;
  const headDim = dim / config.nHeads;
  const q = config.nHeads * headDim;
  const kv = config.nKvHeads * headDim;
  // File layout is [out, in]; variables hold [in, out].
  const linear = (values: Float32Array, out: number, inp: number, name: string) =>
    variable(transposeMatrix(values, out, inp), [inp, out], trainable, name);
  const vector = (values: Float32Array, name: string) =>
    variable(Float32Array.from(values), [values.length], trainable, name);

  const layers = weights.layers.map((w, l): LayerParams => {
    const layer: LayerParams = {
      attnNorm: vector(w.attnNorm, `l${l}_attn_norm`),
      wq: linear(w.wq, q, dim, `l${l}_wq`),
      wk: linear(w.wk, kv, dim, `l${l}_wk`),
      wv: linear(w.wv, kv, dim, `l${l}_wv`),
      wo: linear(w.wo, dim, q, `l${l}_wo`),
      ffnNorm: vector(w.ffnNorm, `l${l}_ffn_norm`),
      w1: linear(w.w1, hiddenDim, dim, `l${l}_w1`),
      w2: linear(w.w2, dim, hiddenDim, `l${l}_w2`),
      w3: linear(w.w3, hiddenDim, dim, `l${l}_w3`),
      lora: {},
    };
    if (config.qkvBias) {
      layer.bq = vector(w.bq!, `l${l}_bq`);
      layer.bk = vector(w.bk!, `l${l}_bk`);
      layer.bv = vector(w.bv!, `l${l}_bv`);
    }
    return layer;
  });

  const params: LlamaParams = {
    tokenEmbedding: variable(Float32Array.from(weights.tokenEmbedding), [vocabSize, dim],
      trainable, 'tok_embeddings'),
    layers,
    finalNorm: vector(weights.finalNorm, 'final_norm'),
  };
  if (!config.tiedEmbeddings) params.output = linear(weights.output!, vocabSize, dim, 'output');
  return params;
}

/** Adds LoRA adapters to the attention projections (base weights are left as they are). */
export function addLora(params: LlamaParams, options: LoraOptions, rng: Rng): void {
  const rank = options.rank;
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`LoRA rank must be >= 1, got ${rank}`);
  const scale = (options.alpha ?? 2 * rank) / rank;
  const targets = options.targets ?? ['wq', 'wk', 'wv', 'wo'];
  params.layers.forEach((layer, l) => {
    for (const target of targets) {
      const [inp, out] = layer[target].shape;
      // Kaiming-uniform-like A with bound 1/sqrt(in); B = 0 keeps the start exact.
      const bound = 1 / Math.sqrt(inp);
      const a = Float32Array.from({ length: inp * rank }, () => (rng.next() * 2 - 1) * bound);
      layer.lora[target] = {
        a: variable(a, [inp, rank], true, `l${l}_${target}_lora_a`),
        b: variable(new Float32Array(rank * out), [rank, out], true, `l${l}_${target}_lora_b`),
        scale,
      };
    }
  });
}

/** The projection as used in the forward pass: W, or W + scale * A B with LoRA. */
export function effectiveMatrix(layer: LayerParams, name: LoraTarget): tf.Tensor2D {
  const base = layer[name] as tf.Tensor2D;
  const adapter = layer.lora[name];
  if (!adapter) return base;
  return tf.add(base, tf.mul(tf.matMul(adapter.a, adapter.b), adapter.scale));
}

/** Every variable, LoRA adapters included. */
export function allVariables(params: LlamaParams): tf.Variable[] {
  const out: tf.Variable[] = [params.tokenEmbedding];
  for (const layer of params.layers) {
    out.push(layer.attnNorm, layer.wq, layer.wk, layer.wv, layer.wo, layer.ffnNorm, layer.w1,
      layer.w2, layer.w3);
    if (layer.bq) out.push(layer.bq, layer.bk!, layer.bv!);
    for (const adapter of Object.values(layer.lora)) out.push(adapter.a, adapter.b);
  }
  out.push(params.finalNorm);
  if (params.output) out.push(params.output);
  return out;
}

/**
 * Plain weights in the file layout. LoRA adapters are merged into their projections, so the
 * result is a standalone model.
 */
export function exportParams(config: LlamaConfig, params: LlamaParams): LlamaWeights {
  const read = (t: tf.Tensor) => Float32Array.from(t.dataSync() as Float32Array);
  const linear = (layer: LayerParams, name: LoraTarget | 'w1' | 'w2' | 'w3') => {
    const matrix = name === 'w1' || name === 'w2' || name === 'w3'
      ? layer[name]
      : effectiveMatrix(layer, name);
    const [inp, out] = matrix.shape;
    const values = read(matrix);
    if (matrix !== layer[name]) matrix.dispose();
    return transposeMatrix(values, inp, out);
  };
  const layers = params.layers.map((layer): LlamaLayerWeights => {
    const w: LlamaLayerWeights = {
      attnNorm: read(layer.attnNorm),
      wq: linear(layer, 'wq'),
      wk: linear(layer, 'wk'),
      wv: linear(layer, 'wv'),
      wo: linear(layer, 'wo'),
      ffnNorm: read(layer.ffnNorm),
      w1: linear(layer, 'w1'),
      w2: linear(layer, 'w2'),
      w3: linear(layer, 'w3'),
    };
    if (layer.bq) {
      w.bq = read(layer.bq);
      w.bk = read(layer.bk!);
      w.bv = read(layer.bv!);
    }
    return w;
  });
  const weights: LlamaWeights = {
    tokenEmbedding: read(params.tokenEmbedding),
    layers,
    finalNorm: read(params.finalNorm),
  };
  if (params.output) weights.output = transposeMatrix(read(params.output), config.dim, config.vocabSize);
  return weights;
}
