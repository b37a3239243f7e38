/**
 * Settings of the sequence-level policy gradients: REINFORCE with a baseline, RLOO and GRPO.
 * They share PPO's sampling, optimiser and KL blocks; unknown keys are rejected.
 */
import { z } from 'zod';

import { klSchema, optimizerSchema, samplingSchema } from './ppo-config.ts';

export const policyGradientConfigSchema = z.strictObject({
  /**
   * reinforce: REINFORCE with a baseline (Williams 1992). rloo: leave-one-out baseline over k
   * samples per prompt (Ahmadian et al. 2024). grpo: group-normalised advantages with a clipped
   * ratio and a k3 KL term in the loss (Shao et al. 2024).
   */
  algo: z.enum(['reinforce', 'rloo', 'grpo']),
  seed: z.number().int().default(0),
  steps: z.number().int().positive().default(100),
  /** Distinct prompts per step. */
  promptsPerStep: z.number().int().positive().default(4),
  /** Responses sampled per prompt. >= 2 for rloo and grpo; 4 (RLOO paper), 8-64 (GRPO). */
  samplesPerPrompt: z.number().int().positive().default(4),
  /** Responses per gradient step; 0 = the whole step's batch. */
  miniBatchSize: z.number().int().min(0).default(0),
  /** GRPO only: passes over each batch (mu in Shao et al. 2024). 1 = purely on-policy. */
  epochs: z.number().int().positive().default(1),
  sampling: samplingSchema.default(samplingSchema.parse({})),
  optimizer: optimizerSchema.default(optimizerSchema.parse({})),
  /**
   * kl.coef is beta. reinforce and rloo subtract beta x KL(sequence, k1) from the reward; grpo
   * adds beta x mean k3 to the loss (0.04 in Shao et al. 2024). kl.adaptive is not used here.
   */
  kl: klSchema.default(klSchema.parse({})),
  /** GRPO ratio clip epsilon. 0.2. */
  clipRange: z.number().positive().default(0.2),
  /** GRPO: divide by the group's std (true, Shao et al. 2024) or only centre (false, Dr. GRPO). */
  scaleByStd: z.boolean().default(true),
  /** REINFORCE baseline: an exponential moving average of rewards, or the batch mean. */
  baseline: z.enum(['moving-average', 'batch-mean']).default('moving-average'),
  /** Decay of the moving-average baseline. 0.9. */
  baselineDecay: z.number().min(0).lt(1).default(0.9),
  /** Subtracted from the score of a response that never ended (no EOS); 0 = off. */
  missingEosPenalty: z.number().min(0).default(0),
  /** Clip scores to [-rewardClip, rewardClip]; 0 = off. */
  rewardClip: z.number().min(0).default(0),
  checkpointEvery: z.number().int().min(0).default(0),
  maxSkippedSteps: z.number().int().positive().default(3),
});

export type PolicyGradientConfig = z.infer<typeof policyGradientConfigSchema>;
export type PolicyGradientConfigInput = z.input<typeof policyGradientConfigSchema>;
