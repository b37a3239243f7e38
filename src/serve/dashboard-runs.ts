/**
 * Reading run directories for the dashboard: which runs exist, their metrics from a byte
 * cursor (so a page polling a training run fetches only new lines), the preference dataset,
 * judge audit files and the summary. Everything here only reads; a torn last line of a file
 * being written is left for the next poll.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

import { z } from 'zod';

import { InputError } from '../util/errors.ts';
import type { MetricsRecord } from '../util/metrics.ts';
import { preferenceRecordSchema } from '../interop/preference-files.ts';
import type { PreferenceRecord } from '../judge/types.ts';

/** Files whose presence marks a folder as a run directory. */
const runMarkers = ['config.yaml', 'metrics.jsonl', 'store.sqlite', 'preferences.jsonl'];

const runNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface RunListing {
  name: string;
  /** Latest modification time among the run's files, Unix ms. */
  updatedAt: number;
  hasMetrics: boolean;
  hasPreferences: boolean;
  hasStore: boolean;
  /** The stage and step of the last metrics line, when there is one. */
  lastStage?: string;
  lastStep?: number;
  summary?: unknown;
}

/** The run folder for `name`, refusing names that could leave `runsDir`. */
export function runPath(runsDir: string, name: string): string {
  if (!runNamePattern.test(name)) {
    throw new InputError(`not a run name: ${JSON.stringify(name)}`, { field: 'run' });
  }
  const dir = resolve(runsDir, name);
  if (!existsSync(dir) || !statSync(dir).isDirectory() || !isRun(dir)) {
    throw new RunNotFoundError(name);
  }
  return dir;
}

export class RunNotFoundError extends Error {
  constructor(readonly run: string) {
    super(`no run named ${JSON.stringify(run)}`);
    this.name = 'RunNotFoundError';
  }
}

function isRun(dir: string): boolean {
  return runMarkers.some((file) => existsSync(join(dir, file)));
}

export function listRuns(runsDir: string): RunListing[] {
  if (!existsSync(runsDir)) return [];
  const runs: RunListing[] = [];
  for (const entry of readdirSync(runsDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !runNamePattern.test(entry.name)) continue;
    const dir = join(runsDir, entry.name);
    if (!isRun(dir)) continue;

    let updatedAt = statSync(dir).mtimeMs;
    for (const file of runMarkers) {
      const path = join(dir, file);
      if (existsSync(path)) updatedAt = Math.max(updatedAt, statSync(path).mtimeMs);
    }
    const last = lastMetricsRecord(join(dir, 'metrics.jsonl'));
    runs.push({
      name: entry.name,
      updatedAt: Math.round(updatedAt),
      hasMetrics: existsSync(join(dir, 'metrics.jsonl')),
      hasPreferences: existsSync(join(dir, 'preferences.jsonl')),
      hasStore: existsSync(join(dir, 'store.sqlite')),
      lastStage: last?.stage,
      lastStep: last?.step,
      summary: readJsonIfPresent(join(dir, 'summary.json')),
    });
  }
  return runs.sort((a, b) => b.updatedAt - a.updatedAt);
}

/** The last complete metrics line, read from the file's tail only. */
function lastMetricsRecord(file: string): MetricsRecord | undefined {
  if (!existsSync(file)) return undefined;
  const size = statSync(file).size;
  const start = Math.max(0, size - 64 * 1024);
  const lines = readRange(file, start, size).split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const record = parseMetricsLine(lines[i]);
    if (record) return record;
  }
  return undefined;
}

export interface MetricsPage {
  records: MetricsRecord[];
  /** Byte offset to pass as `since` next time. */
  cursor: number;
  /** True when the file shrank below the cursor (rewritten): the client must drop its points. */
  reset: boolean;
}

/**
 * Metrics lines from byte offset `since`. Only complete lines are returned; the cursor stops
 * before a line still being written, so the next poll picks it up whole.
 */
export function readMetricsSince(file: string, since: number): MetricsPage {
  if (!existsSync(file)) return { records: [], cursor: 0, reset: since > 0 };
  const size = statSync(file).size;
  const reset = since > size;
  const start = reset ? 0 : since;
  if (start === size) return { records: [], cursor: size, reset };

  const text = readRange(file, start, size);
  const end = text.lastIndexOf('\n');
  if (end < 0) return { records: [], cursor: start, reset };

  const records: MetricsRecord[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    const record = parseMetricsLine(line);
    if (record) records.push(record);
  }
  const cursor = start + Buffer.byteLength(text.slice(0, end + 1), 'utf8');
  return { records, cursor, reset };
}

function parseMetricsLine(line: string): MetricsRecord | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    const parsed = metricsLineSchema.safeParse(value);
    return parsed.success ? (parsed.data as MetricsRecord) : undefined;
  } catch {
    return undefined;
  }
}

const metricsLineSchema = z
  .object({ stage: z.string(), step: z.number(), time: z.number() })
  .catchall(z.union([z.number(), z.string(), z.null()]));

function readRange(file: string, start: number, end: number): string {
  const buffer = Buffer.alloc(end - start);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, start);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
}

export interface PreferenceFile {
  records: PreferenceRecord[];
  /** Lines that did not parse, named by 1-based line number and field. */
  problems: string[];
}

const preferenceCache = new Map<string, { key: string; value: PreferenceFile }>();

/** The preference dataset, cached until the file changes. Bad lines are reported, not fatal. */
export function readPreferences(file: string): PreferenceFile {
  if (!existsSync(file)) return { records: [], problems: [] };
  const stat = statSync(file);
  const key = `${stat.size}:${stat.mtimeMs}`;
  const cached = preferenceCache.get(file);
  if (cached?.key === key) return cached.value;

  const records: PreferenceRecord[] = [];
  const problems: string[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (!line.trim()) return;
    const where = { file, line: index + 1 };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // The last line may still be being written.
      if (index < lines.length - 1) problems.push(new InputError('not JSON', where).message);
      return;
    }
    const parsed = preferenceRecordSchema.safeParse(value);
    if (parsed.success) records.push(parsed.data);
    else {
      const issue = parsed.error.issues[0];
      problems.push(
        new InputError(issue.message, { ...where, field: issue.path.join('.') }).message,
      );
    }
  });
  const value = { records, problems };
  preferenceCache.set(file, { key, value });
  return value;
}

export interface AuditFile {
  /** Path relative to the run directory. */
  file: string;
  data: unknown;
  error?: string;
}

/**
 * Judge audit results: `audit*.json` files in the run folder and every `.json` file inside
 * folders whose name starts with `audit`.
 */
export function readAudits(runDir: string): AuditFile[] {
  const found: string[] = [];
  for (const entry of readdirSync(runDir, { withFileTypes: true })) {
    if (!entry.name.startsWith('audit')) continue;
    if (entry.isFile() && entry.name.endsWith('.json')) found.push(entry.name);
    if (entry.isDirectory()) {
      for (const inner of readdirSync(join(runDir, entry.name)).sort()) {
        if (inner.endsWith('.json')) found.push(`${entry.name}/${inner}`);
      }
    }
  }
  return found.sort().map((file) => {
    try {
      return { file, data: JSON.parse(readFileSync(join(runDir, file), 'utf8')) as unknown };
    } catch (error) {
      return { file, data: null, error: `${file}: ${(error as Error).message}` };
    }
  });
}

export function readJsonIfPresent(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function readTextIfPresent(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
