/**
 * A tiny causal language model for testing the training algorithms fast: token embedding, a
 * causal running mean of the embeddings (so the last position sees the whole sequence), one
 * tanh layer and an output projection. It implements CausalLM, so trainers cannot tell it from
 * LlamaModel; a test step on it takes milliseconds.
 *
 * Its tokenizer maps id 0 to padding, 1 to BOS, 2 to EOS and ids 3.. to the letters a, b, c...
 */
import * as tf from '@tensorflow/tfjs-core';

import type {
  CausalLM,
  ForwardOutput,
  GenerateOptions,
  GenerationResult,
  LlamaConfig,
  LlamaWeights,
  Tokenizer,
} from '../model/types.ts';
import { makeRng } from '../util/rng.ts';

export interface ToyModelOptions {
  /** Vocabulary size including pad, BOS and EOS; 16 by default. */
  vocabSize?: number;
  /** Width; 16 by default. */
  dim?: number;
  /** Seed of the initial weights; 0 by default. */
  seed?: number;
}

const FIRST_LETTER = 3;

/** A 1-layer Llama shape matching ToyTokenizer(16), for tests with random LlamaModel weights. */
export const tinyLlamaConfig: LlamaConfig = {
  dim: 16,
  hiddenDim: 32,
  nLayers: 1,
  nHeads: 2,
  nKvHeads: 1,
  vocabSize: 16,
  maxSeqLen: 64,
  normEps: 1e-5,
  ropeTheta: 10000,
  ropeStyle: 'interleaved',
  tiedEmbeddings: false,
  qkvBias: false,
};

export class ToyTokenizer implements Tokenizer {
  readonly bosId = 1;
  readonly eosId = 2;

  constructor(readonly vocabSize: number) {}

  encode(text: string, options: { bos?: boolean; eos?: boolean } = {}): number[] {
    const ids: number[] = options.bos ? [this.bosId] : [];
    for (const char of text) {
      const id = char.charCodeAt(0) - 97 + FIRST_LETTER;
      if (id >= FIRST_LETTER && id < this.vocabSize) ids.push(id);
    }
    if (options.eos) ids.push(this.eosId);
    return ids;
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => this.piece(id)).join('');
  }

  piece(id: number): string {
    return id >= FIRST_LETTER ? String.fromCharCode(97 + id - FIRST_LETTER) : '';
  }
}

export class ToyCausalLM implements CausalLM {
  readonly config: LlamaConfig;
  readonly tokenizer: ToyTokenizer;
  private readonly embed: tf.Variable; // [vocab, dim]
  private readonly mix: tf.Variable; // [2 * dim, dim]
  private readonly bias: tf.Variable; // [dim]
  private readonly out: tf.Variable; // [dim, vocab]
  private readonly trainable: boolean;

