/**
 * Reward centred per prompt: the inner reward minus its mean over the starting policy's own
 * responses to the same prompt (the K samples of the sampling stage). Scores of story
 * continuations depend a lot on the opening; a value head learns that slowly, and until it
 * has, PPO's advantages carry the prompt's variance. Subtracting a per-prompt baseline taken
 * from the reference policy removes it at the source and leaves what the response itself
 * earns; the reward's optimum is unchanged, since the baseline does not depend on the response.
 */
import type { RewardItem, RewardOutcome, RewardSource } from '../rewards/types.ts';

export class PromptBaselineReward implements RewardSource {
  readonly id: string;
  private readonly baselines = new Map<string, Promise<number | undefined>>();

  /** `references`: per prompt, responses of the starting policy. */
  constructor(
    private readonly inner: RewardSource,
    private readonly references: ReadonlyMap<string, readonly string[]>,
  ) {
    this.id = `${inner.id}-prompt-baseline`;
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    const outcomes = await this.inner.score(items);
    return Promise.all(outcomes.map(async (outcome, i) => {
      if (!outcome.ok) return outcome;
      const baseline = await this.baseline(items[i].prompt);
      return baseline === undefined ? outcome : { ...outcome, reward: outcome.reward - baseline };
    }));
  }

  /** Mean inner reward of the reference responses to `prompt`; computed once per prompt. */
  private baseline(prompt: string): Promise<number | undefined> {
    let cached = this.baselines.get(prompt);
    if (!cached) {
      cached = (async () => {
        const responses = this.references.get(prompt);
        if (!responses || responses.length === 0) return undefined;
        const scored = await this.inner.score(responses.map((response) => ({ prompt, response })));
        const rewards = scored.flatMap((o) => (o.ok ? [o.reward] : []));
        return rewards.length === 0 ? undefined : rewards.reduce((a, b) => a + b, 0) / rewards.length;
      })();
      this.baselines.set(prompt, cached);
    }
    return cached;
  }
}
