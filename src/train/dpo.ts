/**
 * Direct Preference Optimization (Rafailov et al. 2023): train the policy on preference pairs
 * directly, with the frozen reference's log-probs as the anchor.
 *  - DpoTrainer: offline, over a PreferenceRecord dataset; the reference log-probs of every pair
 *    are computed once and cached.
 *  - OnlineDpoTrainer: each step samples two responses per prompt from the current policy, asks
 *    a judge which is better, and takes a DPO step on those pairs (Guo et al. 2024, "Direct
 *    Language Model Alignment from Online AI Feedback").
 */
import * as tf from '@tensorflow/tfjs-core';

import { ensureBackend } from '../model/backend.ts';
import type { PairwiseJudge, PreferenceRecord } from '../judge/types.ts';
import type { RewardSource } from '../rewards/types.ts';
import type { Rng } from '../util/rng.ts';
import { makeRng } from '../util/rng.ts';
import {
  type DpoConfig,
  type DpoConfigInput,
  dpoConfigSchema,
  type OnlineDpoConfig,
  type OnlineDpoConfigInput,
  onlineDpoConfigSchema,
} from './dpo-config.ts';
import { validateSettings } from '../util/yaml-input.ts';
import { stepGuards } from './guardrails.ts';
import { dpoLoss } from './losses.ts';
import {
  OnlineTrainer,
  type AlgorithmStepOutput,
  type OnlineTrainerOptions,
  type RunSettings,
} from './online-trainer.ts';
import { samplingSchema } from './ppo-config.ts';
import {
  mean,
  promptsForStep,
  responseLogprobSums,
  sampleRollout,
  splitPromptResponse,
} from './rollout.ts';
import { TrainingState, type UpdateResult } from './training-state.ts';

/** A preference pair as token ids, with its label. */
export interface TokenizedPair {
  prompt: number[];
  chosen: number[];
  rejected: number[];
  /** p(chosen is better). */
  pChosen: number;
}

type DpoLossSettings = Pick<DpoConfig, 'beta' | 'lossType' | 'labelSmoothing' | 'softLabels'>;

/** Sums of `model`'s log-probs of each pair's chosen and rejected response (no gradients). */
export function pairLogprobSums(
  model: OnlineTrainer['reference'],
  pairs: TokenizedPair[],
  batchSize: number,
) {
  const chosen: number[] = [];
  const rejected: number[] = [];
  for (let start = 0; start < pairs.length; start += batchSize) {
    const part = pairs.slice(start, start + batchSize);
    const sums = responseLogprobSums(
      model,
      [...part.map((p) => p.prompt), ...part.map((p) => p.prompt)],
      [...part.map((p) => p.chosen), ...part.map((p) => p.rejected)],
    );
    const values = Array.from(sums.dataSync());
    sums.dispose();
    chosen.push(...values.slice(0, part.length));
    rejected.push(...values.slice(part.length));
  }
  return { chosen, rejected };
}

/** The DPO loss of `pairs` under the policy, as a TrainingState loss function. */
function dpoObjective(
  policy: OnlineTrainer['policy'],
  pairs: TokenizedPair[],
  ref: { chosen: number[]; rejected: number[] },
  cfg: DpoLossSettings,
) {
  return () => {
    const n = pairs.length;
    const sums = responseLogprobSums(
      policy,
      [...pairs.map((p) => p.prompt), ...pairs.map((p) => p.prompt)],
      [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)],
    );
    // epsilon_i = 1 - p(chosen): a soft label is conservative DPO with a per-pair epsilon.
    const epsilons = pairs.map((p) =>
      cfg.softLabels ? Math.max(1 - p.pChosen, cfg.labelSmoothing) : cfg.labelSmoothing,
    );
    const out = dpoLoss({
      policyChosen: tf.slice(sums, [0], [n]) as tf.Tensor1D,
      policyRejected: tf.slice(sums, [n], [n]) as tf.Tensor1D,
      refChosen: tf.tensor1d(ref.chosen),
      refRejected: tf.tensor1d(ref.rejected),
      beta: cfg.beta,
      lossType: cfg.lossType,
      labelSmoothing: tf.tensor1d(epsilons),
    });
    return {
      loss: out.loss,
      aux: {
        chosen: tf.mean(out.chosenRewards) as tf.Scalar,
        rejected: tf.mean(out.rejectedRewards) as tf.Scalar,
        accuracy: out.accuracy,
      },
    };
  };
}

