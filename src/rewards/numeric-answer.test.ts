import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { sharedDataDir } from '../util/paths.ts';
import {
  NumericAnswerVerifier,
  extractFinalAnswer,
  findNumbers,
  parseNumber,
} from './numeric-answer.ts';
import { ExactMatchVerifier, FormatVerifier, RegexVerifier } from './text-checks.ts';

interface GsmRow {
  question: string;
  answer: string;
}

function loadGsm8k(): GsmRow[] {
  const text = readFileSync(join(sharedDataDir(), 'gsm8k', 'test.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

/** The reference solution with its final number changed (N -> N + 1). */
function withWrongFinal(answer: string): string {
  return answer.replace(/####\s*(.*)$/, (_, written: string) => {
    const value = Number(written.replace(/,/g, ''));
    return `#### ${value + 1}`;
  });
}

describe('GSM8K test set', () => {
  const rows = loadGsm8k();
  const verifier = new NumericAnswerVerifier();

  it('scores every reference solution 1 and every altered one 0', async () => {
    expect(rows).toHaveLength(1319);
    const right = await verifier.score(
      rows.map((r) => ({ prompt: r.question, response: r.answer, reference: r.answer })),
    );
    const wrong = await verifier.score(
      rows.map((r) => ({
        prompt: r.question,
        response: withWrongFinal(r.answer),
        reference: r.answer,
      })),
    );
    const rewardsRight = right.map((o) => (o.ok ? o.reward : NaN));
    const rewardsWrong = wrong.map((o) => (o.ok ? o.reward : NaN));
    expect(rewardsRight.filter((r) => r === 1)).toHaveLength(1319);
    expect(rewardsWrong.filter((r) => r === 0)).toHaveLength(1319);
  });

  it('reads the answer from the reasoning alone when the marker is removed', async () => {
    // Without "#### N" the last number of a GSM8K solution is its result in almost every row.
    const outcomes = await verifier.score(
      rows.map((r) => ({
        prompt: r.question,
        response: r.answer.replace(/####.*$/, '').replace(/<<[^>]*>>/g, ''),
        reference: r.answer,
      })),
    );
    const correct = outcomes.filter((o) => o.ok && o.reward === 1).length;
    expect(correct / rows.length).toBeGreaterThan(0.9);
  });
});

describe('numbers as people write them', () => {
  it.each([
    ['1,000', 1000],
    ['$5', 5],
    ['-2', -2],
    ['\u22122', -2],
    ['3/4', 0.75],
    ['0.75', 0.75],
    ['.5', 0.5],
    ['-$1,234.50', -1234.5],
    ['12 cm', 12],
    ['50%', 50],
    ['1,450,000 dollars', 1450000],
  ])('%s is %d', (written, value) => {
    expect(parseNumber(written)).toBe(value);
  });

  it('keeps hyphens of ranges and words out of the sign', () => {
    expect(findNumbers('pages 3-4 of COVID-19').map((n) => n.value)).toEqual([3, 4, 19]);
    expect(findNumbers('10 - 2 = 8').map((n) => n.value)).toEqual([10, 2, 8]);
    expect(findNumbers('lists 1,2,3').map((n) => n.value)).toEqual([1, 2, 3]);
  });

  it('finds the final answer by marker, boxed, phrase, then last number', () => {
    expect(extractFinalAnswer('So 4 eggs.\n#### 1,000')).toMatchObject({
      value: 1000,
      source: 'marker',
    });
    expect(extractFinalAnswer('we get \\boxed{3/4} here 9')).toMatchObject({
      value: 0.75,
      source: 'boxed',
    });
    expect(extractFinalAnswer('The answer is $5. I had 3 apples.')).toMatchObject({
      value: 5,
      source: 'phrase',
    });
    expect(extractFinalAnswer('She has 3 then 7 left.')).toMatchObject({
      value: 7,
      source: 'last-number',
    });
    expect(extractFinalAnswer('no digits here')).toBeNull();
  });
});

describe('NumericAnswerVerifier edge cases', () => {
  const verifier = new NumericAnswerVerifier();
  const score = async (response: string, reference: string) => {
    const [outcome] = await verifier.score([{ prompt: 'q', response, reference }]);
    return outcome.ok ? outcome.reward : outcome.reason;
  };

  it('compares values, not spellings', async () => {
    expect(await score('The answer is 1,000', '#### 1000')).toBe(1);
    expect(await score('#### 1000', '1,000')).toBe(1);
    expect(await score('It costs $5.', '#### 5')).toBe(1);
    expect(await score('The answer is 3/4', '0.75')).toBe(1);
    expect(await score('#### 0.75', '3/4')).toBe(1);
    expect(await score('The temperature fell to -2 degrees.', '#### -2')).toBe(1);
    expect(await score('The answer is 2', '#### -2')).toBe(0);
    expect(await score('#### 1001', '#### 1,000')).toBe(0);
    expect(await score('1/3 of the cake', '0.333')).toBe(0);
  });

  it('scores a response without a number 0 and a missing reference as a failure', async () => {
    expect(await score('I do not know', '#### 4')).toBe(0);
    const [missing] = await verifier.score([{ prompt: 'q', response: '4' }]);
    expect(missing).toEqual({ ok: false, reason: 'no reference answer' });
    expect(await score('4', 'none')).toMatch(/reference has no number/);
  });
});

describe('text checks', () => {
  it('exact match normalises whitespace by default', async () => {
    const verifier = new ExactMatchVerifier();
    const outcomes = await verifier.score([
      { prompt: '', response: ' Paris\n', reference: 'Paris' },
      { prompt: '', response: 'paris', reference: 'Paris' },
      { prompt: '', response: 'paris' },
    ]);
    expect(outcomes).toEqual([
      { ok: true, reward: 1 },
      { ok: true, reward: 0 },
      { ok: false, reason: 'no reference text' },
    ]);
    const folded = new ExactMatchVerifier({ normalise: 'casefold' });
    expect(await folded.score([{ prompt: '', response: 'paris', reference: 'Paris' }])).toEqual([
      { ok: true, reward: 1 },
    ]);
  });

  it('regex checks search or full match, with per-item patterns', async () => {
    const full = new RegexVerifier({ pattern: '[A-D]', mode: 'full' });
    const rewards = (
      await full.score([
        { prompt: '', response: ' B ' },
        { prompt: '', response: 'B because' },
      ])
    ).map((o) => (o.ok ? o.reward : -1));
    expect(rewards).toEqual([1, 0]);
    const perItem = new RegexVerifier();
    const outcomes = await perItem.score([
      { prompt: '', response: 'id 42', reference: '\\d+' },
      { prompt: '', response: 'x', reference: '(' },
    ]);
    expect(outcomes[0]).toEqual({ ok: true, reward: 1 });
    expect(outcomes[1].ok).toBe(false);
  });

  it('format checks name the rules that failed', async () => {
    const verifier = new FormatVerifier({ maxChars: 20, mustInclude: ['{'], json: true });
    const [good, bad] = await verifier.score([
      { prompt: '', response: '{"a": 1}' },
      { prompt: '', response: '{not json at all, far too long}' },
    ]);
    expect(good).toEqual({ ok: true, reward: 1, details: { failed: [] } });
    expect(bad).toEqual({ ok: true, reward: 0, details: { failed: ['maxChars', 'json'] } });
    const partial = new FormatVerifier({ maxChars: 20, json: true, partialCredit: true });
    const [half] = await partial.score([{ prompt: '', response: 'short' }]);
    expect(half.ok && half.reward).toBe(0.5);
  });
});
