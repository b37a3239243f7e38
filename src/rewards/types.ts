/**
 * A reward source: a batch of (prompt, response) in, one number (or a failure) per item out.
 * Reward models, direct judges, verifiers and weighted mixtures all implement it.
 */

export interface RewardItem {
  prompt: string;
  response: string;
  /** Ground truth for verifiers: a numeric answer, a test suite, a regex. */
  reference?: string;
}

export type RewardOutcome =
  | { ok: true; reward: number; details?: Record<string, unknown> }
  | { ok: false; reason: string };

export interface RewardSource {
  readonly id: string;
  score(items: RewardItem[]): Promise<RewardOutcome[]>;
}
