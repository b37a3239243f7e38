/**
 * Numeric answers in the GSM8K style. A reference solution ends with `#### N`; a model's
 * answer is read from its own `#### N`, a `\boxed{N}`, "the answer is N", or else its last
 * number. Numbers may carry thousands separators, a currency sign, units, a percent sign, a
 * sign (ASCII or Unicode minus), decimals or a fraction; all are compared as values.
 */
import type { RewardItem, RewardOutcome, RewardSource } from './types.ts';

// One number as people write it: optional sign and `$`, digits with or without thousands
// separators, an optional decimal part and an optional `/denominator`. The lookbehind keeps the
// hyphen of a range ("3-4") or a word ("COVID-19") from being read as a minus sign.
const NUMBER_SOURCE =
  String.raw`(?<![\w.])[-\u2212]?(?:\$\s?)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?` +
  String.raw`(?:\s?\/\s?\d+(?:\.\d+)?)?|(?<![\w.])[-\u2212]?\.\d+`;

const FINAL_MARKER = /####\s*([^\n]*)/g;
const BOXED = /\\boxed\{([^{}]*)\}/g;
const ANSWER_PHRASE = /(?:final answer|the answer|answer)\s*(?:is|=|:)\s*:?\s*([^\n]*)/gi;

/** Where an answer was found in a text. */
export type AnswerSource = 'marker' | 'boxed' | 'phrase' | 'last-number';

export interface ExtractedAnswer {
  /** The number as written, e.g. "$1,000" or "3/4". */
  text: string;
  value: number;
  source: AnswerSource;
}

/** Every number written in `text`, in order, with its value. */
export function findNumbers(text: string): { text: string; value: number }[] {
  const found: { text: string; value: number }[] = [];
  for (const match of text.matchAll(new RegExp(NUMBER_SOURCE, 'g'))) {
    const value = parseNumber(match[0]);
    if (value !== null) found.push({ text: match[0].trim(), value });
  }
  return found;
}

/**
 * The value of one written number ("-$1,234.5", "3/4", "−2", "50%") or null when `written`
 * holds no number. Units and other words around the number are ignored.
 */
export function parseNumber(written: string): number | null {
  const match = new RegExp(NUMBER_SOURCE).exec(written);
  if (!match) return null;
  const cleaned = match[0].replace(/[\s$,]/g, '').replace('\u2212', '-');
  const [numerator, denominator] = cleaned.split('/');
  const top = Number(numerator);
  if (!Number.isFinite(top)) return null;
  if (denominator === undefined) return top;
  const bottom = Number(denominator);
  if (!Number.isFinite(bottom) || bottom === 0) return null;
  return top / bottom;
}

/**
 * The final answer of a solution: the last `#### N`, else the last `\boxed{N}`, else the
 * number after the last "the answer is", else the last number anywhere; null when there is none.
 */
export function extractFinalAnswer(text: string): ExtractedAnswer | null {
  const ordered: [AnswerSource, RegExp][] = [
    ['marker', FINAL_MARKER],
    ['boxed', BOXED],
    ['phrase', ANSWER_PHRASE],
  ];
  for (const [source, pattern] of ordered) {
    const matches = [...text.matchAll(new RegExp(pattern.source, pattern.flags))];
    for (let i = matches.length - 1; i >= 0; i--) {
      const first = findNumbers(matches[i][1])[0];
      if (first) return { ...first, source };
    }
  }
  const all = findNumbers(text);
  const last = all[all.length - 1];
  return last ? { ...last, source: 'last-number' } : null;
}

export interface NumericCompareOptions {
  /** Largest accepted |a - b| / max(1, |b|). Default 1e-9: 3/4 equals 0.75, 1/3 not 0.333. */
  relativeTolerance?: number;
}

export function numbersMatch(a: number, b: number, options: NumericCompareOptions = {}): boolean {
  const tolerance = options.relativeTolerance ?? 1e-9;
  return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));
}

export interface NumericAnswerVerifierOptions extends NumericCompareOptions {
  /** Default "verifier:numeric". */
  id?: string;
}

/**
 * Reward 1 when the response's final answer equals the reference's, else 0. The reference is
 * a bare number or a whole GSM8K solution. A missing or unreadable reference is a failure (the
 * item cannot be scored); a response without a number is simply wrong.
 */
export class NumericAnswerVerifier implements RewardSource {
  readonly id: string;

  constructor(private readonly options: NumericAnswerVerifierOptions = {}) {
    this.id = options.id ?? 'verifier:numeric';
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return items.map((item) => this.scoreOne(item));
  }

  scoreOne(item: RewardItem): RewardOutcome {
    if (item.reference === undefined) return { ok: false, reason: 'no reference answer' };
    const expected = extractFinalAnswer(item.reference);
    if (!expected) return { ok: false, reason: `reference has no number: "${item.reference}"` };

    const answer = extractFinalAnswer(item.response);
    if (!answer) return { ok: true, reward: 0, details: { reason: 'no number in response' } };

    const correct = numbersMatch(answer.value, expected.value, this.options);
    return {
      ok: true,
      reward: correct ? 1 : 0,
      details: { answer: answer.text, answerSource: answer.source, expected: expected.value },
    };
  }
}
