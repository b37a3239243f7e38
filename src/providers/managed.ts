/**
 * The operations layer around any TextBackend: call cache, bounded concurrency (a semaphore),
 * request and token rate limits (bottleneck), retries with exponential backoff on 429, 5xx and timeouts
 * that honour Retry-After (p-retry), and a spending cap with token accounting. Identical
 * requests in flight at the same time share one call.
 */
import Bottleneck from 'bottleneck';
import pRetry from 'p-retry';

import { CallCache } from '../store/call-cache.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { Budget, costOf, estimateTokens, priceOf, type Price } from './budget.ts';
import { isRetryable } from './errors.ts';
import { Semaphore } from './semaphore.ts';
import type { CompletionRequest, CompletionResult, TextBackend } from './types.ts';

export interface ManagedBackendOptions {
  backend: TextBackend;
  /** Replies are read from and written to it. Default: no cache. */
  cache?: CallCache;
  /** Calls in flight at once. Default 8. */
  concurrency?: number;
  /** Default: no limit. */
  requestsPerMinute?: number;
  /** Estimated prompt + maximum completion tokens per minute. Default: no limit. */
  tokensPerMinute?: number;
  /** Attempts after the first. Default 4. */
  retries?: number;
  /** First backoff delay in ms, doubled per attempt. Default 250. */
  minRetryDelayMs?: number;
  /** Default 20 000. */
  maxRetryDelayMs?: number;
  /** Shared cap and totals. Default: a Budget without a cap. */
  budget?: Budget;
  /** Price of this backend's model. Default: looked up in the price table by `model`. */
  price?: Price;
  /** Model name for the price lookup. Default: the part of the id after "provider:". */
  model?: string;
  logger?: Logger;
}

export class ManagedBackend implements TextBackend {
  readonly id: string;
  readonly supportsLogprobs: boolean;
  readonly budget: Budget;
  private readonly inner: TextBackend;
  private readonly options: ManagedBackendOptions;
  private readonly price?: Price;
  private readonly slots: Semaphore;
  private readonly requestLimiter?: Bottleneck;
  private readonly tokenLimiter?: Bottleneck;
  private readonly inFlight = new Map<string, Promise<CompletionResult>>();
  private readonly logger: Logger;

  constructor(options: ManagedBackendOptions) {
    this.inner = options.backend;
    this.options = options;
    this.id = options.backend.id;
    this.supportsLogprobs = options.backend.supportsLogprobs;
    this.budget = options.budget ?? new Budget();
    this.logger = options.logger ?? silentLogger;
    const model = options.model ?? this.id.replace(/^[^:]*:/, '').replace(/@.*$/, '');
    this.price = options.price ?? priceOf(model);
    if (this.budget.limitUsd !== Infinity && !this.price) {
      this.logger.warn({ backend: this.id }, 'no price known for this model: calls count as free');
    }

    this.slots = new Semaphore(options.concurrency ?? 8);
    if (options.requestsPerMinute) {
      this.requestLimiter = new Bottleneck({ minTime: Math.ceil(60_000 / options.requestsPerMinute) });
    }
    if (options.tokensPerMinute) {
      this.tokenLimiter = new Bottleneck({
        reservoir: options.tokensPerMinute,
        reservoirRefreshAmount: options.tokensPerMinute,
        reservoirRefreshInterval: 60_000,
      });
    }
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    const key = CallCache.key(this.id, request);
    const hit = this.options.cache?.get(key);
    if (hit) {
      this.budget.totals.cachedCalls++;
      return { ...hit, cached: true, costUsd: 0 };
    }

    const pending = this.inFlight.get(key);
    if (pending) return pending.then((result) => ({ ...result, cached: true, costUsd: 0 }));
    const call = this.callOnce(key, request, signal).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, call);
    return call;
  }

  /** Keeps limiter internals out of JSON dumps; the inner backend hides its own secrets. */
  toJSON(): Record<string, unknown> {
    return { id: this.id, backend: this.inner };
  }

  async close(): Promise<void> {
    this.slots.clear();
    await this.requestLimiter?.stop({ dropWaitingJobs: true }).catch(() => undefined);
    await this.tokenLimiter?.stop({ dropWaitingJobs: true }).catch(() => undefined);
    await this.inner.close?.();
  }

  private async callOnce(key: string, request: CompletionRequest, signal?: AbortSignal):
    Promise<CompletionResult> {
    const promptTokens = estimateTokens(
      (request.messages ?? []).map((m) => m.content).join('\n') + (request.prompt ?? ''),
    );
    const worstCase = costOf(this.price, promptTokens, request.maxTokens);
    this.budget.reserve(worstCase);

    let result: CompletionResult;
    try {
      const weight = Math.max(1, promptTokens + request.maxTokens);
      // Rate limits first (they only delay the start), then a concurrency slot for the call.
      const call = () => this.slots.run(() => this.inner.complete(request, signal));
      const paced = () => (this.requestLimiter ? this.requestLimiter.schedule(call) : call());
      const attempt = () => (this.tokenLimiter ? this.tokenLimiter.schedule({ weight }, paced) : paced());
      result = await this.withRetries(attempt, signal);
    } catch (error) {
      this.budget.release(worstCase);
      throw error;
    }

    const costUsd = costOf(this.price, result.usage.promptTokens, result.usage.completionTokens);
    this.budget.settle(worstCase, result.usage, costUsd);
    this.options.cache?.put(key, this.id, result);
    return { ...result, cached: false, costUsd };
  }

  /**
   * The first attempt runs bare: p-retry's timers cost ~0.25 ms per call, a quarter of the
   * whole orchestration budget of a label. Only a retryable failure enters p-retry.
   */
  private async withRetries(attempt: () => Promise<CompletionResult>, signal?: AbortSignal):
    Promise<CompletionResult> {
    const retries = this.options.retries ?? 4;
    const minDelay = this.options.minRetryDelayMs ?? 250;
    const maxDelay = this.options.maxRetryDelayMs ?? 20_000;
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error) || retries === 0 || signal?.aborted) throw error;
      await this.beforeRetry(error as Error, 1, minDelay * (1 + Math.random()), signal);
    }
    return pRetry(attempt, {
      retries: retries - 1,
      minTimeout: minDelay * 2,
      maxTimeout: maxDelay,
      factor: 2,
      randomize: true,
      signal,
      shouldRetry: (error) => isRetryable(error),
      onFailedAttempt: async (error) => {
        if (!isRetryable(error) || error.retriesLeft === 0) return;
        await this.beforeRetry(error, error.attemptNumber + 1, 0, signal);
      },
    });
  }

  /** Counts and logs a retry; waits for Retry-After (or `backoffMs`, whichever is longer). */
  private async beforeRetry(error: Error, attempt: number, backoffMs: number, signal?: AbortSignal) {
    this.budget.totals.retries++;
    this.logger.warn({ backend: this.id, attempt, error: error.message }, 'model call failed; retrying');
    const retryAfter = (error as { retryAfterMs?: number }).retryAfterMs ?? 0;
    const wait = Math.min(Math.max(retryAfter, backoffMs), this.options.maxRetryDelayMs ?? 20_000);
    if (wait > 0) await sleep(wait, signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
