/**
 * Small formatting helpers shared by the pages.
 */
import type { Interval } from './api.ts';

export function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? '–' : `${(100 * value).toFixed(digits)}%`;
}

export function intervalText(interval: Interval): string {
  return `95% CI ${percent(interval.low)} – ${percent(interval.high)}`;
}

export function number(value: unknown): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(3);
}

export function ago(time: number, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - time) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(time).toISOString().slice(0, 10);
}

export function runHref(run: string, tab: string, item?: string | number): string {
  const tail = item === undefined ? '' : `/${item}`;
  return `#/runs/${encodeURIComponent(run)}/${tab}${tail}`;
}

/** A figure of a run's summary as a chip shows it. */
export interface SummaryFigure {
  key: string;
  label: string;
  value: string;
}

/** Labels and formats for the figures `summary.json` of an evaluated run holds. */
const summaryLabels: Record<string, { label: string; format: (v: number) => string }> = {
  'evaluator.rate': { label: 'evaluator win rate', format: (v) => percent(v) },
  'trainingJudge.rate': { label: 'judge win rate', format: (v) => percent(v) },
  judgeEvaluatorGap: {
    label: 'judge − evaluator gap',
    format: (v) => `${v > 0 ? '+' : ''}${(100 * v).toFixed(1)} pts`,
  },
  evaluatorConsistency: { label: 'evaluator order consistency', format: (v) => percent(v) },
  lengthRatio: { label: 'length ratio', format: (v) => `×${v.toFixed(2)}` },
  'kl.mean': { label: 'KL', format: (v) => `${v.toFixed(2)} nats` },
};

/** `winRate` → `win rate`. */
function words(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[._]/g, ' ').toLowerCase();
}

/**
 * The numbers of a run summary with human labels: the known evaluation figures first, then any
 * other top-level number, rates as percentages.
 */
export function summaryFigures(summary: Record<string, unknown> | null): SummaryFigure[] {
  if (!summary) return [];
  const at = (path: string): unknown =>
    path
      .split('.')
      .reduce<unknown>(
        (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
        summary,
      );
  const figures: SummaryFigure[] = [];
  for (const [path, { label, format }] of Object.entries(summaryLabels)) {
    const value = at(path);
    if (typeof value === 'number') figures.push({ key: path, label, value: format(value) });
  }
  for (const [key, value] of Object.entries(summary)) {
    if (typeof value !== 'number' || key in summaryLabels) continue;
    // An older alias of the evaluator's win rate.
    if (key === 'winRate' && typeof at('evaluator.rate') === 'number') continue;
    const rate = /rate|accuracy|consistency/i.test(key) && value >= 0 && value <= 1;
    figures.push({ key, label: words(key), value: rate ? percent(value) : number(value) });
  }
  return figures;
}
