/**
 * Reading a judge's reply. The verdict is found in the text; where the backend returned
 * log-probs, the probability comes from the alternatives at the verdict token (normalised over
 * the answers found among them); otherwise the parsed answer counts as certain. A reply with
 * neither becomes a JudgeFailure, never a guessed score.
 */
import type { CompletionResult, TokenLogprob } from '../providers/types.ts';
import type { JudgeFailure } from './types.ts';

export interface SoftPairwise {
  ok: true;
  /** P(the response shown first is better). */
  pFirst: number;
  source: 'logprobs' | 'parsed';
  rationale?: string;
}

export interface SoftScore {
  ok: true;
  /** Probability-weighted expected score on the 1-10 scale. */
  expected: number;
  /** Distribution over 1..10 (index 0 is score 1) when log-probs gave it. */
  distribution?: number[];
  source: 'logprobs' | 'parsed';
  rationale?: string;
}

interface Located {
  answer: string;
  /** Character offset of the answer in the reply. */
  at: number;
}

/** P(A) from a pairwise reply; `chainOfThought` means the verdict follows "Verdict:". */
export function readPairwise(result: CompletionResult, chainOfThought: boolean):
  SoftPairwise | JudgeFailure {
  const located = locatePairwise(result.text, chainOfThought);
  const rationale = chainOfThought && located ? result.text.slice(0, located.at)
    .replace(/verdict\s*:?\s*\**\s*\(?$/i, '').trim() || undefined : undefined;

  const position = result.logprobs
    ? located
      ? tokenAt(result.logprobs, result.text, located.at)
      : chainOfThought ? undefined : result.logprobs[0]
    : undefined;
  if (position) {
    const probs = alternativeMass(position, ['A', 'B']);
    const total = probs.A + probs.B;
    if (total > 0) return { ok: true, pFirst: probs.A / total, source: 'logprobs', rationale };
  }

  if (located) {
    return { ok: true, pFirst: located.answer === 'A' ? 1 : 0, source: 'parsed', rationale };
  }
  return failure(result.text, 'no verdict "A" or "B" found in the reply');
}

/** The expected 1-10 score from a pointwise reply. */
export function readPointwise(result: CompletionResult, chainOfThought: boolean):
  SoftScore | JudgeFailure {
  const located = locateScore(result.text, chainOfThought);
  const rationale = chainOfThought && located ? result.text.slice(0, located.at)
    .replace(/score\s*:?\s*\**\s*$/i, '').trim() || undefined : undefined;

  const position = result.logprobs && located
    ? tokenAt(result.logprobs, result.text, located.at)
    : undefined;
  if (position) {
    // NOTE: a tokenizer that splits "10" into "1" + "0" makes 10 look like 1 here; the
    // parsed answer below corrects the common case where the reply itself says 10.
    const labels = Array.from({ length: 10 }, (_, i) => String(i + 1));
    const mass = alternativeMass(position, labels);
    const total = labels.reduce((sum, label) => sum + mass[label], 0);
    if (total > 0 && !(located && located.answer === '10' && mass['10'] === 0)) {
      const distribution = labels.map((label) => mass[label] / total);
      const expected = distribution.reduce((sum, p, i) => sum + p * (i + 1), 0);
      return { ok: true, expected, distribution, source: 'logprobs', rationale };
    }
  }

  if (located) return { ok: true, expected: Number(located.answer), source: 'parsed', rationale };
  return failure(result.text, 'no score from 1 to 10 found in the reply');
}

/** A 1-10 score mapped linearly onto [-1, 1] (direct RLAIF rewards). */
export function scaleScore(expected: number): number {
  return (expected - 5.5) / 4.5;
}

/** A ranking of K candidates (1-based numbers, best first) from a listwise reply. */
export function readRanking(result: CompletionResult, count: number, chainOfThought: boolean):
  { ok: true; ranking: number[]; pBest?: number[]; rationale?: string } | JudgeFailure {
  const text = result.text;
  const marked = [...text.matchAll(/ranking\s*:\s*([\d\s>,]+)/gi)].pop();
  let line: string | undefined;
  let lineStart = 0;
  if (marked) {
    line = marked[1];
    lineStart = marked.index + marked[0].length - marked[1].length;
  } else if (!chainOfThought) {
    line = text.split('\n')[0];
  }
  if (line === undefined) return failure(text, 'no "Ranking:" line found in the reply');

  const numbers = [...line.matchAll(/\d+/g)];
  const ranking = numbers.map((m) => Number(m[0]));
  const valid = ranking.length === count && new Set(ranking).size === count &&
    ranking.every((n) => n >= 1 && n <= count);
  if (!valid) return failure(text, `the ranking must list each of 1..${count} exactly once`);
  const rationale = chainOfThought && marked ? text.slice(0, marked.index).trim() || undefined
    : undefined;

  // P(best = i) from the alternatives at the first ranked number, when there are log-probs.
  let pBest: number[] | undefined;
  const position = result.logprobs ? tokenAt(result.logprobs, text, lineStart + numbers[0].index) : undefined;
  if (position) {
    const labels = Array.from({ length: count }, (_, i) => String(i + 1));
    const mass = alternativeMass(position, labels);
    const total = labels.reduce((sum, label) => sum + mass[label], 0);
    if (total > 0) pBest = labels.map((label) => mass[label] / total);
  }
  return { ok: true, ranking, pBest, rationale };
}

function locatePairwise(text: string, chainOfThought: boolean): Located | undefined {
  const verdicts = [...text.matchAll(/verdict\s*:?\s*\**\s*\(?(?:response\s+)?([AB])\b/gi)];
  const last = verdicts.pop();
  if (last) return { answer: last[1].toUpperCase(), at: last.index + last[0].length - 1 };
  if (chainOfThought) return undefined;

  const leading = /^[\s"'*([]*(?:response\s+)?([AB])\b/i.exec(text);
  if (leading) return { answer: leading[1].toUpperCase(), at: leading[0].length - 1 };
  const stated = /\b(?:response|answer|option)\s+\(?([AB])\)?\s+is\s+(?:the\s+)?better/i.exec(text);
  if (stated) return { answer: stated[1].toUpperCase(), at: stated.index + stated[0].indexOf(stated[1], 6) };
  return undefined;
}

function locateScore(text: string, chainOfThought: boolean): Located | undefined {
  const scores = [...text.matchAll(/score\s*:?\s*\**\s*(10|[1-9])\b/gi)];
  const last = scores.pop();
  if (last) return { answer: last[1], at: last.index + last[0].length - last[1].length };
  if (chainOfThought) return undefined;
  const leading = /^[\s"'*]*(10|[1-9])\b/.exec(text);
  if (leading) return { answer: leading[1], at: leading[0].length - leading[1].length };
  return undefined;
}

/**
 * The generated position whose token covers character `at` of the reply. Token texts are laid
 * end to end; when they do not spell the reply (byte-level pieces), the first token that is
 * exactly the answer character is used instead.
 */
function tokenAt(logprobs: TokenLogprob[], text: string, at: number): TokenLogprob | undefined {
  let offset = 0;
  const spelled = logprobs.map((l) => l.token).join('') === text;
  if (spelled) {
    for (const position of logprobs) {
      const end = offset + position.token.length;
      if (at >= offset && at < end) return position;
      offset = end;
    }
  }
  const wanted = text[at];
  return logprobs.find((position) => cleanToken(position.token) === wanted);
}

/** Probability mass per label among a position's alternatives (variants like " A" add up). */
function alternativeMass(position: TokenLogprob, labels: string[]): Record<string, number> {
  const mass: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
  const alternatives = position.top && position.top.length > 0
    ? position.top
    : [{ token: position.token, logprob: position.logprob }];
  const seen = new Set<string>();
  for (const alternative of alternatives) {
    if (seen.has(alternative.token)) continue;
    seen.add(alternative.token);
    const label = cleanToken(alternative.token);
    if (label in mass) mass[label] += Math.exp(alternative.logprob);
  }
  return mass;
}

function cleanToken(token: string): string {
  return token.replace(/^[\s▁Ġ"'*([]+|[\s"'*)\].:,]+$/g, '');
}

function failure(raw: string, message: string): JudgeFailure {
  return { ok: false, kind: 'parse', message, raw };
}
