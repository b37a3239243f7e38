/**
 * Human labels from blind comparisons, kept in the run's store.sqlite beside the AI judgments.
 * A label records which response won in the pair's own identity (`a` or `b`), never the screen
 * position, so agreement with the judge and policy win rates read straight from the table.
 */
import type { Database } from 'better-sqlite3';

import type { PreferenceRecord } from '../judge/types.ts';

/** What kind of pair was shown: one the AI judge labelled, or samples of two policies. */
export type HumanPairKind = 'judged' | 'policy';

export type HumanChoice = 'a' | 'b' | 'tie';

export interface HumanLabelInput {
  /** Stable id of the pair within the run (a content hash or a store id). */
  pairId: string;
  kind: HumanPairKind;
  prompt: string;
  responseA: string;
  responseB: string;
  /** Where each response came from: `chosen`/`rejected` for judged pairs, a policy name otherwise. */
  sourceA: string;
  sourceB: string;
  winner: HumanChoice;
  /** Which response was shown on the left; kept to measure the person's own position bias. */
  shownLeft: 'a' | 'b';
  /** The judge's P(a better than b) on this pair, when it judged it. */
  aiProbA?: number;
  labeler?: string;
}

export interface HumanLabel extends Required<Omit<HumanLabelInput, 'aiProbA'>> {
  id: number;
  aiProbA: number | null;
  /** Unix time in milliseconds. */
  createdAt: number;
}

interface HumanLabelRow {
  id: number;
  pair_id: string;
  kind: HumanPairKind;
  prompt: string;
  response_a: string;
  response_b: string;
  source_a: string;
  source_b: string;
  winner: HumanChoice;
  shown_left: 'a' | 'b';
  ai_prob_a: number | null;
  labeler: string;
  created_at: number;
}

const schema = `
CREATE TABLE IF NOT EXISTS human_labels (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pair_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('judged', 'policy')),
  prompt TEXT NOT NULL,
  response_a TEXT NOT NULL,
  response_b TEXT NOT NULL,
  source_a TEXT NOT NULL,
  source_b TEXT NOT NULL,
  winner TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie')),
  shown_left TEXT NOT NULL CHECK (shown_left IN ('a', 'b')),
  ai_prob_a REAL,
  labeler TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS human_labels_pair ON human_labels (pair_id);
`;

export interface HumanLabelStoreOptions {
  /** An open better-sqlite3 handle on the run's store.sqlite (WAL mode is set here). */
  db: Database;
  /** Clock for `createdAt`; default `Date.now`. */
  clock?: () => number;
}

export class HumanLabelStore {
  private readonly db: Database;
  private readonly clock: () => number;

  constructor(options: HumanLabelStoreOptions) {
    this.db = options.db;
    this.clock = options.clock ?? Date.now;
    this.db.pragma('journal_mode = WAL');
    this.db.exec(schema);
  }

  add(input: HumanLabelInput): HumanLabel {
    const createdAt = this.clock();
    const row = this.db
      .prepare(
        `INSERT INTO human_labels (pair_id, kind, prompt, response_a, response_b, source_a,
           source_b, winner, shown_left, ai_prob_a, labeler, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        input.pairId,
        input.kind,
        input.prompt,
        input.responseA,
        input.responseB,
        input.sourceA,
        input.sourceB,
        input.winner,
        input.shownLeft,
        input.aiProbA ?? null,
        input.labeler ?? '',
        createdAt,
      ) as HumanLabelRow;
    return fromRow(row);
  }

  /** All labels, oldest first; `kind` narrows to one kind of pair. */
  list(options: { kind?: HumanPairKind } = {}): HumanLabel[] {
    const rows = options.kind
      ? this.db.prepare('SELECT * FROM human_labels WHERE kind = ? ORDER BY id').all(options.kind)
      : this.db.prepare('SELECT * FROM human_labels ORDER BY id').all();
    return (rows as HumanLabelRow[]).map(fromRow);
  }

  /** Ids of the pairs of `kind` that already carry a label, so a session can skip them. */
  labelledPairIds(kind: HumanPairKind): Set<string> {
    const rows = this.db
      .prepare('SELECT DISTINCT pair_id FROM human_labels WHERE kind = ?')
      .all(kind) as { pair_id: string }[];
    return new Set(rows.map((r) => r.pair_id));
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM human_labels').get() as { n: number }).n;
  }
}

/**
 * Decided labels as preference records (`source: 'human'`, pChosen 1), ready to mix with AI
 * labels for reward-model training. Ties carry no preference and are left out.
 */
export function humanPreferenceRecords(labels: readonly HumanLabel[]): PreferenceRecord[] {
  return labels
    .filter((label) => label.winner !== 'tie')
    .map((label) => {
      const aWins = label.winner === 'a';
      return {
        prompt: label.prompt,
        chosen: aWins ? label.responseA : label.responseB,
        rejected: aWins ? label.responseB : label.responseA,
        pChosen: 1,
        judge: label.labeler ? `human:${label.labeler}` : 'human',
        source: 'human' as const,
      };
    });
}

function fromRow(row: HumanLabelRow): HumanLabel {
  return {
    id: row.id,
    pairId: row.pair_id,
    kind: row.kind,
    prompt: row.prompt,
    responseA: row.response_a,
    responseB: row.response_b,
    sourceA: row.source_a,
    sourceB: row.source_b,
    winner: row.winner,
    shownLeft: row.shown_left,
    aiProbA: row.ai_prob_a,
    labeler: row.labeler,
    createdAt: row.created_at,
  };
}
