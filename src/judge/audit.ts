/**
 * How far a judge can be trusted, measured on gold preferences. Each item is asked in both
 * orders (the judge itself should ask one order only) and the audit reports, per subset and
 * with 95% intervals: agreement with gold (both orders combined; an even split counts half),
 * position consistency, the rate of picking the first-shown response, and length bias: the rate
 * of picking the longer response, the correlation of P(first) with the log length ratio, and
 * the slope of logit P(first) on it (a length-controlled correction can subtract that slope).
 */
import { silentLogger, type Logger } from '../util/log.ts';
import { startProgress } from '../util/progress.ts';
import type { GoldItem } from './gold-sets.ts';
import { bootstrap, pearson, pick, slope, wilson, type Estimate } from './stats.ts';
import type { JudgeFailure, PairwiseJudge, PairwiseVerdict } from './types.ts';

/** One single-order decision: P(first shown wins) with the two lengths. */
interface Decision {
  pFirst: number;
  firstLength: number;
  secondLength: number;
}

interface ItemOutcome {
  item: GoldItem;
  /** P(better) combined over both orders. */
  pBetter: number;
  consistent: boolean;
  decisions: [Decision, Decision];
}

export interface SubsetReport {
  subset: string;
  items: number;
  failures: number;
  /** Share of items where the combined verdict picks the gold-better response. */
  agreement: Estimate;
  /** Agreement of single-order decisions (both positions pooled). */
  singleOrderAgreement: Estimate;
  positionConsistency: Estimate;
  firstPositionRate: Estimate;
  /** Among decisions between responses of different length. */
  longerRate: Estimate;
  /** How often the gold-better response is the longer one: the baseline for longerRate. */
  goldLongerRate: Estimate;
  /** Pearson r of P(first) with log(len first / len second). */
  lengthCorrelation: Estimate;
  /** Slope of logit P(first) on log(len first / len second). */
  lengthSlope: Estimate;
}

export interface AuditReport {
  judge: string;
  seed: number;
  subsets: SubsetReport[];
  failureKinds: Record<string, number>;
}

export interface AuditOptions {
  judge: PairwiseJudge;
  items: GoldItem[];
  /** Comparisons in flight. Default 8. */
  concurrency?: number;
  /** Seed of the bootstrap. Default 0. */
  seed?: number;
  /** Default 1000. */
  resamples?: number;
  progress?: boolean;
  logger?: Logger;
}

export async function auditJudge(options: AuditOptions): Promise<AuditReport> {
  const { judge, items } = options;
  const logger = options.logger ?? silentLogger;
  const outcomes: (ItemOutcome | JudgeFailure)[] = new Array(items.length);
  const progress = startProgress({ label: 'audit', total: items.length, silent: options.progress === false });

  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      outcomes[index] = await judgeBothOrders(judge, items[index]);
      const outcome = outcomes[index];
      if (!('item' in outcome)) logger.warn({ item: items[index].key, kind: outcome.kind }, outcome.message);
      progress.tick();
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, items.length) }, worker));
  progress.stop();

  const failureKinds: Record<string, number> = {};
  for (const outcome of outcomes) {
    if (!('item' in outcome)) failureKinds[outcome.kind] = (failureKinds[outcome.kind] ?? 0) + 1;
  }
  const subsets = [...new Set(items.map((i) => i.subset))];
  const seed = options.seed ?? 0;
  return {
    judge: judge.id,
    seed,
    subsets: subsets.map((subset) =>
      summarise(subset, items, outcomes, { seed, resamples: options.resamples ?? 1000 })),
    failureKinds,
  };
}

async function judgeBothOrders(judge: PairwiseJudge, item: GoldItem): Promise<ItemOutcome | JudgeFailure> {
  const [betterFirst, worseFirst] = await Promise.all([
    judge.compare({ prompt: item.prompt, a: item.better, b: item.worse }, { key: item.key }),
    judge.compare({ prompt: item.prompt, a: item.worse, b: item.better }, { key: item.key }),
  ]);
  if (!betterFirst.ok) return betterFirst;
  if (!worseFirst.ok) return worseFirst;
  const p1 = singleOrder(betterFirst);
  const p2 = 1 - singleOrder(worseFirst);
  return {
    item,
    pBetter: (p1 + p2) / 2,
    // Two even verdicts are the same verdict; an even one against a pick is not.
    consistent: side(p1) === side(p2),
    decisions: [
      { pFirst: singleOrder(betterFirst), firstLength: item.better.length, secondLength: item.worse.length },
      { pFirst: singleOrder(worseFirst), firstLength: item.worse.length, secondLength: item.better.length },
    ],
  };
}

