/**
 * PPO for language models (Schulman et al. 2017; as applied to LMs by Ziegler et al. 2019 and
 * Ouyang et al. 2022): sample responses, score them, turn the score into per-token rewards with
 * a KL penalty to a frozen reference, estimate advantages with GAE against a value head on the
 * policy's hidden states, and take clipped policy and value steps over several epochs of
 * minibatches.
 *
 * Metrics of a step (per response means over the batch unless said otherwise):
 *   objective/kl       sum over response tokens of log pi - log pi_ref (k1), at rollout time
 *   objective/entropy  sum over response tokens of the policy's next-token entropy (nats)
 *   objective/kl_coef  beta used for this step's rewards
 *   policy/clipfrac, policy/approxkl, loss/policy, loss/value, loss/total, val/vpred, val/error,
 *   val/clipfrac       means over the step's minibatch updates
 *   reward/mean, reward/std  sum of the per-token rewards (score - beta * kl)
 *   score/mean, score/std    the RewardSource's raw score
 *   len/mean, len/unfinished  response tokens; share of responses that hit the length cap
 *   policy/sample_logprob_gap  mean |log p at sampling - log p at scoring| per token
 */
import * as tf from '@tensorflow/tfjs-core';

import { ensureBackend } from '../model/backend.ts';
import { ValueHead } from '../model/heads.ts';
import { entropyFromLogits, nextTokenLogprobs } from '../model/logprobs.ts';
import type { RewardSource } from '../rewards/types.ts';
import type { Rng } from '../util/rng.ts';
import { validateSettings } from '../util/yaml-input.ts';
import { stepGuards } from './guardrails.ts';
import {
  emptyMoments,
  type KlControllerState,
  type RunningMoments,
  updateKlCoef,
  updateMoments,
} from './kl-control.ts';
import {
  clippedPolicyLoss,
  clippedValueLoss,
  gae,
  klPenaltyRewards,
  maskedMean,
  whiten,
} from './losses.ts';
import {
  OnlineTrainer,
  type AlgorithmStepOutput,
  type OnlineTrainerOptions,
  type RunSettings,
} from './online-trainer.ts';
import { type PpoConfig, type PpoConfigInput, ppoConfigSchema } from './ppo-config.ts';
import {
  clipScores,
  disposeBatch,
  mean,
  packSequences,
  penaliseUnfinished,
  promptsForStep,
  type Rollout,
  sampleRollout,
  scoreRollout,
  selectRows,
  std,
} from './rollout.ts';
import { TrainingState } from './training-state.ts';

export interface PpoTrainerOptions extends OnlineTrainerOptions {
  /** Scores responses: a reward model, a judge used directly, a verifier or a mixture. */
  reward: RewardSource;
  /** Settings; validated here (defaults filled in). */
  config: PpoConfigInput;
  /** An existing value head (e.g. from a reward model) instead of a fresh one. */
  valueHead?: ValueHead;
}

/** Per-step tensors computed once from the rollout, before the update epochs. */
interface StepTensors {
  tokens: tf.Tensor2D; // int32 [B, L]
  attention: tf.Tensor2D; // [B, L]
  mask: tf.Tensor2D; // [B, L - 1]
  oldLogprobs: tf.Tensor2D; // [B, L - 1]
  oldValues: tf.Tensor2D; // [B, L - 1]
  advantages: tf.Tensor2D; // [B, L - 1]
  returns: tf.Tensor2D; // [B, L - 1]
}

export class PpoTrainer extends OnlineTrainer {
  readonly config: PpoConfig;
  readonly valueHead: ValueHead;
  protected readonly stage = 'ppo';
  protected readonly state: TrainingState;
  private readonly reward: RewardSource;
  private kl: KlControllerState;
  private rewardMoments: RunningMoments = emptyMoments();

  /** Validates the config, makes the wasm backend current, builds the trainer. */
  static async create(options: PpoTrainerOptions): Promise<PpoTrainer> {
    await ensureBackend();
    return new PpoTrainer(options);
  }

  constructor(options: PpoTrainerOptions) {
    // Validated before super(), which already clones the reference model.
    const config = validateSettings(ppoConfigSchema, options.config, 'ppo');
    super(options);
    this.config = config;
    this.reward = options.reward;
    this.valueHead =
      options.valueHead ??
      new ValueHead({ dim: options.policy.config.dim, seed: this.config.seed });
    this.state = new TrainingState(
      { policy: options.policy.trainableVariables(), value: this.valueHead.variables() },
      this.config.optimizer,
      this.config.steps,
    );
    const kl = this.config.kl;
    this.kl = kl.adaptive
      ? { value: kl.coef, target: kl.target, horizon: kl.horizon }
      : { value: kl.coef };
  }

