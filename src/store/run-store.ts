/**
 * The pipeline's tables in a run's store.sqlite: sampled responses, preferences, evaluation
 * samples and verdicts, and the status of each stage. Every row has a natural key (prompt,
 * sample index, pair), and writes are `INSERT OR IGNORE` in transactions, so a stage that is
 * killed and started again adds exactly the rows that were missing.
 */
import Database from 'better-sqlite3';

import type { PreferenceRecord } from '../judge/types.ts';

export type StageStatus = 'running' | 'done';

export interface SampleRow {
  promptIndex: number;
  sampleIndex: number;
  prompt: string;
  response: string;
  finishReason: string;
}

export interface StoredPreference extends PreferenceRecord {
  promptIndex: number;
  /** Sample indices of the two responses, as they were shown first (A) and second (B). */
  pair: [number, number];
}

export interface EvalSampleRow {
  /** 'start' or 'final': which policy wrote it. */
  policy: string;
  promptIndex: number;
  prompt: string;
  response: string;
  /** Sum of per-token log-ratio log p_policy - log p_ref over the response, in nats. */
  klToRef?: number;
}

export interface EvalVerdictRow {
  /** Who judged: 'evaluator' (held out) or 'judge' (the training judge). */
  judge: string;
  promptIndex: number;
  /** P(final policy's response is better), both orders combined. */
  pFinal: number;
  consistent?: boolean;
  principle?: string;
  rationale?: string;
}

/** Opens (creating if needed) a run's store in WAL mode, for every plane to share. */
export function openRunDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

