/**
 * Verifiers over plain text: exact match against a reference, a regular expression, and format
 * checks (length, required and forbidden strings, a pattern, valid JSON). Each is a
 * RewardSource with reward 1 for a pass and 0 for a miss; a check that cannot run (no
 * reference, an invalid pattern) is a per-item failure, never a made-up score.
 */
import type { RewardItem, RewardOutcome, RewardSource } from './types.ts';

export type Normalisation = 'none' | 'trim' | 'whitespace' | 'casefold';

/** "whitespace" trims and collapses runs of whitespace; "casefold" also lower-cases. */
export function normaliseText(text: string, how: Normalisation): string {
  if (how === 'none') return text;
  if (how === 'trim') return text.trim();
  const collapsed = text.trim().replace(/\s+/g, ' ');
  return how === 'casefold' ? collapsed.toLowerCase() : collapsed;
}

export interface ExactMatchVerifierOptions {
  /** Default "verifier:exact". */
  id?: string;
  /** How both sides are normalised before comparing. Default "whitespace". */
  normalise?: Normalisation;
}

/** Reward 1 when the response equals `item.reference` after normalisation. */
export class ExactMatchVerifier implements RewardSource {
  readonly id: string;
  private readonly normalise: Normalisation;

  constructor(options: ExactMatchVerifierOptions = {}) {
    this.id = options.id ?? 'verifier:exact';
    this.normalise = options.normalise ?? 'whitespace';
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return items.map((item) => {
      if (item.reference === undefined) return { ok: false, reason: 'no reference text' };
      const equal =
        normaliseText(item.response, this.normalise) ===
        normaliseText(item.reference, this.normalise);
      return { ok: true, reward: equal ? 1 : 0 };
    });
  }
}

export interface RegexVerifierOptions {
  /** Default "verifier:regex". */
  id?: string;
  /** The pattern; when absent each item's `reference` is the pattern. */
  pattern?: string;
  /** RegExp flags. Default "". */
  flags?: string;
  /** "search": a match anywhere passes; "full": the whole trimmed response must match. */
  mode?: 'search' | 'full';
}

/** Reward 1 when the response matches the pattern. */
export class RegexVerifier implements RewardSource {
  readonly id: string;
  private readonly fixed?: RegExp;

  constructor(private readonly options: RegexVerifierOptions = {}) {
    this.id = options.id ?? 'verifier:regex';
    // A fixed pattern is compiled once so a bad one fails at construction, not per item.
    if (options.pattern !== undefined) this.fixed = this.compile(options.pattern);
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return items.map((item) => {
      let pattern = this.fixed;
      if (!pattern) {
        if (item.reference === undefined) return { ok: false, reason: 'no pattern' };
        try {
          pattern = this.compile(item.reference);
        } catch (error) {
          return { ok: false, reason: `invalid pattern: ${(error as Error).message}` };
        }
      }
      const text = this.options.mode === 'full' ? item.response.trim() : item.response;
      return { ok: true, reward: pattern.test(text) ? 1 : 0 };
    });
  }

  private compile(source: string): RegExp {
    const anchored = this.options.mode === 'full' ? `^(?:${source})$` : source;
    return new RegExp(anchored, (this.options.flags ?? '').replace('g', ''));
  }
}

export interface FormatRules {
  minChars?: number;
  maxChars?: number;
  /** Strings that must all appear. */
  mustInclude?: string[];
  /** Strings none of which may appear. */
  mustNotInclude?: string[];
  /** A pattern that must match somewhere (RegExp source). */
  pattern?: string;
  /** The trimmed response must parse as JSON. */
  json?: boolean;
}

export interface FormatVerifierOptions extends FormatRules {
  /** Default "verifier:format". */
  id?: string;
  /** Reward the share of rules passed instead of all-or-nothing. Default false. */
  partialCredit?: boolean;
}

/** Checks each configured rule; `details.failed` names the rules that did not pass. */
export class FormatVerifier implements RewardSource {
  readonly id: string;
  private readonly checks: [string, (text: string) => boolean][] = [];

  constructor(private readonly options: FormatVerifierOptions) {
    this.id = options.id ?? 'verifier:format';
    const { minChars, maxChars, mustInclude, mustNotInclude, pattern, json } = options;
    if (minChars !== undefined) this.checks.push(['minChars', (t) => t.length >= minChars]);
    if (maxChars !== undefined) this.checks.push(['maxChars', (t) => t.length <= maxChars]);
    for (const needle of mustInclude ?? []) {
      this.checks.push([`mustInclude:${needle}`, (t) => t.includes(needle)]);
    }
    for (const needle of mustNotInclude ?? []) {
      this.checks.push([`mustNotInclude:${needle}`, (t) => !t.includes(needle)]);
    }
    if (pattern !== undefined) {
      const compiled = new RegExp(pattern);
      this.checks.push(['pattern', (t) => compiled.test(t)]);
    }
    if (json) this.checks.push(['json', isJson]);
    if (this.checks.length === 0) throw new Error('FormatVerifier needs at least one rule');
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return items.map((item) => {
      const failed = this.checks.filter(([, check]) => !check(item.response)).map(([n]) => n);
      const passedShare = 1 - failed.length / this.checks.length;
      const reward = this.options.partialCredit ? passedShare : failed.length === 0 ? 1 : 0;
      return { ok: true, reward, details: { failed } };
    });
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text.trim());
    return true;
  } catch {
    return false;
  }
}
