/**
 * Judge verdicts of a labelling job, one row per (judge, item key). Each verdict is written in
 * its own statement as soon as it exists (INSERT OR IGNORE), so a job killed at any moment and
 * started again keeps every finished verdict, judges only the missing items, and never ends
 * with two verdicts for one item.
 */
import type Database from 'better-sqlite3';

import type { PairwiseVerdict } from '../judge/types.ts';

export interface StoredJudgment {
  judge: string;
  itemKey: string;
  prompt: string;
  a: string;
  b: string;
  verdict: PairwiseVerdict;
}

interface Row {
  judge: string;
  item_key: string;
  prompt: string;
  a: string;
  b: string;
  verdict: string;
}

export class JudgmentStore {
  private readonly insert: Database.Statement<[string, string, string, string, string, string, number]>;
  private readonly selectOne: Database.Statement<[string, string], Row>;
  private readonly selectKeys: Database.Statement<[string], { item_key: string }>;
  private readonly selectAll: Database.Statement<[string], Row>;

  constructor(db: Database.Database, private readonly clock: () => number = Date.now) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS judgments (
        judge TEXT NOT NULL,
        item_key TEXT NOT NULL,
        prompt TEXT NOT NULL,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        verdict TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (judge, item_key)
      )
    `);
    this.insert = db.prepare(`INSERT OR IGNORE INTO judgments
      (judge, item_key, prompt, a, b, verdict, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.selectOne = db.prepare('SELECT * FROM judgments WHERE judge = ? AND item_key = ?');
    this.selectKeys = db.prepare('SELECT item_key FROM judgments WHERE judge = ?');
    this.selectAll = db.prepare('SELECT * FROM judgments WHERE judge = ? ORDER BY rowid');
  }

  /** Stores a verdict unless the item already has one; returns whether it was new. */
  put(judgment: StoredJudgment): boolean {
    const { judge, itemKey, prompt, a, b, verdict } = judgment;
    return this.insert.run(judge, itemKey, prompt, a, b, JSON.stringify(verdict), this.clock()).changes === 1;
  }

  get(judge: string, itemKey: string): StoredJudgment | undefined {
    const row = this.selectOne.get(judge, itemKey);
    return row ? fromRow(row) : undefined;
  }

  /** Item keys this judge has already decided. */
  keys(judge: string): Set<string> {
    return new Set(this.selectKeys.all(judge).map((row) => row.item_key));
  }

  all(judge: string): StoredJudgment[] {
    return this.selectAll.all(judge).map(fromRow);
  }
}

function fromRow(row: Row): StoredJudgment {
  return {
    judge: row.judge,
    itemKey: row.item_key,
    prompt: row.prompt,
    a: row.a,
    b: row.b,
    verdict: JSON.parse(row.verdict) as PairwiseVerdict,
  };
}
