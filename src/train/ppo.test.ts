import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as tf from '@tensorflow/tfjs-core';

import { ensureBackend } from '../model/backend.ts';
import type { CausalLM, ForwardOutput } from '../model/types.ts';
import type { RewardItem, RewardOutcome, RewardSource } from '../rewards/types.ts';
import { MetricsWriter, readMetrics } from '../util/metrics.ts';
import type { PpoConfigInput } from './ppo-config.ts';
import { PpoTrainer } from './ppo.ts';
import { LlamaModel } from '../model/llama.ts';
import { randomWeights } from '../model/test-support/reference-forward.ts';
import { TrainingHaltedError } from './guardrails.ts';
import { LetterFractionReward, toyPrompts } from './toy-task.ts';
import { ToyCausalLM, ToyTokenizer, tinyLlamaConfig } from './toy-model.ts';

const workDir = mkdtempSync(join(tmpdir(), 'rlaif-ppo-'));
beforeAll(() => ensureBackend());
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const toyConfig: PpoConfigInput = {
  seed: 3,
  steps: 30,
  batchSize: 16,
  miniBatchSize: 8,
  epochs: 2,
  sampling: { maxNewTokens: 8 },
  optimizer: { learningRate: 0.03 },
  kl: { coef: 0.01 },
  valueCoef: 0.5,
};

describe('PPO on the toy task', () => {
  it('raises the reward far above where it started with a finite KL', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const metricsFile = join(workDir, 'metrics.jsonl');
    let calls = 0;
    const trainer = await PpoTrainer.create({
      policy,
      reward: new LetterFractionReward('a'),
      prompts: toyPrompts(),
      config: toyConfig,
      metrics: new MetricsWriter(metricsFile),
      onStep: () => calls++,
    });
    const results = await trainer.train({ silent: true });
    const scores = results.map((r) => r.metrics['score/mean']);
    const first = (scores[0] + scores[1]) / 2;
    const last = (scores.at(-1)! + scores.at(-2)!) / 2;
    console.log(
      'ppo score',
      first.toFixed(3),
      '->',
      last.toFixed(3),
      'kl',
      results.at(-1)!.metrics['objective/kl'],
    );
    expect(first).toBeLessThan(0.2);
    expect(last).toBeGreaterThan(0.6);
    for (const r of results) expect(Number.isFinite(r.metrics['objective/kl'])).toBe(true);

    expect(calls).toBe(30);
    const written = readMetrics(metricsFile);
    expect(written).toHaveLength(30);
    for (const name of [
      'objective/kl',
      'objective/entropy',
      'objective/kl_coef',
      'policy/clipfrac',
      'policy/approxkl',
      'loss/policy',
      'loss/value',
      'val/vpred',
      'val/error',
      'reward/mean',
      'reward/std',
      'score/mean',
      'len/mean',
      'perf/step_ms',
      'perf/tokens_per_s',
    ]) {
      expect(typeof written[0][name]).toBe('number');
    }
    trainer.dispose();
    policy.dispose();
  });
});

/** Metrics without the wall-clock ones, for comparing runs. */
function comparable(records: Record<string, unknown>[]): Record<string, unknown>[] {
  return records.map((r) =>
    Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('perf/') && k !== 'time')),
  );
}

describe('PPO on a tiny LlamaModel', () => {
  it('raises the reward of a random 1-layer Llama', async () => {
    const config = tinyLlamaConfig;
    const policy = await LlamaModel.fromWeights(
      config,
      randomWeights(config, 4, 0.5),
      new ToyTokenizer(16),
    );
    const trainer = await PpoTrainer.create({
      policy,
      reward: new LetterFractionReward('a'),
      prompts: toyPrompts(),
      config: { ...toyConfig, steps: 25 },
    });
    const results = await trainer.train({ silent: true });
    const scores = results.map((r) => r.metrics['score/mean']);
    expect((scores[0] + scores[1]) / 2).toBeLessThan(0.25);
    expect((scores.at(-1)! + scores.at(-2)!) / 2).toBeGreaterThan(0.6);
    for (const r of results) expect(Number.isFinite(r.metrics['objective/kl'])).toBe(true);
    // Sampling at temperature 1 and scoring with the forward pass agree token by token.
    expect(results[0].metrics['policy/sample_logprob_gap']).toBeLessThan(1e-3);
    trainer.dispose();
    policy.dispose();
  });
});

