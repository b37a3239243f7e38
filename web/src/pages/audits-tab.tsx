/**
 * Judge audit results as written by an audit: any JSON, shown as nested tables of figures.
 */
import { useEffect, useState } from 'preact/hooks';

import { api, type AuditFile } from '../api.ts';
import type { SubsetReport } from '../../../src/judge/audit.ts';
import type { Estimate } from '../../../src/judge/stats.ts';
import { number, percent } from '../format.ts';

function Value({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">–</span>;
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null))
      return <span>{value.map(number).join(', ')}</span>;
    return (
      <ol class="audit-list">
        {value.slice(0, 50).map((v, i) => (
          <li key={i}>
            <Value value={v} />
          </li>
        ))}
      </ol>
    );
  }
  if (typeof value === 'object' && isTableOfRecords(value as Record<string, unknown>)) {
    return <RecordTable rows={value as Record<string, Record<string, unknown>>} />;
  }
  if (typeof value === 'object') {
    return (
      <table class="kv">
        <tbody>
          {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>
                <Value value={v} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  return <span class={typeof value === 'number' ? 'num' : ''}>{number(value)}</span>;
}

/** An object whose values are all flat objects: shown as one table, a row per key. */
function isTableOfRecords(value: Record<string, unknown>): boolean {
  const rows = Object.values(value);
  return (
    rows.length > 1 &&
    rows.every((row) => typeof row === 'object' && row !== null && !Array.isArray(row)) &&
    rows.every((row) =>
      Object.values(row as object).every((cell) => typeof cell !== 'object' || cell === null),
    )
  );
}

function RecordTable({ rows }: { rows: Record<string, Record<string, unknown>> }) {
  const columns = [...new Set(Object.values(rows).flatMap((row) => Object.keys(row)))];
  return (
    <table class="table audit-table">
      <thead>
        <tr>
          <th />
          {columns.map((c) => (
            <th key={c}>{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {Object.entries(rows).map(([name, row]) => (
          <tr key={name}>
            <th>{name}</th>
            {columns.map((c) => (
              <td key={c} class="num">
                <Value value={row[c]} />
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type AuditData = { judge: string; seed: number; subsets: SubsetReport[]; failureKinds: object };

function isAuditReport(data: unknown): data is AuditData {
  const report = data as Partial<AuditData> | null;
  return !!report && typeof report.judge === 'string' && Array.isArray(report.subsets);
}

const auditColumns: { key: keyof SubsetReport; title: string; rate: boolean; hint: string }[] = [
  { key: 'agreement', title: 'agreement', rate: true, hint: 'with gold, both orders combined' },
  {
    key: 'singleOrderAgreement',
    title: 'one order',
    rate: true,
    hint: 'agreement of single-order decisions',
  },
  { key: 'positionConsistency', title: 'consistent', rate: true, hint: 'same pick in both orders' },
  {
    key: 'firstPositionRate',
    title: 'first shown',
    rate: true,
    hint: 'picks the first-shown response (0.5 is unbiased)',
  },
  { key: 'longerRate', title: 'longer', rate: true, hint: 'picks the longer response' },
  {
    key: 'goldLongerRate',
    title: 'gold longer',
    rate: true,
    hint: 'gold prefers the longer response (baseline)',
  },
  {
    key: 'lengthCorrelation',
    title: 'length r',
    rate: false,
    hint: 'Pearson r of P(first) with the log length ratio',
  },
  {
    key: 'lengthSlope',
    title: 'length slope',
    rate: false,
    hint: 'slope of logit P(first) on the log length ratio',
  },
];

function EstimateCell({ estimate, rate }: { estimate: Estimate; rate: boolean }) {
  const show = (v: number) => (rate ? percent(v) : v.toFixed(2));
  return (
    <td class="num estimate" title={`n = ${estimate.n}`}>
      <strong>{show(estimate.value)}</strong>
      <span class="muted small">
        {show(estimate.low)} – {show(estimate.high)}
      </span>
    </td>
  );
}

/** A judge audit report: one row per gold subset, each figure with its 95% interval. */
function AuditReportView({ report }: { report: AuditData }) {
  const failures = Object.entries(report.failureKinds as Record<string, number>);
  return (
    <div data-audit-report>
      <p class="muted small">
        judge <strong>{report.judge}</strong> · seed {report.seed} · failures:{' '}
        {failures.length === 0 ? 'none' : failures.map(([k, v]) => `${k} ${v}`).join(', ')}
      </p>
      <table class="table audit-report">
        <thead>
          <tr>
            <th>subset</th>
            <th>items</th>
            {auditColumns.map((c) => (
              <th key={c.key} title={c.hint}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {report.subsets.map((subset) => (
            <tr key={subset.subset}>
              <th>{subset.subset}</th>
              <td class="num">
                {subset.items}
                {subset.failures > 0 && (
                  <span class="muted small"> ({subset.failures} failed)</span>
                )}
              </td>
              {auditColumns.map((c) => (
                <EstimateCell key={c.key} estimate={subset[c.key] as Estimate} rate={c.rate} />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small">
        Each cell: the estimate and its 95% interval. Hover a column for its meaning.
      </p>
    </div>
  );
}

export function AuditsTab({ run }: { run: string }) {
  const [audits, setAudits] = useState<AuditFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.audits(run).then(
      (body) => setAudits(body.audits),
      (e: Error) => setError(e.message),
    );
  }, [run]);

  if (error) return <p class="error">{error}</p>;
  if (!audits) return <p class="muted">loading…</p>;
  if (audits.length === 0) {
    return (
      <p class="muted">
        No judge audits in this run. Write one into the run folder with{' '}
        <code>rlaif judge audit --json runs/{run}/audit.json</code>.
      </p>
    );
  }
  return (
    <div class="audits">
      {audits.map((audit) => (
        <section class="card" key={audit.file}>
          <h3>{audit.file}</h3>
          {audit.error ? (
            <p class="error">{audit.error}</p>
          ) : isAuditReport(audit.data) ? (
            <AuditReportView report={audit.data} />
          ) : (
            <Value value={audit.data} />
          )}
        </section>
      ))}
    </div>
  );
}
