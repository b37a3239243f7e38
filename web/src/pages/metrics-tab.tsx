/**
 * Metric charts: the six a person looks at first (reward, KL, entropy, length, win rate, clip
 * fraction), then every other metric the run logs, one chart each, grouped by its namespace.
 */
import { MetricChart, type SeriesSpec } from '../components/metric-chart.tsx';
import type { MetricsRecord } from '../api.ts';
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
  const others = otherKeys(records);
  return (
    <div>
      {metrics.error && <p class="error">{metrics.error}</p>}
      <div class="chart-grid">
        {headline.map(({ title, keys }) => (
          <MetricChart
            key={title}
            title={title}
            series={seriesFor(records, keys)}
            records={records}
            version={version}
          />
        ))}
      </div>
      {others.length > 0 && (
        <details class="metric-group" open>
          <summary>
            All metrics <span class="muted small">{others.length}</span>
          </summary>
          <div class="chart-grid">
            {others.map((key) => (
              <MetricChart
                key={key}
                title={key}
                series={seriesFor(records, [key])}
                records={records}
                version={version}
              />
            ))}
          </div>
        </details>
      )}
    </div>
  );
}
