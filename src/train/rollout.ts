/**
 * Rollouts shared by PPO and the sequence-level policy gradients: pick the step's prompts,
 * sample responses from the policy, score them with a RewardSource, and pack prompt + response
 * into padded tensors whose per-token quantities all live on the [batch, L - 1] grid of
 * "predict token j + 1 from the prefix up to j".
 */
import * as tf from '@tensorflow/tfjs-core';

import { nextTokenLogprobs } from '../model/logprobs.ts';
import type { CausalLM, Tokenizer } from '../model/types.ts';
import type { RewardSource } from '../rewards/types.ts';
import { makeRng } from '../util/rng.ts';

export interface PromptRecord {
  prompt: string;
  /** Ground truth passed to verifier rewards. */
  reference?: string;
}

export interface SamplingSettings {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  /** Longest prompt kept, in tokens (the start is cut). */
  maxPromptTokens: number;
  /** Stop at the end token (default true). */
  stopOnEos?: boolean;
}

export interface Rollout {
  prompts: PromptRecord[];
  promptTokens: number[][];
  /** Sampled tokens, ending with the end token when the response ended on one. */
  responseTokens: number[][];
  responses: string[];
  /** The response stopped on its own (EOS or a stop string) instead of hitting the length cap. */
  ended: boolean[];
  /** log p of each sampled token under the sampling distribution (after temperature etc). */
  sampleLogprobs: number[][];
}

/** The prompts of training step `step` (1-based): consecutive slices of a per-epoch shuffle. */
export function promptsForStep(
  prompts: readonly PromptRecord[],
  options: { step: number; count: number; seed: number },
): PromptRecord[] {
  const { step, count, seed } = options;
  if (prompts.length === 0) throw new RangeError('online training needs at least one prompt');
  const picked: PromptRecord[] = [];
  for (let i = 0; i < count; i++) {
    const flat = (step - 1) * count + i;
    const epoch = Math.floor(flat / prompts.length);
    const order = epochOrder(prompts.length, seed, epoch);
    picked.push(prompts[order[flat % prompts.length]]);
  }
  return picked;
}

const orderCache = new Map<string, number[]>();

function epochOrder(size: number, seed: number, epoch: number): number[] {
  const key = `${size}/${seed}/${epoch}`;
  let order = orderCache.get(key);
  if (!order) {
    order = makeRng(seed)
      .fork(`prompts-${epoch}`)
      .shuffle([...Array(size).keys()]);
    if (orderCache.size > 64) orderCache.clear();
    orderCache.set(key, order);
  }
  return order;
}

/** Samples one response per prompt (repeat prompts in the list for several samples). */
export async function sampleRollout(
  policy: CausalLM,
  prompts: PromptRecord[],
  settings: SamplingSettings,
  seed: number,
): Promise<Rollout> {
  const tokenizer = policy.tokenizer;
  const promptTokens = prompts.map((p) => {
    const ids = tokenizer.encode(p.prompt, { bos: true });
    return ids.length > settings.maxPromptTokens
      ? ids.slice(ids.length - settings.maxPromptTokens)
      : ids;
  });
  const results = await policy.generate(promptTokens, {
    maxNewTokens: settings.maxNewTokens,
    temperature: settings.temperature,
    topK: settings.topK,
    topP: settings.topP,
    stopOnEos: settings.stopOnEos,
    seed,
  });
  // CausalLM.generate keeps the end token as the last token: stopping is an action the policy
  // took and training reinforces it like any other.
  const responseTokens = results.map((r) => r.tokens.slice());
  return {
    prompts,
    promptTokens,
    responseTokens,
    responses: results.map((r) => r.text),
    ended: results.map((r) => r.finishReason !== 'length'),
    sampleLogprobs: results.map((r) => r.logprobs),
  };
}

/** Scores a rollout; failed items get NaN and are reported, never turned into a number. */
export async function scoreRollout(
  reward: RewardSource,
  rollout: Rollout,
): Promise<{ scores: number[]; failures: string[] }> {
  const outcomes = await reward.score(
    rollout.prompts.map((p, i) => ({
      prompt: p.prompt,
      response: rollout.responses[i],
      reference: p.reference,
    })),
  );
  const failures: string[] = [];
  const scores = outcomes.map((o) => {
    if (o.ok && Number.isFinite(o.reward)) return o.reward;
    failures.push(o.ok ? `non-finite reward ${o.reward}` : o.reason);
    return Number.NaN;
  });
  return { scores, failures };
}

