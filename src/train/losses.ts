/**
 * The losses and estimators of RL for language models, as pure functions on tf tensors.
 *
 * Conventions: per-token quantities are [batch, T] with a `mask` of the same shape (1 where the
 * position is a response token, 0 elsewhere). "Masked mean" is sum(x * mask) / sum(mask).
 * Sequence-level quantities are [batch]. Functions allocate through tf and leave disposal to
 * the caller's `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { entropyFromLogits } from '../model/logprobs.ts';

/**
 * log sigmoid(x) = -softplus(-x), stable for large |x|. tf.logSigmoid's custom gradient loses
 * its saved input when called inside a tf.tidy under a gradient tape (tfjs-core 4.22), so the
 * plain-op form is used.
 */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** sum(x * mask) / max(sum(mask), 1). */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(x, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/** Population variance over the masked entries: maskedMean((x - maskedMean(x))^2). */
export function maskedVar(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const centred = tf.sub(x, maskedMean(x, mask));
    return maskedMean(tf.square(centred), mask);
  });
}

// ---------------------------------------------------------------------------------------------
// Advantages

export interface GaeOptions {
  rewards: tf.Tensor2D; // [batch, T] per-token rewards
  values: tf.Tensor2D; // [batch, T] value estimates V(s_t)
  mask: tf.Tensor2D; // [batch, T]
  /** Discount; 1 for episodic text generation (recommended). */
  gamma: number;
  /** GAE lambda; 0.95 in most LM PPO setups. */
  lambda: number;
}

/**
 * Generalised advantage estimation (Schulman et al. 2016, "High-Dimensional Continuous Control
 * Using Generalized Advantage Estimation"):
 *   delta_t = r_t + gamma * m_{t+1} * V_{t+1} - V_t
 *   A_t     = delta_t + gamma * lambda * m_{t+1} * A_{t+1}
 *   R_t     = A_t + V_t   (the value target)
 * m_{t+1} = 0 past the last response token, so the episode ends there (no bootstrap). Results
 * are zero where mask = 0.
 */
export function gae(options: GaeOptions): { advantages: tf.Tensor2D; returns: tf.Tensor2D } {
  const { gamma, lambda } = options;
  return tf.tidy(() => {
    const rewards = tf.unstack(options.rewards, 1);
    const values = tf.unstack(tf.mul(options.values, options.mask), 1);
    const masks = tf.unstack(options.mask, 1);
    const steps = rewards.length;
    const advantages: tf.Tensor[] = new Array(steps);
    let nextAdvantage: tf.Tensor = tf.zerosLike(rewards[0]);
    let nextValue: tf.Tensor = tf.zerosLike(rewards[0]);
    let nextMask: tf.Tensor = tf.zerosLike(rewards[0]);

    // Backward scan over time: inherently sequential, one column of ops per step.
    for (let t = steps - 1; t >= 0; t--) {
      const bootstrap = tf.mul(gamma, tf.mul(nextMask, nextValue));
      const delta = tf.sub(tf.add(rewards[t], bootstrap), values[t]);
      const advantage = tf.mul(
        tf.add(delta, tf.mul(gamma * lambda, tf.mul(nextMask, nextAdvantage))),
        masks[t],
      );
      advantages[t] = advantage;
      nextAdvantage = advantage;
      nextValue = values[t];
      nextMask = masks[t];
    }
    const advantage2d = tf.stack(advantages, 1) as tf.Tensor2D;
    const returns = tf.mul(tf.add(advantage2d, options.values), options.mask);
    return { advantages: advantage2d, returns: returns as tf.Tensor2D };
  });
}

/**
 * Advantage whitening over the masked entries: (x - mean) / sqrt(var + eps), with the
 * population variance. `shiftMean: false` keeps the mean (rescales only), as some PPO variants
 * do for rewards. Masked-out entries come back as 0.
 */
export function whiten(
  x: tf.Tensor,
  mask: tf.Tensor,
  options: { shiftMean?: boolean; eps?: number } = {},
): tf.Tensor {
  const { shiftMean = true, eps = 1e-8 } = options;
  return tf.tidy(() => {
    const mean = maskedMean(x, mask);
    const variance = maskedVar(x, mask);
    let out = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
    if (!shiftMean) out = tf.add(out, mean);
    return tf.mul(out, mask);
  });
}

// ---------------------------------------------------------------------------------------------
// PPO objectives

export interface ClippedPolicyOptions {
  logprobs: tf.Tensor2D; // [batch, T] log pi_theta(a_t|s_t), differentiable
  oldLogprobs: tf.Tensor2D; // [batch, T] log pi_old at rollout time
  advantages: tf.Tensor2D; // [batch, T]
  mask: tf.Tensor2D; // [batch, T]
  /** epsilon; 0.2 (Schulman et al. 2017). */
  clipRange: number;
}

