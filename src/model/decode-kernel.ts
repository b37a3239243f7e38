/**
 * Fused decode step over plain Float32Arrays, for sampling with a KV cache (no gradients).
 *
 * Why not TensorFlow.js here: one decode step of a small model is ~150 tiny ops, and each op
 * costs ~20-40 µs of dispatch on the wasm backend, so a step took milliseconds while its
 * arithmetic takes microseconds (bench/engine.ts measures both). The matrix products go to the
 * backend's matMul kernel directly (WasmDense, weights packed once, q/k/v and gate/up fused);
 * norms, RoPE, attention and sampling run as plain loops. Training keeps using TensorFlow.js;
 * this kernel reads a snapshot of the weights and must be disposed.
 */
import { WasmDense } from './backend.ts';
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

interface SmallWeights {
  tokenEmbedding: Float32Array; // [vocab, dim]
  finalNorm: Float32Array; // [dim]
  layers: Pick<LlamaWeights['layers'][number], 'attnNorm' | 'ffnNorm' | 'bq' | 'bk' | 'bv'>[];
}

interface LayerDense {
  qkv: WasmDense; // [dim, qDim + 2 kvDim]
  wo: WasmDense; // [qDim, dim]
  gateUp: WasmDense; // [dim, 2 hiddenDim]
  down: WasmDense; // [hiddenDim, dim]
}

export class DecodeKernel {
  private readonly headDim: number;
  private readonly qDim: number;
  private readonly kvDim: number;
  private readonly layers: LayerDense[];
  private readonly output: WasmDense; // [dim, vocab]
  private scratchRows = 0;
  private x = new Float32Array(0); // [rows, dim] residual stream
  private xb = new Float32Array(0); // [rows, dim] normed input
  private qkv = new Float32Array(0); // [rows, qDim + 2 kvDim]
  private att = new Float32Array(0); // [rows, qDim]
  private proj = new Float32Array(0); // [rows, dim]
  private gateUp = new Float32Array(0); // [rows, 2 hiddenDim]
  private act = new Float32Array(0); // [rows, hiddenDim]
  private scores = new Float64Array(0); // [maxSeqLen]
  private scoresPair = new Float64Array(0); // [maxSeqLen], the second head of a pair

  /** What the loops read directly: embedding, norms and biases (matrices live in WasmDense). */
  private readonly weights: SmallWeights;

  constructor(readonly config: LlamaConfig, weights: KernelWeights,
    private readonly rope: RopeTables) {
    const { dim, hiddenDim, vocabSize } = config;
    this.headDim = dim / config.nHeads;
    this.qDim = config.nHeads * this.headDim;
    this.kvDim = config.nKvHeads * this.headDim;
    this.scores = new Float64Array(config.maxSeqLen);
    this.scoresPair = new Float64Array(config.maxSeqLen);
    const kv = this.kvDim;
    this.layers = weights.layers.map((w) => ({
      qkv: new WasmDense(packColumns([[w.wq, this.qDim], [w.wk, kv], [w.wv, kv]], dim),
        dim, this.qDim + 2 * kv),
      wo: new WasmDense(packColumns([[w.wo, dim]], this.qDim), this.qDim, dim),
      gateUp: new WasmDense(packColumns([[w.w1, hiddenDim], [w.w3, hiddenDim]], dim),
        dim, 2 * hiddenDim),
      down: new WasmDense(packColumns([[w.w2, dim]], hiddenDim), hiddenDim, dim),
    }));
    this.output = new WasmDense(packColumns([[weights.output, vocabSize]], dim), dim, vocabSize);
    // Keep no second copy of the matrices on the JS heap.
    this.weights = {
      tokenEmbedding: weights.tokenEmbedding,
      finalNorm: weights.finalNorm,
      layers: weights.layers.map(({ attnNorm, ffnNorm, bq, bk, bv }) =>
        ({ attnNorm, ffnNorm, bq, bk, bv })),
    };
  }

