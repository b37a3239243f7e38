/**
 * LlamaModel: the Llama-family decoder (RMSNorm, rotary embeddings, grouped-query attention,
 * SwiGLU, tied or untied output) on TensorFlow.js. `forward` is the differentiable path used
 * for training and teacher-forced scoring; `generate` samples through the fused decode kernel
 * (decode-kernel.ts) over a snapshot of the current weights.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { ModelFormatError } from '../util/errors.ts';
import { makeRng } from '../util/rng.ts';
import { ensureBackend } from './backend.ts';
import { DecodeKernel, kernelWeightsFromParams } from './decode-kernel.ts';
import { generateWithKernel, type BatchGenerateOptions } from './generation.ts';
import {
  addLora,
  allVariables,
  createParams,
  effectiveMatrix,
  exportParams,
  type LayerParams,
  type LlamaParams,
  type LoraOptions,
} from './llama-params.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';
import { tokenLogprobs } from './logprobs.ts';
import { applyRope, pairIndex, ropeTables, rotationMatrix, type RopeTables } from './rope.ts';
import { loadLlama2cTokenizer } from './tokenizer-spm.ts';
import type {
  CausalLM,
  ForwardOutput,
  GenerationResult,
  LlamaConfig,
  LlamaWeights,
  Tokenizer,
} from './types.ts';

export interface LlamaModelOptions {
  /** Whether the weights are updated by optimisers; default true (false with `lora`). */
  trainable?: boolean;
  /** Adds LoRA adapters; the base weights are then frozen and only adapters train. */
  lora?: LoraOptions;
  /** Seed of LoRA's random initialisation; default 0. */
  seed?: number;
  /**
   * Tokens that end a generated sequence; default the tokenizer's EOS. llama2.c models end a
   * story with BOS instead, so fromLlama2c adds it.
   */
  endTokens?: number[];
}

// Added to the scores of masked keys; finite so that a fully masked (padding) row stays finite.
const MASKED_SCORE = -1e9;

export class LlamaModel implements CausalLM {
  readonly config: LlamaConfig;
  readonly tokenizer: Tokenizer;
  readonly params: LlamaParams;
  private readonly rope: RopeTables;
  /** [headDim, headDim] pair rotation used by applyRope; a constant, not trained. */
  private readonly ropeRotation: tf.Tensor2D;
  /** Token ids that end a generated sequence (finishReason 'eos'). */
  readonly endTokens: readonly number[];
  private disposed = false;
  private kernelCache?: { kernel: DecodeKernel; dataIds: object[] };
  /** Generations in progress per kernel. */
  private readonly kernelUses = new Map<DecodeKernel, number>();

  private constructor(config: LlamaConfig, params: LlamaParams, tokenizer: Tokenizer,
    endTokens: readonly number[]) {
    this.config = config;
    this.params = params;
    this.tokenizer = tokenizer;
    this.endTokens = endTokens;
    this.rope = ropeTables(config);
    const headDim = config.dim / config.nHeads;
    this.ropeRotation = tf.tensor2d(rotationMatrix(headDim, config.ropeStyle), [headDim, headDim]);
  }

