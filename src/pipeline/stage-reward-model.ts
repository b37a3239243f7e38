/**
 * Stage: the reward model, a Bradley-Terry model on the stored preferences (soft labels)
 * trained by the trainers' reward-model code from a copy of the starting policy, saved under
 * checkpoints/reward-model, normalised so the judged responses average 0, and read back as
 * the RL stage's reward source.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { CausalLM, Tokenizer } from '../model/types.ts';
import { REWARD_MODEL_FILE, RewardModel } from '../train/reward-model.ts';
import { RewardModelTrainingStopped, trainRewardModel } from '../train/reward-model-trainer.ts';
import { RlaifError } from '../util/errors.ts';
import { RunInterrupted, type RunContext } from './run-context.ts';
import type { Stage } from './runner.ts';

export interface RewardModelStageOptions {
  /** A fresh trainable copy of the starting policy: the reward model's backbone. */
  backbone: () => Promise<CausalLM>;
}

export function rewardModelDir(context: RunContext): string {
  return join(context.files.checkpoints, 'reward-model');
}

/** The reward model trained in this process, reused by the RL stage without a reload. */
let trainedHere: { dir: string; model: RewardModel } | undefined;

export function rewardModelStage(options: RewardModelStageOptions): Stage {
  return {
    name: 'reward-model',
    async run(context: RunContext) {
      const { config } = context;
      const records = context.store.preferences().map(({ promptIndex: _i, pair: _p, ...record }) => record);
      if (records.length < 2) {
        throw new RlaifError(`only ${records.length} preferences were stored; the reward model needs 2 or more`);
      }
      const maxTokens = config.rl.maxNewTokens ?? config.sampling.maxNewTokens;
      const model = new RewardModel(await options.backbone(), {
        seed: config.seed,
        maxResponseTokens: Math.max(maxTokens, config.sampling.maxNewTokens) + 1,
      });
      const report = await trainRewardModel({
        signal: context.signal,
        model,
        records,
        config: {
          seed: config.seed,
          epochs: config.rewardModel.epochs,
          batchSize: config.rewardModel.batchSize,
          validationFraction: config.rewardModel.validationFraction,
          margin: config.rewardModel.margin,
          optimizer: { learningRate: config.rewardModel.lr },
          maxResponseTokens: Math.max(maxTokens, config.sampling.maxNewTokens) + 1,
        },
        metrics: context.metrics,
        logger: context.logger,
        silent: context.quiet,
      }).catch((error: unknown) => {
        // Nothing of the reward model is stored yet: the same command trains it again.
        if (error instanceof RewardModelTrainingStopped) {
          throw new RunInterrupted(`reward-model training (step ${error.step} of ${error.totalSteps})`);
        }
        throw error;
      });
      const dir = rewardModelDir(context);
      await model.save(dir);
      trainedHere = { dir, model };
      return {
        pairs: records.length,
        trainAccuracy: report.train.accuracy,
        validationAccuracy: report.validation?.accuracy,
        ece: report.validation?.ece,
      };
    },
  };
}

/** The trained reward model: the one in memory, else read from the run directory. */
export async function rewardModelSource(context: RunContext, tokenizer: Tokenizer): Promise<RewardModel> {
  const dir = rewardModelDir(context);
  if (trainedHere?.dir === dir) return trainedHere.model;
  if (!existsSync(join(dir, REWARD_MODEL_FILE))) {
    throw new RlaifError(`no reward model in ${dir}; run the same command with --fresh to retrain it`);
  }
  return RewardModel.load(dir, { tokenizer });
}