describe('PPO checkpoints', () => {
  it('resumed run follows the same curve as an uninterrupted one', async () => {
    const config = {
      ...toyConfig,
      steps: 6,
      checkpointEvery: 3,
      kl: { coef: 0.01, adaptive: true, target: 1, horizon: 100 },
    };
    const run = async (dir: string, steps: number, resume: boolean) => {
      mkdirSync(dir, { recursive: true });
      const policy = new ToyCausalLM({ seed: 1 });
      const trainer = await PpoTrainer.create({
        policy,
        reward: new LetterFractionReward('a'),
        prompts: toyPrompts(),
        config,
        metrics: new MetricsWriter(join(dir, 'metrics.jsonl')),
        checkpointDir: join(dir, 'checkpoints'),
      });
      if (resume) expect(await trainer.resume()).toBe(true);
      await trainer.train({ steps, silent: true });
      const coef = trainer.klCoef;
      trainer.dispose();
      policy.dispose();
      return coef;
    };
    const straight = join(workDir, 'straight');
    const split = join(workDir, 'split');
    const coefStraight = await run(straight, 6, false);
    // Killed after step 4: its metrics line is past the step-3 checkpoint and gets replaced.
    await run(split, 4, false);
    const coefSplit = await run(split, 6, true);

    const a = comparable(readMetrics(join(straight, 'metrics.jsonl')));
    const b = comparable(readMetrics(join(split, 'metrics.jsonl')));
    expect(b.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b).toEqual(a);
    expect(coefSplit).toBe(coefStraight);
    // The adaptive controller moved, so its state really went through the checkpoint.
    expect(coefStraight).not.toBe(0.01);
  });
});

/** Scores like LetterFractionReward but returns an overflowing reward on one call. */
class OverflowOnce implements RewardSource {
  readonly id = 'overflow-once';
  calls = 0;
  private readonly inner = new LetterFractionReward('a');
  constructor(private readonly badCall: number) {}
  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    this.calls++;
    if (this.calls !== this.badCall) return this.inner.score(items);
    return items.map(() => ({ ok: true, reward: 3e38 }));
  }
}