  /** Builds a model from plain weights (as loaders return them). */
  static async fromWeights(config: LlamaConfig, weights: LlamaWeights, tokenizer: Tokenizer,
    options: LlamaModelOptions = {}): Promise<LlamaModel> {
    await ensureBackend();
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new Error(`tokenizer has ${tokenizer.vocabSize} tokens but the model only ` +
        `${config.vocabSize}`);
    }
    const trainableBase = options.lora ? false : (options.trainable ?? true);
    const params = createParams(config, weights, trainableBase);
    if (options.lora) addLora(params, options.lora, makeRng(options.seed ?? 0).fork('lora'));
    return new LlamaModel(config, params, tokenizer, options.endTokens ?? [tokenizer.eosId]);
  }

  /**
   * Loads a llama2.c checkpoint and its tokenizer (default: `tok512.bin` or `tokenizer.bin`
   * beside the checkpoint, the first that exists).
   */
  static async fromLlama2c(checkpointPath: string, options: LlamaModelOptions & {
    tokenizerPath?: string;
  } = {}): Promise<LlamaModel> {
    const { config, weights } = await loadLlama2cCheckpoint(checkpointPath);
    const tokenizerPath = options.tokenizerPath ?? findLlama2cTokenizer(checkpointPath);
    const tokenizer = await loadLlama2cTokenizer(tokenizerPath, { vocabSize: config.vocabSize });
    return LlamaModel.fromWeights(config, weights, tokenizer, {
      ...options,
      endTokens: options.endTokens ?? [tokenizer.eosId, tokenizer.bosId],
    });
  }

  get headDim(): number {
    return this.config.dim / this.config.nHeads;
  }

  forward(tokens: tf.Tensor2D, mask?: tf.Tensor2D): ForwardOutput {
    this.assertLive();
    const [batch, seqLen] = tokens.shape;
    const maskValues = mask
      ? Float32Array.from(mask.dataSync() as Float32Array)
      : new Float32Array(batch * seqLen).fill(1);
    const { positions, bias } = positionsAndBias(maskValues, batch, seqLen);
    const longest = positions.reduce((max, p) => Math.max(max, p), 0) + 1;
    if (longest > this.config.maxSeqLen) {
      throw new RangeError(`sequence of ${longest} tokens exceeds the model's context of ` +
        `${this.config.maxSeqLen}`);
    }

    return tf.tidy(() => {
      const { cos, sin } = this.gatherAngles(positions, batch, seqLen);
      const attnBias = tf.tensor4d(bias, [batch, 1, seqLen, seqLen]);
      let x = tf.gather(this.params.tokenEmbedding, tokens) as tf.Tensor3D; // [B, T, D]
      for (const layer of this.params.layers) {
        x = tf.add(x, this.attention(layer, rmsNorm(x, layer.attnNorm, this.config.normEps),
          cos, sin, attnBias));
        x = tf.add(x, this.feedForward(layer, rmsNorm(x, layer.ffnNorm, this.config.normEps)));
      }
      const hidden = rmsNorm(x, this.params.finalNorm, this.config.normEps);
      const flat = tf.reshape(hidden, [batch * seqLen, this.config.dim]);
      const logitsFlat = this.params.output
        ? tf.matMul(flat, this.params.output)
        : tf.matMul(flat, this.params.tokenEmbedding, false, true);
      const logits = tf.reshape(logitsFlat, [batch, seqLen, this.config.vocabSize]) as tf.Tensor3D;
      return { logits, hidden };
    });
  }

  /** cos/sin [B, T, 1, headDim] of each token's position, each pair's angle on both members. */
  private gatherAngles(positions: Int32Array, batch: number, seqLen: number) {
    const half = this.rope.half;
    const headDim = 2 * half;
    const style = this.config.ropeStyle;
    const column = Array.from({ length: headDim }, (_, d) => pairIndex(d, headDim, style));
    const cos = new Float32Array(batch * seqLen * headDim);
    const sin = new Float32Array(batch * seqLen * headDim);
    positions.forEach((p, i) => {
      for (let d = 0; d < headDim; d++) {
        cos[i * headDim + d] = this.rope.cos[p * half + column[d]];
        sin[i * headDim + d] = this.rope.sin[p * half + column[d]];
      }
    });
    return {
      cos: tf.tensor4d(cos, [batch, seqLen, 1, headDim]),
      sin: tf.tensor4d(sin, [batch, seqLen, 1, headDim]),
    };
  }

  private attention(layer: LayerParams, x: tf.Tensor3D, cos: tf.Tensor4D, sin: tf.Tensor4D,
    attnBias: tf.Tensor4D): tf.Tensor3D {
    const { nHeads, nKvHeads, dim } = this.config;
    const headDim = this.headDim;
    const group = nHeads / nKvHeads;
    const [batch, seqLen] = x.shape;
    const flat = tf.reshape(x, [batch * seqLen, dim]);
    const project = (w: tf.Tensor2D, bias: tf.Variable | undefined, heads: number) => {
      const y = tf.matMul(flat, w);
      return tf.reshape(bias ? tf.add(y, bias) : y, [batch, seqLen, heads, headDim]) as tf.Tensor4D;
    };
    const rotation = this.ropeRotation;
    const q = applyRope(project(effectiveMatrix(layer, 'wq'), layer.bq, nHeads), cos, sin, rotation);
    const k = applyRope(project(effectiveMatrix(layer, 'wk'), layer.bk, nKvHeads), cos, sin, rotation);
    const v = project(effectiveMatrix(layer, 'wv'), layer.bv, nKvHeads);

    // Query heads sharing a KV head are stacked along the time axis, so one batched matMul per
    // KV head serves the whole group without copying keys and values.
    const qGrouped = tf.reshape(tf.transpose(q, [0, 2, 1, 3]),
      [batch, nKvHeads, group * seqLen, headDim]);
    const kT = tf.transpose(k, [0, 2, 3, 1]); // [B, kvHeads, headDim, T]
    const vT = tf.transpose(v, [0, 2, 1, 3]); // [B, kvHeads, T, headDim]
    const scores = tf.reshape(tf.mul(tf.matMul(qGrouped, kT), 1 / Math.sqrt(headDim)),
      [batch, nHeads, seqLen, seqLen]);
    const probs = tf.softmax(tf.add(scores, attnBias));
    const context = tf.matMul(tf.reshape(probs, [batch, nKvHeads, group * seqLen, seqLen]), vT);
    const merged = tf.reshape(
      tf.transpose(tf.reshape(context, [batch, nHeads, seqLen, headDim]), [0, 2, 1, 3]),
      [batch * seqLen, nHeads * headDim]);
    return tf.reshape(tf.matMul(merged, effectiveMatrix(layer, 'wo')), [batch, seqLen, dim]);
  }

  private feedForward(layer: LayerParams, x: tf.Tensor3D): tf.Tensor3D {
    const [batch, seqLen, dim] = x.shape;
    const flat = tf.reshape(x, [batch * seqLen, dim]);
    const gate = tf.matMul(flat, layer.w1);
    const up = tf.matMul(flat, layer.w3);
    const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
    return tf.reshape(tf.matMul(act, layer.w2), [batch, seqLen, dim]);
  }

  async generate(prompts: number[][], options: BatchGenerateOptions): Promise<GenerationResult[]> {
    this.assertLive();
    const kernel = this.decodeKernel();
    // Generations interleave at their yields; a kernel replaced meanwhile (the weights were
    // trained) is freed only once the last generation using it has finished.
    const uses = this.kernelUses.get(kernel) ?? 0;
    this.kernelUses.set(kernel, uses + 1);
    try {
      return await generateWithKernel(kernel, this.tokenizer, prompts, options, this.endTokens);
    } finally {
      const left = this.kernelUses.get(kernel)! - 1;
      if (left > 0) {
        this.kernelUses.set(kernel, left);
      } else {
        this.kernelUses.delete(kernel);
        if (this.kernelCache?.kernel !== kernel) kernel.dispose();
      }
    }
  }

  /**
   * The fused no-grad decode kernel over the current weights. It is rebuilt only when a
   * variable was assigned since the last call (assign gives a variable new data), so repeated
   * generation between training steps does not copy the weights again. Owned by the model.
   */
  decodeKernel(): DecodeKernel {
    this.assertLive();
    const dataIds = allVariables(this.params).map((v) => v.dataId);
    const cached = this.kernelCache;
    if (cached && cached.dataIds.length === dataIds.length &&
        cached.dataIds.every((id, i) => id === dataIds[i])) {
      return cached.kernel;
    }
    if (cached && !this.kernelUses.has(cached.kernel)) cached.kernel.dispose();
    const kernel = new DecodeKernel(this.config, kernelWeightsFromParams(this.config, this.params),
      this.rope);
    this.kernelCache = { kernel, dataIds };
    return kernel;
  }

  /**
   * Teacher-forced log p of each continuation token given its prompt, under
   * softmax(logits / temperature) (default 1), the distribution generate() reports log-probs of.
   */
  async scoreContinuations(prompts: number[][], continuations: number[][],
    options: { temperature?: number } = {}): Promise<number[][]> {
    this.assertLive();
    if (prompts.length !== continuations.length) {
      throw new Error(`${prompts.length} prompts but ${continuations.length} continuations`);
    }
    if (prompts.length === 0) return [];
    // Right-padded batch of prompt + continuation; the log p of continuation token i is read
    // from the position just before it.
    const rows = prompts.map((p, i) => [...p, ...continuations[i]]);
    const seqLen = Math.max(...rows.map((r) => r.length));
    const batch = rows.length;
    const ids = new Int32Array(batch * seqLen);
    const mask = new Float32Array(batch * seqLen);
    rows.forEach((row, b) => row.forEach((id, t) => {
      ids[b * seqLen + t] = id;
      mask[b * seqLen + t] = 1;
    }));

    const logp = tf.tidy(() => {
      const tokens = tf.tensor2d(ids, [batch, seqLen], 'int32');
      const { logits } = this.forward(tokens, tf.tensor2d(mask, [batch, seqLen]));
      const targets = tf.slice(tokens, [0, 1], [batch, seqLen - 1]) as tf.Tensor2D;
      const head = tf.slice(logits, [0, 0, 0], [batch, seqLen - 1, this.config.vocabSize]);
      const temperature = options.temperature ? options.temperature : 1;
      return tokenLogprobs(head as tf.Tensor3D, targets, { temperature });
    });
    const values = (await logp.data()) as Float32Array;
    logp.dispose();
    return prompts.map((p, b) => continuations[b].map((_, i) => {
      if (p.length === 0) throw new Error('scoreContinuations needs a non-empty prompt (BOS)');
      return values[b * (seqLen - 1) + p.length - 1 + i];
    }));
  }

  trainableVariables(): tf.Variable[] {
    return allVariables(this.params).filter((v) => v.trainable);
  }

  cloneFrozen(): LlamaModel {
    this.assertLive();
    const params = createParams(this.config, exportParams(this.config, this.params), false);
    return new LlamaModel(this.config, params, this.tokenizer, this.endTokens);
  }

  exportWeights(): LlamaWeights {
    this.assertLive();
    return exportParams(this.config, this.params);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of allVariables(this.params)) v.dispose();
    this.ropeRotation.dispose();
    this.kernelCache?.kernel.dispose();
    this.kernelCache = undefined;
  }


  private assertLive(): void {
    if (this.disposed) throw new Error('LlamaModel used after dispose()');
  }
}