function dpoMetrics(result: UpdateResult): Record<string, number> {
  const { chosen, rejected, accuracy } = result.aux;
  return {
    'loss/total': result.loss,
    'reward/chosen': chosen,
    'reward/rejected': rejected,
    'reward/margin': chosen - rejected,
    'reward/accuracy': accuracy,
    'perf/grad_norm': result.gradNorm,
  };
}

const noSampling = samplingSchema.parse({});

// ---------------------------------------------------------------------------------------------

export interface DpoTrainerOptions extends Omit<OnlineTrainerOptions, 'prompts'> {
  records: PreferenceRecord[];
  config: DpoConfigInput;
}

export class DpoTrainer extends OnlineTrainer {
  readonly config: DpoConfig;
  protected readonly stage = 'dpo';
  protected readonly state: TrainingState;
  readonly trainPairs: TokenizedPair[];
  readonly validation: TokenizedPair[];
  private refCache?: { chosen: number[]; rejected: number[] };

  static async create(options: DpoTrainerOptions): Promise<DpoTrainer> {
    await ensureBackend();
    return new DpoTrainer(options);
  }

  constructor(options: DpoTrainerOptions) {
    // Validated before super(), which already clones the reference model.
    const config = validateSettings(dpoConfigSchema, options.config, 'dpo');
    super({ ...options, prompts: [] });
    this.config = config;
    const pairs = options.records.map((r) => this.tokenize(r));
    const order = makeRng(this.config.seed)
      .fork('split')
      .shuffle([...pairs.keys()]);
    const held = Math.round(pairs.length * this.config.validationFraction);
    this.validation = order.slice(0, held).map((i) => pairs[i]);
    this.trainPairs = order.slice(held).map((i) => pairs[i]);
    if (this.trainPairs.length === 0) throw new RangeError('DPO needs at least one training pair');
    this.state = new TrainingState(
      { policy: options.policy.trainableVariables() },
      this.config.optimizer,
      this.plannedSteps,
    );
  }

  protected get settings(): RunSettings {
    const { seed, epochs, batchSize, checkpointEvery, maxSkippedSteps } = this.config;
    return {
      seed,
      steps: epochs * Math.ceil(this.trainPairs.length / batchSize),
      checkpointEvery,
      maxSkippedSteps,
      sampling: noSampling,
    };
  }

  /** Reference log-probs of the training pairs, computed on first use and kept. */
  referenceCache(): { chosen: number[]; rejected: number[] } {
    this.refCache ??= pairLogprobSums(this.reference, this.trainPairs, this.config.batchSize);
    return this.refCache;
  }

  protected async runStep(step: number): Promise<AlgorithmStepOutput> {
    const { batchSize, seed } = this.config;
    const cache = this.referenceCache();
    // Consecutive slices of a per-epoch shuffle, as for prompts.
    const stepsPerEpoch = Math.ceil(this.trainPairs.length / batchSize);
    const epoch = Math.floor((step - 1) / stepsPerEpoch);
    const order = makeRng(seed)
      .fork(`epoch-${epoch}`)
      .shuffle([...this.trainPairs.keys()]);
    const start = ((step - 1) % stepsPerEpoch) * batchSize;
    const idx = order.slice(start, start + batchSize);
    const pairs = idx.map((i) => this.trainPairs[i]);
    const ref = {
      chosen: idx.map((i) => cache.chosen[i]),
      rejected: idx.map((i) => cache.rejected[i]),
    };

    const result = this.state.update(dpoObjective(this.policy, pairs, ref, this.config));
    return {
      metrics: { ...dpoMetrics(result), 'train/epoch': epoch + 1 },
      skipped: !result.applied,
      warnings: [],
      samples: [],
    };
  }

