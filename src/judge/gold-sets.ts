/**
 * Gold preference sets for judge audits, each item a prompt with a better and a worse response:
 * Anthropic's hh-rlhf harmless-base test split (`chosen` preferred), LLMBar (`label` 1 or 2),
 * and the Constitutional AI paper's HHH evaluations (the correct option preferred).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { z } from 'zod';

import { InputError } from '../util/errors.ts';
import { makeRng } from '../util/rng.ts';

export interface GoldItem {
  subset: string;
  key: string;
  prompt: string;
  better: string;
  worse: string;
}

export const goldSubsets = ['hh-harmless', 'llmbar-natural', 'llmbar-adversarial', 'cai-hhh'] as const;
export type GoldSubset = (typeof goldSubsets)[number];

const hhLine = z.object({ chosen: z.string(), rejected: z.string() });
const llmbarItem = z.object({
  input: z.string(),
  output_1: z.string(),
  output_2: z.string(),
  label: z.union([z.literal(1), z.literal(2)]),
});
const hhhLine = z.object({ text_correct: z.string(), text_incorrect: z.string() });

/** Loads one subset from the data folder; `limit` keeps a seeded random sample of that size. */
export function loadGoldSubset(
  subset: GoldSubset,
  options: { dataDir: string; limit?: number; seed?: number },
): GoldItem[] {
  const items = readSubset(subset, options.dataDir);
  if (options.limit === undefined || options.limit >= items.length) return items;
  return makeRng(`${options.seed ?? 0}/gold/${subset}`).shuffle(items).slice(0, options.limit);
}

function readSubset(subset: GoldSubset, dataDir: string): GoldItem[] {
  switch (subset) {
    case 'hh-harmless': {
      const file = join(dataDir, 'hh-rlhf/harmless-base-test.jsonl.gz');
      return jsonLines(file, gunzipSync(readRequired(file)).toString('utf8'), hhLine)
        .map((row, i) => fromTranscripts(subset, i, row.chosen, row.rejected));
    }
    case 'llmbar-natural':
    case 'llmbar-adversarial': {
      const name = subset === 'llmbar-natural' ? 'natural' : 'adversarial-neighbor';
      const file = join(dataDir, `llmbar/${name}.json`);
      const parsed = z.array(llmbarItem).safeParse(JSON.parse(readRequired(file).toString('utf8')));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InputError(issue.message, { file, field: issue.path.join('.') });
      }
      return parsed.data.map((row, i) => ({
        subset,
        key: `${subset}/${i}`,
        prompt: row.input,
        better: row.label === 1 ? row.output_1 : row.output_2,
        worse: row.label === 1 ? row.output_2 : row.output_1,
      }));
    }
    case 'cai-hhh': {
      const file = join(dataDir, 'cai/438HHHEvaluations.jsonl');
      return jsonLines(file, readRequired(file).toString('utf8'), hhhLine)
        .map((row, i) => fromTranscripts(subset, i, row.text_correct, row.text_incorrect));
    }
  }
}

/**
 * Two transcripts that share everything up to the last "Assistant:" turn: the shared part is
 * the prompt (ending with "Assistant:"), the rest the two responses.
 */
export function fromTranscripts(subset: string, index: number, better: string, worse: string): GoldItem {
  const marker = '\n\nAssistant:';
  const split = (text: string) => {
    const at = text.lastIndexOf(marker);
    return at < 0 ? { prompt: '', response: text.trim() }
      : { prompt: text.slice(0, at + marker.length), response: text.slice(at + marker.length).trim() };
  };
  const b = split(better);
  const w = split(worse);
  const key = `${subset}/${index}`;
  return { subset, key, prompt: b.prompt.trim(), better: b.response, worse: w.response };
}

function readRequired(file: string): Buffer {
  if (!existsSync(file)) throw new InputError('gold set not found (set RLAIF_DATA or --data)', { file });
  return readFileSync(file);
}

function jsonLines<T>(file: string, text: string, schema: z.ZodType<T>): T[] {
  const rows: T[] = [];
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    const parsed = schema.safeParse(JSON.parse(line));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(issue.message, { file, line: index + 1, field: issue.path.join('.') });
    }
    rows.push(parsed.data);
  });
  return rows;
}
