/**
 * UltraFeedback-style rated completions to preference pairs. A row is `{prompt | instruction,
 * completions: [{response, overall_score | fine-grained_score | ratings | annotations}]}`; a
 * completion's score is its overall score when present, else the mean of its aspect ratings
 * (`ratings: {helpfulness: 4, …}` or UltraFeedback's `annotations: {helpfulness: {Rating: "4"}}`).
 * Completions with equal scores never form a pair.
 */
import { z } from 'zod';

import type { PreferenceRecord } from '../judge/types.ts';
import { makeRng } from '../util/rng.ts';

export type PairingPolicy = 'best-vs-worst' | 'best-vs-random' | 'all-pairs';

export interface UltraFeedbackOptions {
  /**
   * "best-vs-worst" (default): one pair per prompt; "best-vs-random": the best against a seeded
   * random lower-scored one (as in the binarised UltraFeedback used for Zephyr); "all-pairs":
   * every pair with different scores.
   */
  pairing?: PairingPolicy;
  /** Seed of "best-vs-random". Default 0. */
  seed?: number;
  /** Mixed into the seed per row so rows draw independently. */
  key?: string;
  /** Default "ultrafeedback". */
  judge?: string;
  /** Default "ai" (UltraFeedback's ratings come from GPT-4). */
  source?: PreferenceRecord['source'];
}

const rating = z.union([
  z.number(),
  z
    .string()
    .regex(/^\s*-?\d+(\.\d+)?\s*$/)
    .transform(Number),
  z.object({ Rating: z.union([z.number(), z.string()]) }).transform((r) => Number(r.Rating)),
]);

const completion = z.object({
  response: z.string(),
  overall_score: z.number().optional(),
  'fine-grained_score': z.number().optional(),
  ratings: z.record(z.string(), rating).optional(),
  annotations: z.record(z.string(), rating).optional(),
});

const row = z
  .object({
    prompt: z.string().optional(),
    instruction: z.string().optional(),
    completions: z.array(completion),
  })
  .refine((r) => r.prompt !== undefined || r.instruction !== undefined, {
    message: 'needs "prompt" or "instruction"',
    path: ['prompt'],
  });

function scoreOf(c: z.infer<typeof completion>): number | undefined {
  if (c.overall_score !== undefined) return c.overall_score;
  if (c['fine-grained_score'] !== undefined) return c['fine-grained_score'];
  const aspects = Object.values(c.ratings ?? c.annotations ?? {}).filter(Number.isFinite);
  return aspects.length > 0 ? aspects.reduce((a, b) => a + b, 0) / aspects.length : undefined;
}

/** Preference pairs from one row; throws a ZodError naming the field when the row is malformed. */
export function ultraFeedbackPairs(
  input: unknown,
  options: UltraFeedbackOptions = {},
): PreferenceRecord[] {
  const parsed = row.parse(input);
  const prompt = (parsed.prompt ?? parsed.instruction)!;
  const scored = parsed.completions
    .map((c) => ({ response: c.response, score: scoreOf(c) }))
    .filter((c): c is { response: string; score: number } => c.score !== undefined)
    .sort((a, b) => b.score - a.score);

  const pair = (
    chosen: (typeof scored)[number],
    rejected: (typeof scored)[number],
  ): PreferenceRecord => ({
    prompt,
    chosen: chosen.response,
    rejected: rejected.response,
    pChosen: 1,
    judge: options.judge ?? 'ultrafeedback',
    rationale: `scores ${chosen.score} vs ${rejected.score}`,
    source: options.source ?? 'ai',
  });

  if (scored.length < 2) return [];
  const best = scored[0];
  const lower = scored.filter((c) => c.score < best.score);
  if (lower.length === 0) return [];

  switch (options.pairing ?? 'best-vs-worst') {
    case 'best-vs-worst':
      return [pair(best, lower[lower.length - 1])];
    case 'best-vs-random': {
      const rng = makeRng(`${options.seed ?? 0}/${options.key ?? ''}`);
      return [pair(best, lower[rng.int(lower.length)])];
    }
    case 'all-pairs': {
      const pairs: PreferenceRecord[] = [];
      for (let i = 0; i < scored.length; i++) {
        for (let j = i + 1; j < scored.length; j++) {
          if (scored[i].score > scored[j].score) pairs.push(pair(scored[i], scored[j]));
        }
      }
      return pairs;
    }
  }
}
