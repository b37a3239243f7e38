/**
 * Labelling: candidate pairs in, PreferenceRecords out. Workers (bounded concurrency) ask the
 * judge about each pair not yet decided and store the verdict at once, so a killed job resumes
 * with nothing lost or judged twice; the model calls behind a verdict are cached separately.
 * Failures are counted and left undecided (a rerun tries them again), never turned into labels.
 */
import { JudgmentStore } from '../store/judgments.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import type { MetricsWriter } from '../util/metrics.ts';
import { startProgress } from '../util/progress.ts';
import type { CandidatePair } from './candidates.ts';
import type { JudgeFailure, PairwiseJudge, PairwiseVerdict, PreferenceRecord } from './types.ts';

export interface LabelOptions {
  judge: PairwiseJudge;
  pairs: CandidatePair[];
  store: JudgmentStore;
  /** Comparisons in flight at once. Default 8. */
  concurrency?: number;
  /** Drop pairs whose verdict is a tie from the records. Default false (keep, soft label). */
  dropTies?: boolean;
  /** Show a progress bar on stderr. Default true. */
  progress?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
  /** Where to append `judge` metrics as the job goes. Default: none. */
  metrics?: MetricsWriter;
  /** Labels between metric lines. Default 50. */
  metricsEvery?: number;
  /** Default Date.now. */
  clock?: () => number;
}

export interface LabelSummary {
  /** Verdicts made in this run. */
  judged: number;
  /** Verdicts found in the store from an earlier run. */
  reused: number;
  failures: { key: string; failure: JudgeFailure }[];
  /** In input order; pairs without a verdict (failed) are absent. */
  records: PreferenceRecord[];
}

export async function labelPairs(options: LabelOptions): Promise<LabelSummary> {
  const { judge, pairs, store } = options;
  const logger = options.logger ?? silentLogger;
  const done = store.keys(judge.id);
  const todo = pairs.filter((pair) => !done.has(pair.key));
  const failures: LabelSummary['failures'] = [];
  let judged = 0;
  let consistent = 0;
  let pChosenSum = 0;
  const clock = options.clock ?? Date.now;
  const started = clock();
  const writeMetrics = () => options.metrics?.write('judge', judged + failures.length, {
    'judge/labels': judged,
    'judge/failures': failures.length,
    'judge/consistent_rate': judged > 0 ? consistent / judged : 0,
    'judge/p_chosen_mean': judged > 0 ? pChosenSum / judged : 0,
    'perf/labels_per_s': judged / Math.max((clock() - started) / 1000, 1e-3),
  });

  const progress = startProgress({ label: 'judge', total: todo.length, silent: options.progress === false });
  let next = 0;
  const worker = async () => {
    while (next < todo.length && !options.signal?.aborted) {
      const pair = todo[next++];
      const verdict = await judge.compare(pair, { key: pair.key, signal: options.signal });
      if (verdict.ok) {
        store.put({ judge: judge.id, itemKey: pair.key, prompt: pair.prompt, a: pair.a, b: pair.b, verdict });
        judged++;
        if (verdict.consistent !== false) consistent++;
        pChosenSum += Math.max(verdict.pA, 1 - verdict.pA);
      } else {
        failures.push({ key: pair.key, failure: verdict });
        logger.warn({ item: pair.key, kind: verdict.kind, message: verdict.message }, 'no verdict');
      }
      progress.tick(1, { failed: failures.length });
      if ((judged + failures.length) % (options.metricsEvery ?? 50) === 0) writeMetrics();
    }
  };
  const concurrency = Math.max(1, options.concurrency ?? 8);
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  progress.stop();
  if (todo.length > 0) writeMetrics();

  const records: PreferenceRecord[] = [];
  for (const pair of pairs) {
    const stored = store.get(judge.id, pair.key);
    if (!stored) continue;
    if (options.dropTies && stored.verdict.choice === 'tie') continue;
    records.push(toPreferenceRecord(judge.id, pair, stored.verdict));
  }
  return { judged, reused: pairs.length - todo.length, failures, records };
}

/** The preferred response becomes `chosen`; pChosen is the judge's probability for it. */
export function toPreferenceRecord(
  judgeId: string,
  pair: { prompt: string; a: string; b: string },
  verdict: PairwiseVerdict,
): PreferenceRecord {
  const aWins = verdict.pA >= 0.5;
  return {
    prompt: pair.prompt,
    chosen: aWins ? pair.a : pair.b,
    rejected: aWins ? pair.b : pair.a,
    pChosen: aWins ? verdict.pA : 1 - verdict.pA,
    judge: judgeId,
    principle: verdict.principle,
    rationale: verdict.rationale,
    consistent: verdict.consistent,
    source: 'ai',
  };
}
