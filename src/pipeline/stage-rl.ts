/**
 * Stage: the RL update of the policy against a reward source (the reward model, or the judge
 * itself for direct RLAIF), with a KL penalty to the frozen reference. Checkpoints go to
 * checkpoints/<algorithm>/step-<n>; a restarted run resumes from the newest one and continues
 * the same seeded curve. Ctrl-C stops between steps after saving a checkpoint. When done, the
 * final policy is saved to checkpoints/final for evaluation.
 */
import { join } from 'node:path';

import type { CausalLM } from '../model/types.ts';
import type { RewardSource } from '../rewards/types.ts';
import type { PreferenceRecord } from '../judge/types.ts';
import { DpoTrainer } from '../train/dpo.ts';
import type { OnlineTrainer, OnlineTrainerOptions } from '../train/online-trainer.ts';
import { PolicyGradientTrainer } from '../train/policy-gradient.ts';
import type { PolicyGradientConfigInput } from '../train/policy-gradient-config.ts';
import { PpoTrainer } from '../train/ppo.ts';
import { saveModelFolder } from '../train/training-state.ts';
import type { PpoConfigInput } from '../train/ppo-config.ts';
import { startProgress } from '../util/progress.ts';
import type { RunConfig } from './config.ts';
import type { PromptLine } from './prompts.ts';
import { RunInterrupted, type RunContext } from './run-context.ts';
import type { Stage } from './runner.ts';

export interface RlStageOptions {
  /** Training prompts, read when the stage starts (after sampling, which may add references). */
  prompts: () => PromptLine[];
  /** The policy to train, freshly loaded from the starting weights. */
  policy: () => Promise<CausalLM>;
  reference: () => Promise<CausalLM>;
  reward: () => Promise<RewardSource>;
  /** The preference dataset, for offline DPO. */
  preferences: () => PreferenceRecord[];
}

export function finalPolicyDir(context: RunContext): string {
  return join(context.files.checkpoints, 'final');
}

/**
 * Saves the trained policy as a model folder with its tokenizer (tokenizer.json), so
 * `rlaif generate --model <dir>` and `rlaif serve` load it like any other model.
 */
export async function saveFinalPolicy(dir: string, policy: CausalLM): Promise<void> {
  await saveModelFolder(dir, policy);
}

/** The trainer's PPO settings from the run config. */
export function ppoSettings(config: RunConfig): PpoConfigInput {
  const rl = config.rl;
  return {
    seed: config.seed,
    steps: rl.steps,
    batchSize: rl.promptsPerStep,
    miniBatchSize: Math.max(1, Math.floor(rl.promptsPerStep / rl.minibatches)),
    epochs: rl.epochs,
    sampling: {
      maxNewTokens: rl.maxNewTokens ?? config.sampling.maxNewTokens,
      temperature: config.sampling.temperature,
      topK: config.sampling.topK,
      topP: config.sampling.topP,
    },
    optimizer: { learningRate: rl.lr },
    kl: {
      coef: rl.klCoef,
      adaptive: rl.klTarget !== undefined,
      target: rl.klTarget ?? 6,
      horizon: rl.klHorizon,
    },
    gamma: rl.gamma,
    lambda: rl.lam,
    clipRange: rl.clipRange,
    clipRangeValue: rl.valueClip,
    entropyCoef: rl.entropyCoef,
    checkpointEvery: rl.checkpointEvery,
  };
}

/** The trainers' REINFORCE / RLOO / GRPO settings from the run config. */
export function policyGradientSettings(config: RunConfig, algo: 'reinforce' | 'rloo' | 'grpo'):
  PolicyGradientConfigInput {
  const ppo = ppoSettings(config);
  const rl = config.rl;
  return {
    algo,
    seed: config.seed,
    steps: rl.steps,
    promptsPerStep: algo === 'reinforce' ? rl.promptsPerStep : Math.max(1, Math.floor(rl.promptsPerStep / rl.groupSize)),
    samplesPerPrompt: algo === 'reinforce' ? 1 : rl.groupSize,
    epochs: algo === 'grpo' ? rl.epochs : 1,
    sampling: ppo.sampling,
    optimizer: ppo.optimizer,
    kl: { coef: rl.klCoef },
    clipRange: rl.clipRange,
    checkpointEvery: rl.checkpointEvery,
  };
}

async function createTrainer(
  config: RunConfig,
  base: OnlineTrainerOptions,
  options: RlStageOptions,
): Promise<OnlineTrainer> {
  const algorithm = config.rl.algorithm;
  const rl = config.rl;
  if (algorithm === 'dpo') {
    // Offline DPO on the judged pairs; rl.steps bounds the number of updates.
    return DpoTrainer.create({
      ...base,
      records: options.preferences(),
      config: {
        seed: config.seed,
        beta: rl.dpoBeta,
        epochs: 1,
        batchSize: rl.promptsPerStep,
        optimizer: { learningRate: rl.lr },
        maxResponseTokens: Math.max(config.sampling.maxNewTokens, rl.maxNewTokens ?? 0) + 1,
        checkpointEvery: rl.checkpointEvery,
      },
    });
  }
  const reward = await options.reward();
  if (algorithm === 'ppo' || algorithm === 'direct') {
    return PpoTrainer.create({ ...base, reward, config: ppoSettings(config) });
  }
  return PolicyGradientTrainer.create({ ...base, reward, config: policyGradientSettings(config, algorithm) });
}

/** The step's score and KL for the progress line, when the trainer reports them as numbers. */
export function progressInfo(metrics: Record<string, number | string>): Record<string, number> {
  const info: Record<string, number> = {};
  const score = metrics['score/mean'];
  const kl = metrics['objective/kl'];
  if (typeof score === 'number' && Number.isFinite(score)) info.score = score;
  if (typeof kl === 'number' && Number.isFinite(kl)) info.kl = kl;
  return info;
}

export function rlStage(options: RlStageOptions): Stage {
  return {
    name: 'rl',
    async run(context: RunContext) {
      const { config } = context;
      const policy = await options.policy();
      const trainer = await createTrainer(config, {
        policy,
        reference: await options.reference(),
        prompts: options.prompts().map((p) => ({ prompt: p.prompt, reference: p.reference })),
        metrics: context.metrics,
        checkpointDir: join(context.files.checkpoints, config.rl.algorithm),
        logger: context.logger,
        clock: context.clock,
      }, options);
      const resumed = await trainer.resume();
      if (resumed) context.logger.info({ step: trainer.stepsDone }, 'training resumed from checkpoint');

      const total = Math.min(config.rl.steps, trainer.plannedSteps);
      const progress = startProgress({
        label: config.rl.algorithm, total, silent: context.quiet, start: trainer.stepsDone,
      });
      while (trainer.stepsDone < total && !trainer.halted) {
        if (context.signal.aborted) {
          trainer.saveCheckpoint();
          progress.stop();
          throw new RunInterrupted(`${config.rl.algorithm} (checkpoint saved at step ${trainer.stepsDone})`);
        }
        const result = await trainer.trainStep();
        progress.tick(1, progressInfo(result.metrics));
      }
      progress.stop();
      if (trainer.halted) context.logger.warn({ reason: trainer.halted }, 'training stopped early');

      await saveFinalPolicy(finalPolicyDir(context), policy);
      const steps = trainer.stepsDone;
      trainer.dispose();
      return { steps, resumed, halted: trainer.halted };
    },
  };
}
