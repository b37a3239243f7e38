/**
 * Typed calls to the dashboard's JSON API. The shapes come from the server's own modules
 * (type-only imports, erased from the bundle).
 */
import type { MetricsRecord } from '../../src/util/metrics.ts';
import type {
  PreferencePage as ServerPreferencePage,
  PreferenceRow,
} from '../../src/serve/dashboard-pairs.ts';
import type { AuditFile, MetricsPage, RunListing } from '../../src/serve/dashboard-runs.ts';
import type { SampleGroup, SampleGroupSummary } from '../../src/serve/dashboard-samples.ts';
import type { StageInfo } from '../../src/serve/dashboard-store.ts';
import type { Agreement, Interval, WinRate } from '../../src/serve/dashboard-stats.ts';

export type {
  Agreement,
  AuditFile,
  Interval,
  MetricsPage,
  MetricsRecord,
  PreferenceRow,
  RunListing,
};
export type { SampleGroup, SampleGroupSummary, StageInfo, WinRate };

export interface SamplePage {
  source: 'store' | 'preferences';
  total: number;
  items: SampleGroupSummary[];
}

export interface PreferencePage extends ServerPreferencePage {
  problems: string[];
}
export interface RunDetail {
  name: string;
  config: string | null;
  summary: Record<string, unknown> | null;
  hasReport: boolean;
  preferences: number;
  problems: string[];
  labels: number;
  stages: StageInfo[];
}

export interface PreferenceFilters {
  consistency: 'any' | 'consistent' | 'inconsistent';
  maxMargin: string;
  length: 'any' | 'longer' | 'shorter';
  principle: string;
  q: string;
  offset: number;
  limit: number;
}

export interface LabelSummary {
  count: number;
  agreement: Agreement;
  winRates: WinRate[];
}

export type NextPair =
  | { done: true; total: number; remaining: 0 }
  | {
      done: false;
      presentationId: string;
      kind: 'judged' | 'policy';
      prompt: string;
      left: string;
      right: string;
      total: number;
      remaining: number;
    };

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, init);
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok)
    throw new ApiError(body.error ?? `${response.status} ${response.statusText}`, response.status);
  return body as T;
}

const run = (name: string) => `/api/runs/${encodeURIComponent(name)}`;

export const api = {
  runs: () => request<{ runs: RunListing[] }>('/api/runs'),
  run: (name: string) => request<RunDetail>(run(name)),
  metrics: (name: string, since: number) =>
    request<MetricsPage>(`${run(name)}/metrics?since=${since}`),
  preferences: (name: string, filters: PreferenceFilters) => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) {
      if (value !== '' && value !== 'any') params.set(key, String(value));
    }
    return request<PreferencePage>(`${run(name)}/preferences?${params}`);
  },
  preference: (name: string, index: number) =>
    request<PreferenceRow>(`${run(name)}/preferences/${index}`),
  samples: (name: string, q: string, offset: number, limit: number) =>
    request<SamplePage>(
      `${run(name)}/samples?${new URLSearchParams({ q, offset: String(offset), limit: String(limit) })}`,
    ),
  sample: (name: string, promptIndex: number) =>
    request<SampleGroup>(`${run(name)}/samples/${promptIndex}`),
  audits: (name: string) => request<{ audits: AuditFile[] }>(`${run(name)}/audits`),
  nextPair: (name: string, kind: string) =>
    request<NextPair>(`${run(name)}/compare/next?kind=${kind}`),
  label: (
    name: string,
    presentationId: string,
    choice: 'left' | 'right' | 'tie',
    labeler: string,
  ) =>
    request<LabelSummary>(`${run(name)}/labels`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ presentationId, choice, ...(labeler ? { labeler } : {}) }),
    }),
  labels: (name: string) => request<LabelSummary>(`${run(name)}/labels`),
};
