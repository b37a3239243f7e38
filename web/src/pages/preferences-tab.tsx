/**
 * The preference dataset with the filters that find questionable labels: pairs whose verdict
 * flipped when the responses swapped places, low-confidence soft labels, and pairs where the
 * longer (or shorter) response won, which shows a length bias when it dominates.
 */
import { useEffect, useState } from 'preact/hooks';

import { api, type PreferenceFilters, type PreferencePage, type PreferenceRow } from '../api.ts';
import { PairDetail, SoftLabel } from '../components/pair-detail.tsx';
import { percent, runHref } from '../format.ts';
import { Pager } from './samples-tab.tsx';

const initialFilters: PreferenceFilters = {
  consistency: 'any',
  maxMargin: '',
  length: 'any',
  principle: '',
  q: '',
  offset: 0,
  limit: 50,
};

export function PreferencesTab({ run, item }: { run: string; item?: string }) {
  const [filters, setFilters] = useState(initialFilters);
  const [page, setPage] = useState<PreferencePage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<PreferenceRow | null>(null);
  const index = item === undefined ? undefined : Number(item);

  useEffect(() => {
    if (index === undefined || !Number.isInteger(index)) return setSelected(null);
    api.preference(run, index).then(setSelected, (e: Error) => setError(e.message));
  }, [run, index]);

  useEffect(() => {
    api.preferences(run, filters).then(setPage, (e: Error) => setError(e.message));
  }, [run, filters]);

  const set = (patch: Partial<PreferenceFilters>) =>
    setFilters({ ...filters, offset: 0, ...patch });
  const value = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement).value;

  return (
    <div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Under swap
          <select
            name="consistency"
            value={filters.consistency}
            onChange={(e) => set({ consistency: value(e) as PreferenceFilters['consistency'] })}
          >
            <option value="any">any</option>
            <option value="inconsistent">inconsistent</option>
            <option value="consistent">consistent</option>
          </select>
        </label>
        <label>
          Confidence
          <select
            name="maxMargin"
            value={filters.maxMargin}
            onChange={(e) => set({ maxMargin: value(e) })}
          >
            <option value="">any</option>
            <option value="0.05">low: |p − 0.5| ≤ 0.05</option>
            <option value="0.1">low: |p − 0.5| ≤ 0.1</option>
            <option value="0.2">|p − 0.5| ≤ 0.2</option>
          </select>
        </label>
        <label>
          Length
          <select
            name="length"
            value={filters.length}
            onChange={(e) => set({ length: value(e) as PreferenceFilters['length'] })}
          >
            <option value="any">any</option>
            <option value="longer">chosen is longer</option>
            <option value="shorter">chosen is shorter</option>
          </select>
        </label>
        <label>
          Principle
          <select
            name="principle"
            value={filters.principle}
            onChange={(e) => set({ principle: value(e) })}
          >
            <option value="">any</option>
            {page?.principles.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label class="grow">
          Text
          <input
            type="search"
            name="q"
            value={filters.q}
            placeholder="search"
            onInput={(e) => set({ q: value(e) })}
          />
        </label>
      </form>
      {error && <p class="error">{error}</p>}
      {selected && (
        <div class="selected-pair">
          <div class="selected-head">
            <span class="muted small">preference #{selected.index}</span>
            <a class="small" href={runHref(run, 'preferences')}>
              close ✕
            </a>
          </div>
          <PairDetail row={selected} />
        </div>
      )}
      {page && (
        <>
          <p class="muted small">
            {page.total} matching · longer response chosen in {percent(page.longerChosenShare)} of
            pairs of unequal length
          </p>
          <table class="table prefs">
            <thead>
              <tr>
                <th>#</th>
                <th>prompt</th>
                <th>chosen</th>
                <th>rejected</th>
                <th>p(chosen)</th>
                <th>swap</th>
                <th>Δ length</th>
                <th>principle</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((row) => (
                <tr
                  key={row.index}
                  class={row.index === index ? 'active' : ''}
                  onClick={() => (location.hash = runHref(run, 'preferences', row.index))}
                >
                  <td class="muted">{row.index}</td>
                  <td class="clip">{row.prompt}</td>
                  <td class="clip">{row.chosen}</td>
                  <td class="clip">{row.rejected}</td>
                  <td>
                    <SoftLabel p={row.pChosen} />
                  </td>
                  <td>
                    {row.consistent === undefined ? (
                      '–'
                    ) : row.consistent ? (
                      <span class="badge ok">✓</span>
                    ) : (
                      <span class="badge bad">✗</span>
                    )}
                  </td>
                  <td class={row.lengthDiff > 0 ? 'num pos' : 'num'}>
                    {row.lengthDiff > 0 ? `+${row.lengthDiff}` : row.lengthDiff}
                  </td>
                  <td>{row.principle ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            total={page.total}
            offset={filters.offset}
            size={filters.limit}
            onChange={(offset) => setFilters({ ...filters, offset })}
          />
        </>
      )}
    </div>
  );
}
