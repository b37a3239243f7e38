/**
 * Metrics as JSON lines: one object per step, flat, with namespaced keys (`objective/kl`,
 * `reward/mean`). Appended and flushed as training goes so a dashboard can tail the file and a
 * killed run loses at most the line being written.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export interface MetricsRecord {
  stage: string;
  step: number;
  /** Unix time in milliseconds. */
  time: number;
  [name: string]: number | string;
}

export class MetricsWriter {
  constructor(
    readonly file: string,
    private readonly clock: () => number = Date.now,
  ) {}

  write(stage: string, step: number, values: Record<string, number | string>): MetricsRecord {
    const record: MetricsRecord = { stage, step, time: this.clock(), ...values };
    appendFileSync(this.file, JSON.stringify(record) + '\n');
    return record;
  }
}

/** Reads a metrics file, skipping a torn last line left by a killed process. */
export function readMetrics(file: string): MetricsRecord[] {
  if (!existsSync(file)) return [];
  const records: MetricsRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // A partial line can only be the last one written before a kill; ignore it.
    }
  }
  return records;
}

/** Drops records of `stage` past `step`, used when a stage resumes from an earlier checkpoint. */
export function metricsAfter(records: MetricsRecord[], stage: string, step: number): boolean {
  return records.some((r) => r.stage === stage && r.step > step);
}
