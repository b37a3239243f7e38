/**
 * The SQLite handles the dashboard keeps on run stores: one better-sqlite3 connection per run,
 * opened on first use and shared by the human-label table and the reads of the pipeline's
 * tables (through their owner's RunStore). A run without a store.sqlite gets one only when a
 * label is written; the pipeline's tables are only read, never created, from here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type Database from 'better-sqlite3';

import { HumanLabelStore, type HumanPairKind } from '../store/human-labels.ts';
import {
  RunStore,
  openRunDatabase,
  type EvalSampleRow,
  type EvalVerdictRow,
  type StoredPreference,
} from '../store/run-store.ts';
import { JudgmentStore } from '../store/judgments.ts';
import { groupsFromStore, type PerOrderLookup, type SampleGroup } from './dashboard-samples.ts';

interface Handle {
  db: Database.Database;
  labels: HumanLabelStore;
  runStore?: RunStore;
}

export interface StageInfo {
  name: string;
  status: string;
  startedAt: number;
  finishedAt?: number;
}

/** Both policies' evaluation responses and the training judge's verdicts on them. */
export interface PolicySamples {
  start: EvalSampleRow[];
  final: EvalSampleRow[];
  judgeVerdicts: EvalVerdictRow[];
}

export class RunStores {
  private readonly handles = new Map<string, Handle>();

  hasStore(runDir: string): boolean {
    return this.handles.has(runDir) || existsSync(join(runDir, 'store.sqlite'));
  }

  labels(runDir: string): HumanLabelStore {
    return this.open(runDir).labels;
  }

  labelCount(runDir: string): number {
    return this.hasStore(runDir) ? this.labels(runDir).count() : 0;
  }

  labelledPairIds(runDir: string, kind: HumanPairKind): Set<string> {
    return this.hasStore(runDir) ? this.labels(runDir).labelledPairIds(kind) : new Set();
  }

  /** Stage status from the pipeline's table; empty when the run has none. */
  stages(runDir: string): StageInfo[] {
    return this.runStore(runDir)?.stages() ?? [];
  }

  /** Sample groups from the store, or undefined when the pipeline stored no samples. */
  sampleGroups(runDir: string): SampleGroup[] | undefined {
    const store = this.runStore(runDir);
    if (!store) return undefined;
    const samples = store.samples();
    if (samples.length === 0) return undefined;
    const preferences = store.preferences();
    const judges = new Set(preferences.map((p) => p.judge));
    return groupsFromStore(samples, preferences, this.perOrderLookup(runDir, judges));
  }

  storedPreferences(runDir: string): StoredPreference[] {
    return this.runStore(runDir)?.preferences() ?? [];
  }

  policySamples(runDir: string): PolicySamples {
    const store = this.runStore(runDir);
    if (!store) return { start: [], final: [], judgeVerdicts: [] };
    return {
      start: store.evalSamples('start'),
      final: store.evalSamples('final'),
      judgeVerdicts: store.evalVerdicts('judge'),
    };
  }

  /** Per-order probabilities from the judge's own verdict table, matched by content. */
  private perOrderLookup(runDir: string, judges: Set<string>): PerOrderLookup {
    const db = this.open(runDir).db;
    const found = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'judgments'")
      .get();
    if (!found) return () => undefined;
    const store = new JudgmentStore(db);
    const byContent = new Map<string, number[]>();
    for (const judge of judges) {
      for (const judgment of store.all(judge)) {
        const { perOrder } = judgment.verdict;
        if (perOrder)
          byContent.set(contentKey(judge, judgment.prompt, judgment.a, judgment.b), perOrder);
      }
    }
    return (judge, prompt, a, b) => byContent.get(contentKey(judge, prompt, a, b));
  }

  close(): void {
    for (const { db } of this.handles.values()) db.close();
    this.handles.clear();
  }

  /** The pipeline's RunStore, once its tables exist (they are created by the pipeline only). */
  private runStore(runDir: string): RunStore | undefined {
    if (!this.hasStore(runDir)) return undefined;
    const handle = this.open(runDir);
    if (!handle.runStore) {
      const found = handle.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_samples'")
        .get();
      if (found) handle.runStore = new RunStore(handle.db);
    }
    return handle.runStore;
  }

  private open(runDir: string): Handle {
    let handle = this.handles.get(runDir);
    if (!handle) {
      // WAL and a busy timeout: a training run may be writing the same file.
      const db = openRunDatabase(join(runDir, 'store.sqlite'));
      handle = { db, labels: new HumanLabelStore({ db }) };
      this.handles.set(runDir, handle);
    }
    return handle;
  }
}

function contentKey(...parts: string[]): string {
  return JSON.stringify(parts);
}