export interface PackedBatch {
  tokens: tf.Tensor2D; // int32 [batch, L] prompt + response, right-padded with 0
  attention: tf.Tensor2D; // [batch, L] 1 on real tokens
  responseMask: tf.Tensor2D; // [batch, L - 1] 1 where target token j + 1 is a response token
}

/**
 * Packs rows of prompt + response. `keep[i] = false` zeroes row i's response mask, so a row
 * whose reward failed contributes nothing.
 */
export function packSequences(
  promptTokens: number[][],
  responseTokens: number[][],
  keep?: boolean[],
): PackedBatch {
  const lengths = promptTokens.map((p, i) => p.length + responseTokens[i].length);
  const width = Math.max(2, ...lengths);
  const batch = promptTokens.length;
  const tokens = new Int32Array(batch * width);
  const attention = new Float32Array(batch * width);
  const responseMask = new Float32Array(batch * (width - 1));
  for (let b = 0; b < batch; b++) {
    const row = [...promptTokens[b], ...responseTokens[b]];
    row.forEach((id, j) => {
      tokens[b * width + j] = id;
      attention[b * width + j] = 1;
    });
    if (keep && !keep[b]) continue;
    for (let j = promptTokens[b].length - 1; j < row.length - 1; j++)
      responseMask[b * (width - 1) + j] = 1;
  }
  return {
    tokens: tf.tensor2d(tokens, [batch, width], 'int32'),
    attention: tf.tensor2d(attention, [batch, width]),
    responseMask: tf.tensor2d(responseMask, [batch, width - 1]),
  };
}

export function disposeBatch(batch: PackedBatch): void {
  batch.tokens.dispose();
  batch.attention.dispose();
  batch.responseMask.dispose();
}

/**
 * Tokens of a text prompt and response for teacher forcing. The whole text is tokenized and
 * split at the prompt's length, since tokenizing the response alone can split its first word
 * differently; when the prompt's tokens are not a prefix of the whole, the parts are tokenized
 * separately.
 */
export function splitPromptResponse(
  tokenizer: Tokenizer,
  prompt: string,
  response: string,
  maxPromptTokens = Infinity,
): { promptTokens: number[]; responseTokens: number[] } {
  const whole = tokenizer.encode(prompt + response, { bos: true });
  let promptTokens = tokenizer.encode(prompt, { bos: true });
  const isPrefix =
    promptTokens.length < whole.length && promptTokens.every((id, i) => whole[i] === id);
  const responseTokens = isPrefix ? whole.slice(promptTokens.length) : tokenizer.encode(response);
  if (promptTokens.length > maxPromptTokens)
    promptTokens = promptTokens.slice(promptTokens.length - maxPromptTokens);
  return { promptTokens, responseTokens };
}

/**
 * Sum of log p over each response's tokens under `model` ([batch], differentiable): the
 * sequence log-likelihood that DPO compares.
 */
export function responseLogprobSums(
  model: CausalLM,
  promptTokens: number[][],
  responseTokens: number[][],
): tf.Tensor1D {
  return tf.tidy(() => {
    const packed = packSequences(promptTokens, responseTokens);
    const logprobs = nextTokenLogprobs(
      model.forward(packed.tokens, packed.attention).logits,
      packed.tokens,
    );
    return tf.sum(tf.mul(logprobs, packed.responseMask), 1) as tf.Tensor1D;
  });
}

/** Rows `rows` of every tensor of a packed batch (a minibatch view, newly allocated). */
export function selectRows<T extends tf.Tensor>(tensor: T, rows: number[]): T {
  return tf.tidy(() => tf.gather(tensor, tf.tensor1d(rows, 'int32'))) as T;
}

/** Subtracts `penalty` from the score of every response that hit the length cap (no EOS). */
export function penaliseUnfinished(scores: number[], ended: boolean[], penalty: number): number[] {
  return scores.map((s, i) => (ended[i] || penalty === 0 ? s : s - penalty));
}

/** Clips scores to [-limit, limit]; 0 = no clipping. NaN stays NaN. */
export function clipScores(scores: number[], limit: number): number[] {
  return limit > 0 ? scores.map((s) => Math.min(Math.max(s, -limit), limit)) : scores;
}

/** Mean of a list; NaN when empty. */
export function mean(xs: readonly number[]): number {
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

/** Population standard deviation; NaN when empty. */
export function std(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}
