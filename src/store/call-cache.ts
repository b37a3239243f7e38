/**
 * Every model call's reply, kept in the run's SQLite store under a content hash of (backend id,
 * model, request, parameters), so a rerun or a resumed job pays for nothing twice. Rows are
 * written once (INSERT OR IGNORE): a reply, once stored, never changes.
 */
import { createHash } from 'node:crypto';

import type Database from 'better-sqlite3';

import type { CompletionRequest, CompletionResult } from '../providers/types.ts';

export class CallCache {
  private readonly select: Database.Statement<[string], { result: string }>;
  private readonly insert: Database.Statement<[string, string, string, number]>;
  private readonly count: Database.Statement<[], { n: number }>;

  constructor(db: Database.Database, private readonly clock: () => number = Date.now) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS call_cache (
        key TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )
    `);
    this.select = db.prepare('SELECT result FROM call_cache WHERE key = ?');
    this.insert = db.prepare(
      'INSERT OR IGNORE INTO call_cache (key, backend, result, created_at) VALUES (?, ?, ?, ?)',
    );
    this.count = db.prepare('SELECT COUNT(*) AS n FROM call_cache');
  }

  /** The cache key of a request to a backend: sha256 over a canonical JSON form. */
  static key(backendId: string, request: CompletionRequest): string {
    return createHash('sha256').update(canonicalJson({ backend: backendId, request })).digest('hex');
  }

  get(key: string): CompletionResult | undefined {
    const row = this.select.get(key);
    return row ? (JSON.parse(row.result) as CompletionResult) : undefined;
  }

  put(key: string, backendId: string, result: CompletionResult): void {
    const { cached: _cached, costUsd: _cost, ...stored } = result;
    this.insert.run(key, backendId, JSON.stringify(stored), this.clock());
  }

  size(): number {
    return this.count.get()!.n;
  }
}

/** JSON with object keys sorted and undefined fields dropped, so equal requests hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined) out[key] = sortKeys(field);
  }
  return out;
}
