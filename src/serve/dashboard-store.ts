/**
 * The SQLite handles the dashboard keeps on run stores: one better-sqlite3 connection per run,
 * opened on first use and shared by the human-label table and the read-only queries on other
 * tables. A run without a store.sqlite gets one only when a label is written.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { HumanLabelStore } from '../store/human-labels.ts';

export class RunStores {
  private readonly handles = new Map<string, { db: Database.Database; labels: HumanLabelStore }>();

  hasStore(runDir: string): boolean {
    return this.handles.has(runDir) || existsSync(join(runDir, 'store.sqlite'));
  }

  /** The run's database, created if missing. */
  db(runDir: string): Database.Database {
    return this.open(runDir).db;
  }

  labels(runDir: string): HumanLabelStore {
    return this.open(runDir).labels;
  }

  labelCount(runDir: string): number {
    return this.hasStore(runDir) ? this.labels(runDir).count() : 0;
  }

  labelledPairIds(runDir: string): Set<string> {
    return this.hasStore(runDir) ? this.labels(runDir).labelledPairIds() : new Set();
  }

  close(): void {
    for (const { db } of this.handles.values()) db.close();
    this.handles.clear();
  }

  private open(runDir: string): { db: Database.Database; labels: HumanLabelStore } {
    let handle = this.handles.get(runDir);
    if (!handle) {
      const db = new Database(join(runDir, 'store.sqlite'));
      // A training run may be writing the same file; wait for its lock instead of failing.
      db.pragma('busy_timeout = 5000');
      handle = { db, labels: new HumanLabelStore({ db }) };
      this.handles.set(runDir, handle);
    }
    return handle;
  }
}
