/**
 * Stage: the reward model, a Bradley-Terry model trained on the stored preferences (soft
 * labels) by the trainers' reward-model code, saved under checkpoints/reward-model, and read
 * back as the RL stage's reward source.
 */
import type { CausalLM } from '../model/types.ts';
import type { RewardSource } from '../rewards/types.ts';
import { RlaifError } from '../util/errors.ts';
import type { RunContext } from './run-context.ts';
import type { Stage } from './runner.ts';

export interface RewardModelStageOptions {
  /** The starting policy: the reward model starts from its weights. */
  base: () => Promise<CausalLM>;
}

export function rewardModelStage(_options: RewardModelStageOptions): Stage {
  return {
    name: 'reward-model',
    async run(_context: RunContext) {
      throw new RlaifError('reward-model training is not available in this build; ' +
        'set rl.algorithm: direct to train against the judge directly');
    },
  };
}

export async function rewardModelSource(_context: RunContext, _base: CausalLM): Promise<RewardSource> {
  throw new RlaifError('reward-model training is not available in this build');
}