  protected get settings(): RunSettings {
    return this.config;
  }

  /** The KL coefficient beta the next step will use. */
  get klCoef(): number {
    return this.kl.value;
  }

  protected async runStep(step: number, rng: Rng): Promise<AlgorithmStepOutput> {
    const cfg = this.config;

    // 1. Rollout
    const prompts = promptsForStep(this.prompts, { step, count: cfg.batchSize, seed: cfg.seed });
    const rolloutStart = this.clock();
    const rollout = await sampleRollout(this.policy, prompts, cfg.sampling, rng.int(2 ** 31));
    const rolloutMs = this.clock() - rolloutStart;
    const responseTokenCount = rollout.responseTokens.reduce((a, r) => a + r.length, 0);

    // 2. Reward
    const { scores, failures } = await scoreRollout(this.reward, rollout);
    const keep = scores.map(Number.isFinite);
    const shaped = this.shapeScores(scores, rollout.ended);

    // 3. Old log-probs, values, reference log-probs, per-token rewards, advantages
    const tensors = this.prepare(rollout, shaped, keep);
    const stats = this.rolloutStats(tensors.batch, tensors.perToken, rollout);
    const klCoefUsed = this.kl.value;

    // 4. Epochs over minibatches
    const update = this.optimise(tensors.batch, rng);
    disposeStepTensors(tensors.batch);
    tf.dispose([tensors.perToken.kl, tensors.perToken.rewards, tensors.perToken.entropy]);

    // 5. KL control and guardrails
    this.kl = updateKlCoef(this.kl, stats.kl, cfg.batchSize);
    const guards = stepGuards({ meanKl: stats.kl, kl: cfg.kl, sampling: cfg.sampling, failures });

    const validScores = scores.filter(Number.isFinite);
    const metrics: Record<string, number> = {
      'objective/kl': stats.kl,
      'objective/entropy': stats.entropy,
      'objective/kl_coef': klCoefUsed,
      'policy/clipfrac': update.clipFraction,
      'policy/approxkl': update.approxKl,
      'policy/epochs': update.epochs,
      'policy/sample_logprob_gap': stats.sampleGap,
      'loss/policy': update.policyLoss,
      'loss/value': update.valueLoss,
      'loss/total': update.totalLoss,
      'val/vpred': update.vpred,
      'val/error': update.valueError,
      'val/clipfrac': update.valueClipFraction,
      'reward/mean': mean(stats.sequenceRewards),
      'reward/std': std(stats.sequenceRewards),
      'reward/failures': failures.length,
      'score/mean': mean(validScores),
      'score/std': std(validScores),
      'len/mean': responseTokenCount / rollout.responseTokens.length,
      'len/unfinished': rollout.ended.filter((e) => !e).length / rollout.ended.length,
      'perf/rollout_ms': rolloutMs,
      'perf/tokens_per_s': (responseTokenCount / Math.max(rolloutMs, 1)) * 1000,
      'perf/grad_norm': update.gradNorm,
    };
    return {
      metrics,
      skipped: update.skipped,
      skipReason: update.skipped ? 'the loss or a gradient' : undefined,
      warnings: guards.warnings,
      halt: guards.halt,
      samples: rollout.prompts
        .slice(0, 4)
        .map((p, i) => ({ prompt: p.prompt, response: rollout.responses[i], score: scores[i] })),
    };
  }

  /** Missing-EOS penalty, running scaling and clipping of raw scores (NaN stays NaN). */
  private shapeScores(scores: number[], ended: boolean[]): number[] {
    const cfg = this.config;
    let shaped = penaliseUnfinished(scores, ended, cfg.missingEosPenalty);
    if (cfg.rewardScaling === 'running') {
      this.rewardMoments = updateMoments(this.rewardMoments, shaped);
      const scale = Math.sqrt(this.rewardMoments.variance + 1e-8);
      shaped = shaped.map((s) => s / scale);
    }
    return clipScores(shaped, cfg.rewardClip);
  }

