/**
 * `rlaif run` as a library call: prepares the run directory (or reopens it), builds the
 * stages the config asks for and runs them in order, each skipping work already stored.
 *
 *   sample -> judge (both orders) -> preferences -> reward model -> RL -> evaluate -> report
 *
 * The same call on the same run directory resumes a stopped run; a run directory holding a
 * different config is refused unless `fresh` is set.
 */
import { dirname, resolve } from 'node:path';

import type { CausalLM } from '../model/types.ts';
import { JudgeReward } from '../rewards/judge-reward.ts';
import type { RewardSource } from '../rewards/types.ts';
import { RunStore, openRunDatabase } from '../store/run-store.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { MetricsWriter } from '../util/metrics.ts';
import { storedConfigText, type LoadedConfig } from './config.ts';
import { JudgeScoreReward } from './judge-score-reward.ts';
import { buildEvaluator, buildTrainingJudge, readConstitution } from './judges.ts';
import { loadPolicy, loadSavedPolicy, locateConfiguredModel, type ModelLocation } from './models.ts';
import { PromptBaselineReward } from './prompt-baseline-reward.ts';
import { readPrompts, type PromptLine } from './prompts.ts';
import { runFiles, type RunContext } from './run-context.ts';
import { prepareRunDir } from './run-dir.ts';
import { runStages, type Stage } from './runner.ts';
import { evalStage } from './stage-eval.ts';
import { judgeStage } from './stage-judge.ts';
import { reportStage } from './stage-report.ts';
import { rewardModelStage, rewardModelSource } from './stage-reward-model.ts';
import { finalPolicyDir, rlStage } from './stage-rl.ts';
import { sampleStage } from './stage-sample.ts';

export interface RunPipelineOptions {
  loaded: LoadedConfig;
  models?: ModelLocation;
  /** Start over: delete the run's own files first (only in a folder that is a run). */
  fresh?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
  clock?: () => number;
  quiet?: boolean;
}

export interface RunOutcome {
  context: RunContext;
  runDir: string;
  /** Stages this call ran; empty when the run was already complete. */
  stagesRun: string[];
}

export async function runPipeline(options: RunPipelineOptions): Promise<RunOutcome> {
  const { loaded } = options;
  const config = loaded.config;
  const logger = options.logger ?? silentLogger;
  const files = runFiles(resolve(config.runDir));

  // Everything that can fail on bad input fails here, before any work.
  const trainPrompts = readPrompts(loaded.paths.trainPrompts, config.prompts.maxTrain);
  const heldOutPrompts = readPrompts(loaded.paths.heldOutPrompts, config.prompts.maxHeldOut);
  readConstitution(loaded);
  const where = { ...options.models, logger, quiet: options.quiet };
  const located = await locateConfiguredModel(loaded, 'policy.model', where);
  const policyFiles = config.policy.tokenizer
    ? { ...located, tokenizer: resolve(dirname(loaded.file), config.policy.tokenizer) }
    : located;
  const referenceFiles = config.reference
    ? await locateConfiguredModel(loaded, 'reference', { ...where, modelPath: undefined })
    : policyFiles;

  prepareRunDir(files, storedConfigText(loaded), options.fresh ?? false);
  const db = openRunDatabase(files.store);
  const context: RunContext = {
    loaded,
    config,
    files,
    db,
    store: new RunStore(db),
    metrics: new MetricsWriter(files.metrics, options.clock),
    logger,
    signal: options.signal ?? new AbortController().signal,
    clock: options.clock ?? Date.now,
    quiet: options.quiet ?? false,
  };

  // Models, loaded once and only when a stage needs them.
  const once = <T>(make: () => Promise<T>) => {
    let value: Promise<T> | undefined;
    return () => (value ??= make());
  };
  const startPolicy = once(() => loadPolicy(policyFiles));
  // The starting policy is never trained, so it doubles as the frozen reference by default.
  const reference = config.reference ? once(() => loadPolicy(referenceFiles)) : startPolicy;
  let trained: CausalLM | undefined;
  const trainPolicy = once(async () => (trained = await loadPolicy(policyFiles)));
  const finalPolicy = once(async () =>
    trained ?? loadSavedPolicy(finalPolicyDir(context), (await startPolicy()).tokenizer));
  const trainingJudge = once(() => buildTrainingJudge(loaded, reference, { db, logger }));

  const stages: Stage[] = [];
  const algorithm = config.rl.algorithm;
  const usesRewardModel = ['ppo', 'rloo', 'grpo', 'reinforce'].includes(algorithm) && config.rewardModel.enabled;
  const llmDirect = !usesRewardModel && algorithm !== 'dpo' && config.judge.backend !== 'embedded';
  // Without a reward model (direct, or rewardModel.enabled false) the judge scores rollouts itself.
  const usesPreferences = usesRewardModel || algorithm === 'dpo';
  // Direct RLAIF needs the starting policy's samples too: as baselines of the embedded judge's
  // scores (rl.promptBaseline), or as the response an LLM judge compares each rollout with.
  if (usesPreferences || config.rl.promptBaseline || !usesRewardModel) {
    stages.push(sampleStage({ prompts: trainPrompts, policy: startPolicy }));
  }
  if (usesPreferences) {
    stages.push(judgeStage({
      judge: async () => (await trainingJudge()).judge,
      judgeAsksBoth: (loaded.config.judge.backend !== 'embedded'),
    }));
  }
  if (usesRewardModel) stages.push(rewardModelStage({ backbone: () => loadPolicy(policyFiles) }));
  stages.push(rlStage({
    preferences: () => context.store.preferences().map(({ promptIndex: _i, pair: _p, ...record }) => record),
    prompts: () => (llmDirect ? withStartResponses(trainPrompts, context) : trainPrompts),
    policy: trainPolicy,
    reference,
    reward: async (): Promise<RewardSource> => {
      const built = usesRewardModel ? undefined : await trainingJudge();
      // An LLM judge's reward is already relative: P(rollout beats a starting-policy response).
      if (built && !built.embedded) return new JudgeReward({ judge: built.judge, center: 0.5 });
      const reward = built
        ? new JudgeScoreReward(built.embedded!, built.constitution)
        : await rewardModelSource(context, (await startPolicy()).tokenizer);
      if (!config.rl.promptBaseline) return reward;
      const references = new Map<string, string[]>();
      for (const row of context.store.samples()) {
        references.set(row.prompt, [...(references.get(row.prompt) ?? []), row.response]);
      }
      return new PromptBaselineReward(reward, references);
    },
  }));
  stages.push(evalStage({
    prompts: heldOutPrompts,
    startPolicy,
    finalPolicy,
    reference,
    evaluator: async () => buildEvaluator(),
    trainingJudge: async () => {
      const built = await trainingJudge();
      return { judge: built.judge, asksBoth: built.asksBoth };
    },
  }));
  stages.push(reportStage());

  let stagesRun: string[];
  try {
    stagesRun = await runStages(context, stages);
  } finally {
    db.close();
  }
  return { context, runDir: files.dir, stagesRun };
}

/** Each prompt with the starting policy's first sampled response as its reference answer. */
function withStartResponses(prompts: PromptLine[], context: RunContext): PromptLine[] {
  const first = new Map<string, string>();
  for (const row of context.store.samples()) if (!first.has(row.prompt)) first.set(row.prompt, row.response);
  return prompts.map((p) => ({ ...p, reference: p.reference ?? first.get(p.prompt) }));
}
