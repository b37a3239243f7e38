/**
 * One run: its summary, and tabs for metrics, samples, the preference dataset, judge audits
 * and blind comparison. Metrics are polled here, so switching tabs keeps the points.
 */
import { useEffect, useState } from 'preact/hooks';

import { api, type RunDetail } from '../api.ts';
import { runHref, summaryFigures } from '../format.ts';
import { useMetrics } from '../use-metrics.ts';
import { AuditsTab } from './audits-tab.tsx';
import { CompareTab } from './compare-tab.tsx';
import { MetricsTab } from './metrics-tab.tsx';
import { PreferencesTab } from './preferences-tab.tsx';
import { SamplesTab } from './samples-tab.tsx';

export type RunTab = 'metrics' | 'samples' | 'preferences' | 'audits' | 'compare';

const tabLabels: Record<RunTab, string> = {
  metrics: 'Metrics',
  samples: 'Samples',
  preferences: 'Preferences',
  audits: 'Judge audits',
  compare: 'Blind comparison',
};

interface RunPageProps {
  run: string;
  tab: RunTab;
  item?: string;
}

export function RunPage({ run, tab, item }: RunPageProps) {
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const metrics = useMetrics(run);

  useEffect(() => {
    api.run(run).then(setDetail, (e: Error) => setError(e.message));
  }, [run]);

  if (error) return <p class="error">{error}</p>;

  return (
    <section>
      <div class="run-head">
        <h1>{run}</h1>
        <div class="run-facts">
          {metrics.last && (
            <span class={metrics.live ? 'chip live' : 'chip'}>
              {metrics.live ? '● training' : 'idle'} · {metrics.last.stage} step {metrics.last.step}
            </span>
          )}
          {detail?.stages.map((stage) => (
            <span
              key={stage.name}
              class={stage.status === 'done' ? 'chip stage done' : 'chip stage running'}
            >
              {stage.status === 'done' ? '✓' : '…'} {stage.name}
            </span>
          ))}
          {detail && <span class="chip">{detail.preferences} preferences</span>}
          {detail?.hasReport && (
            <a
              class="chip link"
              href={`/api/runs/${encodeURIComponent(run)}/report`}
              target="_blank"
            >
              report ↗
            </a>
          )}
          {summaryFigures(detail?.summary ?? null).map((figure) => (
            <span class="chip" key={figure.key}>
              {figure.label} <strong>{figure.value}</strong>
            </span>
          ))}
        </div>
      </div>
      {detail && detail.problems.length > 0 && (
        <details class="warning">
          <summary>{detail.problems.length} unreadable preference lines</summary>
          <ul>
            {detail.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      )}
      <nav class="tabs">
        {(Object.keys(tabLabels) as RunTab[]).map((name) => (
          <a key={name} href={runHref(run, name)} class={name === tab ? 'active' : ''}>
            {tabLabels[name]}
          </a>
        ))}
      </nav>
      {tab === 'metrics' && <MetricsTab metrics={metrics} />}
      {tab === 'samples' && <SamplesTab run={run} item={item} />}
      {tab === 'preferences' && <PreferencesTab run={run} item={item} />}
      {tab === 'audits' && <AuditsTab run={run} />}
      {tab === 'compare' && <CompareTab run={run} />}
    </section>
  );
}
