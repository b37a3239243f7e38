/**
 * Sequence-level policy gradients without a value network, sharing PPO's rollout code:
 *  - REINFORCE with a baseline (Williams 1992), the choice of the RLAIF paper (Lee et al. 2023);
 *  - RLOO, REINFORCE with a leave-one-out baseline over k samples per prompt (Kool et al. 2019;
 *    Ahmadian et al. 2024);
 *  - GRPO, group-normalised advantages, a clipped ratio and a k3 KL term in the loss (Shao et
 *    al. 2024, DeepSeekMath).
 */
import * as tf from '@tensorflow/tfjs-core';

import { ensureBackend } from '../model/backend.ts';
import { entropyFromLogits, nextTokenLogprobs } from '../model/logprobs.ts';
import type { RewardSource } from '../rewards/types.ts';
import { InputError } from '../util/errors.ts';
import type { Rng } from '../util/rng.ts';
import { validateSettings } from '../util/yaml-input.ts';
import { stepGuards } from './guardrails.ts';
import {
  clippedPolicyLoss,
  grpoAdvantages,
  klEstimate,
  maskedMean,
  reinforceLoss,
  rlooAdvantages,
} from './losses.ts';
import {
  OnlineTrainer,
  type AlgorithmStepOutput,
  type OnlineTrainerOptions,
  type RunSettings,
} from './online-trainer.ts';
import {
  type PolicyGradientConfig,
  type PolicyGradientConfigInput,
  policyGradientConfigSchema,
} from './policy-gradient-config.ts';
import {
  clipScores,
  disposeBatch,
  mean,
  packSequences,
  penaliseUnfinished,
  promptsForStep,
  sampleRollout,
  scoreRollout,
  selectRows,
  std,
} from './rollout.ts';
import { TrainingState } from './training-state.ts';

export interface PolicyGradientTrainerOptions extends OnlineTrainerOptions {
  reward: RewardSource;
  config: PolicyGradientConfigInput;
}

interface StepBatch {
  tokens: tf.Tensor2D; // int32 [B, L]
  attention: tf.Tensor2D; // [B, L]
  mask: tf.Tensor2D; // [B, L - 1]
  oldLogprobs: tf.Tensor2D; // [B, L - 1]
  refLogprobs: tf.Tensor2D; // [B, L - 1]
  advantages: tf.Tensor1D; // [B] one advantage per sequence
}

export class PolicyGradientTrainer extends OnlineTrainer {
  readonly config: PolicyGradientConfig;
  protected readonly stage: string;
  protected readonly state: TrainingState;
  private readonly reward: RewardSource;
  /** REINFORCE's moving-average baseline; undefined until the first batch. */
  private baseline?: number;

  static async create(options: PolicyGradientTrainerOptions): Promise<PolicyGradientTrainer> {
    await ensureBackend();
    return new PolicyGradientTrainer(options);
  }

