/**
 * Polls a run's metrics from a byte cursor and appends new lines in place, so a training run's
 * charts grow without a reload. A file that shrank (rewritten on resume) starts over.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

import { api, type MetricsRecord } from './api.ts';

export interface MetricsState {
  records: MetricsRecord[];
  /** Bumped whenever records change. */
  version: number;
  last?: MetricsRecord;
  /** A new line arrived within the last half minute. */
  live: boolean;
  error?: string;
}

const pollMs = 1500;

export function useMetrics(run: string): MetricsState {
  const records = useRef<MetricsRecord[]>([]);
  const [state, setState] = useState<MetricsState>({
    records: records.current,
    version: 0,
    live: false,
  });

  useEffect(() => {
    let cursor = 0;
    let alive = true;
    let lastArrival = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const poll = async () => {
      try {
        const page = await api.metrics(run, cursor);
        if (!alive) return;
        if (page.reset) records.current.length = 0;
        if (page.records.length > 0 || page.reset) {
          records.current.push(...page.records);
          // The first load is history, not a sign of training.
          if (cursor > 0) lastArrival = Date.now();
        }
        cursor = page.cursor;
        setState((previous) => {
          const live = Date.now() - lastArrival < 30_000;
          const changed = page.records.length > 0 || page.reset;
          if (!changed && live === previous.live && !previous.error) return previous;
          return {
            records: records.current,
            version: previous.version + (changed ? 1 : 0),
            last: records.current[records.current.length - 1],
            live,
          };
        });
      } catch (error) {
        if (alive) setState((previous) => ({ ...previous, error: (error as Error).message }));
      }
      if (alive) timer = setTimeout(poll, pollMs);
    };
    void poll();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [run]);

  return state;
}