  /** Frees the weights held on the wasm heap. */
  dispose(): void {
    for (const layer of this.layers) {
      for (const dense of Object.values(layer)) dense.dispose();
    }
    this.output.dispose();
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
    const { x, xb, qkv, att, proj, gateUp, act } = this;
    const qDim = this.qDim;
    const kvDim = this.kvDim;
    const qkvWidth = qDim + 2 * kvDim;

    for (let r = 0; r < rows; r++) {
      const cache = caches[r];
      if (cache.length >= cache.capacity) throw new RangeError('KV cache is full');
      const token = tokens[r];
      if (!(token >= 0 && token < vocabSize)) throw new RangeError(`token ${token} out of range`);
      x.set(w.tokenEmbedding.subarray(token * dim, (token + 1) * dim), r * dim);
    }

    for (let l = 0; l < nLayers; l++) {
      const layer = w.layers[l];
      const dense = this.layers[l];
      rmsNormRows(xb, x, layer.attnNorm, rows, dim, normEps);
      dense.qkv.multiply(xb, rows, qkv);
      for (let r = 0; r < rows; r++) {
        const base = r * qkvWidth;
        if (layer.bq) {
          addInto(qkv, base, layer.bq);
          addInto(qkv, base + qDim, layer.bk!);
          addInto(qkv, base + qDim + kvDim, layer.bv!);
        }
        const cache = caches[r];
        const pos = cache.length;
        this.rotate(qkv, base, qDim, pos);
        this.rotate(qkv, base + qDim, kvDim, pos);
        const slot = (l * cache.capacity + pos) * kvDim;
        cache.keys.set(qkv.subarray(base + qDim, base + qDim + kvDim), slot);
        cache.values.set(qkv.subarray(base + qDim + kvDim, base + qkvWidth), slot);
        this.attend(att, r, base, cache, l, pos);
      }
      dense.wo.multiply(att, rows, proj);
      for (let i = 0; i < rows * dim; i++) x[i] += proj[i];

      rmsNormRows(xb, x, layer.ffnNorm, rows, dim, normEps);
      dense.gateUp.multiply(xb, rows, gateUp);
      for (let r = 0; r < rows; r++) {
        const src = r * 2 * hiddenDim;
        const dst = r * hiddenDim;
        for (let i = 0; i < hiddenDim; i++) {
          const g = gateUp[src + i];
          act[dst + i] = (g / (1 + Math.exp(-g))) * gateUp[src + hiddenDim + i];
        }
      }
      dense.down.multiply(act, rows, proj);
      for (let i = 0; i < rows * dim; i++) x[i] += proj[i];
    }
    for (const cache of caches) cache.length++;

    // Classifier only for the rows that sample now, packed together.
    const wanted: number[] = [];
    for (let r = 0; r < rows; r++) if (wantLogits[r]) wanted.push(r);
    const logits = new Float32Array(rows * vocabSize);
    if (wanted.length > 0) {
      const packed = new Float32Array(wanted.length * dim);
      wanted.forEach((r, i) => rmsNormRows(packed.subarray(i * dim, (i + 1) * dim),
        x.subarray(r * dim, (r + 1) * dim), w.finalNorm, 1, dim, normEps));
      const out = new Float32Array(wanted.length * vocabSize);
      this.output.multiply(packed, wanted.length, out);
      wanted.forEach((r, i) => logits.set(out.subarray(i * vocabSize, (i + 1) * vocabSize), r * vocabSize));
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

  /** Causal attention of row r's query (at qkv[qBase..]) over cache positions 0..pos. */
  private attend(att: Float32Array, r: number, qBase: number, cache: KvCache, layer: number,
    pos: number): void {
    const { nHeads, nKvHeads } = this.config;
    const headDim = this.headDim;
    const kvDim = this.kvDim;
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headDim);
    // Locals rather than property reads inside the hot loops.
    const q = this.qkv;
    const keys = cache.keys;
    const values = cache.values;
    const scores = this.scores;
    const layerBase = layer * cache.capacity * kvDim;
    // Unrolled by four over the head dimension (head sizes are multiples of 4 in practice;
    // the tail loop covers the rest), which roughly halves the time of these loops in V8.
    const head4 = headDim & ~3;
    let h = 0;
    if (group % 2 === 0 && headDim % 4 === 0) {
      for (; h < nHeads; h += 2) {
        this.attendPair(att, r * this.qDim + h * headDim, qBase + h * headDim,
          layerBase + Math.floor(h / group) * headDim, keys, values, pos);
      }
    }
    for (; h < nHeads; h++) {
      const qOff = qBase + h * headDim;
      const outOff = r * this.qDim + h * headDim;
      const kvOff = layerBase + Math.floor(h / group) * headDim;
      let max = -Infinity;
      for (let t = 0, kOff = kvOff; t <= pos; t++, kOff += kvDim) {
        let d0 = 0;
        let d1 = 0;
        let i = 0;
        for (; i < head4; i += 4) {
          d0 += q[qOff + i] * keys[kOff + i] + q[qOff + i + 2] * keys[kOff + i + 2];
          d1 += q[qOff + i + 1] * keys[kOff + i + 1] + q[qOff + i + 3] * keys[kOff + i + 3];
        }
        for (; i < headDim; i++) d0 += q[qOff + i] * keys[kOff + i];
        const s = (d0 + d1) * scale;
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
      for (let i = 0; i < headDim; i += 4) {
        // Accumulate four output dimensions at a time in locals, over all positions.
        const width = Math.min(4, headDim - i);
        let o0 = 0;
        let o1 = 0;
        let o2 = 0;
        let o3 = 0;
        for (let t = 0, vOff = kvOff + i; t <= pos; t++, vOff += kvDim) {
          const p = scores[t];
          o0 += p * values[vOff];
          if (width > 1) o1 += p * values[vOff + 1];
          if (width > 2) o2 += p * values[vOff + 2];
          if (width > 3) o3 += p * values[vOff + 3];
        }
        att[outOff + i] = o0 * inv;
        if (width > 1) att[outOff + i + 1] = o1 * inv;
        if (width > 2) att[outOff + i + 2] = o2 * inv;
        if (width > 3) att[outOff + i + 3] = o3 * inv;
      }
    }
  }

  /**
   * Two query heads that share a KV head, in one pass over the cache: each key and value is
   * loaded once for both, which halves the loop overhead that dominates at small head sizes.
   */
  private attendPair(att: Float32Array, outOff: number, qOff: number, kvOff: number,
    keys: Float32Array, values: Float32Array, pos: number): void {
    const headDim = this.headDim;
    const kvDim = this.kvDim;
    const scale = 1 / Math.sqrt(headDim);
    const q = this.qkv;
    const scoresA = this.scores;
    const scoresB = this.scoresPair;
    let maxA = -Infinity;
    let maxB = -Infinity;
    for (let t = 0, kOff = kvOff; t <= pos; t++, kOff += kvDim) {
      let a = 0;
      let b = 0;
      for (let i = 0; i < headDim; i += 4) {
        const k0 = keys[kOff + i];
        const k1 = keys[kOff + i + 1];
        const k2 = keys[kOff + i + 2];
        const k3 = keys[kOff + i + 3];
        const qa = qOff + i;
        const qb = qOff + headDim + i;
        a += q[qa] * k0 + q[qa + 1] * k1 + q[qa + 2] * k2 + q[qa + 3] * k3;
        b += q[qb] * k0 + q[qb + 1] * k1 + q[qb + 2] * k2 + q[qb + 3] * k3;
      }
      a *= scale;
      b *= scale;
      scoresA[t] = a;
      scoresB[t] = b;
      if (a > maxA) maxA = a;
      if (b > maxB) maxB = b;
    }
    let sumA = 0;
    let sumB = 0;
    for (let t = 0; t <= pos; t++) {
      const ea = Math.exp(scoresA[t] - maxA);
      const eb = Math.exp(scoresB[t] - maxB);
      scoresA[t] = ea;
      scoresB[t] = eb;
      sumA += ea;
      sumB += eb;
    }
    const invA = 1 / sumA;
    const invB = 1 / sumB;
    for (let i = 0; i < headDim; i += 4) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let b0 = 0;
      let b1 = 0;
      let b2 = 0;
      let b3 = 0;
      for (let t = 0, vOff = kvOff + i; t <= pos; t++, vOff += kvDim) {
        const pa = scoresA[t];
        const pb = scoresB[t];
        const v0 = values[vOff];
        const v1 = values[vOff + 1];
        const v2 = values[vOff + 2];
        const v3 = values[vOff + 3];
        a0 += pa * v0;
        a1 += pa * v1;
        a2 += pa * v2;
        a3 += pa * v3;
        b0 += pb * v0;
        b1 += pb * v1;
        b2 += pb * v2;
        b3 += pb * v3;
      }
      att[outOff + i] = a0 * invA;
      att[outOff + i + 1] = a1 * invA;
      att[outOff + i + 2] = a2 * invA;
      att[outOff + i + 3] = a3 * invA;
      att[outOff + headDim + i] = b0 * invB;
      att[outOff + headDim + i + 1] = b1 * invB;
      att[outOff + headDim + i + 2] = b2 * invB;
      att[outOff + headDim + i + 3] = b3 * invB;
    }
  }

  private ensureScratch(rows: number): void {
    if (rows <= this.scratchRows) return;
    const { dim, hiddenDim } = this.config;
    this.scratchRows = rows;
    this.x = new Float32Array(rows * dim);
    this.xb = new Float32Array(rows * dim);
    this.qkv = new Float32Array(rows * (this.qDim + 2 * this.kvDim));
    this.att = new Float32Array(rows * this.qDim);
    this.proj = new Float32Array(rows * dim);
    this.gateUp = new Float32Array(rows * 2 * hiddenDim);
    this.act = new Float32Array(rows * hiddenDim);
  }
}

function addInto(values: Float32Array, offset: number, bias: Float32Array): void {
  for (let i = 0; i < bias.length; i++) values[offset + i] += bias[i];
}

/**
 * [in, out] matrix whose columns are the rows of the given [out_i, in] matrices, side by side:
 * the layout the matMul kernel wants, with several projections of one input fused.
 */
function packColumns(parts: [Float32Array, number][], inDim: number): Float32Array {
  const width = parts.reduce((sum, [, out]) => sum + out, 0);
  const packed = new Float32Array(inDim * width);
  let column = 0;
  for (const [values, out] of parts) {
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inDim; i++) packed[i * width + column + o] = values[o * inDim + i];
    }
    column += out;
  }
  return packed;
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
