/**
 * PPO benchmark on stories260K: batch 16 x (64 prompt + 64 response) tokens, the full PPO step
 * (rollout, scoring with policy, reference and value head, GAE, 4 epochs of minibatches of 4).
 * Prints ms per PPO update (everything after the rollout), rollout tokens/s, total step ms and
 * peak RSS, with the update's cost as a ratio of one forward pass over the same batch measured
 * in the same run. CPU time is printed beside wall time: on a shared machine wall time includes
 * waiting.
 *
 * Run: node --import tsx bench/train.ts [--steps N]
 */
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { LlamaModel } from '../src/model/llama.ts';
import type { RewardItem, RewardOutcome, RewardSource } from '../src/rewards/types.ts';
import { PpoTrainer } from '../src/train/ppo.ts';
import { disposeBatch, packSequences } from '../src/train/rollout.ts';
import { sharedModelsDir } from '../src/util/paths.ts';

const stepsFlag = process.argv.indexOf('--steps');
const STEPS = stepsFlag > 0 ? Number(process.argv[stepsFlag + 1]) : 3;
const BATCH = 16;
const PROMPT_TOKENS = 64;
const RESPONSE_TOKENS = 64;

/** A cheap reward (share of words with an "a") so the figures are PPO's own cost. */
class WordReward implements RewardSource {
  readonly id = 'bench-words';
  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return items.map((item) => {
      const words = item.response.split(/\s+/).filter(Boolean);
      return {
        ok: true,
        reward: words.filter((w) => w.includes('a')).length / Math.max(words.length, 1),
      };
    });
  }
}

const story =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ' +
  'One day, she saw a big red ball under a tree. She ran to the ball and picked it up. Her mom ' +
  'smiled and said they could play together. Lily was very happy and they played all day long.';

async function main(): Promise<void> {
  const policy = await LlamaModel.fromLlama2c(
    join(sharedModelsDir(), 'stories260K', 'stories260K.bin'),
  );
  const words = story.split(' ');
  // Prompts of exactly 64 tokens: different starting words, cut to the last 64 tokens.
  const prompts = Array.from({ length: BATCH }, (_, i) => ({
    prompt: [...words.slice(i), ...words.slice(0, i)].join(' '),
  }));
  for (const p of prompts) {
    const n = policy.tokenizer.encode(p.prompt, { bos: true }).length;
    if (n < PROMPT_TOKENS) throw new Error(`bench prompt has only ${n} tokens`);
  }

  const trainer = await PpoTrainer.create({
    policy,
    reward: new WordReward(),
    prompts,
    config: {
      seed: 0,
      steps: STEPS,
      batchSize: BATCH,
      miniBatchSize: 4,
      epochs: 4,
      sampling: { maxNewTokens: RESPONSE_TOKENS, maxPromptTokens: PROMPT_TOKENS, stopOnEos: false },
      optimizer: { learningRate: 1e-5 },
    },
  });

  const rows: {
    stepMs: number;
    rolloutMs: number;
    tokensPerS: number;
    cpuMs: number;
    len: number;
  }[] = [];
  for (let i = 0; i < STEPS; i++) {
    const cpu0 = process.cpuUsage();
    const result = await trainer.trainStep();
    const cpu = process.cpuUsage(cpu0);
    const m = result.metrics;
    rows.push({
      stepMs: m['perf/step_ms'],
      rolloutMs: m['perf/rollout_ms'],
      tokensPerS: m['perf/tokens_per_s'],
      cpuMs: (cpu.user + cpu.system) / 1000,
      len: m['len/mean'],
    });
    process.stderr.write(
      `step ${i + 1}: ${m['perf/step_ms'].toFixed(0)} ms (rollout ${m['perf/rollout_ms'].toFixed(0)} ms)\n`,
    );
  }

  // Reference in the same run: one forward pass (no gradients) over a 16 x 128 batch.
  const tokens = Array.from({ length: BATCH }, () =>
    Array.from({ length: PROMPT_TOKENS }, (_, j) => 1 + (j % 400)),
  );
  const responses = tokens.map(() =>
    Array.from({ length: RESPONSE_TOKENS }, (_, j) => 2 + (j % 300)),
  );
  const packed = packSequences(tokens, responses);
  const forward = () => {
    const { logits, hidden } = policy.forward(packed.tokens, packed.attention);
    tf.dispose([logits, hidden]);
  };
  forward(); // warm-up
  const f0 = performance.now();
  forward();
  const forwardMs = performance.now() - f0;
  disposeBatch(packed);

  // The first step pays for kernel set-up; report the mean of the others when there are any.
  const measured = rows.length > 1 ? rows.slice(1) : rows;
  const avg = (f: (r: (typeof rows)[number]) => number) =>
    measured.reduce((a, r) => a + f(r), 0) / measured.length;
  const updateMs = avg((r) => r.stepMs - r.rolloutMs);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const figures = {
    model: 'stories260K',
    batch: `${BATCH} x (${PROMPT_TOKENS} prompt + ${RESPONSE_TOKENS} response) tokens`,
    epochs: 4,
    miniBatchSize: 4,
    stepsMeasured: measured.length,
    'ms per PPO update (after rollout)': Math.round(updateMs),
    'ms per PPO step (rollout + update)': Math.round(avg((r) => r.stepMs)),
    'cpu ms per PPO step': Math.round(avg((r) => r.cpuMs)),
    'rollout tokens/s': Math.round(avg((r) => r.tokensPerS)),
    'mean response tokens': avg((r) => r.len),
    'forward pass 16x128 ms (reference)': Math.round(forwardMs),
    'update / forward ratio': +(updateMs / forwardMs).toFixed(1),
    'peak RSS MB': Math.round(peakRssMb),
  };
  for (const [name, value] of Object.entries(figures))
    process.stdout.write(`${name.padEnd(38)} ${value}\n`);
  trainer.dispose();
  policy.dispose();
}

await main();
