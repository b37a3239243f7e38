/**
 * A Bradley-Terry reward model as a reward source: the in-process causal LM reads prompt +
 * response, and a RewardHead turns the hidden state at the last real token into a score.
 * Items are scored in right-padded batches without gradients; a text longer than the context
 * keeps its end (where the head reads) and drops the start.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { RewardHead } from '../model/heads.ts';
import type { CausalLM } from '../model/types.ts';
import type { RewardItem, RewardOutcome, RewardSource } from './types.ts';

export interface RewardModelSourceOptions {
  model: CausalLM;
  head: RewardHead;
  /** Default "rm:<model dim>x<layers>". */
  id?: string;
  /** Items per forward pass. Default 8. */
  batchSize?: number;
  /** How an item becomes the text the model reads. Default prompt + response. */
  render?: (item: RewardItem) => string;
  /** Subtracted from, then divides, raw scores (the RM's score statistics). Default 0 and 1. */
  mean?: number;
  std?: number;
}

export class RewardModelSource implements RewardSource {
  readonly id: string;

  constructor(private readonly options: RewardModelSourceOptions) {
    const { config } = options.model;
    this.id = options.id ?? `rm:${config.dim}x${config.nLayers}`;
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    const outcomes: RewardOutcome[] = [];
    const batchSize = this.options.batchSize ?? 8;
    for (let start = 0; start < items.length; start += batchSize) {
      const scores = this.scoreBatch(items.slice(start, start + batchSize));
      for (const raw of scores) {
        const reward = (raw - (this.options.mean ?? 0)) / (this.options.std ?? 1);
        outcomes.push(Number.isFinite(reward) ? { ok: true, reward } : { ok: false, reason: 'non-finite score' });
      }
      // Yield between batches so an HTTP server stays responsive.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return outcomes;
  }

  /** Raw head scores of one batch. */
  scoreBatch(items: readonly RewardItem[]): number[] {
    const { model, head } = this.options;
    const render = this.options.render ?? ((item: RewardItem) => item.prompt + item.response);
    const maxLength = model.config.maxSeqLen;
    const rows = items.map((item) => {
      const ids = model.tokenizer.encode(render(item), { bos: true });
      return ids.length > maxLength ? ids.slice(ids.length - maxLength) : ids;
    });
    const seqLen = Math.max(...rows.map((r) => r.length));
    const tokens = new Int32Array(rows.length * seqLen);
    const mask = new Float32Array(rows.length * seqLen);
    rows.forEach((ids, row) => ids.forEach((id, t) => {
      tokens[row * seqLen + t] = id;
      mask[row * seqLen + t] = 1;
    }));
    const scores = tf.tidy(() => {
      const maskTensor = tf.tensor2d(mask, [rows.length, seqLen]); // [batch, seqLen]
      const { hidden } = model.forward(tf.tensor2d(tokens, [rows.length, seqLen], 'int32'), maskTensor);
      return head.apply(hidden, maskTensor); // [batch]
    });
    const values = Array.from(scores.dataSync());
    scores.dispose();
    return values;
  }
}
