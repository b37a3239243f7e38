/**
 * Metric charts: the six a person looks at first (reward, KL, entropy, length, win rate, clip
 * fraction), then every other metric the run logs, one chart per metric and stage. A metric
 * logged once (an evaluation figure) is a figure card, not a one-point chart.
 */
import { MetricChart, type SeriesSpec } from '../components/metric-chart.tsx';
import type { MetricsRecord } from '../api.ts';
import { number, percent } from '../format.ts';
import type { MetricsState } from '../use-metrics.ts';

const headline: { title: string; keys: string[] }[] = [
  { title: 'Reward', keys: ['reward/mean', 'score/mean'] },
  { title: 'KL to reference', keys: ['objective/kl'] },
  { title: 'Entropy', keys: ['objective/entropy'] },
  { title: 'Response length', keys: ['len/mean'] },
  { title: 'Win rate', keys: ['eval/win_rate'] },
  { title: 'Clip fraction', keys: ['policy/clipfrac'] },
];

const headlineKeys = new Set(headline.flatMap((h) => h.keys));

/** Every (stage, key) pair with numbers among `keys`, in order of first appearance. */
function seriesFor(records: MetricsRecord[], keys: string[]): SeriesSpec[] {
  const seen = new Map<string, SeriesSpec>();
  for (const record of records) {
    for (const key of keys) {
      if (typeof record[key] !== 'number') continue;
      const id = `${record.stage}:${key}`;
      if (!seen.has(id)) seen.set(id, { stage: record.stage, key });
    }
  }
  return [...seen.values()];
}

/** How many records hold a number under each key. */
function valueCounts(records: MetricsRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) {
      if (typeof value === 'number') counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Interval bounds are shown with their figure, not on their own. */
const boundSuffixes = ['_low', '_high'];
const isBound = (key: string) => boundSuffixes.some((suffix) => key.endsWith(suffix));
const isRate = (key: string) => /rate|accuracy|clipfrac|fraction|consistency/.test(key);

interface Figure {
  key: string;
  stage: string;
  value: number;
  low?: number;
  high?: number;
}

function figureOf(records: MetricsRecord[], key: string): Figure | null {
  const record = records.find((r) => typeof r[key] === 'number');
  if (!record) return null;
  const low = record[`${key}_low`];
  const high = record[`${key}_high`];
  return {
    key,
    stage: record.stage,
    value: record[key] as number,
    low: typeof low === 'number' ? low : undefined,
    high: typeof high === 'number' ? high : undefined,
  };
}

function FigureCard({ title, figure }: { title: string; figure: Figure }) {
  const show = (v: number) => (isRate(figure.key) ? percent(v) : number(v));
  return (
    <section class="chart-card figure-card" data-figure={title}>
      <header>
        <h3>{title}</h3>
        <span class="muted small">{figure.stage}</span>
      </header>
      <div class="figure-value">{show(figure.value)}</div>
      {figure.low !== undefined && figure.high !== undefined && (
        <div class="muted small">
          95% CI {show(figure.low)} – {show(figure.high)}
        </div>
      )}
    </section>
  );
}

function otherKeys(records: MetricsRecord[]): string[] {
  const keys = new Set<string>();
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) {
      if (key === 'stage' || key === 'step' || key === 'time' || headlineKeys.has(key)) continue;
      if (typeof value === 'number') keys.add(key);
    }
  }
  return [...keys].sort();
}

export function MetricsTab({ metrics }: { metrics: MetricsState }) {
  const { records, version } = metrics;
  const counts = valueCounts(records);
  const single = (key: string) => counts.get(key) === 1;
  const others = otherKeys(records).filter((key) => !isBound(key));
  const figures = others.filter(single);
  // A metric logged by several stages (step time of the reward model and of PPO) gets a chart
  // per stage: their steps count different things.
  const charts = others
    .filter((key) => !single(key))
    .flatMap((key) => {
      const specs = seriesFor(records, [key]);
      if (specs.length <= 1) return [{ title: key, series: specs }];
      return specs.map((spec) => ({ title: `${key} · ${spec.stage}`, series: [spec] }));
    });
  return (
    <div>
      {metrics.error && <p class="error">{metrics.error}</p>}
      <div class="chart-grid">
        {headline.map(({ title, keys }) => {
          const lone = keys.length === 1 && single(keys[0]) ? figureOf(records, keys[0]) : null;
          if (lone) return <FigureCard key={title} title={title} figure={lone} />;
          return (
            <MetricChart
              key={title}
              title={title}
              series={seriesFor(records, keys)}
              records={records}
              version={version}
              unitRange={keys.every(isRate)}
            />
          );
        })}
      </div>
      {others.length > 0 && (
        <details class="metric-group" open>
          <summary>
            All metrics <span class="muted small">{others.length}</span>
          </summary>
          {figures.length > 0 && (
            <div class="chart-grid figure-grid">
              {figures.map((key) => (
                <FigureCard key={key} title={key} figure={figureOf(records, key)!} />
              ))}
            </div>
          )}
          <div class="chart-grid">
            {charts.map(({ title, series }) => (
              <MetricChart
                key={title}
                title={title}
                series={series}
                records={records}
                version={version}
                unitRange={series.every((spec) => isRate(spec.key))}
              />
            ))}
          </div>
        </details>
      )}
    </div>
  );
}
