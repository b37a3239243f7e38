/**
 * Supervised fine-tuning on critique-and-revision data with the in-process engine: a causal-LM
 * loss over prompt + completion where only completion tokens count (the prompt is context, not
 * a target), AdamW steps over the model's trainable variables (full weights or LoRA adapters),
 * metrics as it goes.
 */
import * as tf from '@tensorflow/tfjs-core';

import { nextTokenLogprobs } from '../model/logprobs.ts';
import { AdamW, trainStep } from '../model/optim.ts';
import type { CausalLM, Tokenizer } from '../model/types.ts';
import type { MetricsWriter } from '../util/metrics.ts';
import { makeRng } from '../util/rng.ts';

export interface SftExample {
  prompt: string;
  completion: string;
}

export interface TokenizedExample {
  /** BOS + prompt + completion (+ end token), cut to the context. */
  ids: number[];
  /** Tokens that belong to the prompt, BOS included. */
  promptLength: number;
}

/**
 * Tokenizes prompt + completion as one text and splits at the prompt's own token count: a
 * completion tokenized alone can split its first word differently from how the model sees it.
 */
export function tokenizeExample(
  tokenizer: Tokenizer,
  example: SftExample,
  options: { maxLength: number; endToken?: number },
): TokenizedExample {
  const promptIds = tokenizer.encode(example.prompt, { bos: true });
  const ids = tokenizer.encode(example.prompt + example.completion, { bos: true });
  if (options.endToken !== undefined) ids.push(options.endToken);
  let promptLength = 0;
  while (
    promptLength < promptIds.length &&
    promptLength < ids.length &&
    ids[promptLength] === promptIds[promptLength]
  ) {
    promptLength++;
  }
  return { ids: ids.slice(0, options.maxLength), promptLength };
}

/**
 * Mean negative log-likelihood of the completion tokens of a batch (a differentiable scalar).
 * Rows are right-padded; position t predicts token t+1, which counts when t+1 is a completion
 * token of the row.
 */
export function completionLoss(model: CausalLM, batch: readonly TokenizedExample[]): tf.Scalar {
  return tf.tidy(() => {
    const seqLen = Math.max(...batch.map((e) => e.ids.length));
    const tokens = new Int32Array(batch.length * seqLen);
    const mask = new Float32Array(batch.length * seqLen);
    const weights = new Float32Array(batch.length * (seqLen - 1));
    batch.forEach((example, row) => {
      example.ids.forEach((id, t) => {
        tokens[row * seqLen + t] = id;
        mask[row * seqLen + t] = 1;
      });
      for (let t = Math.max(example.promptLength, 1); t < example.ids.length; t++) {
        weights[row * (seqLen - 1) + t - 1] = 1;
      }
    });
    const tokenTensor = tf.tensor2d(tokens, [batch.length, seqLen], 'int32'); // [batch, seqLen]
    const { logits } = model.forward(tokenTensor, tf.tensor2d(mask, [batch.length, seqLen]));
    const logp = nextTokenLogprobs(logits, tokenTensor); // [batch, seqLen - 1]
    const w = tf.tensor2d(weights, [batch.length, seqLen - 1]);
    return tf.neg(tf.div(tf.sum(tf.mul(logp, w)), tf.maximum(tf.sum(w), 1))) as tf.Scalar;
  });
}

export interface SftOptions {
  model: CausalLM;
  examples: readonly SftExample[];
  /** Passes over the examples. Default 1. */
  epochs?: number;
  /** Examples per step. Default 4. */
  batchSize?: number;
  /** Default 1e-3 (tiny models; use ~1e-5 for full fine-tuning of real ones). */
  learningRate?: number;
  /** Global gradient-norm clip. Default 1. */
  maxGradNorm?: number;
  /** Appended to every example so the model learns to stop, e.g. EOS. Default none. */
  endToken?: number;
  /** Longest example in tokens. Default the model's context. */
  maxLength?: number;
  /** Shuffles the examples each epoch. Default 0. */
  seed?: number;
  metrics?: MetricsWriter;
  onStep?: (step: number, loss: number) => void;
}

export interface SftResult {
  /** Loss of every step, in order. */
  losses: number[];
  steps: number;
}

export async function trainSft(options: SftOptions): Promise<SftResult> {
  const { model } = options;
  const tokenized = options.examples.map((e) =>
    tokenizeExample(model.tokenizer, e, {
      maxLength: options.maxLength ?? model.config.maxSeqLen,
      endToken: options.endToken,
    }),
  );
  const usable = tokenized.filter((e) => e.ids.length > e.promptLength);
  if (usable.length === 0) throw new Error('no example has completion tokens within the context');

  const optimizer = new AdamW(model.trainableVariables(), {
    lr: options.learningRate ?? 1e-3,
    weightDecay: 0,
  });
  const batchSize = options.batchSize ?? 4;
  const rng = makeRng(options.seed ?? 0);
  const losses: number[] = [];
  try {
    for (let epoch = 0; epoch < (options.epochs ?? 1); epoch++) {
      const order = rng.shuffle(usable);
      for (let start = 0; start < order.length; start += batchSize) {
        const batch = order.slice(start, start + batchSize);
        const began = Date.now();
        const { loss, gradNorm } = trainStep({
          loss: () => completionLoss(model, batch),
          optimizer,
          maxGradNorm: options.maxGradNorm ?? 1,
        });
        losses.push(loss);
        options.metrics?.write('sft', losses.length, {
          'loss/total': loss,
          'policy/grad_norm': gradNorm,
          'perf/step_ms': Date.now() - began,
        });
        options.onStep?.(losses.length, loss);
        // Let the event loop breathe between steps (progress output, signals).
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    optimizer.dispose();
  }
  return { losses, steps: losses.length };
}

/** Mean completion NLL of `examples` under `model`, without gradients. */
export function evaluateCompletionLoss(
  model: CausalLM,
  examples: readonly SftExample[],
  options: { endToken?: number; maxLength?: number } = {},
): number {
  const tokenized = examples.map((e) =>
    tokenizeExample(model.tokenizer, e, {
      maxLength: options.maxLength ?? model.config.maxSeqLen,
      endToken: options.endToken,
    }),
  );
  const loss = completionLoss(model, tokenized);
  const value = loss.dataSync()[0];
  loss.dispose();
  return value;
}
