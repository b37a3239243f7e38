/**
 * The preference dataset as the dashboard browses it (filters for the cases worth a look) and
 * the pairs a person can compare blind: pairs the AI judge labelled, with the judge's
 * probability kept aside so agreement can be measured once the person has chosen.
 */
import { createHash } from 'node:crypto';

import { z } from 'zod';

import type { PreferenceRecord } from '../judge/types.ts';
import type { EvalSampleRow, EvalVerdictRow } from '../store/run-store.ts';

export const preferenceQuerySchema = z.object({
  /** `inconsistent`: the two presentation orders disagreed; `consistent`: they agreed. */
  consistency: z.enum(['any', 'consistent', 'inconsistent']).default('any'),
  /** Keep records with |pChosen − 0.5| at most this (low-confidence labels). */
  maxMargin: z.coerce.number().min(0).max(0.5).optional(),
  /** `longer`: the chosen response is longer than the rejected one; `shorter`: the reverse. */
  length: z.enum(['any', 'longer', 'shorter']).default('any'),
  principle: z.string().max(200).optional(),
  /** Case-insensitive text search over prompt and both responses. */
  q: z.string().max(500).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export type PreferenceQuery = z.infer<typeof preferenceQuerySchema>;

export interface PreferenceRow extends PreferenceRecord {
  /** 0-based position in preferences.jsonl's valid records. */
  index: number;
  /** |pChosen − 0.5|: how sure the label is. */
  margin: number;
  /** Characters of chosen minus characters of rejected. */
  lengthDiff: number;
}

export interface PreferencePage {
  total: number;
  items: PreferenceRow[];
  principles: string[];
  /** Share of all records whose chosen response is the longer one: a length-bias signal. */
  longerChosenShare: number | null;
}

export function toRow(record: PreferenceRecord, index: number): PreferenceRow {
  return {
    ...record,
    index,
    margin: Math.abs(record.pChosen - 0.5),
    lengthDiff: record.chosen.length - record.rejected.length,
  };
}

export function queryPreferences(
  records: readonly PreferenceRecord[],
  query: PreferenceQuery,
): PreferencePage {
  const needle = query.q?.toLowerCase();
  const matches = records.map(toRow).filter((row) => {
    if (query.consistency === 'inconsistent' && row.consistent !== false) return false;
    if (query.consistency === 'consistent' && row.consistent !== true) return false;
    if (query.maxMargin !== undefined && row.margin > query.maxMargin) return false;
    if (query.length === 'longer' && row.lengthDiff <= 0) return false;
    if (query.length === 'shorter' && row.lengthDiff >= 0) return false;
    if (query.principle && row.principle !== query.principle) return false;
    if (needle) {
      const haystack = `${row.prompt}\n${row.chosen}\n${row.rejected}`.toLowerCase();
      if (!haystack.includes(needle)) return false;
    }
    return true;
  });

  const principles = [...new Set(records.map((r) => r.principle).filter(isString))].sort();
  const unequal = records.filter((r) => r.chosen.length !== r.rejected.length);
  const longerChosen = unequal.filter((r) => r.chosen.length > r.rejected.length).length;
  return {
    total: matches.length,
    items: matches.slice(query.offset, query.offset + query.limit),
    principles,
    longerChosenShare: unequal.length > 0 ? longerChosen / unequal.length : null,
  };
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** A pair a person can compare: two responses to one prompt, each with where it came from. */
export interface ComparisonPair {
  id: string;
  kind: 'judged' | 'policy';
  prompt: string;
  a: { text: string; source: string };
  b: { text: string; source: string };
  /** The judge's P(a better than b), for judged pairs. */
  aiProbA?: number;
}

/**
 * A stable id from the pair's content, the same whichever response comes first, so a pair is
 * recognised across restarts and whether it came from the store or preferences.jsonl.
 */
export function pairId(prompt: string, first: string, second: string): string {
  const [x, y] = first <= second ? [first, second] : [second, first];
  return createHash('sha256').update(`${prompt}\u0000${x}\u0000${y}`).digest('hex').slice(0, 20);
}

/**
 * Judged pairs from AI preference records: `a` is the response the judge chose, `b` the one it
 * rejected, so the judge's probability for `a` is `pChosen`. Human labels are left out: they
 * are what is being compared against.
 */
export function judgedPairs(records: readonly PreferenceRecord[]): ComparisonPair[] {
  const seen = new Set<string>();
  const pairs: ComparisonPair[] = [];
  for (const record of records) {
    if (record.source !== 'ai' || record.chosen === record.rejected) continue;
    const id = pairId(record.prompt, record.chosen, record.rejected);
    if (seen.has(id)) continue;
    seen.add(id);
    pairs.push({
      id,
      kind: 'judged',
      prompt: record.prompt,
      a: { text: record.chosen, source: 'chosen' },
      b: { text: record.rejected, source: 'rejected' },
      aiProbA: record.pChosen,
    });
  }
  return pairs;
}

/**
 * Pairs of the final and the starting policy's responses to the same evaluation prompt: `a` is
 * the final policy's, so a label's win is a win for training. The training judge's verdict on
 * the prompt, when stored, is kept for agreement.
 */
export function policyPairs(
  start: readonly EvalSampleRow[],
  final: readonly EvalSampleRow[],
  judgeVerdicts: readonly EvalVerdictRow[],
): ComparisonPair[] {
  const startByPrompt = new Map(start.map((row) => [row.promptIndex, row]));
  const verdictByPrompt = new Map(judgeVerdicts.map((row) => [row.promptIndex, row.pFinal]));
  const pairs: ComparisonPair[] = [];
  for (const row of final) {
    const baseline = startByPrompt.get(row.promptIndex);
    if (!baseline || baseline.response === row.response) continue;
    pairs.push({
      id: pairId(row.prompt, row.response, baseline.response),
      kind: 'policy',
      prompt: row.prompt,
      a: { text: row.response, source: row.policy },
      b: { text: baseline.response, source: baseline.policy },
      aiProbA: verdictByPrompt.get(row.promptIndex),
    });
  }
  return pairs;
}
