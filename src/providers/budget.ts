/**
 * Money and tokens: a per-model price table, a spending cap shared by every backend of a job,
 * and token accounting. A call reserves its worst case before it starts (prompt estimate plus
 * maxTokens) so concurrent calls cannot overshoot the cap, and settles on its real usage.
 */
import { BudgetExceededError } from './errors.ts';

/** US dollars per million tokens. */
export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
}

/**
 * List prices (USD per million tokens) of common judge models. Matched by exact name, then by
 * the longest entry that prefixes the model name (so dated snapshots match their family).
 */
export const priceTable: Readonly<Record<string, Price>> = {
  'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
  'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
  'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  'gpt-4.1-nano': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  'gpt-3.5-turbo': { inputPerMTok: 0.5, outputPerMTok: 1.5 },
  'claude-3-5-haiku': { inputPerMTok: 0.8, outputPerMTok: 4 },
  'claude-3-5-sonnet': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-sonnet-4': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-opus-4': { inputPerMTok: 15, outputPerMTok: 75 },
};

export function priceOf(model: string, table: Readonly<Record<string, Price>> = priceTable):
  Price | undefined {
  if (table[model]) return table[model];
  const prefix = Object.keys(table)
    .filter((name) => model.startsWith(name))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? table[prefix] : undefined;
}

export function costOf(price: Price | undefined, promptTokens: number, completionTokens: number): number {
  if (!price) return 0;
  return (promptTokens * price.inputPerMTok + completionTokens * price.outputPerMTok) / 1e6;
}

/** Rough token count before a call: ~4 characters per token for English. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export interface UsageTotals {
  calls: number;
  cachedCalls: number;
  retries: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** A spending cap and the running totals of one job. */
export class Budget {
  readonly limitUsd: number;
  private reservedUsd = 0;
  readonly totals: UsageTotals = {
    calls: 0,
    cachedCalls: 0,
    retries: 0,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
  };

  /** `limitUsd`: Infinity for no cap (the default). */
  constructor(options: { limitUsd?: number } = {}) {
    this.limitUsd = options.limitUsd ?? Infinity;
  }

  /** Holds `usd` for a call about to start; throws when the cap would be passed. */
  reserve(usd: number): void {
    if (this.totals.costUsd + this.reservedUsd + usd > this.limitUsd) {
      throw new BudgetExceededError(
        `budget of $${this.limitUsd} reached: spent $${this.totals.costUsd.toFixed(4)}, ` +
        `$${this.reservedUsd.toFixed(4)} in flight, next call up to $${usd.toFixed(4)}`,
      );
    }
    this.reservedUsd += usd;
  }

  /** Releases a reservation and books what the call really used. */
  settle(
    reservedUsd: number,
    usage: { promptTokens: number; completionTokens: number },
    costUsd: number,
  ): void {
    this.reservedUsd = Math.max(0, this.reservedUsd - reservedUsd);
    this.totals.calls++;
    this.totals.promptTokens += usage.promptTokens;
    this.totals.completionTokens += usage.completionTokens;
    this.totals.costUsd += costUsd;
  }

  release(reservedUsd: number): void {
    this.reservedUsd = Math.max(0, this.reservedUsd - reservedUsd);
  }
}
