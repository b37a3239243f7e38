/**
 * Figures the dashboard derives from human labels: agreement between the AI judge and people
 * on the same pairs, and blind win rates of one policy over another, each with a 95% Wilson
 * score interval (Wilson 1927), which stays inside [0, 1] and behaves with few labels.
 */
import type { HumanChoice, HumanLabel } from '../store/human-labels.ts';

export interface Interval {
  low: number;
  high: number;
}

/** z for a two-sided 95% interval. */
const z95 = 1.959963984540054;

/**
 * Wilson score interval for `successes` out of `n` (successes may be fractional when ties
 * count half). With n = 0 nothing is known: [0, 1].
 */
export function wilsonInterval(successes: number, n: number, z: number = z95): Interval {
  if (n <= 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
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
  return { n, agree, rate: n > 0 ? agree / n : null, interval: wilsonInterval(agree, n), humanTies, aiTies };
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

/** Blind win rates per (policy, opponent), ties counted as half a win, from policy-pair labels. */
export function winRates(labels: readonly HumanLabel[]): WinRate[] {
  const byMatchup = new Map<string, WinRate>();
  for (const label of labels) {
    if (label.kind !== 'policy') continue;
    const key = JSON.stringify([label.sourceA, label.sourceB]);
    let entry = byMatchup.get(key);
    if (!entry) {
      entry = {
        policy: label.sourceA,
        opponent: label.sourceB,
        wins: 0,
        losses: 0,
        ties: 0,
        n: 0,
        rate: null,
        interval: { low: 0, high: 1 },
      };
      byMatchup.set(key, entry);
    }
    entry.n++;
    if (label.winner === 'a') entry.wins++;
    else if (label.winner === 'b') entry.losses++;
    else entry.ties++;
  }
  for (const entry of byMatchup.values()) {
    const score = entry.wins + entry.ties / 2;
    entry.rate = score / entry.n;
    entry.interval = wilsonInterval(score, entry.n);
  }
  return [...byMatchup.values()];
}
