/**
 * Win rate of one policy over another from per-prompt verdicts, with a 95% Wilson score
 * interval. A verdict is P(final is better) combined over both orders; above 0.5 is a win,
 * exactly 0.5 a tie counted as half a win.
 */

export interface WinRate {
  /** Wins plus half the ties, over all verdicts. */
  rate: number;
  /** 95% Wilson score interval of the rate. */
  low: number;
  high: number;
  wins: number;
  ties: number;
  losses: number;
  n: number;
  /** Mean soft probability that the final policy is better. */
  meanP: number;
}

const z95 = 1.959963984540054;

export function wilsonInterval(successes: number, n: number, z = z95): [number, number] {
  if (n === 0) return [0, 1];
  const p = successes / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export function winRate(pFinal: readonly number[], tieBand = 1e-9): WinRate {
  let wins = 0;
  let ties = 0;
  for (const p of pFinal) {
    if (Math.abs(p - 0.5) <= tieBand) ties++;
    else if (p > 0.5) wins++;
  }
  const n = pFinal.length;
  const successes = wins + ties / 2;
  const [low, high] = wilsonInterval(successes, n);
  return {
    rate: n === 0 ? 0 : successes / n,
    low,
    high,
    wins,
    ties,
    losses: n - wins - ties,
    n,
    meanP: n === 0 ? 0.5 : pFinal.reduce((a, b) => a + b, 0) / n,
  };
}
