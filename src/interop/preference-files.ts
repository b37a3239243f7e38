/**
 * Reading and writing preference files: rlaif's own PreferenceRecord JSONL and the formats of
 * formats.ts and ultrafeedback.ts. Every line is validated with zod; a bad line fails with an
 * InputError naming the file, the 1-based line and the field. `.gz` files are read transparently.
 * Files are written to a temporary name and renamed, so an interrupted export never leaves a
 * half-written file in place of a good one.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { z } from 'zod';

import type { PreferenceRecord } from '../judge/types.ts';
import { InputError } from '../util/errors.ts';
import {
  RowShapeError,
  exportRecord,
  importRow,
  type ExportFormat,
  type ExportOptions,
  type ImportDefaults,
} from './formats.ts';
import { ultraFeedbackPairs, type UltraFeedbackOptions } from './ultrafeedback.ts';

export const importFormats = ['rlaif', 'trl', 'trl-chat', 'openai', 'hh', 'ultrafeedback'] as const;
export type ImportFormat = (typeof importFormats)[number];

export const preferenceRecordSchema = z.object({
  prompt: z.string(),
  chosen: z.string(),
  rejected: z.string(),
  pChosen: z.number().min(0).max(1),
  judge: z.string(),
  principle: z.string().optional(),
  rationale: z.string().optional(),
  consistent: z.boolean().optional(),
  source: z.enum(['ai', 'human', 'verifier']),
  weight: z.number().nonnegative().optional(),
});

export interface ReadOptions extends ImportDefaults, UltraFeedbackOptions {
  /** Skip bad lines (listed in `skipped`) instead of failing on the first. Default false. */
  skipInvalid?: boolean;
}

export interface ReadResult {
  records: PreferenceRecord[];
  skipped: InputError[];
}

/** Non-empty lines of a text or gzip file with their 1-based numbers. */
export function readLines(file: string): { line: number; text: string }[] {
  const raw = readFileSync(file);
  const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  return text
    .split('\n')
    .map((content, i) => ({ line: i + 1, text: content }))
    .filter((l) => l.text.trim() !== '');
}

export function readPreferences(
  file: string,
  format: ImportFormat,
  options: ReadOptions = {},
): ReadResult {
  const records: PreferenceRecord[] = [];
  const skipped: InputError[] = [];
  for (const { line, text } of readLines(file)) {
    try {
      records.push(...parseLine(text, format, options, { file, line }));
    } catch (error) {
      if (!(error instanceof InputError) || !options.skipInvalid) throw error;
      skipped.push(error);
    }
  }
  return { records, skipped };
}

function parseLine(
  text: string,
  format: ImportFormat,
  options: ReadOptions,
  where: { file: string; line: number },
): PreferenceRecord[] {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch (error) {
    throw new InputError(`not valid JSON (${(error as Error).message})`, where);
  }
  try {
    if (format === 'rlaif') return [preferenceRecordSchema.parse(row) as PreferenceRecord];
    if (format === 'ultrafeedback')
      return ultraFeedbackPairs(row, { ...options, key: String(where.line) });
    return [importRow(row, format, options)];
  } catch (error) {
    if (error instanceof z.ZodError) {
      const issue = error.issues[0];
      throw new InputError(issue.message, { ...where, field: issue.path.join('.') || undefined });
    }
    if (error instanceof RowShapeError) {
      throw new InputError(error.message, { ...where, field: error.field });
    }
    throw error;
  }
}

/** Lines of `format` for `records`, each ending in a newline. */
export function formatPreferences(
  records: readonly PreferenceRecord[],
  format: ExportFormat | 'rlaif',
  options: ExportOptions = {},
): string {
  return records
    .map((r) => JSON.stringify(format === 'rlaif' ? r : exportRecord(r, format, options)) + '\n')
    .join('');
}

export function writePreferences(
  file: string,
  records: readonly PreferenceRecord[],
  format: ExportFormat | 'rlaif',
  options: ExportOptions = {},
): void {
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, formatPreferences(records, format, options));
  renameSync(temporary, file);
}
