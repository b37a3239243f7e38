/**
 * Reward-model training settings (Bradley-Terry on preference pairs). Unknown keys are
 * rejected.
 */
import { z } from 'zod';

import { optimizerSchema } from './ppo-config.ts';

export const rewardModelConfigSchema = z.strictObject({
  /** Seed of the train/validation split, the batch order and the head's initialisation. */
  seed: z.number().int().default(0),
  /** Passes over the training pairs. 1 (Ouyang et al. 2022: more overfits); small data 3-10. */
  epochs: z.number().int().positive().default(1),
  /** Pairs per gradient step. */
  batchSize: z.number().int().positive().default(8),
  optimizer: optimizerSchema.default(optimizerSchema.parse({ learningRate: 1e-4 })),
  /** Share of pairs held out for accuracy and calibration. 0.1. */
  validationFraction: z.number().min(0).lt(1).default(0.1),
  /** Required reward gap d = r_c - r_r - margin (Touvron et al. 2023). 0 = plain BT. */
  margin: z.number().min(0).default(0),
  /** Train the backbone too (true) or only the reward head (false: fast, weaker). */
  trainBackbone: z.boolean().default(true),
  /**
   * Multiplies each record's weight by the weight of its source, to mix human and AI labels,
   * e.g. { human: 3, ai: 1 }. Missing sources weigh 1.
   */
  sourceWeights: z
    .strictObject({
      ai: z.number().min(0).optional(),
      human: z.number().min(0).optional(),
      verifier: z.number().min(0).optional(),
    })
    .default({}),
  /** Longest prompt kept, in tokens (its start is cut). */
  maxPromptTokens: z.number().int().positive().default(64),
  /** Longest response kept, in tokens (its end is cut). */
  maxResponseTokens: z.number().int().positive().default(64),
  /** Bins of the expected calibration error. 10. */
  calibrationBins: z.number().int().positive().default(10),
});

export type RewardModelConfig = z.infer<typeof rewardModelConfigSchema>;
export type RewardModelConfigInput = z.input<typeof rewardModelConfigSchema>;
