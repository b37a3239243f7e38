/**
 * A pairwise judge as a reward source: each response is compared with a baseline answer to the
 * same prompt (the item's `reference`, or a fixed baseline), and the reward is the judge's
 * probability that the response is better. Judge failures stay failures (never a made-up 0.5).
 */
import type { PairwiseJudge } from '../judge/types.ts';
import type { RewardItem, RewardOutcome, RewardSource } from './types.ts';

export interface JudgeRewardOptions {
  judge: PairwiseJudge;
  /** Compared against when an item has no reference. Default: none (the item fails). */
  baseline?: string;
  /** Reward = pBetter - center; 0.5 centres a tie at 0. Default 0. */
  center?: number;
  /** Default "judge:<judge id>". */
  id?: string;
}

export class JudgeReward implements RewardSource {
  readonly id: string;

  constructor(private readonly options: JudgeRewardOptions) {
    this.id = options.id ?? `judge:${options.judge.id}`;
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return Promise.all(items.map((item, index) => this.scoreOne(item, index)));
  }

  private async scoreOne(item: RewardItem, index: number): Promise<RewardOutcome> {
    const baseline = item.reference ?? this.options.baseline;
    if (baseline === undefined)
      return { ok: false, reason: 'no baseline response to compare with' };
    const verdict = await this.options.judge.compare(
      { prompt: item.prompt, a: item.response, b: baseline },
      { key: `${item.prompt}\u0000${index}` },
    );
    if (!verdict.ok) return { ok: false, reason: `${verdict.kind}: ${verdict.message}` };
    return {
      ok: true,
      reward: verdict.pA - (this.options.center ?? 0),
      details: { principle: verdict.principle, consistent: verdict.consistent },
    };
  }
}
