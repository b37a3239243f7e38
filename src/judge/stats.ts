/**
 * Small statistics for judge audits: Wilson intervals for rates, seeded percentile bootstrap
 * for anything else, Pearson correlation and least-squares slope.
 */
import { makeRng } from '../util/rng.ts';

export interface Estimate {
  value: number;
  /** 95% interval. */
  low: number;
  high: number;
  n: number;
}

/** Wilson score interval; `successes` may be fractional (ties counted as halves). */
export function wilson(successes: number, n: number, z = 1.959964): Estimate {
  if (n === 0) return { value: NaN, low: NaN, high: NaN, n };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half), n };
}

/** Percentile bootstrap of `statistic` over resampled row indices. */
export function bootstrap(
  n: number,
  statistic: (indices: number[]) => number,
  options: { resamples?: number; seed?: number | string } = {},
): Estimate {
  const all = Array.from({ length: n }, (_, i) => i);
  const value = statistic(all);
  if (n < 2) return { value, low: NaN, high: NaN, n };
  const rng = makeRng(`${options.seed ?? 0}/bootstrap`);
  const draws: number[] = [];
  for (let b = 0; b < (options.resamples ?? 1000); b++) {
    const sample = all.map(() => rng.int(n));
    const stat = statistic(sample);
    if (Number.isFinite(stat)) draws.push(stat);
  }
  draws.sort((x, y) => x - y);
  if (draws.length === 0) return { value, low: NaN, high: NaN, n };
  const at = (q: number) => draws[Math.min(draws.length - 1, Math.max(0, Math.floor(q * draws.length)))];
  return { value, low: at(0.025), high: at(0.975), n };
}

export function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Slope of the least-squares line y = a + b x. */
export function slope(x: number[], y: number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Picks rows by index, for bootstrap statistics. */
export function pick<T>(rows: T[], indices: number[]): T[] {
  return indices.map((i) => rows[i]);
}
