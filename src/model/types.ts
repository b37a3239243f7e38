/**
 * The contract of the in-process model engine. Loaders produce plain data (LlamaConfig +
 * LlamaWeights); the engine turns it into tensors; trainers and providers speak CausalLM.
 * Weight matrices are row-major [out, in], the PyTorch Linear layout llama2.c also uses.
 */
import type * as tf from '@tensorflow/tfjs-core';

export interface LlamaConfig {
  /** Model width (embedding size). */
  dim: number;
  /** SwiGLU inner width. */
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  /** Key/value heads; fewer than nHeads means grouped-query attention. */
  nKvHeads: number;
  vocabSize: number;
  /** Longest sequence the positional encoding is meant for. */
  maxSeqLen: number;
  /** RMSNorm epsilon: 1e-5 for llama2.c checkpoints, 1e-6 for many HF models. */
  normEps: number;
  /** RoPE base frequency: 10000 unless the checkpoint says otherwise. */
  ropeTheta: number;
  /**
   * Which dimensions RoPE rotates together. 'interleaved': pairs (2i, 2i+1), as in llama2.c and
   * GGUF llama. 'half': pairs (i, i + headDim/2), as in HF transformers and GGUF qwen2.
   */
  ropeStyle: 'interleaved' | 'half';
  /** Output layer shares the token embedding. */
  tiedEmbeddings: boolean;
  /** Qwen2 has biases on the q, k, v projections. */
  qkvBias: boolean;
}

export interface LlamaLayerWeights {
  attnNorm: Float32Array; // [dim]
  wq: Float32Array; // [nHeads * headDim, dim]
  wk: Float32Array; // [nKvHeads * headDim, dim]
  wv: Float32Array; // [nKvHeads * headDim, dim]
  wo: Float32Array; // [dim, nHeads * headDim]
  bq?: Float32Array; // [nHeads * headDim]
  bk?: Float32Array; // [nKvHeads * headDim]
  bv?: Float32Array; // [nKvHeads * headDim]
  ffnNorm: Float32Array; // [dim]
  w1: Float32Array; // gate [hiddenDim, dim]
  w2: Float32Array; // down [dim, hiddenDim]
  w3: Float32Array; // up [hiddenDim, dim]
}

export interface LlamaWeights {
  tokenEmbedding: Float32Array; // [vocabSize, dim]
  layers: LlamaLayerWeights[];
  finalNorm: Float32Array; // [dim]
  /** [vocabSize, dim]; absent when tiedEmbeddings. */
  output?: Float32Array;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** Token ids of `text`; BOS is prepended only when asked. */
  encode(text: string, options?: { bos?: boolean; eos?: boolean }): number[];
  decode(ids: readonly number[]): string;
  /** The text of one token as it appears inside a longer decode (for streaming). */
  piece(id: number): string;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 means greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Generation stops after any of these strings appears in the new text (not included). */
  stop?: string[];
  /** Stops on the tokenizer's EOS unless false. */
  stopOnEos?: boolean;
  seed?: number;
  /**
   * Random stream of each prompt (default: its index in the batch). Streams derive from
   * (seed, id), so a prompt generated alone with the id it had in a batch samples the same
   * tokens as in the batch.
   */
  sequenceIds?: number[];
}

export interface GenerationResult {
  /** Prompt token ids as given. */
  promptTokens: number[];
  /**
   * New token ids, not including a stop string's tokens. An end token (EOS) that finished the
   * sequence is kept as the last token, so trainers can credit stopping.
   */
  tokens: number[];
  /**
   * log p(token) under softmax(logits / temperature) over the full vocabulary (temperature 1
   * when greedy); top-k/top-p truncation is not renormalised in, so a teacher-forced pass at the
   * same temperature reproduces these values.
   */
  logprobs: number[];
  /** Entropy of that distribution at each step, in nats. */
  entropies: number[];
  text: string;
  finishReason: 'eos' | 'stop' | 'length';
}

/** Forward pass output for a batch. */
export interface ForwardOutput {
  logits: tf.Tensor3D; // [batch, seqLen, vocab]
  hidden: tf.Tensor3D; // [batch, seqLen, dim], after the final norm
}

/**
 * A causal language model as trainers and providers see it. LlamaModel implements it; tests of
 * the RL algorithms may implement it with a toy.
 */
export interface CausalLM {
  readonly config: LlamaConfig;
  readonly tokenizer: Tokenizer;

  /**
   * Differentiable forward pass. tokens: int32 [batch, seqLen]; mask: [batch, seqLen], 1 for
   * real tokens, 0 for padding (either side). Positions are counted over real tokens only, so a
   * padded row gives the same logits as the unpadded one.
   */
  forward(tokens: tf.Tensor2D, mask?: tf.Tensor2D): ForwardOutput;

  /** Batched sampling with a KV cache; not differentiable. */
  generate(prompts: number[][], options: GenerateOptions): Promise<GenerationResult[]>;

  /**
   * Teacher-forced log p of each continuation token given its prompt, under
   * softmax(logits / temperature) (default 1); not differentiable.
   */
  scoreContinuations(prompts: number[][], continuations: number[][],
    options?: { temperature?: number }): Promise<number[][]>;

  /** Variables an optimiser updates (respects frozen parameters and LoRA). */
  trainableVariables(): tf.Variable[];

  /** A frozen deep copy (the reference model of PPO and DPO). */
  cloneFrozen(): CausalLM;

  /** Current weights as plain data, for checkpoints and export. */
  exportWeights(): LlamaWeights;

  dispose(): void;
}
