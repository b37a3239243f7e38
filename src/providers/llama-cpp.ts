/**
 * A local GGUF model through node-llama-cpp as a TextBackend, with next-token probabilities
 * for soft labels. Settings follow what gave exact log-probs on small CPU machines: one thread
 * per context (more was 10-50x slower on 2 cores), flash attention off and an F32 KV cache
 * (log-probs then match an fp32 reference to ~1e-6 instead of ~1e-3), BOS prepended by hand
 * because `tokenize()` does not add it.
 */
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';

import { ProviderError } from './errors.ts';
import type { ChatMessage, CompletionRequest, CompletionResult, TextBackend, TokenLogprob } from './types.ts';

export interface LlamaCppBackendOptions {
  /** Path of the .gguf file. */
  modelPath: string;
  /** Tokens of context. Default: the model's training context, at most 4096. */
  contextSize?: number;
  /** Evaluation threads. Default 1. */
  threads?: number;
  /** Identity in cache keys. Default "gguf:<file name>". */
  id?: string;
  /** How chat turns become one prompt for a completion model. Default: contents joined by blank lines. */
  renderMessages?: (messages: ChatMessage[]) => string;
}

let llamaPromise: Promise<Llama> | undefined;

/** One llama.cpp runtime per process, with a thread count it will not second-guess. */
function sharedLlama(): Promise<Llama> {
  llamaPromise ??= import('node-llama-cpp').then(({ getLlama }) =>
    getLlama({ maxThreads: 0, gpu: false, logLevel: 'error' as never, build: 'never' }));
  return llamaPromise;
}

export class LlamaCppBackend implements TextBackend {
  readonly id: string;
  readonly supportsLogprobs = true;
  private readonly options: LlamaCppBackendOptions;
  private loaded?: Promise<{ model: LlamaModel; context: LlamaContext; sequence: LlamaContextSequence }>;
  // One sequence evaluates one request at a time; calls queue behind each other.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: LlamaCppBackendOptions) {
    this.options = options;
    this.id = options.id ?? `gguf:${options.modelPath.split(/[\\/]/).pop()}`;
  }

  complete(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    const run = this.queue.then(() => this.run(request, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Log-probs of each next token over the whole vocabulary after `prompt` (BOS added). */
  async nextTokenLogprobs(prompt: string): Promise<Map<Token, number>> {
    const run = this.queue.then(async () => {
      const { model, sequence } = await this.load();
      await sequence.clearHistory();
      const tokens = this.encode(model, prompt);
      const iterator = sequence.evaluateWithMetadata(tokens, { probabilities: true }, { temperature: 0 });
      const first = await iterator.next();
      await iterator.return();
      if (first.done) throw new Error('no next-token distribution');
      return new Map([...first.value.probabilities].map(([token, p]) => [token, Math.log(p)]));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Token ids of `text` as this backend feeds them (BOS first). */
  async tokenize(text: string): Promise<Token[]> {
    const { model } = await this.load();
    return this.encode(model, text);
  }

  async detokenize(tokens: Token[]): Promise<string> {
    const { model } = await this.load();
    return model.detokenize(tokens);
  }

  async close(): Promise<void> {
    if (!this.loaded) return;
    const { model, context } = await this.loaded;
    await context.dispose();
    await model.dispose();
    this.loaded = undefined;
  }

  private load() {
    this.loaded ??= (async () => {
      const llama = await sharedLlama();
      const model = await llama.loadModel({ modelPath: this.options.modelPath, gpuLayers: 0 });
      const context = await model.createContext({
        contextSize: this.options.contextSize ?? Math.min(model.trainContextSize, 4096),
        threads: this.options.threads ?? 1,
        flashAttention: false,
        experimentalKvCacheKeyType: 'F32',
        experimentalKvCacheValueType: 'F32',
      });
      return { model, context, sequence: context.getSequence() };
    })();
    return this.loaded;
  }

  private encode(model: LlamaModel, text: string): Token[] {
    const bos = model.tokens.bos;
    const tokens = model.tokenize(text);
    return bos !== null ? [bos, ...tokens] : tokens;
  }

  private async run(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    const { model, sequence } = await this.load();
    await sequence.clearHistory();
    const render = this.options.renderMessages ?? ((messages) => messages.map((m) => m.content).join('\n\n'));
    const promptTokens = this.encode(model, request.prompt ?? render(request.messages ?? []));
    if (promptTokens.length >= sequence.contextSize) {
      throw new ProviderError(`prompt of ${promptTokens.length} tokens does not fit the context of ` +
        `${sequence.contextSize}`, { retryable: false });
    }
    const wantTop = (request.topLogprobs ?? 0) > 0;

    const generated: Token[] = [];
    const logprobs: TokenLogprob[] = [];
    let text = '';
    let finishReason: CompletionResult['finishReason'] = 'length';
    const eos = model.tokens.eos;
    const iterator = sequence.evaluateWithMetadata(promptTokens, { probabilities: true }, {
      temperature: request.temperature ?? 0,
      topK: request.topK,
      topP: request.topP,
      seed: request.seed,
    });

    for await (const output of iterator) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      if (output.token === eos) {
        finishReason = 'stop';
        break;
      }
      generated.push(output.token);
      const p = output.probabilities.get(output.token) ?? 0;
      const position: TokenLogprob = { token: model.detokenize([output.token]), logprob: Math.log(p) };
      if (wantTop) {
        position.top = [...output.probabilities].slice(0, request.topLogprobs)
          .map(([token, prob]) => ({ token: model.detokenize([token]), logprob: Math.log(prob) }));
      }
      logprobs.push(position);
      text = model.detokenize(generated);

      const stopAt = firstStop(text, request.stop);
      if (stopAt !== undefined) {
        text = text.slice(0, stopAt);
        finishReason = 'stop';
        break;
      }
      const contextFull = promptTokens.length + generated.length >= sequence.contextSize;
      if (generated.length >= request.maxTokens || contextFull) break;
    }

    return {
      text,
      logprobs,
      finishReason,
      usage: { promptTokens: promptTokens.length, completionTokens: generated.length },
    };
  }
}

function firstStop(text: string, stops: string[] | undefined): number | undefined {
  let best: number | undefined;
  for (const stop of stops ?? []) {
    const at = text.indexOf(stop);
    if (at >= 0 && (best === undefined || at < best)) best = at;
  }
  return best;
}
