/**
 * Judge audit results as written by an audit: any JSON, shown as nested tables of figures.
 */
import { useEffect, useState } from 'preact/hooks';

import { api, type AuditFile } from '../api.ts';
import { number } from '../format.ts';

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
        No judge audits in this run. An audit writes <code>audit*.json</code> into the run folder.
      </p>
    );
  }
  return (
    <div class="audits">
      {audits.map((audit) => (
        <section class="card" key={audit.file}>
          <h3>{audit.file}</h3>
          {audit.error ? <p class="error">{audit.error}</p> : <Value value={audit.data} />}
        </section>
      ))}
    </div>
  );
}
