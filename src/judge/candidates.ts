/**
 * Candidates to label: pairs `{prompt, a, b}` or prompts with K responses
 * `{prompt, responses: [...]}`, read from JSONL and validated line by line. Each pair gets a
 * stable key (the given id, else a hash of its text) that labelling stores verdicts under.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { InputError } from '../util/errors.ts';

export interface CandidatePair {
  key: string;
  prompt: string;
  a: string;
  b: string;
}

const pairLine = z.strictObject({
  id: z.union([z.string().min(1), z.number()]).optional(),
  prompt: z.string(),
  a: z.string(),
  b: z.string(),
});

const setLine = z.strictObject({
  id: z.union([z.string().min(1), z.number()]).optional(),
  prompt: z.string(),
  responses: z.array(z.string()).min(2, 'needs at least two responses'),
});

/** Reads a JSONL file of candidates; a fault names the file, the line and the field. */
export function readCandidates(file: string, options: { pairing?: Pairing } = {}): CandidatePair[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read: ${(error as Error).message}`, { file });
  }
  return parseCandidates(text, { file, pairing: options.pairing });
}

export function parseCandidates(text: string, options: { file?: string; pairing?: Pairing } = {}):
  CandidatePair[] {
  const file = options.file ?? '<candidates>';
  const pairs: CandidatePair[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((lineText, index) => {
    const line = index + 1;
    if (!lineText.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(lineText);
    } catch (error) {
      throw new InputError(`not valid JSON: ${(error as Error).message}`, { file, line });
    }
    const isSet = typeof json === 'object' && json !== null && 'responses' in json;
    const parsed = (isSet ? setLine : pairLine).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue.path.map(String).join('.') ||
        (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '');
      throw new InputError(issue.message, { file, line, field: field || undefined });
    }

    const found = 'responses' in parsed.data
      ? pairsFromResponses({ ...parsed.data, id: parsed.data.id }, options.pairing)
      : [{
        key: parsed.data.id !== undefined ? String(parsed.data.id)
          : pairKey(parsed.data.prompt, parsed.data.a, parsed.data.b),
        prompt: parsed.data.prompt,
        a: parsed.data.a,
        b: parsed.data.b,
      }];
    for (const pair of found) {
      if (seen.has(pair.key)) {
        throw new InputError(`duplicate item "${pair.key}"`, { file, line, field: 'id' });
      }
      seen.add(pair.key);
      pairs.push(pair);
    }
  });
  if (pairs.length === 0) throw new InputError('no candidates', { file });
  return pairs;
}

/** 'all': every unordered pair of the K responses; 'adjacent': (0,1), (1,2), ...; 'first': (0, i). */
export type Pairing = 'all' | 'adjacent' | 'first';

export function pairsFromResponses(
  set: { id?: string | number; prompt: string; responses: string[] },
  pairing: Pairing = 'all',
): CandidatePair[] {
  const base = set.id !== undefined ? String(set.id) : pairKey(set.prompt, ...set.responses);
  const pairs: CandidatePair[] = [];
  const n = set.responses.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (pairing === 'adjacent' && j !== i + 1) continue;
      if (pairing === 'first' && i !== 0) continue;
      pairs.push({ key: `${base}#${i}-${j}`, prompt: set.prompt, a: set.responses[i], b: set.responses[j] });
    }
  }
  return pairs;
}

/** A short stable key from text parts. */
export function pairKey(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\u0000');
  return hash.digest('hex').slice(0, 24);
}
