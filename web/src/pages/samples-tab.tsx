/**
 * The sample browser: prompts on the left, the selected pair with its verdict on the right.
 */
import { useEffect, useState } from 'preact/hooks';

import { api, type PreferencePage, type PreferenceRow } from '../api.ts';
import { PairDetail } from '../components/pair-detail.tsx';
import { runHref } from '../format.ts';

const pageSize = 50;

export function SamplesTab({ run, item }: { run: string; item?: string }) {
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<PreferencePage | null>(null);
  const [selected, setSelected] = useState<PreferenceRow | null>(null);
  const [error, setError] = useState<string | null>(null);
  const index = item === undefined ? undefined : Number(item);

  useEffect(() => {
    api
      .preferences(run, { consistency: 'any', maxMargin: '', length: 'any', principle: '', q, offset, limit: pageSize })
      .then(setPage, (e: Error) => setError(e.message));
  }, [run, q, offset]);

  useEffect(() => {
    if (index === undefined || !Number.isInteger(index)) return setSelected(null);
    api.preference(run, index).then(setSelected, (e: Error) => setError(e.message));
  }, [run, index]);

  return (
    <div class="browser">
      <aside class="browser-list">
        <input
          class="search"
          type="search"
          placeholder="search prompts and responses"
          value={q}
          onInput={(e) => (setQ((e.target as HTMLInputElement).value), setOffset(0))}
        />
        {page && (
          <>
            <ul>
              {page.items.map((row) => (
                <li key={row.index} class={row.index === index ? 'active' : ''}>
                  <a href={runHref(run, 'samples', row.index)}>
                    <span class="item-prompt">{row.prompt}</span>
                    <span class="muted">
                      p {row.pChosen.toFixed(2)}
                      {row.consistent === false ? ' · swap-inconsistent' : ''}
                    </span>
                  </a>
                </li>
              ))}
            </ul>
            <Pager total={page.total} offset={offset} size={pageSize} onChange={setOffset} />
          </>
        )}
      </aside>
      <div class="browser-detail">
        {error && <p class="error">{error}</p>}
        {selected ? <PairDetail row={selected} /> : <p class="muted">Pick a sample on the left.</p>}
      </div>
    </div>
  );
}

export function Pager(props: { total: number; offset: number; size: number; onChange(offset: number): void }) {
  const { total, offset, size, onChange } = props;
  if (total <= size) return <p class="muted small">{total} shown</p>;
  return (
    <div class="pager">
      <button disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - size))}>
        ‹ prev
      </button>
      <span class="muted small">
        {offset + 1}–{Math.min(total, offset + size)} of {total}
      </span>
      <button disabled={offset + size >= total} onClick={() => onChange(offset + size)}>
        next ›
      </button>
    </div>
  );
}