  /** Loss and preference accuracy of the policy on the held-out pairs (NaN when none). */
  evaluate(): { loss: number; accuracy: number } {
    if (this.validation.length === 0) return { loss: Number.NaN, accuracy: Number.NaN };
    const ref = pairLogprobSums(this.reference, this.validation, this.config.batchSize);
    const out = tf.tidy(() => {
      const { loss, aux } = dpoObjective(this.policy, this.validation, ref, this.config)();
      return [loss, aux.accuracy];
    });
    const [loss, accuracy] = out.map((t) => t.dataSync()[0]);
    tf.dispose(out);
    return { loss, accuracy };
  }

  private tokenize(record: PreferenceRecord): TokenizedPair {
    const { maxPromptTokens, maxResponseTokens } = this.config;
    const tokenizer = this.policy.tokenizer;
    const chosen = splitPromptResponse(tokenizer, record.prompt, record.chosen, maxPromptTokens);
    const rejected = splitPromptResponse(
      tokenizer,
      record.prompt,
      record.rejected,
      maxPromptTokens,
    );
    return {
      prompt: chosen.promptTokens,
      chosen: chosen.responseTokens.slice(0, maxResponseTokens),
      rejected: rejected.responseTokens.slice(0, maxResponseTokens),
      pChosen: record.pChosen,
    };
  }

  protected exportAlgorithmState(): Record<string, unknown> {
    return {};
  }

  protected importAlgorithmState(): void {}
}

// ---------------------------------------------------------------------------------------------

export interface OnlineDpoTrainerOptions extends OnlineTrainerOptions {
  /** Picks the better of two responses; a RewardSource compares their rewards instead. */
  judge: PairwiseJudge | RewardSource;
  config: OnlineDpoConfigInput;
}

export class OnlineDpoTrainer extends OnlineTrainer {
  readonly config: OnlineDpoConfig;
  protected readonly stage = 'online-dpo';
  protected readonly state: TrainingState;
  private readonly judge: PairwiseJudge | RewardSource;

  static async create(options: OnlineDpoTrainerOptions): Promise<OnlineDpoTrainer> {
    await ensureBackend();
    return new OnlineDpoTrainer(options);
  }

  constructor(options: OnlineDpoTrainerOptions) {
    // Validated before super(), which already clones the reference model.
    const config = validateSettings(onlineDpoConfigSchema, options.config, 'onlineDpo');
    super(options);
    this.config = config;
    this.judge = options.judge;
    this.state = new TrainingState(
      { policy: options.policy.trainableVariables() },
      this.config.optimizer,
      this.config.steps,
    );
  }

  protected get settings(): RunSettings {
    return this.config;
  }