/**
 * PPO's clipped surrogate (Schulman et al. 2017, "Proximal Policy Optimization Algorithms"),
 * written as a loss to minimise:
 *   ratio = exp(logp - logp_old)
 *   loss  = maskedMean( max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)) )
 * clipFraction = share of masked tokens where the clipped term is the larger (active) one.
 * approxKl = 0.5 * maskedMean((logp - logp_old)^2), the k2 estimate of KL(old || new).
 */
export function clippedPolicyLoss(options: ClippedPolicyOptions): {
  loss: tf.Scalar;
  clipFraction: tf.Scalar;
  approxKl: tf.Scalar;
} {
  const { advantages, mask, clipRange } = options;
  return tf.tidy(() => {
    const logRatio = tf.sub(options.logprobs, options.oldLogprobs);
    const ratio = tf.exp(logRatio);
    const unclipped = tf.mul(tf.neg(advantages), ratio);
    const clipped = tf.mul(tf.neg(advantages), tf.clipByValue(ratio, 1 - clipRange, 1 + clipRange));
    const loss = maskedMean(tf.maximum(unclipped, clipped), mask);
    const clipFraction = maskedMean(tf.cast(tf.greater(clipped, unclipped), 'float32'), mask);
    const approxKl = tf.mul(0.5, maskedMean(tf.square(logRatio), mask)) as tf.Scalar;
    return { loss, clipFraction, approxKl };
  });
}

export interface ClippedValueOptions {
  values: tf.Tensor2D; // [batch, T] current value predictions, differentiable
  oldValues: tf.Tensor2D; // [batch, T] predictions at rollout time
  returns: tf.Tensor2D; // [batch, T] GAE targets
  mask: tf.Tensor2D;
  /** Value clip range; 0.2 (OpenAI lm-human-preferences). */
  clipRange: number;
}

/**
 * Clipped value loss (as in OpenAI baselines PPO2 and lm-human-preferences):
 *   v_clip = old + clip(v - old, -eps, eps)
 *   loss   = 0.5 * maskedMean( max((v - R)^2, (v_clip - R)^2) )
 * clipFraction = share of masked tokens where the clipped error is the larger one.
 */
export function clippedValueLoss(options: ClippedValueOptions): {
  loss: tf.Scalar;
  clipFraction: tf.Scalar;
} {
  const { values, oldValues, returns, mask, clipRange } = options;
  return tf.tidy(() => {
    const clippedValues = tf.add(
      oldValues,
      tf.clipByValue(tf.sub(values, oldValues), -clipRange, clipRange),
    );
    const errorPlain = tf.square(tf.sub(values, returns));
    const errorClipped = tf.square(tf.sub(clippedValues, returns));
    const loss = tf.mul(0.5, maskedMean(tf.maximum(errorPlain, errorClipped), mask)) as tf.Scalar;
    const clipFraction = maskedMean(tf.cast(tf.greater(errorClipped, errorPlain), 'float32'), mask);
    return { loss, clipFraction };
  });
}

// ---------------------------------------------------------------------------------------------
// KL to the reference

export type KlEstimator = 'k1' | 'k2' | 'k3';

/**
 * Per-token estimators of KL(pi || pi_ref) from samples of pi (Schulman 2020, "Approximating KL
 * Divergence"), with r = log pi(a) - log pi_ref(a):
 *   k1 = r                      unbiased, high variance, can be negative per token
 *   k2 = r^2 / 2                biased, low variance, always >= 0
 *   k3 = (exp(-r) - 1) + r      unbiased, low variance, always >= 0 (used by GRPO)
 */
export function klEstimate(
  logprobs: tf.Tensor,
  refLogprobs: tf.Tensor,
  estimator: KlEstimator,
): tf.Tensor {
  return tf.tidy(() => {
    const logRatio = tf.sub(logprobs, refLogprobs);
    if (estimator === 'k1') return logRatio;
    if (estimator === 'k2') return tf.mul(0.5, tf.square(logRatio));
    return tf.add(tf.sub(tf.exp(tf.neg(logRatio)), 1), logRatio);
  });
}

export interface KlPenaltyOptions {
  scores: tf.Tensor1D; // [batch] sequence score (reward model or judge)
  logprobs: tf.Tensor2D; // [batch, T] policy log-probs of the sampled tokens
  refLogprobs: tf.Tensor2D; // [batch, T] reference log-probs of the same tokens
  mask: tf.Tensor2D; // [batch, T]
  /** beta, the KL coefficient. */
  klCoef: number;
  estimator?: KlEstimator;
}

