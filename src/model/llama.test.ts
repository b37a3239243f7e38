import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import { LlamaModel } from './llama.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';

const modelDir = join(sharedModelsDir(), 'stories260K');
const README_SENTENCE =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

/**
 * An independent llama2.c-style forward pass in float64 plain loops, reading the checkpoint
 * bytes itself: one token at a time with a KV cache, interleaved RoPE, GQA, SwiGLU, tied output.
 */
class PlainLlama {
  readonly dim: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  private readonly f: Float32Array;
  private readonly off: Record<string, number> = {};
  private keyCache: number[][][] = [];
  private valueCache: number[][][] = [];

  constructor(bytes: Buffer) {
    const header = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 28));
    [this.dim, this.hidden, this.layers, this.heads, this.kvHeads, this.vocab] = header;
    this.f = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 28));
    const d = this.dim;
    const kv = (d / this.heads) * this.kvHeads;
    const sizes: [string, number][] = [
      ['emb', this.vocab * d], ['attNorm', d], ['wq', d * d], ['wk', kv * d], ['wv', kv * d],
      ['wo', d * d], ['ffnNorm', d], ['w1', this.hidden * d], ['w2', d * this.hidden],
      ['w3', this.hidden * d],
    ];
    let at = 0;
    for (const [name, size] of sizes) {
      this.off[name] = at;
      at += name === 'emb' ? size : size * this.layers;
    }
    this.off.finalNorm = at;
  }

  reset(): void {
    this.keyCache = Array.from({ length: this.layers }, () => []);
    this.valueCache = Array.from({ length: this.layers }, () => []);
  }

  private matvec(name: string, layer: number, rows: number, x: number[]): number[] {
    const cols = x.length;
    const base = this.off[name] + layer * rows * cols;
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += this.f[base + r * cols + c] * x[c];
      out.push(s);
    }
    return out;
  }

  private norm(x: number[], base: number): number[] {
    const ss = x.reduce((a, v) => a + v * v, 0) / x.length;
    const k = 1 / Math.sqrt(ss + 1e-5);
    return x.map((v, i) => v * k * this.f[base + i]);
  }

  /** Logits after feeding `token` at position `pos`. */
  step(token: number, pos: number): number[] {
    const d = this.dim;
    const hs = d / this.heads;
    const kvDim = hs * this.kvHeads;
    let x = Array.from(this.f.subarray(token * d, token * d + d));
    for (let l = 0; l < this.layers; l++) {
      const xb = this.norm(x, this.off.attNorm + l * d);
      const q = this.matvec('wq', l, d, xb);
      const k = this.matvec('wk', l, kvDim, xb);
      const v = this.matvec('wv', l, kvDim, xb);
      for (let i = 0; i < d; i += 2) {
        const freq = 1 / Math.pow(10000, (i % hs) / hs);
        const c = Math.cos(pos * freq);
        const s = Math.sin(pos * freq);
        const rot = (vec: number[]) => {
          const [a, b] = [vec[i], vec[i + 1]];
          vec[i] = a * c - b * s;
          vec[i + 1] = a * s + b * c;
        };
        rot(q);
        if (i < kvDim) rot(k);
      }
      this.keyCache[l].push(k);
      this.valueCache[l].push(v);
      const att: number[] = new Array(d).fill(0);
      for (let h = 0; h < this.heads; h++) {
        const kvh = Math.floor(h / (this.heads / this.kvHeads));
        const scores = this.keyCache[l].map((kk) => {
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[h * hs + i] * kk[kvh * hs + i];
          return s / Math.sqrt(hs);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        this.valueCache[l].forEach((vv, t) => {
          for (let i = 0; i < hs; i++) att[h * hs + i] += (e[t] / z) * vv[kvh * hs + i];
        });
      }
      const o = this.matvec('wo', l, d, att);
      x = x.map((v, i) => v + o[i]);
      const xb2 = this.norm(x, this.off.ffnNorm + l * d);
      const g = this.matvec('w1', l, this.hidden, xb2);
      const u = this.matvec('w3', l, this.hidden, xb2);
      const hAct = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const down = this.matvec('w2', l, d, hAct);
      x = x.map((v, i) => v + down[i]);
    }
    const final = this.norm(x, this.off.finalNorm);
    const logits: number[] = [];
    for (let t = 0; t < this.vocab; t++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += this.f[t * d + i] * final[i];
      logits.push(s);
    }
    return logits;
  }
}

/** Logits [T, V] of each row of `rows` (equal lengths) as nested arrays. */
function logitsOf(model: LlamaModel, rows: number[][], mask?: number[][]): number[][][] {
  const tokens = tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');
  const maskTensor = mask ? tf.tensor2d(mask) : undefined;
  const { logits, hidden } = model.forward(tokens, maskTensor);
  const values = logits.arraySync();
  [tokens, maskTensor, logits, hidden].forEach((t) => t?.dispose());
  return values;
}

const argmax = (xs: number[]) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0);

