/**
 * Plain-loop reference computations for the model-format tests: a float64 Llama forward pass
 * over LlamaWeights (either RoPE convention, GQA, q/k/v biases, tied output) and seeded random
 * weights. Slow and obvious on purpose, so format conversions can be checked to the logit.
 */
import { makeRng } from '../../util/rng.ts';
import type { LlamaConfig, LlamaLayerWeights, LlamaWeights } from '../types.ts';

/** out[r] = sum_c w[r, c] * x[c] for w [rows, x.length]. */
function matVec(w: Float32Array, x: Float64Array, rows: number): Float64Array {
  const cols = x.length;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += w[r * cols + c] * x[c];
    out[r] = sum;
  }
  return out;
}

function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let squares = 0;
  for (const v of x) squares += v * v;
  const scale = 1 / Math.sqrt(squares / x.length + eps);
  return x.map((v, i) => v * scale * weight[i]);
}

function addBias(x: Float64Array, bias?: Float32Array): Float64Array {
  if (bias) for (let i = 0; i < x.length; i++) x[i] += bias[i];
  return x;
}

/** Rotates each head of `x` in place for position `pos`. */
function rope(x: Float64Array, heads: number, headDim: number, pos: number, config: LlamaConfig): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * config.ropeTheta ** (-(2 * i) / headDim);
      const [a, b] = config.ropeStyle === 'interleaved'
        ? [h * headDim + 2 * i, h * headDim + 2 * i + 1]
        : [h * headDim + i, h * headDim + i + half];
      const [x0, x1] = [x[a], x[b]];
      x[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
      x[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
    }
  }
}

/** Logits [tokens.length][vocab] of one sequence, computed in float64. */
export function referenceLogits(
  config: LlamaConfig,
  weights: LlamaWeights,
  tokens: number[],
): Float64Array[] {
  const { dim, nHeads, nKvHeads, hiddenDim, vocabSize } = config;
  const headDim = dim / nHeads;
  const keys: Float64Array[][] = weights.layers.map(() => []);
  const values: Float64Array[][] = weights.layers.map(() => []);
  const result: Float64Array[] = [];

  tokens.forEach((token, pos) => {
    let x = Float64Array.from(weights.tokenEmbedding.subarray(token * dim, (token + 1) * dim));
    weights.layers.forEach((layer: LlamaLayerWeights, l) => {
      const normed = rmsNorm(x, layer.attnNorm, config.normEps);
      const q = addBias(matVec(layer.wq, normed, nHeads * headDim), layer.bq);
      const k = addBias(matVec(layer.wk, normed, nKvHeads * headDim), layer.bk);
      const v = addBias(matVec(layer.wv, normed, nKvHeads * headDim), layer.bv);
      rope(q, nHeads, headDim, pos, config);
      rope(k, nKvHeads, headDim, pos, config);
      keys[l].push(k);
      values[l].push(v);

      const attended = new Float64Array(nHeads * headDim);
      for (let h = 0; h < nHeads; h++) {
        const kvHead = Math.floor(h / (nHeads / nKvHeads));
        const scores = keys[l].map((key) => {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[h * headDim + d] * key[kvHead * headDim + d];
          return s / Math.sqrt(headDim);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        exps.forEach((e, t) => {
          for (let d = 0; d < headDim; d++) {
            attended[h * headDim + d] += (e / total) * values[l][t][kvHead * headDim + d];
          }
        });
      }
      const projected = matVec(layer.wo, attended, dim);
      x = x.map((value, i) => value + projected[i]);

      const normed2 = rmsNorm(x, layer.ffnNorm, config.normEps);
      const gate = matVec(layer.w1, normed2, hiddenDim);
      const up = matVec(layer.w3, normed2, hiddenDim);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matVec(layer.w2, act, dim);
      x = x.map((value, i) => value + down[i]);
    });
    const final = rmsNorm(x, weights.finalNorm, config.normEps);
    result.push(matVec(weights.output ?? weights.tokenEmbedding, final, vocabSize));
  });
  return result;
}

/** Seeded random weights for `config`, values in about [-scale, scale]. */
export function randomWeights(config: LlamaConfig, seed: number, scale = 0.2): LlamaWeights {
  const rng = makeRng(seed);
  const fill = (n: number, base = 0) =>
    Float32Array.from({ length: n }, () => base + (rng.next() * 2 - 1) * scale);
  const headDim = config.dim / config.nHeads;
  const qDim = config.nHeads * headDim;
  const kvDim = config.nKvHeads * headDim;
  const layers = Array.from({ length: config.nLayers }, (): LlamaLayerWeights => ({
    attnNorm: fill(config.dim, 1),
    wq: fill(qDim * config.dim),
    wk: fill(kvDim * config.dim),
    wv: fill(kvDim * config.dim),
    wo: fill(config.dim * qDim),
    ...(config.qkvBias ? { bq: fill(qDim), bk: fill(kvDim), bv: fill(kvDim) } : {}),
    ffnNorm: fill(config.dim, 1),
    w1: fill(config.hiddenDim * config.dim),
    w2: fill(config.dim * config.hiddenDim),
    w3: fill(config.hiddenDim * config.dim),
  }));
  return {
    tokenEmbedding: fill(config.vocabSize * config.dim, 0),
    layers,
    finalNorm: fill(config.dim, 1),
    ...(config.tiedEmbeddings ? {} : { output: fill(config.vocabSize * config.dim) }),
  };
}

/** Largest absolute difference between two logit tables. */
export function maxLogitDifference(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let worst = 0;
  a.forEach((row, t) => {
    for (let i = 0; i < row.length; i++) worst = Math.max(worst, Math.abs(row[i] - b[t][i]));
  });
  return worst;
}
