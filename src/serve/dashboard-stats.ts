/**
 * Figures the dashboard derives from human labels: agreement between the AI judge and people
 * on the same pairs, and blind win rates of one policy over another, each with a 95% Wilson
 * score interval, which stays inside [0, 1] and behaves with few labels.
 */
import { winRate, wilsonInterval } from '../eval/win-rate.ts';
import type { HumanChoice, HumanLabel } from '../store/human-labels.ts';

export interface Interval {
  low: number;
  high: number;
}

function interval(successes: number, n: number): Interval {
  const [low, high] = wilsonInterval(successes, n);
  return { low, high };
}

/** The judge's hard choice from its probability that `a` is better. */
export function aiChoice(probA: number): HumanChoice {
  if (probA > 0.5) return 'a';
  if (probA < 0.5) return 'b';
  return 'tie';
}

export interface Agreement {
  /** Labels where both the person and the judge picked a side. */
  n: number;
  agree: number;
  /** agree / n, null with no comparable labels. */
  rate: number | null;
  interval: Interval;
  /** Labels left out because the person called a tie. */
  humanTies: number;
  /** Labels left out because the judge's probability was exactly 0.5. */
  aiTies: number;
}

/**
 * AI–human agreement over labelled pairs that the judge also labelled. Ties on either side are
 * counted apart rather than as half-agreement: a tie says neither was clearly better, which
 * is not a vote for or against the judge's pick.
 */
export function agreement(labels: readonly HumanLabel[]): Agreement {
  let n = 0;
  let agree = 0;
  let humanTies = 0;
  let aiTies = 0;
  for (const label of labels) {
    if (label.aiProbA === null) continue;
    const ai = aiChoice(label.aiProbA);
    if (label.winner === 'tie') humanTies++;
    else if (ai === 'tie') aiTies++;
    else {
      n++;
      if (ai === label.winner) agree++;
    }
  }
  return {
    n,
    agree,
    rate: n > 0 ? agree / n : null,
    interval: interval(agree, n),
    humanTies,
    aiTies,
  };
}

export interface WinRate {
  /** The policy whose win rate this is (the pair's `a` side). */
  policy: string;
  /** The policy it was compared against (the pair's `b` side). */
  opponent: string;
  wins: number;
  losses: number;
  ties: number;
  n: number;
  /** (wins + ties / 2) / n, null with no labels. */
  rate: number | null;
  interval: Interval;
}

/**
 * Blind win rates per (policy, opponent), from policy-pair labels: a person's pick becomes a
 * hard verdict (1, 0, or 0.5 for a tie), scored like the evaluator's verdicts.
 */
export function winRates(labels: readonly HumanLabel[]): WinRate[] {
  const byMatchup = new Map<string, { policy: string; opponent: string; verdicts: number[] }>();
  for (const label of labels) {
    if (label.kind !== 'policy') continue;
    const key = JSON.stringify([label.sourceA, label.sourceB]);
    let entry = byMatchup.get(key);
    if (!entry) {
      entry = { policy: label.sourceA, opponent: label.sourceB, verdicts: [] };
      byMatchup.set(key, entry);
    }
    entry.verdicts.push(label.winner === 'a' ? 1 : label.winner === 'b' ? 0 : 0.5);
  }
  return [...byMatchup.values()].map(({ policy, opponent, verdicts }) => {
    const rate = winRate(verdicts);
    const { wins, losses, ties, n } = rate;
    return {
      policy,
      opponent,
      wins,
      losses,
      ties,
      n,
      rate: rate.rate,
      interval: { low: rate.low, high: rate.high },
    };
  });
}
