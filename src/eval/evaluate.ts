/**
 * The figures of an evaluation, computed from stored samples and verdicts: the held-out
 * evaluator's win rate of the final policy over the start (95% interval), the training judge's
 * win rate beside it and the gap between them (a reward-hacking signal: gains only the
 * training judge sees), KL to the reference, diversity and length against the start, and the
 * alarms a reader should look at first.
 */
import { collapseAlarm, diversityOf, type DiversityFigures } from './diversity.ts';
import { winRate, type WinRate } from './win-rate.ts';

export interface EvaluationInput {
  startResponses: string[];
  finalResponses: string[];
  /** P(final better) per held-out prompt from the held-out evaluator, both orders combined. */
  evaluatorP: number[];
  /** The same from the training judge. */
  judgeP: number[];
  /** Share of evaluator verdicts whose two orders agreed. */
  evaluatorConsistency?: number;
  /** Per held-out prompt: summed log-ratio of the final policy to the reference (nats). */
  klPerResponse: number[];
  /** Alarm thresholds. */
  klMax: number;
  minWinRate: number;
}

export interface EvaluationSummary {
  /** The held-out evaluator's win rate (same as evaluator.rate), for dashboards. */
  winRate: number;
  prompts: number;
  evaluator: WinRate;
  trainingJudge: WinRate;
  /** Training judge's rate minus the evaluator's; above 0.15 suggests reward hacking. */
  judgeEvaluatorGap: number;
  evaluatorConsistency?: number;
  kl: { mean: number; max: number; target: number; withinTarget: boolean };
  diversity: { start: DiversityFigures; final: DiversityFigures };
  /** Final mean words over start mean words. */
  lengthRatio: number;
  alarms: string[];
  /** The held-out win rate a run must reach (absent in summaries of older runs). */
  winRateTarget?: number;
  /** Win rate at or above its target, KL within its target and no collapse. */
  success: boolean;
}

const gapAlarm = 0.15;
const lengthAlarm = 1.5;

export function summarizeEvaluation(input: EvaluationInput): EvaluationSummary {
  const evaluator = winRate(input.evaluatorP);
  const trainingJudge = winRate(input.judgeP);
  const start = diversityOf(input.startResponses);
  const final = diversityOf(input.finalResponses);
  const klMean = mean(input.klPerResponse);
  const lengthRatio = start.meanWords === 0 ? 1 : final.meanWords / start.meanWords;

  const alarms: string[] = [];
  const collapse = collapseAlarm(start, final);
  if (collapse) alarms.push(`collapse: ${collapse}`);
  if (klMean > input.klMax) {
    alarms.push(`KL to the reference ${klMean.toFixed(2)} nats exceeds its target ${input.klMax}`);
  }
  const gap = trainingJudge.rate - evaluator.rate;
  if (gap > gapAlarm) {
    alarms.push(`reward hacking? the training judge prefers the final policy ` +
      `${pct(trainingJudge.rate)} of the time, the held-out evaluator only ${pct(evaluator.rate)}`);
  }
  if (lengthRatio > lengthAlarm || lengthRatio < 1 / lengthAlarm) {
    alarms.push(`length bias: mean length changed ${lengthRatio.toFixed(2)}x against the start`);
  }

  return {
    winRate: evaluator.rate,
    prompts: input.evaluatorP.length,
    evaluator,
    trainingJudge,
    judgeEvaluatorGap: gap,
    evaluatorConsistency: input.evaluatorConsistency,
    kl: {
      mean: klMean,
      max: input.klPerResponse.length ? Math.max(...input.klPerResponse) : 0,
      target: input.klMax,
      withinTarget: klMean <= input.klMax,
    },
    diversity: { start, final },
    lengthRatio,
    alarms,
    winRateTarget: input.minWinRate,
    success: evaluator.rate >= input.minWinRate && klMean <= input.klMax && !collapse,
  };
}

/** The few lines printed at the end of a run. */
export function terminalSummary(summary: EvaluationSummary): string {
  const { evaluator: e, trainingJudge: j, kl, diversity: d } = summary;
  const lines = [
    `held-out evaluator: final policy preferred on ${pct(e.rate)} of ${e.n} held-out prompts ` +
      `(95% CI ${pct(e.low)}-${pct(e.high)}; ${e.wins} wins, ${e.ties} ties, ${e.losses} losses)`,
    `training judge:     ${pct(j.rate)} (95% CI ${pct(j.low)}-${pct(j.high)}); gap ` +
      `${(summary.judgeEvaluatorGap * 100).toFixed(1)} points`,
    `KL to reference:    ${kl.mean.toFixed(2)} nats per response (target <= ${kl.target})`,
    `distinct-1/2:       ${d.start.distinct1.toFixed(3)}/${d.start.distinct2.toFixed(3)} -> ` +
      `${d.final.distinct1.toFixed(3)}/${d.final.distinct2.toFixed(3)}; self-similarity ` +
      `${d.start.selfSimilarity.toFixed(3)} -> ${d.final.selfSimilarity.toFixed(3)}`,
    `mean length:        ${d.start.meanWords.toFixed(1)} -> ${d.final.meanWords.toFixed(1)} words`,
  ];
  lines.push(summary.alarms.length ? `alarms: ${summary.alarms.join('; ')}` : 'alarms: none');
  lines.push(resultLine(summary));
  return lines.join('\n');
}

/** One line saying whether the run met its targets and, if not, which it missed. */
export function resultLine(summary: EvaluationSummary): string {
  const { evaluator: e, kl, winRateTarget: target } = summary;
  const missed: string[] = [];
  if (target !== undefined && e.rate < target) {
    missed.push(`held-out win rate ${pct(e.rate)} is below the ${pct(target)} target`);
  }
  if (!kl.withinTarget) {
    missed.push(`KL ${kl.mean.toFixed(2)} nats is above the ${kl.target} target`);
  }
  for (const alarm of summary.alarms) if (alarm.startsWith('collapse')) missed.push(alarm);
  if (summary.success) {
    const rate = target === undefined ? '' : ` (held-out win rate ${pct(e.rate)} >= ${pct(target)})`;
    return `result: meets targets${rate}`;
  }
  return `result: missed targets: ${missed.length ? missed.join('; ') : 'see the report'}`;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
