import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import { makeRng } from '../util/rng.ts';
import { RewardHead, ValueHead } from './heads.ts';
import { LlamaModel } from './llama.ts';
import { causalLmLoss, entropyFromLogits, tokenLogprobs } from './logprobs.ts';
import { AdamW, trainStep } from './optim.ts';
import { SpmTokenizer } from './tokenizer-spm.ts';
import type { LlamaConfig, LlamaWeights } from './types.ts';

function tinyConfig(ropeStyle: LlamaConfig['ropeStyle']): LlamaConfig {
  return {
    dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 13, maxSeqLen: 16,
    normEps: 1e-5, ropeTheta: 10000, ropeStyle, tiedEmbeddings: false, qkvBias: true,
  };
}

function randomWeights(config: LlamaConfig, seed: number): LlamaWeights {
  const rng = makeRng(seed);
  const rand = (n: number, scale = 0.4) =>
    Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
  const ones = (n: number) => Float32Array.from({ length: n }, () => 1 + (rng.next() - 0.5) * 0.2);
  const { dim, hiddenDim, vocabSize } = config;
  const kv = (dim / config.nHeads) * config.nKvHeads;
  return {
    tokenEmbedding: rand(vocabSize * dim, 1),
    layers: Array.from({ length: config.nLayers }, () => ({
      attnNorm: ones(dim), wq: rand(dim * dim), wk: rand(kv * dim), wv: rand(kv * dim),
      wo: rand(dim * dim), bq: rand(dim, 0.1), bk: rand(kv, 0.1), bv: rand(kv, 0.1),
      ffnNorm: ones(dim), w1: rand(hiddenDim * dim), w2: rand(dim * hiddenDim),
      w3: rand(hiddenDim * dim),
    })),
    finalNorm: ones(dim),
    output: rand(vocabSize * dim, 0.5),
  };
}

function tinyTokenizer(vocabSize: number): SpmTokenizer {
  const pieces = ['<unk>', '<s>', '</s>', ...Array.from({ length: vocabSize - 3 }, (_, i) =>
    String.fromCharCode(97 + i))];
  return new SpmTokenizer({ pieces, scores: pieces.map(() => 0) });
}

describe('gradients of the tiny model', () => {
  for (const ropeStyle of ['interleaved', 'half'] as const) {
    it(`match central finite differences (${ropeStyle} RoPE, GQA, q/k/v bias, padding)`, async () => {
      const config = tinyConfig(ropeStyle);
      const model = await LlamaModel.fromWeights(config, randomWeights(config, 3),
        tinyTokenizer(config.vocabSize));
      const valueHead = new ValueHead({ dim: config.dim, seed: 1 });
      const tokens = tf.tensor2d([[1, 5, 7, 3, 9, 4], [0, 0, 1, 12, 6, 8]], [2, 6], 'int32');
      const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]]);
      // LM loss plus a value-head term, so gradients flow through logits and hidden states.
      const loss = () => tf.tidy(() => {
        const { logits, hidden } = model.forward(tokens, mask);
        const values = valueHead.apply(hidden);
        return tf.add(causalLmLoss(logits, tokens, mask),
          tf.mean(tf.square(tf.sub(values, 0.5)))) as tf.Scalar;
      });
      const layer0 = model.params.layers[0];
      const layer1 = model.params.layers[1];
      const checked = [model.params.tokenEmbedding, layer0.wq, layer0.wk, layer0.bq!, layer0.attnNorm,
        layer1.w2, layer1.w1, layer1.wo, model.params.finalNorm, model.params.output!,
        valueHead.weight];
      const { grads } = tf.variableGrads(loss, checked);

      const rng = makeRng(9);
      const eps = 1e-2;
      for (const variable of checked) {
        const analytic = grads[variable.name].dataSync();
        const values = Float32Array.from(variable.dataSync());
        // Embedding rows 2, 10, 11 are never used: their gradient must be exactly zero.
        if (variable === model.params.tokenEmbedding) {
          expect(Array.from(analytic.slice(2 * 8, 3 * 8)).every((g) => g === 0)).toBe(true);
          expect(Array.from(analytic.slice(10 * 8, 12 * 8)).every((g) => g === 0)).toBe(true);
        }
        for (let probe = 0; probe < 3; probe++) {
          const index = rng.int(values.length);
          const at = (delta: number) => {
            const moved = Float32Array.from(values);
            moved[index] += delta;
            variable.assign(tf.tensor(moved, variable.shape));
            return loss().dataSync()[0];
          };
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          variable.assign(tf.tensor(values, variable.shape));
          expect(Math.abs(numeric - analytic[index])).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
        }
      }
      expect(Object.values(grads).some((g) => tf.max(tf.abs(g)).dataSync()[0] > 1e-3)).toBe(true);
      Object.values(grads).forEach((g) => g.dispose());
      model.dispose();
      valueHead.dispose();
    });
  }
});