  constructor(options: PolicyGradientTrainerOptions) {
    // Validated before super(), which already clones the reference model.
    const config = validateSettings(policyGradientConfigSchema, options.config, 'rl');
    super(options);
    this.config = config;
    const { algo, samplesPerPrompt } = this.config;
    if (algo !== 'reinforce' && samplesPerPrompt < 2) {
      throw new InputError(
        `${algo} needs samplesPerPrompt >= 2 (got ${samplesPerPrompt}): ` +
          'its baseline comes from the other samples',
        {
          field: 'rl.samplesPerPrompt',
        },
      );
    }
    this.stage = algo;
    this.reward = options.reward;
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
    const k = cfg.samplesPerPrompt;
    const beta = cfg.kl.coef;

    // 1. Rollout: k samples of each prompt, grouped consecutively
    const distinct = promptsForStep(this.prompts, {
      step,
      count: cfg.promptsPerStep,
      seed: cfg.seed,
    });
    const rows = distinct.flatMap((p) => Array.from({ length: k }, () => p));
    const rolloutStart = this.clock();
    const rollout = await sampleRollout(this.policy, rows, cfg.sampling, rng.int(2 ** 31));
    const rolloutMs = this.clock() - rolloutStart;
    const responseTokens = rollout.responseTokens.reduce((a, r) => a + r.length, 0);

    // 2. Reward
    const { scores, failures } = await scoreRollout(this.reward, rollout);
    const keep = scores.map(Number.isFinite);
    const shaped = clipScores(
      penaliseUnfinished(scores, rollout.ended, cfg.missingEosPenalty),
      cfg.rewardClip,
    );

    // 3. Log-probs under the policy and the reference; sequence KL and entropy
    const packed = packSequences(rollout.promptTokens, rollout.responseTokens, keep);
    const mask = packed.responseMask;
    const { oldLogprobs, entropy } = tf.tidy(() => {
      const { logits } = this.policy.forward(packed.tokens, packed.attention);
      const width = logits.shape[1];
      return {
        oldLogprobs: nextTokenLogprobs(logits, packed.tokens),
        entropy: tf.sum(
          tf.mul(entropyFromLogits(tf.slice(logits, [0, 0, 0], [-1, width - 1, -1])), mask),
          1,
        ),
      };
    });
    const refLogprobs = tf.tidy(() =>
      nextTokenLogprobs(
        this.reference.forward(packed.tokens, packed.attention).logits,
        packed.tokens,
      ),
    );
    const klPerSeq = tf.tidy(() =>
      Array.from(tf.sum(tf.mul(klEstimate(oldLogprobs, refLogprobs, 'k1'), mask), 1).dataSync()),
    );
    const entropyPerSeq = Array.from(entropy.dataSync());
    entropy.dispose();

    // 4. Sequence rewards and advantages
    const klInReward = cfg.algo !== 'grpo';
    const rewards = shaped.map((s, i) => (klInReward ? s - beta * klPerSeq[i] : s));
    const { advantages, extra } = this.advantages(fillFailedRows(rewards, keep, k));

    // 5. Update
    const batch: StepBatch = {
      tokens: packed.tokens,
      attention: packed.attention,
      mask,
      oldLogprobs,
      refLogprobs,
      advantages: tf.tensor1d(advantages.map((a, i) => (keep[i] ? a : 0))),
    };
    const update = this.optimise(batch, rng);
    disposeBatch(packed);
    tf.dispose([oldLogprobs, refLogprobs, batch.advantages]);

    // 6. Guardrails and metrics
    const keptRows = keep.map((ok, i) => (ok ? i : -1)).filter((i) => i >= 0);
    const meanKl = mean(keptRows.map((i) => klPerSeq[i]));
    const guards = stepGuards({ meanKl: meanKl, kl: cfg.kl, sampling: cfg.sampling, failures });

    const keptRewards = keptRows.map((i) => rewards[i]);
    const validScores = keptRows.map((i) => scores[i]);
    return {
      metrics: {
        'objective/kl': meanKl,
        'objective/entropy': mean(keptRows.map((i) => entropyPerSeq[i])),
        'objective/kl_coef': beta,
        'policy/clipfrac': update.clipFraction,
        'policy/approxkl': update.approxKl,
        'loss/policy': update.policyLoss,
        'loss/total': update.totalLoss,
        'reward/mean': mean(keptRewards),
        'reward/std': std(keptRewards),
        'reward/failures': failures.length,
        'score/mean': mean(validScores),
        'score/std': std(validScores),
        'len/mean': responseTokens / rows.length,
        'len/unfinished': rollout.ended.filter((e) => !e).length / rows.length,
        'perf/rollout_ms': rolloutMs,
        'perf/tokens_per_s': (responseTokens / Math.max(rolloutMs, 1)) * 1000,
        'perf/grad_norm': update.gradNorm,
        ...extra,
      },
      skipped: update.skipped,
      warnings: guards.warnings,
      halt: guards.halt,
      samples: rows
        .slice(0, 4)
        .map((p, i) => ({ prompt: p.prompt, response: rollout.responses[i], score: scores[i] })),
    };
  }

  /** Per-sequence advantages of the configured algorithm, plus its own metrics. */
  private advantages(rewards: number[]): { advantages: number[]; extra: Record<string, number> } {
    const cfg = this.config;
    const k = cfg.samplesPerPrompt;
    if (cfg.algo === 'reinforce') {
      const batchMean = mean(rewards);
      const baseline = cfg.baseline === 'batch-mean' ? batchMean : (this.baseline ?? batchMean);
      if (cfg.baseline === 'moving-average') {
        this.baseline =
          this.baseline === undefined
            ? batchMean
            : cfg.baselineDecay * this.baseline + (1 - cfg.baselineDecay) * batchMean;
      }
      return {
        advantages: rewards.map((r) => r - baseline),
        extra: { 'policy/baseline': baseline },
      };
    }
    const grouped = tf.tensor2d(rewards, [rewards.length / k, k]);
    try {
      if (cfg.algo === 'rloo') {
        const advantages = rlooAdvantages(grouped);
        const values = Array.from(advantages.dataSync());
        advantages.dispose();
        return { advantages: values, extra: {} };
      }
      const { advantages, flatGroups } = grpoAdvantages(grouped, { scaleByStd: cfg.scaleByStd });
      const values = Array.from(advantages.dataSync());
      advantages.dispose();
      return { advantages: values, extra: { 'reward/flat_groups': flatGroups } };
    } finally {
      grouped.dispose();
    }
  }

