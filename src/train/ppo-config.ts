/**
 * PPO settings, validated once at the edge. Every field documents its meaning, unit, default and
 * where the recommended value comes from. Unknown keys are rejected so a typo cannot silently
 * fall back to a default.
 */
import { z } from 'zod';

/** Sampling settings of rollouts. Scoring always uses the plain softmax (temperature 1). */
export const samplingSchema = z.strictObject({
  /** Response length cap in tokens. 64 for stories260K. */
  maxNewTokens: z.number().int().positive().default(64),
  /** Longest prompt kept, in tokens; longer prompts lose their start. */
  maxPromptTokens: z.number().int().positive().default(64),
  /**
   * Keep 1: PPO's ratio and KL assume samples come from the distribution being scored. Other
   * values make the KL estimate biased (it can go negative); the trainer warns.
   */
  temperature: z.number().positive().default(1),
  /** 0 = off. Same caveat as temperature. */
  topK: z.number().int().min(0).default(0),
  /** 1 = off. Same caveat as temperature. */
  topP: z.number().gt(0).max(1).default(1),
  /** Stop a response at the model's end token. false only for fixed-length benchmarks. */
  stopOnEos: z.boolean().default(true),
});

export const optimizerSchema = z.strictObject({
  /** AdamW step size. 1e-5 for real models (Ouyang et al. 2022 use 9.65e-6); toy tasks 1e-2. */
  learningRate: z.number().positive().default(1e-5),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  /** Decoupled weight decay. 0 (recommended for RL fine-tuning). */
  weightDecay: z.number().min(0).default(0),
  /** Gradient clipping by global norm; 0 = off. 1.0 is common. */
  maxGradNorm: z.number().min(0).default(1),
  /**
   * Learning-rate schedule over the run's steps: constant, or linear / cosine decay to 0
   * (lm-human-preferences decays linearly). constant by default.
   */
  schedule: z.enum(['constant', 'linear', 'cosine']).default('constant'),
  /** Steps of linear warmup from 0 to learningRate. 0. */
  warmupSteps: z.number().int().min(0).default(0),
});

export const klSchema = z.strictObject({
  /** beta, the initial KL coefficient. 0.05 (TRL); Ziegler et al. 2019 start at 0.1-0.2. */
  coef: z.number().min(0).default(0.05),
  /** Adaptive control (Ziegler et al. 2019) when true; the coefficient is fixed otherwise. */
  adaptive: z.boolean().default(false),
  /** Adaptive: KL target in nats per response. 6 (Ziegler et al. 2019). */
  target: z.number().positive().default(6),
  /** Adaptive: samples over which the error is corrected. 10000 (Ziegler et al. 2019). */
  horizon: z.number().positive().default(10000),
  /** Per-token estimator in the reward: k1 (classic RLHF), k2 or k3. */
  estimator: z.enum(['k1', 'k2', 'k3']).default('k1'),
  /** Warn when the KL per response exceeds this many nats. */
  warnAt: z.number().positive().default(20),
  /** Stop training when the KL per response exceeds this many nats (runaway). */
  stopAt: z.number().positive().default(100),
  /** A mean KL below minus this many nats per response is reported as negative KL. */
  negativeTolerance: z.number().positive().default(0.5),
});

export const ppoConfigSchema = z.strictObject({
  /** Seed of everything random in the run (prompt order, sampling, minibatches). */
  seed: z.number().int().default(0),
  /** Training steps (rollout + update). */
  steps: z.number().int().positive().default(100),
  /** Responses per step. 16 on one CPU; 64-512 on GPUs. */
  batchSize: z.number().int().positive().default(16),
  /** Responses per gradient step. batchSize / 4 is usual. */
  miniBatchSize: z.number().int().positive().default(4),
  /** Passes over each batch. 4 (Schulman et al. 2017; Ziegler et al. 2019). */
  epochs: z.number().int().positive().default(4),
  sampling: samplingSchema.default(samplingSchema.parse({})),
  optimizer: optimizerSchema.default(optimizerSchema.parse({})),
  kl: klSchema.default(klSchema.parse({})),
  /** Discount. 1 for text (the episode is one response). */
  gamma: z.number().min(0).max(1).default(1),
  /** GAE lambda. 0.95 (Ziegler et al. 2019; TRL). */
  lambda: z.number().min(0).max(1).default(0.95),
  /** Policy ratio clip epsilon. 0.2 (Schulman et al. 2017). */
  clipRange: z.number().positive().default(0.2),
  /** Value prediction clip range. 0.2 (lm-human-preferences). */
  clipRangeValue: z.number().positive().default(0.2),
  /** Weight of the value loss in the total. 0.1 (TRL). */
  valueCoef: z.number().min(0).default(0.1),
  /** Entropy bonus weight. 0 for LMs (the KL term already keeps entropy up). */
  entropyCoef: z.number().min(0).default(0),
  /** Whiten advantages per batch. true (recommended). */
  whitenAdvantages: z.boolean().default(true),
  /** Divide scores by their running std ("running") or leave them ("none"). */
  rewardScaling: z.enum(['none', 'running']).default('none'),
  /** Clip scaled scores to [-rewardClip, rewardClip]; 0 = off. 10 is common. */
  rewardClip: z.number().min(0).default(0),
  /**
   * Subtracted from the score of a response that hit the length cap without ending (no EOS).
   * 0 = off; 1 is a typical value with scores in [0, 1].
   */
  missingEosPenalty: z.number().min(0).default(0),
  /** Stop the epochs of a step once policy/approxkl exceeds this; 0 = never. 0.1 is safe. */
  earlyStopApproxKl: z.number().min(0).default(0),
  /** Checkpoint every N steps; 0 = only when asked. */
  checkpointEvery: z.number().int().min(0).default(0),
  /** Consecutive non-finite steps tolerated before training stops. */
  maxSkippedSteps: z.number().int().positive().default(3),
});

export type PpoConfig = z.infer<typeof ppoConfigSchema>;
export type PpoConfigInput = z.input<typeof ppoConfigSchema>;
export type SamplingConfig = z.infer<typeof samplingSchema>;