describe('training stories260K', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await LlamaModel.fromLlama2c(join(sharedModelsDir(), 'stories260K', 'stories260K.bin'));
  });
  afterAll(() => model.dispose());

  const batch = () => {
    const texts = ['Tom and Sam played with a blue kite in the big green park.',
      'The cat sat on the mat and looked at the little red bird.'];
    const rows = texts.map((t) => model.tokenizer.encode(t, { bos: true }));
    const T = Math.max(...rows.map((r) => r.length));
    return {
      tokens: tf.tensor2d(rows.map((r) => [...r, ...new Array(T - r.length).fill(0)]), [2, T], 'int32'),
      mask: tf.tensor2d(rows.map((r) => r.map(() => 1).concat(new Array(T - r.length).fill(0)))),
    };
  };

  it('lowers the causal LM loss on a fixed batch with a few AdamW steps, leaking no tensors', async () => {
    const { tokens, mask } = batch();
    const optimizer = new AdamW(model.trainableVariables(), { lr: 1e-3, weightDecay: 0 });
    const loss = () => tf.tidy(() => causalLmLoss(model.forward(tokens, mask).logits, tokens, mask));
    const kernelBefore = model.decodeKernel();
    expect(model.decodeKernel()).toBe(kernelBefore);
    const losses: number[] = [];
    losses.push(trainStep({ loss, optimizer, maxGradNorm: 1 }).loss);
    const tensorsAfterFirstStep = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      losses.push(trainStep({ loss, optimizer, maxGradNorm: 1 }).loss);
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstStep);

    // Generation sees the trained weights: the kernel was rebuilt and agrees with scoring.
    expect(model.decodeKernel()).not.toBe(kernelBefore);
    const prompt = model.tokenizer.encode('Tom and Sam', { bos: true });

    // A generation still running when the weights change finishes on its own kernel.
    const running = model.generate([prompt], { maxNewTokens: 64, seed: 1, stopOnEos: false });
    trainStep({ loss, optimizer, maxGradNorm: 1 });
    const [late] = await model.generate([prompt], { maxNewTokens: 8, seed: 1 });
    expect((await running)[0].tokens.length).toBe(64);
    expect(late.tokens.length).toBeGreaterThan(0);

    const [sample] = await model.generate([prompt], { maxNewTokens: 12, seed: 3 });
    const [scored] = await model.scoreContinuations([prompt], [sample.tokens]);
    sample.logprobs.forEach((lp, i) => expect(Math.abs(lp - scored[i])).toBeLessThan(1e-4));
    const final = loss().dataSync()[0];
    expect(losses[0]).toBeGreaterThan(1);
    expect(final).toBeLessThan(losses[0] * 0.85);
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
    optimizer.dispose();
  });

  it('trains only LoRA adapters, starts from the base logits and merges on export', async () => {
    const base = model.exportWeights();
    const lora = await LlamaModel.fromWeights(model.config, base, model.tokenizer,
      { lora: { rank: 2, targets: ['wq', 'wv'] }, seed: 4 });
    expect(lora.trainableVariables().length).toBe(5 * 2 * 2);
    const { tokens, mask } = batch();
    const logitsOf = (m: LlamaModel) => {
      const { logits, hidden } = m.forward(tokens, mask);
      const values = logits.dataSync();
      logits.dispose();
      hidden.dispose();
      return values;
    };
    const frozenBase = lora.cloneFrozen();
    expect(Array.from(logitsOf(lora))).toEqual(Array.from(logitsOf(frozenBase)));

    const optimizer = new AdamW(lora.trainableVariables(), { lr: 1e-2 });
    const loss = () => tf.tidy(() => causalLmLoss(lora.forward(tokens, mask).logits, tokens, mask));
    const first = trainStep({ loss, optimizer }).loss;
    for (let i = 0; i < 3; i++) trainStep({ loss, optimizer });
    expect(loss().dataSync()[0]).toBeLessThan(first);
    expect(lora.params.layers[0].wk.dataSync()).toEqual(frozenBase.params.layers[0].wk.dataSync());

    const merged = await LlamaModel.fromWeights(model.config, lora.exportWeights(), model.tokenizer);
    const a = logitsOf(lora);
    const b = logitsOf(merged);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-4);
    [lora, frozenBase, merged].forEach((m) => m.dispose());
    optimizer.dispose();
  });

  it('reads rewards at the last real token, whichever side is padded', () => {
    const ids = model.tokenizer.encode('Lily had a red ball', { bos: true });
    const T = ids.length + 2;
    const head = new RewardHead({ dim: model.config.dim, seed: 2 });
    const rewards = tf.tidy(() => {
      const tokens = tf.tensor2d([[...ids, 0, 0], [0, 0, ...ids]], [2, T], 'int32');
      const mask = tf.tensor2d([[...ids.map(() => 1), 0, 0], [0, 0, ...ids.map(() => 1)]]);
      return head.apply(model.forward(tokens, mask).hidden, mask).arraySync();
    });
    const { hidden, expected } = tf.tidy(() => {
      const h = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).hidden.arraySync()[0];
      const last = h[ids.length - 1];
      const w = head.weight.dataSync();
      return { hidden: h, expected: last.reduce((acc, v, i) => acc + v * w[i], 0) };
    });
    expect(hidden.length).toBe(ids.length);
    expect(rewards[0]).toBeCloseTo(expected, 4);
    expect(rewards[1]).toBeCloseTo(expected, 4);

    const value = new ValueHead({ dim: model.config.dim, initScale: 0 });
    const values = tf.tidy(() => value.apply(
      model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).hidden));
    expect(values.shape).toEqual([1, ids.length]);
    expect(Array.from(values.dataSync()).every((v) => v === 0)).toBe(true);
    const state = head.exportState();
    value.importState(state);
    expect(Array.from(value.weight.dataSync())).toEqual(Array.from(state.weight));
    [head, value, values].forEach((t) => t.dispose());
  });

  it('computes token log-probs and entropies matching a direct softmax', () => {
    const logits = tf.tensor3d([[[1, 2, 3], [0, 0, 0]]]);
    const targets = tf.tensor2d([[2, 1]], [1, 2], 'int32');
    const lp = tokenLogprobs(logits, targets).arraySync()[0];
    const z = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(lp[0]).toBeCloseTo(3 - z, 5);
    expect(lp[1]).toBeCloseTo(-Math.log(3), 5);
    const hot = tokenLogprobs(logits, targets, { temperature: 0.5 }).arraySync()[0];
    expect(hot[0]).toBeCloseTo(6 - Math.log(Math.exp(2) + Math.exp(4) + Math.exp(6)), 5);
    const h = entropyFromLogits(logits).arraySync()[0];
    expect(h[1]).toBeCloseTo(Math.log(3), 5);
    const p = [1, 2, 3].map((v) => Math.exp(v - z));
    expect(h[0]).toBeCloseTo(-p.reduce((acc, q) => acc + q * Math.log(q), 0), 5);
    [logits, targets].forEach((t) => t.dispose());
  });
});
