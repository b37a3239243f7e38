/**
 * Blind comparison: a prompt and two responses in random order, with nothing that says which
 * the judge preferred or which policy wrote which. The person answers with the keyboard; the
 * server maps the screen side back to the pair's own identity before storing the label.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import { api, type LabelSummary, type NextPair } from '../api.ts';
import { intervalText, percent } from '../format.ts';

type Choice = 'left' | 'right' | 'tie';

const keyChoices: Record<string, Choice> = {
  '1': 'left',
  ArrowLeft: 'left',
  '2': 'right',
  ArrowRight: 'right',
  '0': 'tie',
  ArrowDown: 'tie',
};

export function CompareTab({ run }: { run: string }) {
  const [kind, setKind] = useState<'judged' | 'policy'>('judged');
  const [pair, setPair] = useState<NextPair | null>(null);
  const [summary, setSummary] = useState<LabelSummary | null>(null);
  const [flash, setFlash] = useState<Choice | null>(null);
  const [error, setError] = useState<string | null>(null);
  const busy = useRef(false);
  // Who is labelling, remembered in this browser; optional.
  const [labeler, setLabeler] = useState(() => localStorage.getItem('rlaif.labeler') ?? '');

  const loadNext = useCallback(() => {
    api.nextPair(run, kind).then(setPair, (e: Error) => setError(e.message));
  }, [run, kind]);

  useEffect(() => {
    loadNext();
    api.labels(run).then(setSummary, (e: Error) => setError(e.message));
  }, [loadNext]);

  const choose = useCallback(
    async (choice: Choice) => {
      if (!pair || pair.done || busy.current) return;
      busy.current = true;
      setFlash(choice);
      try {
        setSummary(await api.label(run, pair.presentationId, choice, labeler.trim()));
        setError(null);
      } catch (e) {
        setError((e as Error).message);
      }
      busy.current = false;
      setFlash(null);
      loadNext();
    },
    [run, pair, loadNext, labeler],
  );

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement)
        return;
      const choice = keyChoices[event.key];
      if (!choice) return;
      event.preventDefault();
      void choose(choice);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [choose]);

  return (
    <div class="compare">
      <div class="compare-bar">
        <label>
          Pairs
          <select
            value={kind}
            onChange={(e) => {
              const select = e.target as HTMLSelectElement;
              setKind(select.value as 'judged' | 'policy');
              // Hand the keys back to labelling.
              select.blur();
            }}
          >
            <option value="judged">labelled by the AI judge</option>
            <option value="policy">final vs start policy</option>
          </select>
        </label>
        <label class="labeler">
          Your name (optional)
          <input
            type="text"
            value={labeler}
            maxLength={100}
            placeholder="anonymous"
            onInput={(e) => {
              const value = (e.target as HTMLInputElement).value;
              setLabeler(value);
              localStorage.setItem('rlaif.labeler', value);
            }}
            onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
          />
        </label>
        {pair && (
          <span class="muted small">
            {pair.remaining} of {pair.total} pairs still unlabelled
          </span>
        )}
      </div>
      {error && <p class="error">{error}</p>}
      {pair?.done && (
        <p class="card muted done">
          {pair.total === 0
            ? kind === 'policy'
              ? 'This run stored no evaluation responses of a start and a final policy to compare.'
              : 'This run has no pairs labelled by the AI judge yet.'
            : `All ${pair.total} pairs of this kind have a label.`}
        </p>
      )}
      {pair && !pair.done && (
        <div class="blind" data-presentation={pair.presentationId}>
          <div class="prompt">
            <div class="label">Prompt</div>
            <p>{pair.prompt}</p>
          </div>
          <div class="responses">
            <button
              class={flash === 'left' ? 'response pick flash' : 'response pick'}
              data-side="left"
              onClick={() => choose('left')}
            >
              <div class="label">
                <kbd>1</kbd> <kbd>←</kbd> Left
              </div>
              <p>{pair.left}</p>
            </button>
            <button
              class={flash === 'right' ? 'response pick flash' : 'response pick'}
              data-side="right"
              onClick={() => choose('right')}
            >
              <div class="label">
                <kbd>2</kbd> <kbd>→</kbd> Right
              </div>
              <p>{pair.right}</p>
            </button>
          </div>
          <div class="tie-row">
            <button class={flash === 'tie' ? 'tie flash' : 'tie'} onClick={() => choose('tie')}>
              <kbd>0</kbd> <kbd>↓</kbd> About the same
            </button>
            <span class="muted small">Which response is better? Use the keys or click.</span>
          </div>
        </div>
      )}
      {summary && <LabelStats summary={summary} />}
    </div>
  );
}

function LabelStats({ summary }: { summary: LabelSummary }) {
  const { agreement, winRates } = summary;
  return (
    <div class="stats">
      <section
        class="stat card"
        data-stat="agreement"
        data-n={agreement.n}
        data-labels={summary.count}
      >
        <div class="label">AI–human agreement</div>
        <div class="big">{percent(agreement.rate)}</div>
        <div class="small">
          {agreement.agree} of {agreement.n} pairs · {intervalText(agreement.interval)}
        </div>
        <p class="muted small note">
          People's picks against the judge's verdict on the same pairs. {summary.count} labels in
          all; ties left out: {agreement.humanTies} by people, {agreement.aiTies} by the judge.
        </p>
      </section>
      {winRates.map((w) => (
        <section class="stat card" key={`${w.policy}|${w.opponent}`} data-stat="win-rate">
          <div class="label">
            Blind win rate: {w.policy} over {w.opponent}
          </div>
          <div class="big">{percent(w.rate)}</div>
          <div class="muted small">
            {w.wins} wins, {w.ties} ties, {w.losses} losses · {intervalText(w.interval)}
          </div>
        </section>
      ))}
    </div>
  );
}
