/**
 * Micro-batching in front of a RewardSource: items of requests that arrive close together are
 * scored in one call (a reward model's forward pass, a judge's batch), then handed back to each
 * request. If a merged call throws, each request is retried on its own so one poisoned request
 * cannot fail its neighbours.
 */
import type { RewardItem, RewardOutcome, RewardSource } from '../rewards/types.ts';

export interface RewardBatcherOptions {
  source: RewardSource;
  /** Longest a request waits for company before its batch is sent. Default 5 ms. */
  maxWaitMs?: number;
  /** A batch is sent as soon as it holds this many items. Default 256. */
  maxBatchItems?: number;
  /** Batches scored at once. Default 1 (a model on one machine gains nothing from more). */
  maxConcurrentBatches?: number;
}

interface Pending {
  items: RewardItem[];
  resolve: (outcomes: RewardOutcome[]) => void;
  reject: (error: unknown) => void;
}

export interface BatcherStats {
  batches: number;
  items: number;
  /** Merged calls that threw and were retried request by request. */
  splitRetries: number;
}

export class RewardBatcher {
  readonly stats: BatcherStats = { batches: 0, items: 0, splitRetries: 0 };
  private queue: Pending[] = [];
  private queuedItems = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private readonly ready: Pending[][] = [];

  constructor(private readonly options: RewardBatcherOptions) {}

  score(items: RewardItem[]): Promise<RewardOutcome[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queuedItems += items.length;
      if (this.queuedItems >= (this.options.maxBatchItems ?? 256)) this.cut();
      else this.timer ??= setTimeout(() => this.cut(), this.options.maxWaitMs ?? 5);
    });
  }

  /** Closes the current batch and starts it when a slot is free. */
  private cut(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    this.ready.push(this.queue);
    this.queue = [];
    this.queuedItems = 0;
    this.pump();
  }

  private pump(): void {
    while (this.running < (this.options.maxConcurrentBatches ?? 1) && this.ready.length > 0) {
      const batch = this.ready.shift()!;
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    const items = batch.flatMap((p) => p.items);
    this.stats.batches++;
    this.stats.items += items.length;
    try {
      const outcomes = await this.options.source.score(items);
      if (outcomes.length !== items.length) {
        throw new Error(
          `${this.options.source.id} returned ${outcomes.length} outcomes for ${items.length} items`,
        );
      }
      let offset = 0;
      for (const pending of batch) {
        pending.resolve(outcomes.slice(offset, offset + pending.items.length));
        offset += pending.items.length;
      }
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      this.stats.splitRetries++;
      for (const pending of batch) {
        try {
          pending.resolve(await this.options.source.score(pending.items));
        } catch (single) {
          pending.reject(single);
        }
      }
    }
  }
}
