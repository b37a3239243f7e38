/**
 * The list of runs in the runs folder, newest first, refreshed every few seconds.
 */
import { useEffect, useState } from 'preact/hooks';

import { api, type RunListing } from '../api.ts';
import { ago, runHref, summaryFigures } from '../format.ts';

export function RunList() {
  const [runs, setRuns] = useState<RunListing[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const load = () =>
      api
        .runs()
        .then((body) => alive && (setRuns(body.runs), setError(null)))
        .catch((e: Error) => alive && setError(e.message));
    load();
    const timer = setInterval(load, 5000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, []);

  if (error) return <p class="error">{error}</p>;
  if (!runs) return <p class="muted">loading runs…</p>;
  if (runs.length === 0)
    return (
      <p class="muted">
        No runs yet. Start one with <code>rlaif run</code>.
      </p>
    );

  return (
    <section>
      <h1>Runs</h1>
      <table class="table runs">
        <thead>
          <tr>
            <th>run</th>
            <th>last stage</th>
            <th>step</th>
            <th>updated</th>
            <th>summary</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.name}>
              <td>
                <a href={runHref(run.name, 'metrics')}>{run.name}</a>
              </td>
              <td>{run.lastStage ?? '–'}</td>
              <td>{run.lastStep ?? '–'}</td>
              <td class="muted">
                {Date.now() - run.updatedAt < 60_000 && <span class="chip live">● live</span>}
                {ago(run.updatedAt)}
              </td>
              <td class="summary-cell">
                {run.summary
                  ? summaryFigures(run.summary as Record<string, unknown>)
                      .slice(0, 4)
                      .map((figure) => (
                        <span class="chip" key={figure.key}>
                          {figure.label} {figure.value}
                        </span>
                      ))
                  : '–'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
