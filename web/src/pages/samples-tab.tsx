/**
 * The sample browser: prompts on the left; on the right the responses the policy wrote for
 * the selected prompt and the judge's verdicts on pairs of them (soft label, principle,
 * rationale, whether both orders agreed).
 */
import { useEffect, useState } from 'preact/hooks';

import { api, type SampleGroup, type SamplePage } from '../api.ts';
import { ConsistencyBadge, SoftLabel } from '../components/pair-detail.tsx';
import { runHref } from '../format.ts';

const pageSize = 50;

export function SamplesTab({ run, item }: { run: string; item?: string }) {
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<SamplePage | null>(null);
  const [selected, setSelected] = useState<SampleGroup | null>(null);
  const [error, setError] = useState<string | null>(null);
  const index = item === undefined ? undefined : Number(item);

  useEffect(() => {
    api.samples(run, q, offset, pageSize).then(setPage, (e: Error) => setError(e.message));
  }, [run, q, offset]);

  useEffect(() => {
    if (index === undefined || !Number.isInteger(index)) return setSelected(null);
    api.sample(run, index).then(setSelected, (e: Error) => setError(e.message));
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
              {page.items.map((group) => (
                <li key={group.promptIndex} class={group.promptIndex === index ? 'active' : ''}>
                  <a href={runHref(run, 'samples', group.promptIndex)}>
                    <span class="item-prompt">{group.prompt}</span>
                    <span class="muted small">
                      {plural(group.responses, 'response')} · {plural(group.verdicts, 'verdict')}
                      {group.inconsistent > 0 && (
                        <span class="flag"> · {group.inconsistent} swap-inconsistent</span>
                      )}
                    </span>
                  </a>
                </li>
              ))}
            </ul>
            <Pager total={page.total} offset={offset} size={pageSize} onChange={setOffset} />
            {page.source === 'preferences' && (
              <p class="muted small">From preferences.jsonl: the run store holds no samples.</p>
            )}
          </>
        )}
      </aside>
      <div class="browser-detail">
        {error && <p class="error">{error}</p>}
        {selected ? (
          <SampleDetail group={selected} />
        ) : (
          <p class="muted pick-hint">Pick a prompt on the left.</p>
        )}
      </div>
    </div>
  );
}

function SampleDetail({ group }: { group: SampleGroup }) {
  const chosenCount = group.responses.map(
    (_, i) => group.verdicts.filter((v) => v.chosen === i).length,
  );
  return (
    <article class="pair-detail" data-sample={group.promptIndex}>
      <div class="prompt">
        <div class="label">Prompt {group.promptIndex}</div>
        <p>{group.prompt}</p>
      </div>
      <div class="responses">
        {group.responses.map((response, i) => (
          <div class="response" key={response.sampleIndex} data-response={i}>
            <div class="label">
              Response #{response.sampleIndex}{' '}
              <span class="muted">
                {response.text.length} chars
                {response.finishReason ? ` · ${response.finishReason}` : ''}
                {chosenCount[i] > 0 && ` · chosen ${chosenCount[i]}×`}
              </span>
            </div>
            <p>{response.text}</p>
          </div>
        ))}
      </div>
      <h3 class="section">Verdicts</h3>
      {group.verdicts.length === 0 && <p class="muted">No verdicts on these responses yet.</p>}
      <table class="table verdicts">
        <thead>
          <tr>
            <th>chosen</th>
            <th>over</th>
            <th>soft label</th>
            <th>both orders</th>
            <th>principle</th>
            <th>rationale</th>
          </tr>
        </thead>
        <tbody>
          {group.verdicts.map((verdict, i) => (
            <tr key={i}>
              <td>#{group.responses[verdict.chosen].sampleIndex}</td>
              <td>#{group.responses[verdict.rejected].sampleIndex}</td>
              <td>
                <SoftLabel p={verdict.pChosen} />
              </td>
              <td>
                <ConsistencyBadge consistent={verdict.consistent} />
                {verdict.perOrder && verdict.shownFirst !== undefined && (
                  <div class="muted small per-order" title="P(chosen better) from each order alone">
                    {verdict.perOrder
                      .map((p, order) => {
                        const first = order === 0 ? verdict.shownFirst! : otherOf(verdict);
                        return `#${group.responses[first].sampleIndex} first: ${p.toFixed(2)}`;
                      })
                      .join(' · ')}
                  </div>
                )}
              </td>
              <td>{verdict.principle ?? '–'}</td>
              <td class="rationale">
                {verdict.rationale ?? '–'} <span class="muted small">({verdict.judge})</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  );
}

/** The response of a verdict that was not shown first. */
function otherOf(verdict: SampleGroup['verdicts'][number]): number {
  return verdict.shownFirst === verdict.chosen ? verdict.rejected : verdict.chosen;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function Pager(props: {
  total: number;
  offset: number;
  size: number;
  onChange(offset: number): void;
}) {
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
