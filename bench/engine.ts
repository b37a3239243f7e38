/**
 * Engine benchmark on stories260K: generation tokens/s (batch 1 and 16, 256 new tokens), the
 * TensorFlow.js per-step cost that motivated the fused decode kernel, ms per training step
 * (16 x 128 tokens, causal LM loss, AdamW), ms per PPO-style step, peak RSS, and
 * node-llama-cpp's single-sequence tokens/s on the same weights (GGUF export) as a ratio.
 *
 * Run: node --import tsx bench/engine.ts [--quick]
 * CPU time is printed beside wall time: on a shared machine wall time includes waiting. Both
 * generators are timed REPEATS times and the fastest run of each is reported.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { RewardHead, ValueHead } from '../src/model/heads.ts';
import { LlamaModel } from '../src/model/llama.ts';
import { causalLmLoss, nextTokenLogprobs } from '../src/model/logprobs.ts';
import { AdamW, trainStep } from '../src/model/optim.ts';
import { sharedModelsDir } from '../src/util/paths.ts';

const quick = process.argv.includes('--quick');
const NEW_TOKENS = quick ? 64 : 256;
const REPEATS = quick ? 1 : 3;
const checkpoint = join(sharedModelsDir(), 'stories260K', 'stories260K.bin');

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** The fastest of REPEATS timed runs (by wall time). */
async function fastest<T>(run: () => Promise<T> | T): Promise<{ result: T } & Timing> {
  let best = await timed(run);
  for (let i = 1; i < REPEATS; i++) {
    const next = await timed(run);
    if (next.wallMs < best.wallMs) best = next;
  }
  return best;
}

async function timed<T>(run: () => Promise<T> | T): Promise<{ result: T } & Timing> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await run();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { result, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function rate(count: number, t: Timing): string {
  return `${(count / (t.wallMs / 1000)).toFixed(0)} tokens/s wall, ` +
    `${(count / (t.cpuMs / 1000)).toFixed(0)} tokens/s per CPU-second`;
}

function print(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(44)} ${value}\n`);
}

const model = await LlamaModel.fromLlama2c(checkpoint);
const prompt = model.tokenizer.encode('Once upon a time', { bos: true });

// Generation through the fused kernel. A short warm-up lets the JIT compile the kernel.
await model.generate([prompt], { maxNewTokens: 32, seed: 0 });
const ours: Record<number, number> = {};
const oursPerCpu: Record<number, number> = {};
for (const batch of [1, 16]) {
  const run = await fastest(() => model.generate(new Array(batch).fill(prompt), {
    maxNewTokens: NEW_TOKENS, seed: 1, stopOnEos: false,
  }));
  const count = run.result.reduce((sum, r) => sum + r.tokens.length, 0);
  ours[batch] = count / (run.wallMs / 1000);
  oursPerCpu[batch] = count / (run.cpuMs / 1000);
  print(`generate batch ${batch}, ${NEW_TOKENS} new tokens`, rate(count, run));
}

// What a TensorFlow.js decode step costs: a one-token forward pass is a lower bound for it
// (a KV-cache step adds cache reads and writes on top).
for (const batch of [1, 16]) {
  const tokens = tf.tensor2d(new Array(batch).fill(prompt[0]), [batch, 1], 'int32');
  // Returning data (not tensors) from tidy would make it walk every number, so dispose by hand.
  const step = () => {
    const { logits, hidden } = model.forward(tokens);
    logits.dataSync();
    logits.dispose();
    hidden.dispose();
  };
  step();
  const steps = 20;
  const run = await timed(() => {
    for (let i = 0; i < steps; i++) step();
  });
  print(`TF.js one-token forward, batch ${batch}`,
    `${(run.wallMs / steps).toFixed(2)} ms/step = at most ${rate(batch * steps, run)}`);
  tokens.dispose();
}

// Training: batch 16 x 128 tokens of the model's own text, causal LM loss, AdamW.
const BATCH = 16;
const SEQ = 128;
const samples = await model.generate(new Array(BATCH).fill(prompt), {
  maxNewTokens: SEQ - prompt.length, seed: 2, stopOnEos: false,
});
const rows = samples.map((s) => [...s.promptTokens, ...s.tokens]);
const tokens = tf.tensor2d(rows, [BATCH, SEQ], 'int32');
const mask = tf.ones([BATCH, SEQ]) as tf.Tensor2D;
const optimizer = new AdamW(model.trainableVariables(), { lr: 1e-4 });
const lmLoss = () => tf.tidy(() => causalLmLoss(model.forward(tokens, mask).logits, tokens, mask));
trainStep({ loss: lmLoss, optimizer, maxGradNorm: 1 });
const trainSteps = quick ? 2 : 5;
const training = await timed(() => {
  for (let i = 0; i < trainSteps; i++) trainStep({ loss: lmLoss, optimizer, maxGradNorm: 1 });
});
print(`train step ${BATCH}x${SEQ}, LM loss + AdamW`,
  `${(training.wallMs / trainSteps).toFixed(0)} ms wall, ${(training.cpuMs / trainSteps).toFixed(0)} ms CPU`);

// PPO-style step: policy log-probs + value head + clipped surrogate + value loss, backward.
const valueHead = new ValueHead({ dim: model.config.dim, seed: 1 });
const ppoOptimizer = new AdamW([...model.trainableVariables(), ...valueHead.variables()], { lr: 1e-5 });
const oldLogprobs = tf.tidy(() => nextTokenLogprobs(model.forward(tokens, mask).logits, tokens));
const advantages = tf.randomNormal([BATCH, SEQ - 1], 0, 1, 'float32', 7);
const returns = tf.randomNormal([BATCH, SEQ - 1], 0, 1, 'float32', 8);
const ppoLoss = () => tf.tidy(() => {
  const { logits, hidden } = model.forward(tokens, mask);
  const logprobs = nextTokenLogprobs(logits, tokens);
  const ratio = tf.exp(tf.sub(logprobs, oldLogprobs));
  const clipped = tf.clipByValue(ratio, 0.8, 1.2);
  const policy = tf.neg(tf.mean(tf.minimum(tf.mul(ratio, advantages), tf.mul(clipped, advantages))));
  const values = tf.slice(valueHead.apply(hidden), [0, 0], [BATCH, SEQ - 1]);
  const valueLoss = tf.mean(tf.square(tf.sub(values, returns)));
  return tf.add(policy, tf.mul(valueLoss, 0.5)) as tf.Scalar;
});
trainStep({ loss: ppoLoss, optimizer: ppoOptimizer, maxGradNorm: 1 });
const ppo = await timed(() => {
  for (let i = 0; i < trainSteps; i++) trainStep({ loss: ppoLoss, optimizer: ppoOptimizer, maxGradNorm: 1 });
});
print(`PPO step ${BATCH}x${SEQ} (policy + value head)`,
  `${(ppo.wallMs / trainSteps).toFixed(0)} ms wall, ${(ppo.cpuMs / trainSteps).toFixed(0)} ms CPU`);

// Reward-model forward (scoring) for completeness: one pass over the batch.
const rewardHead = new RewardHead({ dim: model.config.dim });
const scoring = await timed(() => {
  const rewards = tf.tidy(() => rewardHead.apply(model.forward(tokens, mask).hidden, mask));
  rewards.dataSync();
  rewards.dispose();
});
print(`reward model forward ${BATCH}x${SEQ}`, `${scoring.wallMs.toFixed(0)} ms wall`);
print('peak RSS', `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);

