/**
 * A weighted mixture of reward sources (verifiers, judges, reward models) that is itself a
 * RewardSource. All components score the same batch concurrently; per item the mixture is
 *
 *   reward = sum_{ok components} w_i * r_i * (W / W_ok)
 *
 * where W is the total weight and W_ok the weight of the components that succeeded on that item.
 *
 * Failure policy, per item:
 * - a failure in a required component (the default) makes the item a failure, naming it;
 * - a failure in an optional component drops it and the other weights are renormalised (the
 *   factor W / W_ok above), so a reward stays on the same scale whether or not, say, a flaky
 *   remote judge answered;
 * - when every component failed the item is a failure.
 * A component whose whole call throws counts as failing on every item.
 */
import type { RewardItem, RewardOutcome, RewardSource } from './types.ts';

export interface MixtureComponent {
  source: RewardSource;
  /** Non-negative weight. */
  weight: number;
  /** A failure here fails the item. Default true. */
  required?: boolean;
}

export interface RewardMixtureOptions {
  /** Default "mixture(<component ids with weights>)". */
  id?: string;
  components: MixtureComponent[];
}

export class RewardMixture implements RewardSource {
  readonly id: string;
  private readonly components: MixtureComponent[];
  private readonly totalWeight: number;

  constructor(options: RewardMixtureOptions) {
    if (options.components.length === 0) throw new Error('a reward mixture needs a component');
    for (const c of options.components) {
      if (!(c.weight >= 0) || !Number.isFinite(c.weight)) {
        throw new Error(`reward mixture: weight of "${c.source.id}" must be a finite number >= 0`);
      }
    }
    this.components = options.components;
    this.totalWeight = options.components.reduce((sum, c) => sum + c.weight, 0);
    if (this.totalWeight <= 0) throw new Error('reward mixture: weights sum to 0');
    this.id =
      options.id ??
      `mixture(${options.components.map((c) => `${c.source.id}*${c.weight}`).join('+')})`;
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    const perComponent = await Promise.all(
      this.components.map((c) => scoreOrFail(c.source, items)),
    );
    return items.map((_, i) => this.combine(perComponent.map((outcomes) => outcomes[i])));
  }

  private combine(outcomes: RewardOutcome[]): RewardOutcome {
    const components: Record<string, number | null> = {};
    const dropped: string[] = [];
    let weighted = 0;
    let okWeight = 0;

    for (let c = 0; c < this.components.length; c++) {
      const { source, weight, required = true } = this.components[c];
      const outcome = outcomes[c];
      if (!outcome.ok) {
        if (required) return { ok: false, reason: `${source.id}: ${outcome.reason}` };
        components[source.id] = null;
        dropped.push(source.id);
        continue;
      }
      components[source.id] = outcome.reward;
      weighted += weight * outcome.reward;
      okWeight += weight;
    }

    if (okWeight === 0) {
      const reasons = outcomes.map((o, c) =>
        o.ok ? '' : `${this.components[c].source.id}: ${o.reason}`,
      );
      return {
        ok: false,
        reason: `every component failed (${reasons.filter(Boolean).join('; ')})`,
      };
    }
    const reward = (weighted * this.totalWeight) / okWeight;
    return { ok: true, reward, details: { components, dropped } };
  }
}

async function scoreOrFail(source: RewardSource, items: RewardItem[]): Promise<RewardOutcome[]> {
  try {
    const outcomes = await source.score(items);
    if (outcomes.length !== items.length) {
      const reason = `returned ${outcomes.length} outcomes for ${items.length} items`;
      return items.map(() => ({ ok: false, reason }));
    }
    return outcomes;
  } catch (error) {
    const reason = `threw: ${(error as Error).message}`;
    return items.map(() => ({ ok: false, reason }));
  }
}