  protected async runStep(step: number, rng: Rng): Promise<AlgorithmStepOutput> {
    const cfg = this.config;

    // 1. Two samples per prompt
    const prompts = promptsForStep(this.prompts, {
      step,
      count: cfg.promptsPerStep,
      seed: cfg.seed,
    });
    const rows = prompts.flatMap((p) => [p, p]);
    const rolloutStart = this.clock();
    const rollout = await sampleRollout(this.policy, rows, cfg.sampling, rng.int(2 ** 31));
    const rolloutMs = this.clock() - rolloutStart;

    // 2. Judge each pair
    const labels = await this.judgePairs(
      prompts.map((p, i) => ({
        prompt: p.prompt,
        a: rollout.responses[2 * i],
        b: rollout.responses[2 * i + 1],
      })),
    );
    const pairs: TokenizedPair[] = [];
    labels.forEach((label, i) => {
      if (label.kind !== 'ok') return;
      const [a, b] = [rollout.responseTokens[2 * i], rollout.responseTokens[2 * i + 1]];
      const aWins = label.pA >= 0.5;
      pairs.push({
        prompt: rollout.promptTokens[2 * i],
        chosen: aWins ? a : b,
        rejected: aWins ? b : a,
        pChosen: aWins ? label.pA : 1 - label.pA,
      });
    });
    const failures = labels.filter((l) => l.kind === 'failure').length;
    const ties = labels.filter((l) => l.kind === 'tie').length;

    // 3. DPO steps on the judged pairs
    const metrics: Record<string, number> = {
      'judge/failures': failures,
      'judge/ties': ties,
      'judge/pairs': pairs.length,
      'len/mean': mean(rollout.responseTokens.map((t) => t.length)),
      'perf/rollout_ms': rolloutMs,
      'perf/tokens_per_s':
        (rollout.responseTokens.reduce((a, t) => a + t.length, 0) / Math.max(rolloutMs, 1)) * 1000,
    };
    let skipped = false;
    let meanKl = 0;
    if (pairs.length > 0) {
      const ref = pairLogprobSums(this.reference, pairs, pairs.length);
      const policyNow = pairLogprobSums(this.policy, pairs, pairs.length);
      // Both responses were sampled from the policy: their mean log-ratio estimates KL (k1).
      const logRatios = pairs.flatMap((_, i) => [
        policyNow.chosen[i] - ref.chosen[i],
        policyNow.rejected[i] - ref.rejected[i],
      ]);
      meanKl = mean(logRatios);
      for (let epoch = 0; epoch < cfg.epochs && !skipped; epoch++) {
        const result = this.state.update(dpoObjective(this.policy, pairs, ref, cfg));
        skipped = !result.applied;
        Object.assign(metrics, dpoMetrics(result));
      }
    }
    metrics['objective/kl'] = meanKl;
    const guards = stepGuards({
      meanKl,
      kl: { warnAt: Infinity, stopAt: Infinity, negativeTolerance: Infinity },
      sampling: cfg.sampling,
      failures: labels
        .filter((l) => l.kind === 'failure')
        .map((l) => (l.kind === 'failure' ? l.reason : '')),
    });
    return {
      metrics,
      skipped,
      warnings: guards.warnings,
      samples: rows
        .slice(0, 4)
        .map((p, i) => ({ prompt: p.prompt, response: rollout.responses[i], score: Number.NaN })),
    };
  }

  private async judgePairs(items: { prompt: string; a: string; b: string }[]) {
    type Label = { kind: 'ok'; pA: number } | { kind: 'tie' } | { kind: 'failure'; reason: string };
    const judge = this.judge;
    if ('compare' in judge) {
      return Promise.all(
        items.map(async (item): Promise<Label> => {
          const verdict = await judge.compare(item);
          if (!verdict.ok) return { kind: 'failure', reason: verdict.message };
          return verdict.choice === 'tie' || verdict.pA === 0.5
            ? { kind: 'tie' }
            : { kind: 'ok', pA: verdict.pA };
        }),
      );
    }
    const outcomes = await judge.score(
      items.flatMap((item) => [
        { prompt: item.prompt, response: item.a },
        { prompt: item.prompt, response: item.b },
      ]),
    );
    return items.map((_, i): Label => {
      const [a, b] = [outcomes[2 * i], outcomes[2 * i + 1]];
      if (!a.ok || !b.ok)
        return { kind: 'failure', reason: !a.ok ? a.reason : (b as { reason: string }).reason };
      if (a.reward === b.reward) return { kind: 'tie' };
      return { kind: 'ok', pA: a.reward > b.reward ? 1 : 0 };
    });
  }

  protected exportAlgorithmState(): Record<string, unknown> {
    return {};
  }

  protected importAlgorithmState(): void {}
}