await compareWithLlamaCpp(ours[16]);

async function compareWithLlamaCpp(batch16TokensPerSecond: number): Promise<void> {
  const writerPath = new URL('../src/model/gguf-writer.ts', import.meta.url);
  if (!existsSync(writerPath)) {
    print('node-llama-cpp', 'skipped: no GGUF writer (src/model/gguf-writer.ts) in this build');
    return;
  }
  const { exportGguf } = await import('../src/model/gguf-writer.ts');
  const { vocabFromSpmTokenizer } = await import('../src/model/gguf-vocab.ts');
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const { SpmTokenizer } = await import('../src/model/tokenizer-spm.ts');
  const scratch = await mkdtemp(join(tmpdir(), 'rlaif-bench-'));
  try {
    const ggufPath = join(scratch, 'stories260K.gguf');
    await exportGguf(ggufPath, {
      config: model.config,
      weights: model.exportWeights(),
      tokenizer: vocabFromSpmTokenizer(model.tokenizer as InstanceType<typeof SpmTokenizer>),
    });
    // One thread: on these 2-core shared machines more threads run many times slower.
    const llama = await getLlama({ gpu: false, maxThreads: 0, logLevel: LlamaLogLevel.error });
    const cppModel = await llama.loadModel({ modelPath: ggufPath });
    const context = await cppModel.createContext({ threads: 1, contextSize: 512 });
    const sequence = context.getSequence();
    const run = await fastest(async () => {
      let count = 0;
      for await (const _token of sequence.evaluate(prompt as never, { temperature: 0 })) {
        if (++count === NEW_TOKENS) break;
      }
      await sequence.clearHistory();
      return count;
    });
    const cppRate = run.result / (run.wallMs / 1000);
    const cppPerCpu = run.result / (run.cpuMs / 1000);
    print(`node-llama-cpp 1 thread, batch 1, ${NEW_TOKENS} tokens`, rate(run.result, run));
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    print('ours batch 16 / node-llama-cpp batch 1',
      `${ratio(batch16TokensPerSecond, cppRate)} wall, ${ratio(oursPerCpu[16], cppPerCpu)} per CPU-second`);
    print('ours batch 1 / node-llama-cpp batch 1',
      `${ratio(ours[1], cppRate)} wall, ${ratio(oursPerCpu[1], cppPerCpu)} per CPU-second`);
    await context.dispose();
    await cppModel.dispose();
    await llama.dispose();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