/**
 * Per-token rewards of RLHF-style PPO (Ziegler et al. 2019, "Fine-Tuning Language Models from
 * Human Preferences"; Stiennon et al. 2020):
 *   r_t = -beta * kl_t             for every response token
 *   r_T += score                   at the last response token
 * Returns the rewards and the per-token kl (masked).
 */
export function klPenaltyRewards(options: KlPenaltyOptions): {
  rewards: tf.Tensor2D;
  kl: tf.Tensor2D;
} {
  const { mask, klCoef, estimator = 'k1' } = options;
  return tf.tidy(() => {
    const kl = tf.mul(
      klEstimate(options.logprobs, options.refLogprobs, estimator),
      mask,
    ) as tf.Tensor2D;
    const lastToken = lastTokenMask(mask);
    const scoreAtEnd = tf.mul(lastToken, tf.expandDims(options.scores, 1));
    const rewards = tf.add(tf.mul(-klCoef, kl), scoreAtEnd) as tf.Tensor2D;
    return { rewards, kl };
  });
}

/** One-hot of each row's last masked position ([batch, T]); all zeros for an empty row. */
export function lastTokenMask(mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const steps = mask.shape[1];
    // Position index + 1 where masked, 0 elsewhere; the argmax is the last masked position.
    const positions = tf.mul(mask, tf.range(1, steps + 1));
    const last = tf.argMax(positions, 1);
    const any = tf.greater(tf.sum(mask, 1), 0);
    return tf.mul(tf.oneHot(last, steps), tf.expandDims(tf.cast(any, 'float32'), 1)) as tf.Tensor2D;
  });
}

/**
 * Entropy of each position's next-token distribution, H = -sum_v p_v log p_v with
 * p = softmax(logits): [batch, T, V] -> [batch, T]. Its masked mean over response tokens, summed
 * per response, is the `objective/entropy` metric. (The engine's implementation.)
 */
export const tokenEntropy = entropyFromLogits;

// ---------------------------------------------------------------------------------------------
// Preference losses

export interface DpoOptions {
  policyChosen: tf.Tensor1D; // [batch] sum of log pi(chosen tokens)
  policyRejected: tf.Tensor1D; // [batch]
  refChosen: tf.Tensor1D; // [batch] same under the frozen reference
  refRejected: tf.Tensor1D; // [batch]
  /** beta; 0.1 (Rafailov et al. 2023). */
  beta: number;
  /**
   * Conservative DPO's label smoothing epsilon in [0, 0.5); 0 = plain DPO. A [batch] tensor
   * gives each pair its own epsilon, e.g. 1 - p(chosen) of a soft AI label.
   */
  labelSmoothing?: number | tf.Tensor1D;
  lossType?: 'sigmoid' | 'ipo';
}

/**
 * Direct Preference Optimization (Rafailov et al. 2023). With the log-ratio margin
 *   h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l)):
 *   sigmoid: loss = -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)
 *            (eps > 0 is conservative DPO, robust to flipped labels)
 *   ipo:     loss = (h - 1 / (2 beta))^2   (Azar et al. 2023, "A General Theoretical Paradigm")
 * The implicit rewards are beta * (log pi - log pi_ref) of each side.
 */
export function dpoLoss(options: DpoOptions): {
  loss: tf.Scalar;
  chosenRewards: tf.Tensor1D;
  rejectedRewards: tf.Tensor1D;
  accuracy: tf.Scalar;
} {
  const { beta, labelSmoothing = 0, lossType = 'sigmoid' } = options;
  return tf.tidy(() => {
    const chosenLogRatio = tf.sub(options.policyChosen, options.refChosen);
    const rejectedLogRatio = tf.sub(options.policyRejected, options.refRejected);
    const margin = tf.sub(chosenLogRatio, rejectedLogRatio);
    let losses: tf.Tensor;
    if (lossType === 'ipo') {
      losses = tf.square(tf.sub(margin, 1 / (2 * beta)));
    } else {
      const scaled = tf.mul(beta, margin);
      losses = tf.sub(
        tf.mul(tf.neg(tf.sub(1, labelSmoothing)), logSigmoid(scaled)),
        tf.mul(labelSmoothing, logSigmoid(tf.neg(scaled))),
      );
    }
    const chosenRewards = tf.mul(beta, chosenLogRatio) as tf.Tensor1D;
    const rejectedRewards = tf.mul(beta, rejectedLogRatio) as tf.Tensor1D;
    const accuracy = tf.mean(
      tf.cast(tf.greater(chosenRewards, rejectedRewards), 'float32'),
    ) as tf.Scalar;
    return { loss: tf.mean(losses) as tf.Scalar, chosenRewards, rejectedRewards, accuracy };
  });
}