  /** Everything the update epochs need, computed without gradients. */
  private prepare(rollout: Rollout, shaped: number[], keep: boolean[]) {
    const cfg = this.config;
    const packed = packSequences(rollout.promptTokens, rollout.responseTokens, keep);
    const mask = packed.responseMask;
    const { oldLogprobs, oldValues, entropy } = tf.tidy(() => {
      const { logits, hidden } = this.policy.forward(packed.tokens, packed.attention);
      const width = hidden.shape[1];
      return {
        oldLogprobs: nextTokenLogprobs(logits, packed.tokens),
        oldValues: tf.mul(
          this.valueHead.apply(tf.slice(hidden, [0, 0, 0], [-1, width - 1, -1])),
          mask,
        ) as tf.Tensor2D,
        entropy: entropyFromLogits(tf.slice(logits, [0, 0, 0], [-1, width - 1, -1])),
      };
    });
    const refLogprobs = tf.tidy(() =>
      nextTokenLogprobs(
        this.reference.forward(packed.tokens, packed.attention).logits,
        packed.tokens,
      ),
    );
    const scores = tf.tensor1d(shaped.map((s) => (Number.isFinite(s) ? s : 0)));
    const { rewards, kl } = klPenaltyRewards({
      scores,
      logprobs: oldLogprobs,
      refLogprobs,
      mask,
      klCoef: this.kl.value,
      estimator: cfg.kl.estimator,
    });
    const { advantages: rawAdvantages, returns } = gae({
      rewards,
      values: oldValues,
      mask,
      gamma: cfg.gamma,
      lambda: cfg.lambda,
    });
    const advantages = cfg.whitenAdvantages
      ? (whiten(rawAdvantages, mask) as tf.Tensor2D)
      : rawAdvantages;
    if (advantages !== rawAdvantages) rawAdvantages.dispose();
    tf.dispose([scores, refLogprobs]);
    const batch: StepTensors = {
      tokens: packed.tokens,
      attention: packed.attention,
      mask,
      oldLogprobs,
      oldValues,
      advantages,
      returns,
    };
    return { batch, perToken: { kl, rewards, entropy } };
  }

  /** Sequence-level statistics of the rollout (before the update). */
  private rolloutStats(
    batch: StepTensors,
    perToken: { kl: tf.Tensor2D; rewards: tf.Tensor2D; entropy: tf.Tensor2D },
    rollout: Rollout,
  ) {
    const rows = batch.mask.shape[0];
    const kept = tf.tidy(() => tf.greater(tf.sum(batch.mask, 1), 0).dataSync());
    const keptRows = [...Array(rows).keys()].filter((i) => kept[i]);
    const klPerSeq = tf.tidy(() => tf.sum(perToken.kl, 1).dataSync());
    const rewardPerSeq = tf.tidy(() => tf.sum(perToken.rewards, 1).dataSync());
    const entropyPerSeq = tf.tidy(() => tf.sum(tf.mul(perToken.entropy, batch.mask), 1).dataSync());

    // Generation log-probs against the forward pass: large gaps mean sampling != scoring.
    const scored = batch.oldLogprobs.arraySync();
    let gap = 0;
    let count = 0;
    rollout.sampleLogprobs.forEach((sampleRow, b) => {
      const start = rollout.promptTokens[b].length - 1;
      sampleRow.forEach((lp, j) => {
        if (j >= rollout.responseTokens[b].length) return;
        gap += Math.abs(lp - scored[b][start + j]);
        count++;
      });
    });
    return {
      kl: mean(keptRows.map((i) => klPerSeq[i])),
      entropy: mean(keptRows.map((i) => entropyPerSeq[i])),
      sequenceRewards: keptRows.map((i) => rewardPerSeq[i]),
      sampleGap: count > 0 ? gap / count : 0,
    };
  }

