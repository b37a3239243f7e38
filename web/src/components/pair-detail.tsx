/**
 * A judged pair in full: the prompt, the chosen and rejected responses side by side, the
 * judge's soft label as a bar, its principle, rationale and whether both orders agreed.
 */
import type { PreferenceRow } from '../api.ts';
import { percent } from '../format.ts';

export function SoftLabel({ p }: { p: number }) {
  return (
    <div class="soft-label" title={`P(chosen better) = ${p.toFixed(3)}`}>
      <div class="soft-bar">
        <div class="soft-fill" style={{ width: `${100 * p}%` }} />
        <div class="soft-mid" />
      </div>
      <span>{p.toFixed(3)}</span>
    </div>
  );
}

/** Whether both presentation orders picked the same response. */
export function ConsistencyBadge({ consistent }: { consistent?: boolean }) {
  if (consistent === undefined) return <>–</>;
  return consistent ? (
    <span class="badge ok">agreed</span>
  ) : (
    <span class="badge bad">disagreed</span>
  );
}

export function PairDetail({ row }: { row: PreferenceRow }) {
  return (
    <article class="pair-detail" data-preference={row.index}>
      <div class="prompt">
        <div class="label">Prompt</div>
        <p>{row.prompt}</p>
      </div>
      <div class="responses">
        <div class="response chosen">
          <div class="label">
            Chosen <span class="muted">{row.chosen.length} chars</span>
          </div>
          <p>{row.chosen}</p>
        </div>
        <div class="response rejected">
          <div class="label">
            Rejected <span class="muted">{row.rejected.length} chars</span>
          </div>
          <p>{row.rejected}</p>
        </div>
      </div>
      <dl class="verdict">
        <dt>Soft label</dt>
        <dd>
          <SoftLabel p={row.pChosen} />
        </dd>
        <dt>Judge</dt>
        <dd>
          {row.judge} <span class="muted">({row.source})</span>
        </dd>
        <dt>Principle</dt>
        <dd>{row.principle ?? '–'}</dd>
        <dt>Both orders</dt>
        <dd>
          <ConsistencyBadge consistent={row.consistent} />
        </dd>
        <dt>Confidence</dt>
        <dd>|p − 0.5| = {row.margin.toFixed(3)}</dd>
        {row.weight !== undefined && (
          <>
            <dt>Weight</dt>
            <dd>{percent(row.weight, 0)}</dd>
          </>
        )}
        <dt>Rationale</dt>
        <dd class="rationale">{row.rationale ?? '–'}</dd>
      </dl>
    </article>
  );
}
