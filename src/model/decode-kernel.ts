/**
 * Fused decode step over plain Float32Arrays, for sampling with a KV cache (no gradients).
 *
 * Why not TensorFlow.js here: one decode step of a small model is ~150 tiny ops, and each op
 * costs ~20-40 µs of dispatch on the wasm backend, so a step took milliseconds while its
 * arithmetic takes microseconds (bench/engine.ts measures both). Training keeps using
 * TensorFlow.js; this kernel only reads a snapshot of the weights.
 */
import type { LlamaParams } from './llama-params.ts';
import { exportParams } from './llama-params.ts';
import type { RopeTables } from './rope.ts';
import type { LlamaConfig, LlamaWeights } from './types.ts';

/** Weights in the file layout ([out, in]), LoRA merged; the output matrix resolved. */
export interface KernelWeights extends LlamaWeights {
  output: Float32Array; // [vocab, dim], the embedding itself when tied
}

export function kernelWeightsFromParams(config: LlamaConfig, params: LlamaParams): KernelWeights {
  const weights = exportParams(config, params);
  return { ...weights, output: weights.output ?? weights.tokenEmbedding };
}

/** One sequence's KV cache: keys and values of every layer at every position so far. */
export class KvCache {
  readonly keys: Float32Array; // [nLayers, capacity, kvDim]
  readonly values: Float32Array; // [nLayers, capacity, kvDim]
  length = 0;

  constructor(readonly capacity: number, nLayers: number, readonly kvDim: number) {
    this.keys = new Float32Array(nLayers * capacity * kvDim);
    this.values = new Float32Array(nLayers * capacity * kvDim);
  }
}

export class DecodeKernel {
  private readonly headDim: number;
  private readonly qDim: number;
  private readonly kvDim: number;
  private scratchRows = 0;
  private x = new Float32Array(0); // [rows, dim] residual stream
  private xb = new Float32Array(0); // [rows, dim] normed input
  private q = new Float32Array(0); // [rows, qDim]
  private k = new Float32Array(0); // [rows, kvDim]
  private v = new Float32Array(0); // [rows, kvDim]
  private att = new Float32Array(0); // [rows, qDim]
  private proj = new Float32Array(0); // [rows, dim]
  private gate = new Float32Array(0); // [rows, hiddenDim]
  private up = new Float32Array(0); // [rows, hiddenDim]
  private scores = new Float32Array(0); // [maxSeqLen]

  constructor(readonly config: LlamaConfig, readonly weights: KernelWeights,
    private readonly rope: RopeTables) {
    this.headDim = config.dim / config.nHeads;
    this.qDim = config.nHeads * this.headDim;
    this.kvDim = config.nKvHeads * this.headDim;
    this.scores = new Float32Array(config.maxSeqLen);
  }

  newCache(capacity: number): KvCache {
    return new KvCache(Math.min(capacity, this.config.maxSeqLen), this.config.nLayers, this.kvDim);
  }

  /**
   * Feeds tokens[r] to caches[r] at that cache's next position, for every row r. Returns the
   * logits [rows, vocab] of the rows with wantLogits[r] (other rows' entries are left zero).
   */
  step(caches: KvCache[], tokens: ArrayLike<number>, wantLogits: ArrayLike<boolean>): Float32Array {
    const rows = caches.length;
    const { dim, hiddenDim, vocabSize, nLayers, normEps } = this.config;
    this.ensureScratch(rows);
    const w = this.weights;
    const { x, xb, q, k, v, att, proj, gate, up } = this;

    for (let r = 0; r < rows; r++) {
      const cache = caches[r];
      if (cache.length >= cache.capacity) throw new RangeError('KV cache is full');
      const token = tokens[r];
      if (!(token >= 0 && token < vocabSize)) throw new RangeError(`token ${token} out of range`);
      x.set(w.tokenEmbedding.subarray(token * dim, (token + 1) * dim), r * dim);
    }

    for (let l = 0; l < nLayers; l++) {
      const layer = w.layers[l];
      rmsNormRows(xb, x, layer.attnNorm, rows, dim, normEps);
      matmulRows(q, xb, layer.wq, rows, dim, this.qDim, layer.bq);
      matmulRows(k, xb, layer.wk, rows, dim, this.kvDim, layer.bk);
      matmulRows(v, xb, layer.wv, rows, dim, this.kvDim, layer.bv);
      for (let r = 0; r < rows; r++) {
        const cache = caches[r];
        const pos = cache.length;
        this.rotate(q, r * this.qDim, this.qDim, pos);
        this.rotate(k, r * this.kvDim, this.kvDim, pos);
        const slot = (l * cache.capacity + pos) * this.kvDim;
        cache.keys.set(k.subarray(r * this.kvDim, (r + 1) * this.kvDim), slot);
        cache.values.set(v.subarray(r * this.kvDim, (r + 1) * this.kvDim), slot);
        this.attend(att, r, cache, l, pos);
      }
      matmulRows(proj, att, layer.wo, rows, this.qDim, dim);
      for (let i = 0; i < rows * dim; i++) x[i] += proj[i];

      rmsNormRows(xb, x, layer.ffnNorm, rows, dim, normEps);
      matmulRows(gate, xb, layer.w1, rows, dim, hiddenDim);
      matmulRows(up, xb, layer.w3, rows, dim, hiddenDim);
      for (let i = 0; i < rows * hiddenDim; i++) {
        const g = gate[i];
        gate[i] = (g / (1 + Math.exp(-g))) * up[i];
      }
      matmulRows(proj, gate, layer.w2, rows, hiddenDim, dim);
      for (let i = 0; i < rows * dim; i++) x[i] += proj[i];
    }
    for (const cache of caches) cache.length++;

    rmsNormRows(xb, x, w.finalNorm, rows, dim, normEps);
    const logits = new Float32Array(rows * vocabSize);
    for (let r = 0; r < rows; r++) {
      if (!wantLogits[r]) continue;
      matmulRows(logits.subarray(r * vocabSize, (r + 1) * vocabSize),
        xb.subarray(r * dim, (r + 1) * dim), w.output, 1, dim, vocabSize);
    }
    return logits;
  }