describe('PPO guardrails', () => {
  it('skips a step whose loss overflows and restores the last good state', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const trainer = await PpoTrainer.create({
      policy,
      reward: new OverflowOnce(2),
      prompts: toyPrompts(),
      config: toyConfig,
    });
    await trainer.trainStep();
    const good = policy.trainableVariables().map((v) => Array.from(v.dataSync()));
    const bad = await trainer.trainStep();
    expect(bad.skipped).toBe(true);
    expect(bad.warnings.join(' ')).toMatch(/NaN or infinite.*restored/);
    expect(policy.trainableVariables().map((v) => Array.from(v.dataSync()))).toEqual(good);
    const next = await trainer.trainStep();
    expect(next.skipped).toBe(false);
    expect(Number.isFinite(next.metrics['loss/total'])).toBe(true);
    trainer.dispose();
    policy.dispose();
  });

  it('explains negative KL caused by sampling settings', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    // A reference that is the policy at temperature 1/4: sampling the policy at 0.25 draws
    // exactly from the reference, so the k1 estimate is -KL(ref || policy) < 0.
    const reference = new SharpenedModel(policy.cloneFrozen(), 4);
    const trainer = await PpoTrainer.create({
      policy,
      reference,
      reward: new LetterFractionReward('a'),
      prompts: toyPrompts(),
      config: { ...toyConfig, sampling: { maxNewTokens: 8, temperature: 0.25 } },
    });
    const result = await trainer.trainStep();
    expect(result.metrics['objective/kl']).toBeLessThan(-0.5);
    const text = result.warnings.join('\n');
    expect(text).toMatch(/sampled with temperature=0.25/);
    expect(text).toMatch(/KL to the reference is negative .*temperature=0.25/);
    trainer.dispose();
    reference.dispose();
    policy.dispose();
  });

  it('leaves out responses whose reward failed and says so', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const flaky: RewardSource = {
      id: 'flaky',
      score: async (items) =>
        items.map((item, i) =>
          i % 4 === 0
            ? { ok: false, reason: 'judge timed out' }
            : { ok: true, reward: item.response.length },
        ),
    };
    const trainer = await PpoTrainer.create({
      policy,
      reward: flaky,
      prompts: toyPrompts(),
      config: toyConfig,
    });
    const result = await trainer.trainStep();
    expect(result.metrics['reward/failures']).toBe(4);
    expect(result.warnings.join(' ')).toMatch(
      /4 responses had no reward \(first: judge timed out\)/,
    );
    expect(Number.isFinite(result.metrics['loss/total'])).toBe(true);
    expect(result.skipped).toBe(false);
    trainer.dispose();
    policy.dispose();
  });

  it('names the offending setting of a bad config', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const make = (config: object) =>
      PpoTrainer.create({
        policy,
        reward: new LetterFractionReward('a'),
        prompts: toyPrompts(),
        config,
      });
    await expect(make({ kl: { coef: -1 } })).rejects.toThrow(/field "ppo\.kl\.coef"/);
    await expect(make({ clip_range: 0.2 })).rejects.toThrow(/field "ppo\.clip_range": unknown key/);
    policy.dispose();
  });

  it('stops the epochs early once approx KL passes the limit', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const trainer = await PpoTrainer.create({
      policy,
      reward: new LetterFractionReward('a'),
      prompts: toyPrompts(),
      config: { ...toyConfig, epochs: 4, earlyStopApproxKl: 1e-9 },
    });
    await trainer.trainStep(); // epoch 1 has ratio 1 at its first minibatch, then moves
    const result = await trainer.trainStep();
    expect(result.metrics['policy/epochs']).toBe(1);
    trainer.dispose();
    policy.dispose();
  });

  it('stops when KL runs away', async () => {
    const policy = new ToyCausalLM({ seed: 1 });
    const trainer = await PpoTrainer.create({
      policy,
      reward: new LetterFractionReward('a'),
      prompts: toyPrompts(),
      config: { ...toyConfig, kl: { coef: 0, warnAt: 0.3, stopAt: 3 } },
    });
    const results = await trainer.train({ steps: 30, silent: true });
    expect(results.length).toBeLessThan(30);
    expect(results.at(-1)!.halted).toMatch(/above the stop threshold 3/);
    expect(results.some((r) => r.warnings.some((w) => w.includes('warning threshold 0.3')))).toBe(
      true,
    );
    await expect(trainer.trainStep()).rejects.toBeInstanceOf(TrainingHaltedError);
    trainer.dispose();
    policy.dispose();
  });
});

/** Wraps a model and multiplies its logits by `factor` (a temperature of 1 / factor). */
class SharpenedModel implements CausalLM {
  constructor(
    private readonly inner: CausalLM,
    private readonly factor: number,
  ) {}
  get config() {
    return this.inner.config;
  }
  get tokenizer() {
    return this.inner.tokenizer;
  }
  forward(tokens: tf.Tensor2D, mask?: tf.Tensor2D): ForwardOutput {
    const out = this.inner.forward(tokens, mask);
    const logits = tf.mul(out.logits, this.factor) as tf.Tensor3D;
    out.logits.dispose();
    return { logits, hidden: out.hidden };
  }
  generate(): never {
    throw new Error('not used');
  }
  scoreContinuations(): never {
    throw new Error('not used');
  }
  trainableVariables() {
    return [];
  }
  cloneFrozen(): CausalLM {
    return this;
  }
  exportWeights() {
    return this.inner.exportWeights();
  }
  dispose() {
    this.inner.dispose();
  }
}
