/**
 * Batched sampling over the decode kernel: temperature, top-k, top-p, stop strings, EOS and
 * length limits, with the log-probability and entropy of every sampled token.
 *
 * Each sequence draws from its own random stream derived from (seed, sequence id), so a prompt
 * sampled alone gives the same tokens as inside a batch when it gets the same id.
 */
import { makeRng, type Rng } from '../util/rng.ts';
import type { DecodeKernel, KvCache } from './decode-kernel.ts';
import type { GenerateOptions, GenerationResult, Tokenizer } from './types.ts';

/** Options of a batched generation (GenerateOptions, sequenceIds included). */
export type BatchGenerateOptions = GenerateOptions;

interface RowState {
  prompt: number[];
  cache: KvCache;
  rng: Rng;
  tokens: number[];
  logprobs: number[];
  entropies: number[];
  done: boolean;
  finishReason: GenerationResult['finishReason'];
  text?: string;
}

// Yield to the event loop this often so a server stays responsive during long generations.
const STEPS_PER_YIELD = 16;

/**
 * Samples continuations of `prompts`. `endTokens` are the ids that end a sequence with
 * finishReason 'eos' (kept as the last token) unless `stopOnEos` is false.
 */
export async function generateWithKernel(kernel: DecodeKernel, tokenizer: Tokenizer,
  prompts: number[][], options: BatchGenerateOptions,
  endTokens: readonly number[] = [tokenizer.eosId]): Promise<GenerationResult[]> {
  const maxNew = options.maxNewTokens;
  if (!Number.isInteger(maxNew) || maxNew < 0) {
    throw new RangeError(`maxNewTokens must be a non-negative integer, got ${maxNew}`);
  }
  const temperature = options.temperature ?? 1;
  if (!(temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
  if (options.topP !== undefined && !(options.topP > 0 && options.topP <= 1)) {
    throw new RangeError(`topP must be in (0, 1], got ${options.topP}`);
  }
  const stopOnEos = options.stopOnEos ?? true;
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const seed = options.seed ?? 0;
  const maxSeqLen = kernel.config.maxSeqLen;

  const rows: RowState[] = prompts.map((prompt, i) => {
    if (prompt.length === 0) throw new Error(`prompt ${i} is empty; start it with BOS`);
    if (prompt.length > maxSeqLen) {
      throw new RangeError(`prompt ${i} has ${prompt.length} tokens, the context is ${maxSeqLen}`);
    }
    const id = options.sequenceIds?.[i] ?? i;
    return {
      prompt,
      cache: kernel.newCache(prompt.length + maxNew),
      rng: makeRng(seed).fork(`sequence-${id}`),
      tokens: [], logprobs: [], entropies: [],
      done: maxNew === 0 || prompt.length >= maxSeqLen,
      finishReason: 'length',
    };
  });

  for (let step = 0; ; step++) {
    const active = rows.filter((row) => !row.done);
    if (active.length === 0) break;
    const feed = active.map((row) =>
      step < row.prompt.length ? row.prompt[step] : row.tokens[step - row.prompt.length]);
    const want = active.map((row) => step >= row.prompt.length - 1);
    const logits = kernel.step(active.map((row) => row.cache), feed, want);

    const vocab = kernel.config.vocabSize;
    active.forEach((row, r) => {
      if (!want[r]) return;
      const sample = sampleToken(logits.subarray(r * vocab, (r + 1) * vocab), temperature,
        options.topK, options.topP, row.rng);
      row.tokens.push(sample.token);
      row.logprobs.push(sample.logprob);
      row.entropies.push(sample.entropy);
      finishIfDone(row, tokenizer, { maxNew, maxSeqLen, stopOnEos, stops, endTokens });
    });
    if (step % STEPS_PER_YIELD === STEPS_PER_YIELD - 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  return rows.map((row) => ({
    promptTokens: row.prompt,
    tokens: row.tokens,
    logprobs: row.logprobs,
    entropies: row.entropies,
    text: row.text ?? tokenizer.decode(row.tokens),
    finishReason: row.finishReason,
  }));
}

function finishIfDone(row: RowState, tokenizer: Tokenizer, limits: {
  maxNew: number; maxSeqLen: number; stopOnEos: boolean; stops: string[];
  endTokens: readonly number[];
}): void {
  const last = row.tokens[row.tokens.length - 1];
  if (limits.stopOnEos && limits.endTokens.includes(last)) {
    row.done = true;
    row.finishReason = 'eos';
    return;
  }
  if (limits.stops.length > 0 && cutAtStop(row, tokenizer, limits.stops)) return;
  if (row.tokens.length >= limits.maxNew || row.prompt.length + row.tokens.length >= limits.maxSeqLen) {
    row.done = true;
    row.finishReason = 'length';
  }
}

/**
 * If a stop string appears in the new text, ends the row: the text stops before it and the
 * tokens (with their log-probs) are cut to those whose text lies entirely before it.
 */
function cutAtStop(row: RowState, tokenizer: Tokenizer, stops: string[]): boolean {
  const text = tokenizer.decode(row.tokens);
  let cut = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  if (cut < 0) return false;
  let keep = row.tokens.length;
  while (keep > 0 && tokenizer.decode(row.tokens.slice(0, keep)).length > cut) keep--;
  row.tokens.length = keep;
  row.logprobs.length = keep;
  row.entropies.length = keep;
  row.text = text.slice(0, cut);
  row.done = true;
  row.finishReason = 'stop';
  return true;
}

export interface SampledToken {
  token: number;
  /** log p(token) under softmax(logits / temperature) (temperature 1 when greedy). */
  logprob: number;
  /** Entropy of that distribution, in nats. */
  entropy: number;
}

/**
 * Picks a token from one row of logits. Greedy (temperature 0) takes the first maximum.
 * Otherwise top-k, then top-p (on the renormalised top-k distribution), then a draw from the
 * remaining candidates. The reported log-prob and entropy are those of the full tempered
 * distribution, the quantity a teacher-forced pass recomputes for PPO-style ratios.
 */
export function sampleToken(logits: Float32Array, temperature: number, topK: number | undefined,
  topP: number | undefined, rng: Rng): SampledToken {
  const vocab = logits.length;
  const invT = temperature > 0 ? 1 / temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[i] * invT > max) max = logits[i] * invT;
  // One pass of exponentials, reused for the normaliser, the entropy and the draw.
  const probs = probScratch(vocab);
  let sum = 0;
  for (let i = 0; i < vocab; i++) {
    const e = Math.exp(logits[i] * invT - max);
    probs[i] = e;
    sum += e;
  }
  const logZ = max + Math.log(sum);
  let entropy = 0;
  for (let i = 0; i < vocab; i++) {
    probs[i] /= sum;
    if (probs[i] > 0) entropy -= probs[i] * (logits[i] * invT - logZ);
  }
  const logprobOf = (token: number) => logits[token] * invT - logZ;

  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < vocab; i++) if (logits[i] > logits[best]) best = i;
    return { token: best, logprob: logprobOf(best), entropy };
  }

  const truncated = (topK !== undefined && topK > 0 && topK < vocab) ||
    (topP !== undefined && topP < 1);
  const draw = rng.next();
  if (!truncated) {
    // Full distribution, scanned in id order.
    let cumulative = 0;
    for (let i = 0; i < vocab; i++) {
      cumulative += probs[i];
      if (draw < cumulative) return { token: i, logprob: logprobOf(i), entropy };
    }
    const last = lastPositive(probs);
    return { token: last, logprob: logprobOf(last), entropy };
  }

  const order = Array.from({ length: vocab }, (_, i) => i)
    .sort((a, b) => logits[b] - logits[a] || a - b);
  let candidates = topK !== undefined && topK > 0 ? order.slice(0, topK) : order;
  if (topP !== undefined && topP < 1) {
    const mass = candidates.reduce((acc, i) => acc + probs[i], 0);
    let cumulative = 0;
    let keep = 0;
    while (keep < candidates.length) {
      cumulative += probs[candidates[keep]] / mass;
      keep++;
      if (cumulative >= topP) break;
    }
    candidates = candidates.slice(0, keep);
  }
  const total = candidates.reduce((acc, i) => acc + probs[i], 0);
  let cumulative = 0;
  for (const token of candidates) {
    cumulative += probs[token] / total;
    if (draw < cumulative) return { token, logprob: logprobOf(token), entropy };
  }
  const token = candidates[candidates.length - 1];
  return { token, logprob: logprobOf(token), entropy };
}

let scratch = new Float64Array(0);

function probScratch(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(size);
  return scratch;
}

// Rounding can leave the cumulative sum just under the draw; take the last token with mass.
function lastPositive(probs: Float64Array): number {
  for (let i = probs.length - 1; i >= 0; i--) if (probs[i] > 0) return i;
  return probs.length - 1;
}
