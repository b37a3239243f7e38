/**
 * Direct RLAIF's reward: the embedded judge's pointwise score of each response, averaged over
 * the constitution's principles (each check's score in its own scale units). No reward model
 * stands between the judge and the policy, so this is also the quickest reward to compute.
 */
import type { EmbeddedJudge } from '../judge/embedded.ts';
import type { Constitution } from '../judge/types.ts';
import type { RewardItem, RewardOutcome, RewardSource } from '../rewards/types.ts';

export class JudgeScoreReward implements RewardSource {
  readonly id: string;

  constructor(private readonly judge: EmbeddedJudge, private readonly constitution: Constitution) {
    this.id = `judge-score:${judge.id}`;
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    const principles = this.constitution.principles;
    const totalWeight = principles.reduce((sum, p) => sum + p.weight, 0);
    return Promise.all(items.map(async (item): Promise<RewardOutcome> => {
      try {
        let reward = 0;
        for (const principle of principles) {
          reward += (principle.weight / totalWeight) * (await this.judge.score(item.prompt, item.response, principle));
        }
        return Number.isFinite(reward) ? { ok: true, reward } : { ok: false, reason: 'non-finite judge score' };
      } catch (error) {
        return { ok: false, reason: (error as Error).message };
      }
    }));
  }
}