  private optimise(batch: StepBatch, rng: Rng) {
    const cfg = this.config;
    const rows = batch.tokens.shape[0];
    const size = cfg.miniBatchSize > 0 ? cfg.miniBatchSize : rows;
    const epochs = cfg.algo === 'grpo' ? cfg.epochs : 1;
    const sums = { policyLoss: 0, totalLoss: 0, clipFraction: 0, approxKl: 0, gradNorm: 0 };
    let updates = 0;
    let skipped = false;
    for (let epoch = 0; epoch < epochs && !skipped; epoch++) {
      const order = rng.shuffle([...Array(rows).keys()]);
      for (let start = 0; start < rows; start += size) {
        const idx = order.slice(start, start + size);
        const mb = {
          tokens: selectRows(batch.tokens, idx),
          attention: selectRows(batch.attention, idx),
          mask: selectRows(batch.mask, idx),
          oldLogprobs: selectRows(batch.oldLogprobs, idx),
          refLogprobs: selectRows(batch.refLogprobs, idx),
          advantages: selectRows(batch.advantages, idx),
        };
        const result = this.state.update(
          (): { loss: tf.Scalar; aux: Record<string, tf.Scalar> } => {
            const logprobs = nextTokenLogprobs(
              this.policy.forward(mb.tokens, mb.attention).logits,
              mb.tokens,
            );
            if (cfg.algo !== 'grpo') {
              const sequenceLogprobs = tf.sum(tf.mul(logprobs, mb.mask), 1) as tf.Tensor1D;
              // Scaled by rows / batch so minibatches of one step add up to the batch's gradient.
              const loss = tf.mul(
                reinforceLoss(sequenceLogprobs, mb.advantages),
                idx.length / rows,
              ) as tf.Scalar;
              const logRatio = tf.sub(logprobs, mb.oldLogprobs);
              return {
                loss,
                aux: {
                  policyLoss: loss,
                  approxKl: tf.mul(0.5, maskedMean(tf.square(logRatio), mb.mask)) as tf.Scalar,
                },
              };
            }
            const tokenAdvantages = tf.mul(tf.expandDims(mb.advantages, 1), mb.mask) as tf.Tensor2D;
            const pg = clippedPolicyLoss({
              logprobs,
              oldLogprobs: mb.oldLogprobs,
              advantages: tokenAdvantages,
              mask: mb.mask,
              clipRange: cfg.clipRange,
            });
            const kl = maskedMean(klEstimate(logprobs, mb.refLogprobs, 'k3'), mb.mask);
            const loss = tf.add(pg.loss, tf.mul(cfg.kl.coef, kl)) as tf.Scalar;
            return {
              loss,
              aux: { policyLoss: pg.loss, clipFraction: pg.clipFraction, approxKl: pg.approxKl },
            };
          },
        );
        tf.dispose(Object.values(mb));
        if (!result.applied) {
          skipped = true;
          break;
        }
        sums.policyLoss += result.aux.policyLoss;
        sums.clipFraction += result.aux.clipFraction ?? 0;
        sums.approxKl += result.aux.approxKl;
        sums.totalLoss += result.loss;
        sums.gradNorm += result.gradNorm;
        updates++;
      }
    }
    const avg = (x: number) => (updates > 0 ? x / updates : Number.NaN);
    return {
      skipped,
      policyLoss: avg(sums.policyLoss),
      totalLoss: avg(sums.totalLoss),
      clipFraction: avg(sums.clipFraction),
      approxKl: avg(sums.approxKl),
      gradNorm: avg(sums.gradNorm),
    };
  }

  protected exportAlgorithmState(): Record<string, unknown> {
    return { baseline: this.baseline ?? null };
  }

  protected importAlgorithmState(state: Record<string, unknown>): void {
    this.baseline = typeof state.baseline === 'number' ? state.baseline : undefined;
  }
}

/**
 * Rows whose reward failed take their group's mean of the valid rewards, so they neither
 * contribute (their mask is 0) nor shift the others' baselines.
 */
function fillFailedRows(rewards: number[], keep: boolean[], groupSize: number): number[] {
  const out = rewards.slice();
  for (let g = 0; g < rewards.length; g += groupSize) {
    const valid = rewards.slice(g, g + groupSize).filter((_, j) => keep[g + j]);
    const fill = valid.length > 0 ? mean(valid) : 0;
    for (let j = g; j < g + groupSize; j++) if (!keep[j]) out[j] = fill;
  }
  return out;
}