  private rotate(values: Float32Array, offset: number, width: number, pos: number): void {
    const half = this.rope.half;
    const headDim = this.headDim;
    const cos = this.rope.cos;
    const sin = this.rope.sin;
    const base = pos * half;
    if (this.config.ropeStyle === 'interleaved') {
      for (let i = 0; i < width; i += 2) {
        const j = (i % headDim) >> 1;
        const c = cos[base + j];
        const s = sin[base + j];
        const a = values[offset + i];
        const b = values[offset + i + 1];
        values[offset + i] = a * c - b * s;
        values[offset + i + 1] = a * s + b * c;
      }
      return;
    }
    for (let h = offset; h < offset + width; h += headDim) {
      for (let j = 0; j < half; j++) {
        const c = cos[base + j];
        const s = sin[base + j];
        const a = values[h + j];
        const b = values[h + j + half];
        values[h + j] = a * c - b * s;
        values[h + j + half] = a * s + b * c;
      }
    }
  }

  /** Causal attention of row r's query over its cache positions 0..pos, into att. */
  private attend(att: Float32Array, r: number, cache: KvCache, layer: number, pos: number): void {
    const { nHeads, nKvHeads } = this.config;
    const headDim = this.headDim;
    const kvDim = this.kvDim;
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headDim);
    // Locals rather than property reads inside the hot loops.
    const q = this.q;
    const keys = cache.keys;
    const values = cache.values;
    const scores = this.scores;
    const layerBase = layer * cache.capacity * kvDim;
    for (let h = 0; h < nHeads; h++) {
      const qOff = r * this.qDim + h * headDim;
      const kvOff = layerBase + Math.floor(h / group) * headDim;
      let max = -Infinity;
      for (let t = 0, kOff = kvOff; t <= pos; t++, kOff += kvDim) {
        let dot = 0;
        for (let i = 0; i < headDim; i++) dot += q[qOff + i] * keys[kOff + i];
        const s = dot * scale;
        scores[t] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let t = 0; t <= pos; t++) {
        const e = Math.exp(scores[t] - max);
        scores[t] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let i = 0; i < headDim; i++) att[qOff + i] = 0;
      for (let t = 0, vOff = kvOff; t <= pos; t++, vOff += kvDim) {
        const p = scores[t] * inv;
        for (let i = 0; i < headDim; i++) att[qOff + i] += p * values[vOff + i];
      }
    }
  }

  private ensureScratch(rows: number): void {
    if (rows <= this.scratchRows) return;
    const { dim, hiddenDim } = this.config;
    this.scratchRows = rows;
    this.x = new Float32Array(rows * dim);
    this.xb = new Float32Array(rows * dim);
    this.q = new Float32Array(rows * this.qDim);
    this.k = new Float32Array(rows * this.kvDim);
    this.v = new Float32Array(rows * this.kvDim);
    this.att = new Float32Array(rows * this.qDim);
    this.proj = new Float32Array(rows * dim);
    this.gate = new Float32Array(rows * hiddenDim);
    this.up = new Float32Array(rows * hiddenDim);
  }
}

function rmsNormRows(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number,
  dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[off + i] * x[off + i];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[off + i] = x[off + i] * inv * weight[i];
  }
}

/**
 * out[r, o] = sum_i x[r, i] * w[o, i] (+ bias[o]) with w in [out, in] layout. The weight row
 * is reused across the batch rows while it is hot in cache.
 */
function matmulRows(out: Float32Array, x: Float32Array, w: Float32Array, rows: number,
  inDim: number, outDim: number, bias?: Float32Array): void {
  const tail = inDim & ~3;
  for (let o = 0; o < outDim; o++) {
    const wOff = o * inDim;
    const b = bias ? bias[o] : 0;
    for (let r = 0; r < rows; r++) {
      const xOff = r * inDim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i < tail; i += 4) {
        s0 += x[xOff + i] * w[wOff + i];
        s1 += x[xOff + i + 1] * w[wOff + i + 1];
        s2 += x[xOff + i + 2] * w[wOff + i + 2];
        s3 += x[xOff + i + 3] * w[wOff + i + 3];
      }
      for (; i < inDim; i++) s0 += x[xOff + i] * w[wOff + i];
      out[r * outDim + o] = s0 + s1 + s2 + s3 + b;
    }
  }
}
