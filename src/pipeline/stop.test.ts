import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBackend } from '../model/backend.ts';
import { RunStore, openRunDatabase } from '../store/run-store.ts';
import { RewardModelTrainingStopped, trainRewardModel } from '../train/reward-model-trainer.ts';
import { RewardModel } from '../train/reward-model.ts';
import { ToyCausalLM } from '../train/toy-model.ts';
import { toyPreferences } from '../train/toy-task.ts';
import { silentLogger } from '../util/log.ts';
import type { MetricsWriter } from '../util/metrics.ts';
import { runConfigSchema, type LoadedConfig } from './config.ts';
import { RunInterrupted, runFiles, type RunContext } from './run-context.ts';
import { rewardModelStage } from './stage-reward-model.ts';

beforeAll(() => ensureBackend());

/** A metrics writer that records reward-model steps and aborts once `stopAt` is written. */
function stoppingMetrics(controller: AbortController, stopAt: number) {
  const steps: number[] = [];
  const writer = {
    write(stage: string, step: number, values: Record<string, number | string>) {
      if (stage === 'reward-model' && 'rm/loss' in values) steps.push(step);
      if (step === stopAt) controller.abort();
      return { stage, step, ...values };
    },
  } as unknown as MetricsWriter;
  return { steps, writer };
}

describe('Ctrl-C during reward-model training', () => {
  it('the trainer stops before the next step once the signal is aborted', async () => {
    const controller = new AbortController();
    const metrics = stoppingMetrics(controller, 3);
    const training = trainRewardModel({
      model: new RewardModel(new ToyCausalLM({ seed: 1 })),
      records: toyPreferences(40, 2),
      config: { seed: 1, epochs: 2, batchSize: 4, validationFraction: 0, optimizer: { learningRate: 0.01 } },
      metrics: metrics.writer,
      silent: true,
      signal: controller.signal,
    });
    await expect(training).rejects.toBeInstanceOf(RewardModelTrainingStopped);
    await expect(training).rejects.toMatchObject({ step: 3, totalSteps: 20 });
    expect(metrics.steps).toEqual([1, 2, 3]);
  });

  it('the reward-model stage ends the run promptly as interrupted, not done', async () => {
    const controller = new AbortController();
    const metrics = stoppingMetrics(controller, 2);
    const config = runConfigSchema.parse({
      rewardModel: { epochs: 2, batchSize: 4, validationFraction: 0 },
    });
    const db = openRunDatabase(':memory:');
    const store = new RunStore(db);
    store.addPreferences(toyPreferences(40, 2).map((record, i) => ({
      ...record, promptIndex: i, pair: [0, 1] as [number, number],
    })));
    const context: RunContext = {
      loaded: { config } as unknown as LoadedConfig,
      config,
      files: runFiles('/nonexistent-run'),
      db,
      store,
      metrics: metrics.writer,
      logger: silentLogger,
      signal: controller.signal,
      clock: () => 0,
      quiet: true,
    };
    const stage = rewardModelStage({ backbone: async () => new ToyCausalLM({ seed: 1 }) });
    const run = stage.run(context);
    await expect(run).rejects.toBeInstanceOf(RunInterrupted);
    await expect(run).rejects.toThrow(/reward-model training \(step 2 of 20\)/);
    expect(metrics.steps).toEqual([1, 2]);
  });
});
