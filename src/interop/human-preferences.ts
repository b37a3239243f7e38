/**
 * Human preferences next to AI ones: how often an AI judge agrees with human labels (with a 95%
 * Wilson interval), and mixing human and AI labels for reward-model training through the
 * `weight` field of PreferenceRecord.
 */
import { wilsonInterval } from '../eval/win-rate.ts';
import type { PairwiseJudge, PreferenceRecord } from '../judge/types.ts';
import { makeRng } from '../util/rng.ts';

export interface AgreementOptions {
  judge: PairwiseJudge;
  /** Human-labelled pairs: `chosen` is the human's pick. */
  records: readonly PreferenceRecord[];
  /**
   * Show the human's pick as A or B by a seeded coin so a judge's position bias does not pass
   * for agreement. Default true.
   */
  randomiseOrder?: boolean;
  /** Default 0. */
  seed?: number;
  /** Judge calls in flight. Default 4. */
  concurrency?: number;
  /** Called after each comparison, for progress. */
  onProgress?: (done: number) => void;
}

export interface Agreement {
  /** Judged pairs (failures excluded). */
  n: number;
  /** The judge picked the human's choice. */
  agree: number;
  /** The judge's choice was a tie; counted as half an agreement. */
  ties: number;
  /** Pairs the judge could not judge. */
  failures: number;
  /** (agree + ties / 2) / n, and its 95% Wilson interval. */
  rate: number;
  low: number;
  high: number;
  /** Mean probability the judge gave the human's choice. */
  meanP: number;
}

export async function judgeAgreement(options: AgreementOptions): Promise<Agreement> {
  const rng = makeRng(`${options.seed ?? 0}/agreement`);
  const flips = options.records.map(() => (options.randomiseOrder ?? true) && rng.next() < 0.5);
  let done = 0;

  const verdicts = await mapConcurrent(
    options.records,
    options.concurrency ?? 4,
    async (record, i) => {
      const [a, b] = flips[i] ? [record.rejected, record.chosen] : [record.chosen, record.rejected];
      const verdict = await options.judge.compare(
        { prompt: record.prompt, a, b },
        { key: `agreement/${i}` },
      );
      options.onProgress?.(++done);
      return verdict;
    },
  );

  let agree = 0;
  let ties = 0;
  let failures = 0;
  let sumP = 0;
  verdicts.forEach((verdict, i) => {
    if (!verdict.ok) {
      failures++;
      return;
    }
    const humanSide = flips[i] ? 'B' : 'A';
    sumP += flips[i] ? 1 - verdict.pA : verdict.pA;
    if (verdict.choice === 'tie') ties++;
    else if (verdict.choice === humanSide) agree++;
  });
  const n = verdicts.length - failures;
  const [low, high] = wilsonInterval(agree + ties / 2, n);
  return {
    n,
    agree,
    ties,
    failures,
    rate: n > 0 ? (agree + ties / 2) / n : 0,
    low,
    high,
    meanP: n > 0 ? sumP / n : 0,
  };
}

/** `work` over `items` with at most `limit` in flight, results in input order. */
async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export interface MixOptions {
  human: readonly PreferenceRecord[];
  ai: readonly PreferenceRecord[];
  /** Weight of each human label. Default 1. */
  humanWeight?: number;
  /** Weight of each AI label. Default 1. */
  aiWeight?: number;
  /**
   * "per-label" (default): every label gets its group's weight (times its own weight, if any).
   * "per-group": weights are scaled so the groups' totals are in the ratio humanWeight : aiWeight
   * whatever their sizes, and the mean weight over all labels is 1.
   */
  mode?: 'per-label' | 'per-group';
}

/** Human and AI labels in one dataset, each with its training weight set. */
export function mixLabels(options: MixOptions): PreferenceRecord[] {
  const humanWeight = options.humanWeight ?? 1;
  const aiWeight = options.aiWeight ?? 1;
  let humanScale = humanWeight;
  let aiScale = aiWeight;

  if (options.mode === 'per-group') {
    const total = options.human.length + options.ai.length;
    const share = humanWeight + aiWeight;
    // Each group's total weight is its share of `total`, so the mean weight stays 1.
    humanScale =
      options.human.length > 0 ? (total * humanWeight) / share / sumWeights(options.human) : 0;
    aiScale = options.ai.length > 0 ? (total * aiWeight) / share / sumWeights(options.ai) : 0;
  }
  return [
    ...options.human.map((r) => ({ ...r, weight: (r.weight ?? 1) * humanScale })),
    ...options.ai.map((r) => ({ ...r, weight: (r.weight ?? 1) * aiScale })),
  ];
}

function sumWeights(records: readonly PreferenceRecord[]): number {
  return records.reduce((sum, r) => sum + (r.weight ?? 1), 0);
}
