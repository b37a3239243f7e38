/**
 * A Bradley-Terry reward model: a CausalLM backbone and a linear reward head read at the last
 * real token of prompt + response. Rewards are shifted by a stored offset so that a reference
 * set of responses averages 0, which keeps PPO's score scale stable across reward models. It is
 * a RewardSource, so PPO and the policy gradients take it directly.
 *
 * Saved as an rlaif checkpoint folder (model.safetensors with the head as extra tensors,
 * config.json, tokenizer.json when the tokenizer can be written) plus reward-model.json.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';

import { ensureBackend } from '../model/backend.ts';
import { loadCheckpoint } from '../model/checkpoint.ts';
import { RewardHead } from '../model/heads.ts';
import { LlamaModel } from '../model/llama.ts';
import { loadModel } from '../model/load.ts';
import type { CausalLM, Tokenizer } from '../model/types.ts';
import type { RewardItem, RewardOutcome, RewardSource } from '../rewards/types.ts';
import { ModelFormatError } from '../util/errors.ts';
import { packSequences, splitPromptResponse } from './rollout.ts';
import { saveModelFolder } from './training-state.ts';

export const REWARD_MODEL_FILE = 'reward-model.json';
const HEAD_WEIGHT = 'reward_head.weight';
const HEAD_BIAS = 'reward_head.bias';

const storedSchema = z.object({
  kind: z.literal('rlaif-reward-model'),
  /** Subtracted from raw rewards. */
  offset: z.number(),
  maxPromptTokens: z.number().int().positive(),
  maxResponseTokens: z.number().int().positive(),
  /** Figures measured when the model was trained (validation accuracy etc.). */
  metrics: z.record(z.string(), z.number()).optional(),
});

export interface RewardModelOptions {
  /** Rewards are read on at most this many prompt tokens (its start is cut). 64. */
  maxPromptTokens?: number;
  /** And at most this many response tokens (the end is cut). 64. */
  maxResponseTokens?: number;
  /** Seed of the head's initialisation. 0. */
  seed?: number;
  /** Items scored per forward pass. 16. */
  batchSize?: number;
  id?: string;
}

export class RewardModel implements RewardSource {
  readonly id: string;
  readonly head: RewardHead;
  /** Subtracted from every raw reward (see normalise()). */
  offset = 0;
  readonly maxPromptTokens: number;
  readonly maxResponseTokens: number;
  private readonly batchSize: number;
  /** Figures recorded at training time, saved with the model. */
  metrics: Record<string, number> = {};

  constructor(
    readonly backbone: CausalLM,
    options: RewardModelOptions = {},
  ) {
    this.id = options.id ?? 'reward-model';
    this.head = new RewardHead({ dim: backbone.config.dim, seed: options.seed ?? 0 });
    this.maxPromptTokens = options.maxPromptTokens ?? 64;
    this.maxResponseTokens = options.maxResponseTokens ?? 64;
    this.batchSize = options.batchSize ?? 16;
  }

  /** Prompt and response token ids, cut to the configured lengths. */
  tokenize(prompt: string, response: string): { promptTokens: number[]; responseTokens: number[] } {
    const split = splitPromptResponse(
      this.backbone.tokenizer,
      prompt,
      response,
      this.maxPromptTokens,
    );
    return {
      promptTokens: split.promptTokens,
      responseTokens: split.responseTokens.slice(0, this.maxResponseTokens),
    };
  }

  /** Raw rewards (no offset) of tokenized pairs: [batch], differentiable. */
  rawRewards(promptTokens: number[][], responseTokens: number[][]): tf.Tensor1D {
    return tf.tidy(() => {
      const packed = packSequences(promptTokens, responseTokens);
      const { hidden } = this.backbone.forward(packed.tokens, packed.attention);
      return this.head.apply(hidden, packed.attention);
    });
  }

  /** Rewards with the offset applied, batched, without gradients. */
  async rewards(items: { prompt: string; response: string }[]): Promise<number[]> {
    const out: number[] = [];
    for (let start = 0; start < items.length; start += this.batchSize) {
      const part = items
        .slice(start, start + this.batchSize)
        .map((item) => this.tokenize(item.prompt, item.response));
      const raw = this.rawRewards(
        part.map((p) => p.promptTokens),
        part.map((p) => p.responseTokens),
      );
      out.push(...Array.from(await raw.data()).map((r) => r - this.offset));
      raw.dispose();
    }
    return out;
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    const rewards = await this.rewards(items);
    return rewards.map((reward) =>
      Number.isFinite(reward)
        ? { ok: true, reward }
        : { ok: false, reason: `reward model returned ${reward}` },
    );
  }

  /** Sets the offset so that `reference` averages 0; returns the new offset. */
  async normalise(reference: { prompt: string; response: string }[]): Promise<number> {
    if (reference.length === 0)
      throw new RangeError('normalise needs at least one reference response');
    this.offset = 0;
    const raw = await this.rewards(reference);
    this.offset = raw.reduce((a, b) => a + b, 0) / raw.length;
    return this.offset;
  }

  /** Variables training updates: the head, and the backbone unless frozen. */
  trainableVariables(trainBackbone = true): tf.Variable[] {
    return [...(trainBackbone ? this.backbone.trainableVariables() : []), ...this.head.variables()];
  }

  /** Writes the backbone, the head and reward-model.json into `dir`. */
  async save(dir: string): Promise<void> {
    const state = this.head.exportState();
    const extra = {
      [HEAD_WEIGHT]: { shape: [state.weight.length], data: state.weight },
      [HEAD_BIAS]: { shape: [1], data: state.bias },
    };
    await saveModelFolder(dir, this.backbone, extra);
    const stored: z.infer<typeof storedSchema> = {
      kind: 'rlaif-reward-model',
      offset: this.offset,
      maxPromptTokens: this.maxPromptTokens,
      maxResponseTokens: this.maxResponseTokens,
      metrics: this.metrics,
    };
    await writeFile(join(dir, REWARD_MODEL_FILE), JSON.stringify(stored, null, 2) + '\n');
  }

  /**
   * Loads a folder written by save(). `tokenizer` is needed only when the folder holds no
   * tokenizer.json.
   */
  static async load(dir: string, options: { tokenizer?: Tokenizer } = {}): Promise<RewardModel> {
    await ensureBackend();
    const file = join(dir, REWARD_MODEL_FILE);
    if (!existsSync(file))
      throw new ModelFormatError(dir, `no ${REWARD_MODEL_FILE}: not a reward model folder`);
    const parsed = storedSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (!parsed.success)
      throw new ModelFormatError(
        file,
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    const checkpoint = await loadCheckpoint(dir);
    const tokenizer = options.tokenizer ?? (await loadModel(dir)).tokenizer;
    const backbone = await LlamaModel.fromWeights(checkpoint.config, checkpoint.weights, tokenizer);
    const model = new RewardModel(backbone, parsed.data);
    const weight = checkpoint.extra.get(HEAD_WEIGHT);
    const bias = checkpoint.extra.get(HEAD_BIAS);
    if (!weight || !bias)
      throw new ModelFormatError(dir, `model.safetensors has no ${HEAD_WEIGHT} / ${HEAD_BIAS}`);
    model.head.importState({ weight: weight.data, bias: bias.data });
    model.offset = parsed.data.offset;
    model.metrics = parsed.data.metrics ?? {};
    return model;
  }

  dispose(): void {
    this.head.dispose();
    this.backbone.dispose();
  }
}
