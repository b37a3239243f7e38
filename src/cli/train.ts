/**
 * `rlaif train --algo ppo|rloo|grpo|reinforce|dpo|online-dpo --config file.yaml`: trains a
 * policy with one algorithm. Metrics go to <output>/metrics.jsonl, checkpoints to
 * <output>/checkpoints/step-<n>, the final policy to <output>/final; a killed run started again
 * resumes from its newest checkpoint. Ctrl-C stops after the current step and saves. A JSON
 * summary is printed on stdout.
 */
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

import type { Command } from 'commander';

import { createDefaultJudge } from '../judge/default-judges.ts';
import { readPreferences } from '../interop/preference-files.ts';
import { readPrompts } from '../pipeline/prompts.ts';
import { readYamlConfig } from '../train/config-file.ts';
import { DpoTrainer, OnlineDpoTrainer } from '../train/dpo.ts';
import type { OnlineTrainer, OnlineTrainerOptions, StepResult } from '../train/online-trainer.ts';
import { PolicyGradientTrainer } from '../train/policy-gradient.ts';
import { PpoTrainer } from '../train/ppo.ts';
import { RewardModel } from '../train/reward-model.ts';
import { type TrainFile, trainFileSchema } from '../train/train-config.ts';
import { saveModelFolder } from '../train/training-state.ts';
import { InputError } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';
import { MetricsWriter } from '../util/metrics.ts';
import { startProgress } from '../util/progress.ts';
import { openModel } from './generate.ts';

const algorithms = ['ppo', 'rloo', 'grpo', 'reinforce', 'dpo', 'online-dpo'];

export function register(program: Command): void {
  program
    .command('train')
    .description('train a policy with PPO, RLOO, GRPO, REINFORCE, DPO or online DPO')
    .requiredOption(
      '--config <file>',
      'YAML config: algo, policy, prompts/preferences, reward, output, trainer',
    )
    .option('--algo <name>', `algorithm, overriding the file's: ${algorithms.join(', ')}`)
    .option('--steps <n>', "stop after this many steps in total (default: the config's)")
    .option('--quiet', 'no progress on stderr')
    .action(async (raw: { config: string; algo?: string; steps?: string; quiet?: boolean }) => {
      if (raw.algo !== undefined && !algorithms.includes(raw.algo)) {
        throw new InputError(
          `unknown algorithm "${raw.algo}"; use one of ${algorithms.join(', ')}`,
          { field: '--algo' },
        );
      }
      const steps = raw.steps === undefined ? undefined : Number(raw.steps);
      if (steps !== undefined && !(Number.isInteger(steps) && steps > 0)) {
        throw new InputError('expected a positive whole number', { field: '--steps' });
      }
      const file = resolve(raw.config);
      const config = readYamlConfig(file, trainFileSchema, raw.algo ? { algo: raw.algo } : {});
      const summary = await runTraining(config, dirname(file), {
        steps,
        quiet: raw.quiet ?? false,
      });
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    });
}

export async function runTraining(
  config: TrainFile,
  baseDir: string,
  options: { steps?: number; quiet: boolean },
) {
  const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const output = at(config.output);
  mkdirSync(output, { recursive: true });
  const logger = createLogger(options.quiet ? 'warn' : 'info');
  const policy = await openModel(
    at(config.policy.model),
    config.policy.tokenizer && at(config.policy.tokenizer),
  );
  const common: OnlineTrainerOptions = {
    policy,
    prompts: 'prompts' in config ? readPrompts(at(config.prompts)) : [],
    metrics: new MetricsWriter(join(output, 'metrics.jsonl')),
    checkpointDir: join(output, 'checkpoints'),
    logger,
  };
  const loadReward = (dir: string) => RewardModel.load(at(dir), { tokenizer: policy.tokenizer });

  let trainer: OnlineTrainer;
  let reward: RewardModel | undefined;
  if (config.algo === 'ppo') {
    reward = await loadReward(config.reward.rewardModel);
    trainer = await PpoTrainer.create({ ...common, reward, config: config.trainer });
  } else if (config.algo === 'dpo') {
    const { records } = readPreferences(at(config.preferences), 'rlaif');
    trainer = await DpoTrainer.create({ ...common, records, config: config.trainer });
  } else if (config.algo === 'online-dpo') {
    reward = config.judge === 'embedded' ? undefined : await loadReward(config.judge.rewardModel);
    const judge = reward ?? createDefaultJudge({ seed: config.trainer.seed });
    trainer = await OnlineDpoTrainer.create({ ...common, judge, config: config.trainer });
  } else {
    reward = await loadReward(config.reward.rewardModel);
    trainer = await PolicyGradientTrainer.create({
      ...common,
      reward,
      config: { ...config.trainer, algo: config.algo },
    });
  }

  // Resume, then step until done, halted or interrupted (Ctrl-C saves and stops).
  const resumed = await trainer.resume();
  const total = options.steps ?? trainer.plannedSteps;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    logger.warn('stopping after the current step (Ctrl-C again to abort)');
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  const progress = startProgress({ label: config.algo, total, silent: options.quiet });
  progress.tick(Math.min(trainer.stepsDone, total));
  let last: StepResult | undefined;
  try {
    while (trainer.stepsDone < total && !trainer.halted && !interrupted) {
      last = await trainer.trainStep();
      progress.tick(1, { loss: last.metrics['loss/total'] ?? Number.NaN });
    }
  } finally {
    progress.stop();
    process.removeListener('SIGINT', onSigint);
  }
  if (trainer.stepsDone > 0) trainer.saveCheckpoint();
  const finalDir = join(output, 'final');
  await saveModelFolder(finalDir, policy);

  const summary = {
    algo: config.algo,
    steps: trainer.stepsDone,
    resumed,
    halted: trainer.halted ?? null,
    interrupted,
    final: finalDir,
    metrics: last?.metrics ?? {},
  };
  trainer.dispose();
  reward?.dispose();
  policy.dispose();
  return summary;
}