  constructor(options: ToyModelOptions = {}, source?: ToyCausalLM) {
    const vocabSize = options.vocabSize ?? source?.config.vocabSize ?? 16;
    const dim = options.dim ?? source?.config.dim ?? 16;
    const seed = options.seed ?? 0;
    this.config = {
      dim,
      hiddenDim: dim,
      nLayers: 1,
      nHeads: 1,
      nKvHeads: 1,
      vocabSize,
      maxSeqLen: 256,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeStyle: 'interleaved',
      tiedEmbeddings: false,
      qkvBias: false,
    };
    this.tokenizer = new ToyTokenizer(vocabSize);
    this.trainable = !source;
    const init = (shape: number[], scale: number, salt: number) =>
      tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed * 1000 + salt), scale);
    const make = (value: tf.Tensor) => tf.variable(value, this.trainable);
    this.embed = make(source ? source.embed.clone() : init([vocabSize, dim], 1, 1));
    this.mix = make(source ? source.mix.clone() : init([2 * dim, dim], 1 / Math.sqrt(2 * dim), 2));
    this.bias = make(source ? source.bias.clone() : tf.zeros([dim]));
    this.out = make(source ? source.out.clone() : init([dim, vocabSize], 1 / Math.sqrt(dim), 3));
  }

  forward(tokens: tf.Tensor2D, mask?: tf.Tensor2D): ForwardOutput {
    return tf.tidy(() => {
      const [batch, steps] = tokens.shape;
      const { dim, vocabSize } = this.config;
      const realMask = mask ?? tf.cast(tf.onesLike(tokens), 'float32');
      const oneHot = tf.reshape(tf.oneHot(tf.cast(tokens, 'int32'), vocabSize), [
        batch * steps,
        vocabSize,
      ]);
      const embedded = tf.reshape(tf.matMul(oneHot, this.embed), [batch, steps, dim]); // [B, T, dim]

      // Causal mean over real tokens: weights[b, t, s] = mask[b, s] * (s <= t) / count[b, t].
      const lower = tf.linalg.bandPart(tf.ones([steps, steps]), -1, 0); // [T, T]
      const weights = tf.mul(tf.expandDims(lower, 0), tf.expandDims(realMask, 1)); // [B, T, T]
      const counts = tf.maximum(tf.sum(weights, 2, true), 1);
      const context = tf.matMul(tf.div(weights, counts), embedded); // [B, T, dim]

      const joined = tf.reshape(tf.concat([embedded, context], 2), [batch * steps, 2 * dim]);
      const hiddenFlat = tf.tanh(tf.add(tf.matMul(joined, this.mix), this.bias));
      const logits = tf.reshape(tf.matMul(hiddenFlat, this.out), [batch, steps, vocabSize]);
      return {
        logits: logits as tf.Tensor3D,
        hidden: tf.reshape(hiddenFlat, [batch, steps, dim]) as tf.Tensor3D,
      };
    });
  }

  async generate(prompts: number[][], options: GenerateOptions): Promise<GenerationResult[]> {
    const rng = makeRng(options.seed ?? 0);
    const temperature = options.temperature ?? 1;
    const topK = options.topK ?? 0;
    const width = Math.max(...prompts.map((p) => p.length));
    // Left-padded so every row's next token is read from the same (last) column.
    const rows = prompts.map((p) => [...new Array(width - p.length).fill(0), ...p]);
    const masks = prompts.map((p) => [...new Array(width - p.length).fill(0), ...p.map(() => 1)]);
    const results: GenerationResult[] = prompts.map((p) => ({
      promptTokens: p.slice(),
      tokens: [],
      logprobs: [],
      entropies: [],
      text: '',
      finishReason: 'length',
    }));
    const done = prompts.map(() => false);

    for (let step = 0; step < options.maxNewTokens && done.includes(false); step++) {
      const probs = tf.tidy(() => {
        const { logits } = this.forward(tf.tensor2d(rows, undefined, 'int32'), tf.tensor2d(masks));
        const last = tf.squeeze(tf.slice(logits, [0, logits.shape[1] - 1, 0], [-1, 1, -1]), [1]);
        return tf.softmax(temperature > 0 ? tf.div(last, temperature) : last);
      });
      const table = (await probs.array()) as number[][];
      probs.dispose();
      for (let b = 0; b < rows.length; b++) {
        const p = restrictTopK(table[b], topK);
        const token = done[b] ? 0 : temperature > 0 ? sample(p, rng.next()) : argmax(p);
        rows[b].push(token);
        masks[b].push(done[b] ? 0 : 1);
        if (done[b]) continue;
        results[b].tokens.push(token);
        results[b].logprobs.push(Math.log(p[token]));
        results[b].entropies.push(-p.reduce((sum, q) => sum + (q > 0 ? q * Math.log(q) : 0), 0));
        if (token === this.tokenizer.eosId && options.stopOnEos !== false) {
          results[b].finishReason = 'eos';
          done[b] = true;
        }
      }
    }
    for (const result of results) result.text = this.tokenizer.decode(result.tokens);
    return results;
  }

  async scoreContinuations(prompts: number[][], continuations: number[][]): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < prompts.length; i++) {
      const sequence = [...prompts[i], ...continuations[i]];
      const logp = tf.tidy(() => {
        const { logits } = this.forward(tf.tensor2d([sequence], undefined, 'int32'));
        return tf.logSoftmax(tf.squeeze(logits, [0]));
      });
      const table = (await logp.array()) as number[][];
      logp.dispose();
      out.push(continuations[i].map((token, j) => table[prompts[i].length + j - 1][token]));
    }
    return out;
  }

  trainableVariables(): tf.Variable[] {
    return this.trainable ? [this.embed, this.mix, this.bias, this.out] : [];
  }

  cloneFrozen(): CausalLM {
    return new ToyCausalLM({}, this);
  }

  exportWeights(): LlamaWeights {
    return {
      tokenEmbedding: this.embed.dataSync() as Float32Array,
      layers: [],
      finalNorm: new Float32Array(0),
      output: this.out.dataSync() as Float32Array,
    };
  }

  dispose(): void {
    for (const v of [this.embed, this.mix, this.bias, this.out]) v.dispose();
  }
}

function restrictTopK(p: number[], k: number): number[] {
  if (k <= 0 || k >= p.length) return p;
  const threshold = [...p].sort((a, b) => b - a)[k - 1];
  const kept = p.map((q) => (q >= threshold ? q : 0));
  const total = kept.reduce((a, b) => a + b, 0);
  return kept.map((q) => q / total);
}

function sample(p: number[], u: number): number {
  let acc = 0;
  for (let i = 0; i < p.length; i++) {
    acc += p[i];
    if (u < acc) return i;
  }
  return p.length - 1;
}

function argmax(p: number[]): number {
  return p.reduce((best, q, i) => (q > p[best] ? i : best), 0);
}
