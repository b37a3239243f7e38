/**
 * A counting semaphore for bounded concurrency. Bottleneck does the rate limiting, but its
 * scheduler costs several milliseconds per job, which dominated a label's orchestration cost;
 * plain "at most N at once" needs only a queue of waiters.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`concurrency must be at least 1, got ${limit}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  /** Drops every waiting task's turn (they never start). */
  clear(): void {
    this.waiting.length = 0;
  }
}
