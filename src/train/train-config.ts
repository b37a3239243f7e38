/**
 * The config file of `rlaif train`: which algorithm, the models and data it reads, where it
 * writes, and the algorithm's own settings under `trainer`. One strict schema per algorithm, so
 * a key that belongs to another algorithm is reported as unknown.
 */
import { z } from 'zod';

import { dpoConfigSchema, onlineDpoConfigSchema } from './dpo-config.ts';
import { policyGradientConfigSchema } from './policy-gradient-config.ts';
import { ppoConfigSchema } from './ppo-config.ts';

const common = {
  policy: z.strictObject({
    /** llama2.c .bin, GGUF file, or a model folder (Hugging Face or rlaif checkpoint). */
    model: z.string().min(1),
    /** llama2.c only: the tokenizer file when it is not beside the model. */
    tokenizer: z.string().min(1).optional(),
  }),
  /** Folder for metrics.jsonl, checkpoints/ and the final policy (final/). */
  output: z.string().min(1),
};

/** Where online algorithms get their reward. */
const rewardSchema = z.strictObject({
  /** Folder of a reward model written by `rlaif train-rm`. */
  rewardModel: z.string().min(1),
});

/** Prompt file: one per line, or JSONL with {"prompt", "reference"?}. */
const promptsField = z.string().min(1);

const pgTrainer = policyGradientConfigSchema.omit({ algo: true });

export const trainFileSchema = z.discriminatedUnion('algo', [
  z.strictObject({
    algo: z.literal('ppo'),
    ...common,
    prompts: promptsField,
    reward: rewardSchema,
    trainer: ppoConfigSchema.default(ppoConfigSchema.parse({})),
  }),
  z.strictObject({
    algo: z.literal('reinforce'),
    ...common,
    prompts: promptsField,
    reward: rewardSchema,
    trainer: pgTrainer.default(pgTrainer.parse({})),
  }),
  z.strictObject({
    algo: z.literal('rloo'),
    ...common,
    prompts: promptsField,
    reward: rewardSchema,
    trainer: pgTrainer.default(pgTrainer.parse({})),
  }),
  z.strictObject({
    algo: z.literal('grpo'),
    ...common,
    prompts: promptsField,
    reward: rewardSchema,
    trainer: pgTrainer.default(pgTrainer.parse({})),
  }),
  z.strictObject({
    algo: z.literal('dpo'),
    ...common,
    /** Preference records (rlaif JSONL: PreferenceRecord per line). */
    preferences: z.string().min(1),
    trainer: dpoConfigSchema.default(dpoConfigSchema.parse({})),
  }),
  z.strictObject({
    algo: z.literal('online-dpo'),
    ...common,
    prompts: promptsField,
    /** The pair judge: the embedded judge (default constitution), or a reward model compared per pair. */
    judge: z.union([z.literal('embedded'), rewardSchema]).default('embedded'),
    trainer: onlineDpoConfigSchema.default(onlineDpoConfigSchema.parse({})),
  }),
]);

export type TrainFile = z.infer<typeof trainFileSchema>;
