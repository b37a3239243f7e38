/**
 * DPO settings, offline (a fixed preference dataset, reference log-probs computed once and
 * cached) and online (pairs sampled from the policy and judged as training goes). Unknown keys
 * are rejected.
 */
import { z } from 'zod';

import { optimizerSchema, samplingSchema } from './ppo-config.ts';

const dpoCommon = {
  seed: z.number().int().default(0),
  /** beta: strength of the implicit KL constraint. 0.1 (Rafailov et al. 2023). */
  beta: z.number().positive().default(0.1),
  /** sigmoid: DPO. ipo: squared loss towards 1 / (2 beta) (Azar et al. 2023). */
  lossType: z.enum(['sigmoid', 'ipo']).default('sigmoid'),
  /** Conservative DPO epsilon for hard labels, in [0, 0.5). 0 = plain DPO. */
  labelSmoothing: z.number().min(0).lt(0.5).default(0),
  /**
   * Use each record's p(chosen) as its label (epsilon = 1 - p), so a judge's uncertainty is
   * kept instead of rounded away. true (recommended with AI labels).
   */
  softLabels: z.boolean().default(true),
  optimizer: optimizerSchema.default(optimizerSchema.parse({ learningRate: 5e-7 })),
  /** Longest prompt kept, in tokens. */
  maxPromptTokens: z.number().int().positive().default(64),
  /** Longest response kept, in tokens (the end is cut). */
  maxResponseTokens: z.number().int().positive().default(64),
  checkpointEvery: z.number().int().min(0).default(0),
  maxSkippedSteps: z.number().int().positive().default(3),
};

export const dpoConfigSchema = z.strictObject({
  ...dpoCommon,
  /** Passes over the dataset; the step count follows from it. 1-3 (Rafailov et al. 2023). */
  epochs: z.number().int().positive().default(1),
  /** Preference pairs per gradient step. */
  batchSize: z.number().int().positive().default(8),
  /** Share of records held out for validation accuracy; 0 = none. */
  validationFraction: z.number().min(0).lt(1).default(0),
});

export const onlineDpoConfigSchema = z.strictObject({
  ...dpoCommon,
  steps: z.number().int().positive().default(100),
  /** Prompts per step; each gets two sampled responses and one judgment. */
  promptsPerStep: z.number().int().positive().default(8),
  /** Gradient steps on each step's pairs. 1 keeps it on-policy. */
  epochs: z.number().int().positive().default(1),
  sampling: samplingSchema.default(samplingSchema.parse({})),
});

export type DpoConfig = z.infer<typeof dpoConfigSchema>;
export type DpoConfigInput = z.input<typeof dpoConfigSchema>;
export type OnlineDpoConfig = z.infer<typeof onlineDpoConfigSchema>;
export type OnlineDpoConfigInput = z.input<typeof onlineDpoConfigSchema>;