export class RunStore {
  constructor(readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS run_stages (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        detail TEXT
      );
      CREATE TABLE IF NOT EXISTS run_samples (
        prompt_index INTEGER NOT NULL,
        sample_index INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        response TEXT NOT NULL,
        finish_reason TEXT NOT NULL,
        PRIMARY KEY (prompt_index, sample_index)
      );
      CREATE TABLE IF NOT EXISTS run_preferences (
        prompt_index INTEGER NOT NULL,
        sample_a INTEGER NOT NULL,
        sample_b INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (prompt_index, sample_a, sample_b)
      );
      CREATE TABLE IF NOT EXISTS run_eval_samples (
        policy TEXT NOT NULL,
        prompt_index INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        response TEXT NOT NULL,
        kl_to_ref REAL,
        PRIMARY KEY (policy, prompt_index)
      );
      CREATE TABLE IF NOT EXISTS run_eval_verdicts (
        judge TEXT NOT NULL,
        prompt_index INTEGER NOT NULL,
        p_final REAL NOT NULL,
        consistent INTEGER,
        principle TEXT,
        rationale TEXT,
        PRIMARY KEY (judge, prompt_index)
      );
    `);
  }

  // Stage status.

  stageStatus(name: string): StageStatus | undefined {
    const row = this.db.prepare('SELECT status FROM run_stages WHERE name = ?').get(name) as
      | { status: StageStatus }
      | undefined;
    return row?.status;
  }

  stageDetail<T>(name: string): T | undefined {
    const row = this.db.prepare('SELECT detail FROM run_stages WHERE name = ?').get(name) as
      | { detail: string | null }
      | undefined;
    return row?.detail ? (JSON.parse(row.detail) as T) : undefined;
  }

  markStarted(name: string, now: number): void {
    this.db
      .prepare(`INSERT INTO run_stages (name, status, started_at) VALUES (?, 'running', ?)
        ON CONFLICT(name) DO UPDATE SET status = 'running' WHERE status != 'done'`)
      .run(name, now);
  }

  markDone(name: string, now: number, detail?: unknown): void {
    this.db
      .prepare(`UPDATE run_stages SET status = 'done', finished_at = ?, detail = ? WHERE name = ?`)
      .run(now, detail === undefined ? null : JSON.stringify(detail), name);
  }

  stages(): { name: string; status: StageStatus; startedAt: number; finishedAt?: number }[] {
    const rows = this.db
      .prepare('SELECT name, status, started_at, finished_at FROM run_stages ORDER BY started_at')
      .all() as { name: string; status: StageStatus; started_at: number; finished_at: number | null }[];
    return rows.map((r) => ({
      name: r.name,
      status: r.status,
      startedAt: r.started_at,
      finishedAt: r.finished_at ?? undefined,
    }));
  }

  // Samples.

  addSamples(rows: SampleRow[]): void {
    const insert = this.db.prepare(`INSERT OR IGNORE INTO run_samples
      (prompt_index, sample_index, prompt, response, finish_reason) VALUES (?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const r of rows) {
        insert.run(r.promptIndex, r.sampleIndex, r.prompt, r.response, r.finishReason);
      }
    })();
  }

  /** Prompt indices whose K samples are all stored. */
  sampledPrompts(k: number): Set<number> {
    const rows = this.db
      .prepare(`SELECT prompt_index FROM run_samples GROUP BY prompt_index HAVING COUNT(*) >= ?`)
      .all(k) as { prompt_index: number }[];
    return new Set(rows.map((r) => r.prompt_index));
  }

  samples(): SampleRow[] {
    const rows = this.db
      .prepare(`SELECT prompt_index, sample_index, prompt, response, finish_reason FROM run_samples
        ORDER BY prompt_index, sample_index`)
      .all() as Record<string, string | number>[];
    return rows.map((r) => ({
      promptIndex: r.prompt_index as number,
      sampleIndex: r.sample_index as number,
      prompt: r.prompt as string,
      response: r.response as string,
      finishReason: r.finish_reason as string,
    }));
  }

  // Preferences.

  addPreferences(rows: StoredPreference[]): void {
    const insert = this.db.prepare(`INSERT OR IGNORE INTO run_preferences
      (prompt_index, sample_a, sample_b, record) VALUES (?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const { promptIndex, pair, ...record } of rows) {
        insert.run(promptIndex, pair[0], pair[1], JSON.stringify(record));
      }
    })();
  }

  hasPreference(promptIndex: number, pair: [number, number]): boolean {
    return this.db
      .prepare(`SELECT 1 FROM run_preferences WHERE prompt_index = ? AND sample_a = ? AND sample_b = ?`)
      .get(promptIndex, pair[0], pair[1]) !== undefined;
  }

  preferences(): StoredPreference[] {
    const rows = this.db
      .prepare(`SELECT prompt_index, sample_a, sample_b, record FROM run_preferences
        ORDER BY prompt_index, sample_a, sample_b`)
      .all() as { prompt_index: number; sample_a: number; sample_b: number; record: string }[];
    return rows.map((r) => ({
      ...(JSON.parse(r.record) as PreferenceRecord),
      promptIndex: r.prompt_index,
      pair: [r.sample_a, r.sample_b],
    }));
  }

  // Evaluation.

  addEvalSamples(rows: EvalSampleRow[]): void {
    const insert = this.db.prepare(`INSERT OR IGNORE INTO run_eval_samples
      (policy, prompt_index, prompt, response, kl_to_ref) VALUES (?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const r of rows) insert.run(r.policy, r.promptIndex, r.prompt, r.response, r.klToRef ?? null);
    })();
  }

  evalSamples(policy: string): EvalSampleRow[] {
    const rows = this.db
      .prepare(`SELECT policy, prompt_index, prompt, response, kl_to_ref FROM run_eval_samples
        WHERE policy = ? ORDER BY prompt_index`)
      .all(policy) as Record<string, string | number | null>[];
    return rows.map((r) => ({
      policy: r.policy as string,
      promptIndex: r.prompt_index as number,
      prompt: r.prompt as string,
      response: r.response as string,
      klToRef: (r.kl_to_ref as number | null) ?? undefined,
    }));
  }

  addEvalVerdicts(rows: EvalVerdictRow[]): void {
    const insert = this.db.prepare(`INSERT OR IGNORE INTO run_eval_verdicts
      (judge, prompt_index, p_final, consistent, principle, rationale) VALUES (?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const r of rows) {
        insert.run(r.judge, r.promptIndex, r.pFinal,
          r.consistent === undefined ? null : Number(r.consistent), r.principle ?? null,
          r.rationale ?? null);
      }
    })();
  }

  evalVerdicts(judge: string): EvalVerdictRow[] {
    const rows = this.db
      .prepare(`SELECT judge, prompt_index, p_final, consistent, principle, rationale
        FROM run_eval_verdicts WHERE judge = ? ORDER BY prompt_index`)
      .all(judge) as Record<string, string | number | null>[];
    return rows.map((r) => ({
      judge: r.judge as string,
      promptIndex: r.prompt_index as number,
      pFinal: r.p_final as number,
      consistent: r.consistent === null ? undefined : r.consistent === 1,
      principle: (r.principle as string | null) ?? undefined,
      rationale: (r.rationale as string | null) ?? undefined,
    }));
  }

  /** Forgets evaluation rows, when a resumed run has trained further than its evaluation. */
  clearEvaluation(): void {
    this.db.exec('DELETE FROM run_eval_verdicts; DELETE FROM run_eval_samples;');
  }
}