/** P(A) of a single order; a both-orders judge's first order when it reports per-order values. */
function singleOrder(verdict: PairwiseVerdict): number {
  return verdict.perOrder?.[0] ?? verdict.pA;
}

function summarise(
  subset: string,
  items: GoldItem[],
  outcomes: (ItemOutcome | JudgeFailure)[],
  options: { seed: number; resamples: number },
): SubsetReport {
  const rows = outcomes.filter((o, i): o is ItemOutcome => items[i].subset === subset && 'item' in o);
  const total = items.filter((i) => i.subset === subset).length;
  const decisions = rows.flatMap((r) => r.decisions);
  const bootSeed = `${options.seed}/${subset}`;

  const agreementCredit = rows.reduce((sum, r) => sum + credit(r.pBetter), 0);
  // Single-order agreement: the first decision shows the better response first, the second last.
  const singleCredit = rows.reduce((sum, r) =>
    sum + credit(r.decisions[0].pFirst) + credit(1 - r.decisions[1].pFirst), 0);
  const firstCredit = decisions.reduce((sum, d) => sum + credit(d.pFirst), 0);

  const unequal = decisions.filter((d) => d.firstLength !== d.secondLength);
  const longerCredit = unequal.reduce((sum, d) =>
    sum + credit(d.firstLength > d.secondLength ? d.pFirst : 1 - d.pFirst), 0);
  const goldUnequal = rows.filter((r) => r.item.better.length !== r.item.worse.length);
  const goldLonger = goldUnequal.filter((r) => r.item.better.length > r.item.worse.length).length;

  const x = decisions.map((d) => Math.log((d.firstLength + 1) / (d.secondLength + 1)));
  const y = decisions.map((d) => d.pFirst);
  const logits = y.map(logit);
  const { resamples } = options;
  const correlation = bootstrap(decisions.length,
    (idx) => pearson(pick(x, idx), pick(y, idx)), { seed: `${bootSeed}/r`, resamples });
  const lengthSlope = bootstrap(decisions.length,
    (idx) => slope(pick(x, idx), pick(logits, idx)), { seed: `${bootSeed}/slope`, resamples });

  return {
    subset,
    items: total,
    failures: total - rows.length,
    agreement: wilson(agreementCredit, rows.length),
    singleOrderAgreement: wilson(singleCredit, 2 * rows.length),
    positionConsistency: wilson(rows.filter((r) => r.consistent).length, rows.length),
    firstPositionRate: wilson(firstCredit, decisions.length),
    longerRate: wilson(longerCredit, unequal.length),
    goldLongerRate: wilson(goldLonger, goldUnequal.length),
    lengthCorrelation: correlation,
    lengthSlope,
  };
}

/** 1 for a win, 0 for a loss, 1/2 for an even verdict. */
function credit(p: number): number {
  return p > 0.5 ? 1 : p < 0.5 ? 0 : 0.5;
}

function side(p: number): 'A' | 'B' | 'even' {
  return p > 0.5 ? 'A' : p < 0.5 ? 'B' : 'even';
}

/** Clamped so hard 0/1 answers stay finite. */
export function logit(p: number): number {
  const q = Math.min(1 - 1e-4, Math.max(1e-4, p));
  return Math.log(q / (1 - q));
}

/** The report as a fixed-width table for the terminal. */
export function formatAuditTable(report: AuditReport): string {
  const pct = (e: Estimate) => Number.isNaN(e.value) ? 'n/a'
    : `${(100 * e.value).toFixed(1)} [${(100 * e.low).toFixed(1)}, ${(100 * e.high).toFixed(1)}]`;
  const num = (e: Estimate) => Number.isNaN(e.value) ? 'n/a'
    : `${e.value.toFixed(3)} [${e.low.toFixed(3)}, ${e.high.toFixed(3)}]`;
  const header = ['subset', 'n', 'fail', 'agree %', 'consistent %', 'first-pos %', 'picks longer %',
    'gold longer %', 'r(len)', 'slope(len)'];
  const rows = report.subsets.map((s) => [
    s.subset, String(s.items), String(s.failures), pct(s.agreement), pct(s.positionConsistency),
    pct(s.firstPositionRate), pct(s.longerRate), pct(s.goldLongerRate), num(s.lengthCorrelation),
    num(s.lengthSlope),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  return [
    `judge ${report.judge} (95% intervals: Wilson for rates, bootstrap for r and slope)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}
