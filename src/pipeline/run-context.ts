/**
 * What every stage of a run receives: the resolved config, the run directory and its files,
 * the shared SQLite store, the metrics writer, a logger, an abort signal (Ctrl-C) and a clock.
 */
import { join } from 'node:path';

import type Database from 'better-sqlite3';

import type { RunStore } from '../store/run-store.ts';
import { RlaifError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import type { MetricsWriter } from '../util/metrics.ts';
import type { LoadedConfig, RunConfig } from './config.ts';

export interface RunFiles {
  dir: string;
  config: string;
  store: string;
  metrics: string;
  preferences: string;
  checkpoints: string;
  report: string;
  summary: string;
}

export function runFiles(dir: string): RunFiles {
  return {
    dir,
    config: join(dir, 'config.yaml'),
    store: join(dir, 'store.sqlite'),
    metrics: join(dir, 'metrics.jsonl'),
    preferences: join(dir, 'preferences.jsonl'),
    checkpoints: join(dir, 'checkpoints'),
    report: join(dir, 'report.html'),
    summary: join(dir, 'summary.json'),
  };
}

export interface RunContext {
  loaded: LoadedConfig;
  config: RunConfig;
  files: RunFiles;
  db: Database.Database;
  store: RunStore;
  metrics: MetricsWriter;
  logger: Logger;
  /** Aborted on Ctrl-C: stages stop at the next safe point, leaving a resumable run. */
  signal: AbortSignal;
  clock: () => number;
  /** Hide progress bars (tests). */
  quiet: boolean;
}

/** The run was stopped on request; everything done so far is stored. */
export class RunInterrupted extends RlaifError {
  constructor(stage: string) {
    super(`stopped during ${stage}; run the same command again to resume`);
    this.name = 'RunInterrupted';
  }
}

export function throwIfStopped(context: RunContext, stage: string): void {
  if (context.signal.aborted) throw new RunInterrupted(stage);
}