/** The llama2.c tokenizer beside a checkpoint: tok<vocab>.bin or tokenizer.bin. */
export function findLlama2cTokenizer(checkpointPath: string): string {
  const folder = dirname(checkpointPath);
  const candidates = ['tok512.bin', 'tokenizer.bin'].map((name) => join(folder, name));
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new ModelFormatError(checkpointPath,
      `no llama2.c tokenizer beside the checkpoint (looked for ${candidates.join(', ')}); ` +
      'pass --tokenizer');
  }
  return found;
}

function rmsNorm(x: tf.Tensor3D, weight: tf.Tensor1D | tf.Variable, eps: number): tf.Tensor3D {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
}

/**
 * Position of each token counted over real tokens only (padding gets 0), and the additive
 * attention bias [B, 1, T, T] allowing query i to see key j when j < i and j is real, and
 * itself.
 */
export function positionsAndBias(mask: Float32Array, batch: number, seqLen: number) {
  const positions = new Int32Array(batch * seqLen);
  const bias = new Float32Array(batch * seqLen * seqLen);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let t = 0; t < seqLen; t++) {
      const real = mask[b * seqLen + t] > 0;
      positions[b * seqLen + t] = real ? count : Math.max(count - 1, 0);
      if (real) count++;
    }
    for (let i = 0; i < seqLen; i++) {
      const rowBase = (b * seqLen + i) * seqLen;
      for (let j = 0; j < seqLen; j++) {
        // A padding query sees only itself: its output is then a function of its own token
        // alone, and no gradient flows through a softmax whose scores were all masked.
        const visible = j === i || (j < i && mask[b * seqLen + j] > 0);
        bias[rowBase + j] = visible ? 0 : MASKED_SCORE;
      }
    }
  }
  return { positions, bias };
}