export interface BradleyTerryOptions {
  chosenRewards: tf.Tensor1D; // [batch] r(x, y_chosen)
  rejectedRewards: tf.Tensor1D; // [batch]
  /** [batch] p(chosen is better), 1 for hard labels. */
  pChosen: tf.Tensor1D;
  /** [batch] per-record weights (human vs AI labels); all 1 when absent. */
  weights?: tf.Tensor1D;
  /** A required reward gap (Touvron et al. 2023, Llama 2): scalar or [batch]. */
  margin?: number | tf.Tensor1D;
}

/**
 * Bradley-Terry reward-model loss with a soft label: binary cross-entropy between the model's
 * P(chosen > rejected) = sigmoid(d) and the label p, with d = r_c - r_r - margin:
 *   loss_i = -(p log sigmoid(d) + (1 - p) log sigmoid(-d))
 *   loss   = sum(w_i loss_i) / sum(w_i)
 * (Bradley & Terry 1952; Ouyang et al. 2022 for hard labels; soft labels as in RLAIF, Lee et
 * al. 2023, which trains on the judge's preference distribution.)
 */
export function bradleyTerryLoss(options: BradleyTerryOptions): tf.Scalar {
  return tf.tidy(() => {
    let gap: tf.Tensor = tf.sub(options.chosenRewards, options.rejectedRewards);
    if (options.margin !== undefined) gap = tf.sub(gap, options.margin);
    const p = options.pChosen;
    const losses = tf.neg(
      tf.add(tf.mul(p, logSigmoid(gap)), tf.mul(tf.sub(1, p), logSigmoid(tf.neg(gap)))),
    );
    const weights = options.weights ?? tf.onesLike(losses);
    return tf.div(tf.sum(tf.mul(weights, losses)), tf.sum(weights)) as tf.Scalar;
  });
}

// ---------------------------------------------------------------------------------------------
// Baselines for sequence-level policy gradients

/**
 * REINFORCE Leave-One-Out (Kool et al. 2019; Ahmadian et al. 2024, "Back to Basics"). For k
 * samples of a prompt with rewards r_1..r_k (rewards: [groups, k]):
 *   b_i = (sum_j r_j - r_i) / (k - 1),   A_i = r_i - b_i
 */
export function rlooAdvantages(rewards: tf.Tensor2D): tf.Tensor2D {
  const k = rewards.shape[1];
  if (k < 2) throw new RangeError('RLOO needs at least 2 samples per prompt');
  return tf.tidy(() => {
    const baseline = tf.div(tf.sub(tf.sum(rewards, 1, true), rewards), k - 1);
    return tf.sub(rewards, baseline) as tf.Tensor2D;
  });
}

/**
 * GRPO's group-normalised advantages (Shao et al. 2024, DeepSeekMath): per group of k samples,
 *   A_i = (r_i - mean(r)) / (std(r) + eps)   with the sample std (k - 1 in the denominator).
 * A group whose rewards are all equal carries no signal: its advantages are exactly 0, and
 * `flatGroups` counts such groups (a metric worth watching: too many means wasted samples).
 */
export function grpoAdvantages(
  rewards: tf.Tensor2D,
  options: { eps?: number; scaleByStd?: boolean } = {},
): { advantages: tf.Tensor2D; flatGroups: number } {
  const { eps = 1e-4, scaleByStd = true } = options;
  const k = rewards.shape[1];
  if (k < 2) throw new RangeError('GRPO needs at least 2 samples per prompt');
  const result = tf.tidy(() => {
    const mean = tf.mean(rewards, 1, true);
    const centred = tf.sub(rewards, mean);
    const std = tf.sqrt(tf.div(tf.sum(tf.square(centred), 1, true), k - 1));
    const flat = tf.lessEqual(std, 1e-12); // [groups, 1]
    const scaled = scaleByStd ? tf.div(centred, tf.add(std, eps)) : centred;
    const advantages = tf.where(tf.broadcastTo(flat, rewards.shape), tf.zerosLike(rewards), scaled);
    return { advantages: advantages as tf.Tensor2D, flat: tf.sum(tf.cast(flat, 'int32')) };
  });
  const flatGroups = result.flat.dataSync()[0];
  result.flat.dispose();
  return { advantages: result.advantages, flatGroups };
}

/**
 * REINFORCE with a baseline (Williams 1992), as a loss over sequences:
 *   loss = -mean_i( (R_i - b_i) * sum_t log pi(a_t) )
 * sequenceLogprobs: [batch] sums of response-token log-probs (differentiable); advantages:
 * [batch] R - b, computed outside the gradient function so they are constants.
 */
export function reinforceLoss(sequenceLogprobs: tf.Tensor1D, advantages: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.mul(advantages, sequenceLogprobs))) as tf.Scalar);
}