  /** Several epochs of shuffled minibatches of clipped policy + value steps. */
  private optimise(batch: StepTensors, rng: Rng) {
    const cfg = this.config;
    const rows = batch.tokens.shape[0];
    const sums = {
      policyLoss: 0,
      valueLoss: 0,
      totalLoss: 0,
      clipFraction: 0,
      approxKl: 0,
      vpred: 0,
      valueError: 0,
      valueClipFraction: 0,
      gradNorm: 0,
    };
    let updates = 0;
    let epochs = 0;
    let skipped = false;

    for (let epoch = 0; epoch < cfg.epochs && !skipped; epoch++) {
      const order = rng.shuffle([...Array(rows).keys()]);
      let epochKl = 0;
      let epochUpdates = 0;
      for (let start = 0; start < rows && !skipped; start += cfg.miniBatchSize) {
        const idx = order.slice(start, start + cfg.miniBatchSize);
        const mb = sliceStepTensors(batch, idx);
        const result = this.state.update(() => {
          const { logits, hidden } = this.policy.forward(mb.tokens, mb.attention);
          const width = hidden.shape[1];
          const logprobs = nextTokenLogprobs(logits, mb.tokens);
          const values = this.valueHead.apply(tf.slice(hidden, [0, 0, 0], [-1, width - 1, -1]));
          const pg = clippedPolicyLoss({
            logprobs,
            oldLogprobs: mb.oldLogprobs,
            advantages: mb.advantages,
            mask: mb.mask,
            clipRange: cfg.clipRange,
          });
          const vf = clippedValueLoss({
            values,
            oldValues: mb.oldValues,
            returns: mb.returns,
            mask: mb.mask,
            clipRange: cfg.clipRangeValue,
          });
          let loss = tf.add(pg.loss, tf.mul(cfg.valueCoef, vf.loss)) as tf.Scalar;
          if (cfg.entropyCoef > 0) {
            const entropy = maskedMean(
              entropyFromLogits(tf.slice(logits, [0, 0, 0], [-1, width - 1, -1])),
              mb.mask,
            );
            loss = tf.sub(loss, tf.mul(cfg.entropyCoef, entropy)) as tf.Scalar;
          }
          return {
            loss,
            aux: {
              policyLoss: pg.loss,
              valueLoss: vf.loss,
              clipFraction: pg.clipFraction,
              approxKl: pg.approxKl,
              vpred: maskedMean(values, mb.mask),
              valueError: maskedMean(tf.square(tf.sub(values, mb.returns)), mb.mask),
              valueClipFraction: vf.clipFraction,
            },
          };
        });
        disposeStepTensors(mb);
        if (!result.applied) {
          skipped = true;
          break;
        }
        for (const key of Object.keys(result.aux))
          (sums as Record<string, number>)[key] += result.aux[key];
        sums.totalLoss += result.loss;
        sums.gradNorm += result.gradNorm;
        updates++;
        epochKl += result.aux.approxKl;
        epochUpdates++;
      }
      epochs++;
      // Early stop on KL: the policy has moved far enough from the rollout policy this step.
      if (cfg.earlyStopApproxKl > 0 && epochKl / Math.max(epochUpdates, 1) > cfg.earlyStopApproxKl)
        break;
    }
    const avg = (x: number) => (updates > 0 ? x / updates : Number.NaN);
    return {
      skipped,
      epochs,
      policyLoss: avg(sums.policyLoss),
      valueLoss: avg(sums.valueLoss),
      totalLoss: avg(sums.totalLoss),
      clipFraction: avg(sums.clipFraction),
      approxKl: avg(sums.approxKl),
      vpred: avg(sums.vpred),
      valueError: avg(sums.valueError),
      valueClipFraction: avg(sums.valueClipFraction),
      gradNorm: avg(sums.gradNorm),
    };
  }

  protected exportAlgorithmState(): Record<string, unknown> {
    return { kl: this.kl, rewardMoments: this.rewardMoments };
  }

  protected importAlgorithmState(state: Record<string, unknown>): void {
    if (state.kl) this.kl = state.kl as KlControllerState;
    if (state.rewardMoments) this.rewardMoments = state.rewardMoments as RunningMoments;
  }

  override dispose(): void {
    super.dispose();
    if (!(this.options as PpoTrainerOptions).valueHead) this.valueHead.dispose();
  }
}

function sliceStepTensors(batch: StepTensors, rows: number[]): StepTensors {
  return {
    tokens: selectRows(batch.tokens, rows),
    attention: selectRows(batch.attention, rows),
    mask: selectRows(batch.mask, rows),
    oldLogprobs: selectRows(batch.oldLogprobs, rows),
    oldValues: selectRows(batch.oldValues, rows),
    advantages: selectRows(batch.advantages, rows),
    returns: selectRows(batch.returns, rows),
  };
}

function disposeStepTensors(t: StepTensors): void {
  disposeBatch({ tokens: t.tokens, attention: t.attention, responseMask: t.mask });
  tf.dispose([t.oldLogprobs, t.oldValues, t.advantages, t.returns]);
}