describe('LlamaModel on stories260K', () => {
  let model: LlamaModel;
  let prompt: number[];
  const reference = { ids: [] as number[], logits: [] as number[][] };
  const NEW_TOKENS = 64;

  beforeAll(async () => {
    model = await LlamaModel.fromLlama2c(join(modelDir, 'stories260K.bin'));
    prompt = model.tokenizer.encode('Once upon a time', { bos: true });

    const plain = new PlainLlama(readFileSync(join(modelDir, 'stories260K.bin')));
    plain.reset();
    const sequence = [...prompt];
    for (let pos = 0; pos < prompt.length + NEW_TOKENS - 1; pos++) {
      const logits = plain.step(sequence[pos], pos);
      reference.logits.push(logits);
      if (pos >= prompt.length - 1) sequence.push(argmax(logits));
    }
    reference.ids = sequence.slice(prompt.length);
  });

  it('decodes greedily exactly the plain-loop reference, which begins as the README says', async () => {
    const [result] = await model.generate([prompt], {
      maxNewTokens: NEW_TOKENS, temperature: 0, stopOnEos: false,
    });
    expect(result.tokens).toEqual(reference.ids);
    expect(result.finishReason).toBe('length');
    const text = model.tokenizer.decode([...prompt, ...result.tokens]);
    expect(text.startsWith(README_SENTENCE)).toBe(true);
    expect(`Once upon a time${result.text}`).toBe(text);
  });

  it('gives forward logits within 1e-4 of the plain loop at every position', () => {
    const ids = [...prompt, ...reference.ids.slice(0, NEW_TOKENS - 1)];
    const logits = logitsOf(model, [ids])[0];
    let maxDiff = 0;
    logits.forEach((row, t) => row.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - reference.logits[t][i]));
    }));
    expect(logits.length).toBe(reference.logits.length);
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('samples the same tokens batched and one at a time for the same seed', async () => {
    const tk = model.tokenizer;
    const prompts = ['Tom had a dog', 'Once upon a time', 'The sun was hot and'].map((text) =>
      tk.encode(text, { bos: true }));
    const options = { maxNewTokens: 40, temperature: 0.9, topK: 50, topP: 0.95, seed: 11 };
    const batched = await model.generate(prompts, options);
    for (let i = 0; i < prompts.length; i++) {
      const [alone] = await model.generate([prompts[i]], { ...options, sequenceIds: [i] });
      expect(alone.tokens).toEqual(batched[i].tokens);
      expect(alone.logprobs).toEqual(batched[i].logprobs);
    }
    // Different streams really differ, and another seed changes the sample.
    expect(batched[1].tokens).not.toEqual(
      (await model.generate([prompts[1]], { ...options, sequenceIds: [0] }))[0].tokens);
    const reseeded = await model.generate(prompts, { ...options, seed: 12 });
    expect(reseeded.map((r) => r.tokens)).not.toEqual(batched.map((r) => r.tokens));
  });

  it('records sampled log-probs equal to teacher-forced ones within 1e-4', async () => {
    const prompts = [prompt, model.tokenizer.encode('Lily saw a cat', { bos: true })];
    const results = await model.generate(prompts, { maxNewTokens: 48, seed: 5, stopOnEos: false });
    const scored = await model.scoreContinuations(prompts, results.map((r) => r.tokens));
    results.forEach((result, b) => {
      expect(scored[b].length).toBe(result.tokens.length);
      result.logprobs.forEach((lp, i) => expect(Math.abs(lp - scored[b][i])).toBeLessThan(1e-4));
      result.entropies.forEach((h) => expect(h).toBeGreaterThan(0));
    });
    // With a temperature, both sides use softmax(logits / T).
    const hot = await model.generate([prompt], { maxNewTokens: 16, seed: 6, temperature: 0.6 });
    const hotScored = await model.scoreContinuations([prompt], [hot[0].tokens], { temperature: 0.6 });
    hot[0].logprobs.forEach((lp, i) => expect(Math.abs(lp - hotScored[0][i])).toBeLessThan(1e-4));
  });

  it('gives padded rows (left or right) the logits of the unpadded sequences', () => {
    const a = [...prompt, ...reference.ids.slice(0, 7)]; // 12 tokens
    const b = prompt.slice(0, 3); // 3 tokens
    const alone = (ids: number[]) => logitsOf(model, [ids])[0];
    const T = a.length;
    const leftPadded = [...new Array(T - b.length).fill(0), ...b];
    const rightPadded = [...b, ...new Array(T - b.length).fill(0)];
    const mask = [
      new Array(T).fill(1),
      [...new Array(T - b.length).fill(0), ...new Array(b.length).fill(1)],
      [...new Array(b.length).fill(1), ...new Array(T - b.length).fill(0)],
    ];
    const batch = logitsOf(model, [a, leftPadded, rightPadded], mask);
    const maxDiff = (x: number[][], y: number[][]) =>
      Math.max(...x.flatMap((row, t) => row.map((v, i) => Math.abs(v - y[t][i]))));
    expect(maxDiff(batch[0], alone(a))).toBeLessThan(1e-4);
    const bAlone = alone(b);
    expect(maxDiff(batch[1].slice(T - b.length), bAlone)).toBeLessThan(1e-4);
    expect(maxDiff(batch[2].slice(0, b.length), bAlone)).toBeLessThan(1e-4);
  });

  it('stops at stop strings and reports EOS', async () => {
    const [stopped] = await model.generate([prompt], {
      maxNewTokens: 40, temperature: 0, stop: ['Lily'],
    });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.text).toBe(', there was a little girl named ');
    // The token ' Lily' straddles the stop string, so it is dropped with the space it carries.
    expect(model.tokenizer.decode(stopped.tokens)).toBe(', there was a little girl named');
    expect(stopped.tokens).toEqual(reference.ids.slice(0, stopped.tokens.length));

    const sampled = await model.generate(new Array(8).fill(prompt), { maxNewTokens: 300, seed: 2 });
    const ended = sampled.filter((r) => r.finishReason === 'eos');
    expect(ended.length).toBeGreaterThan(0);
    for (const r of ended) {
      // llama2.c models end a story with BOS; fromLlama2c counts it as an end token.
      expect(model.endTokens).toContain(r.tokens.at(-1));
      expect(r.tokens.slice(0, -1).some((t) => model.endTokens.includes(t))).toBe(false);
    }
    for (const r of sampled.filter((s) => s.finishReason === 'length')) {
      expect(r.tokens.length).toBe(300);
    }
  });

  it('exports the weights it was given and clones a frozen copy', async () => {
    const { weights } = await loadLlama2cCheckpoint(join(modelDir, 'stories260K.bin'));
    const exported = model.exportWeights();
    expect(exported.tokenEmbedding).toEqual(weights.tokenEmbedding);
    expect(exported.layers[3].wo).toEqual(weights.layers[3].wo);
    expect(exported.layers[4].w2).toEqual(weights.layers[4].w2);
    const frozen = model.cloneFrozen();
    expect(frozen.trainableVariables()).toEqual([]);
    expect(model.trainableVariables().length).toBe(1 + 5 * 9 + 1);
    const [a, b] = await Promise.all([model, frozen].map((m) =>
      m.generate([prompt], { maxNewTokens: 10, temperature: 0 })));
    expect(b[0].tokens).toEqual(a[0].tokens);
    frozen.dispose();
  });
});
