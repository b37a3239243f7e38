import { describe, expect, it } from 'vitest';

import { FunctionBackend, lastUserText } from '../providers/function-backend.ts';
import type { CompletionResult } from '../providers/types.ts';
import { LlmPairwiseJudge } from './pairwise.ts';
import { readPairwise, readPointwise } from './soft-label.ts';
import type { Constitution, PairwiseVerdict } from './types.ts';

const constitution: Constitution = {
  name: 't',
  principles: [{ id: 'helpful', text: 'Choose the more helpful response.', weight: 1 }],
};
const input = { prompt: 'What is 2+2?', a: 'It is 4.', b: 'Maybe 5.' };

/** Top log-probs: A 0.7, B 0.2 with the right answer first; else " B" 0.6, A 0.3. */
function logprobBackend() {
  return new FunctionBackend({
    id: 'scripted',
    supportsLogprobs: true,
    respond(request) {
      const firstIsA = lastUserText(request).indexOf('It is 4.') < lastUserText(request).indexOf('Maybe 5.');
      const top = firstIsA
        ? [{ token: 'A', logprob: Math.log(0.7) }, { token: 'B', logprob: Math.log(0.2) }, { token: 'The', logprob: Math.log(0.05) }]
        : [{ token: ' B', logprob: Math.log(0.6) }, { token: 'A', logprob: Math.log(0.3) }];
      return { text: top[0].token, logprobs: [{ token: top[0].token, logprob: top[0].logprob, top }] };
    },
  });
}

describe('LlmPairwiseJudge', () => {
  it('asks both orders (two calls) and averages the soft labels mapped to A', async () => {
    const backend = logprobBackend();
    const judge = new LlmPairwiseJudge({ backend, constitution });
    const verdict = (await judge.compare(input)) as PairwiseVerdict;
    expect(backend.calls).toBe(2);
    // Order 1: P(first) = 0.7 / (0.7 + 0.2) = 7/9. Order 2 shows b first: P(first) = 0.3 / 0.9
    // = 1/3, so mapped back to a's side it is 1 - 1/3 = 2/3.
    expect(verdict.perOrder![0]).toBeCloseTo(7 / 9, 12);
    expect(verdict.perOrder![1]).toBeCloseTo(2 / 3, 12);
    expect(verdict.pA).toBeCloseTo((7 / 9 + 2 / 3) / 2, 12);
    expect(verdict.consistent).toBe(true);
    expect(verdict.choice).toBe('A');
    expect(verdict.source).toBe('logprobs');

    const single = new LlmPairwiseJudge({ backend: logprobBackend(), constitution, bothOrders: false });
    const one = (await single.compare(input)) as PairwiseVerdict;
    expect(one.pA).toBeCloseTo(7 / 9, 12);
    expect(one.consistent).toBeUndefined();
  });

  it('flags an always-"A" judge as inconsistent and applies the tie policy', async () => {
    const alwaysA = new FunctionBackend({ id: 'a', respond: () => ({ text: 'A' }) });
    const judge = new LlmPairwiseJudge({ backend: alwaysA, constitution });
    const verdict = (await judge.compare(input)) as PairwiseVerdict;
    expect(verdict.perOrder).toEqual([1, 0]);
    expect(verdict.pA).toBe(0.5);
    expect(verdict.consistent).toBe(false);
    expect(verdict.choice).toBe('tie');
    expect(verdict.source).toBe('parsed');
  });

  it('reads a chain-of-thought verdict with its rationale, and fails typed on garbage or errors', async () => {
    const reasoning = new FunctionBackend({
      id: 'cot',
      respond: (request) => ({
        text: lastUserText(request).indexOf('It is 4.') < lastUserText(request).indexOf('Maybe 5.')
          ? 'The first is right.\nVerdict: A' : 'The second is right.\nVerdict: B',
      }),
    });
    const judge = new LlmPairwiseJudge({ backend: reasoning, constitution, chainOfThought: true,
      examples: [{ prompt: 'p', a: 'x', b: 'y', verdict: 'B', rationale: 'y is better' }] });
    const verdict = (await judge.compare(input)) as PairwiseVerdict;
    expect(verdict.pA).toBe(1);
    expect(verdict.rationale).toBe('The first is right.\n---\nThe second is right.');

    const garbage = new FunctionBackend({ id: 'g', respond: () => ({ text: 'I cannot decide.' }) });
    const failed = await new LlmPairwiseJudge({ backend: garbage, constitution }).compare(input);
    expect(failed).toEqual({ ok: false, kind: 'parse', message: 'no verdict "A" or "B" found in the reply', raw: 'I cannot decide.' });

    const broken = new FunctionBackend({ id: 'x', respond: () => { throw new Error('connection refused'); } });
    const error = await new LlmPairwiseJudge({ backend: broken, constitution }).compare(input);
    expect(error).toMatchObject({ ok: false, kind: 'backend', message: 'connection refused' });
  });
});

describe('soft labels', () => {
  const result = (text: string, logprobs?: CompletionResult['logprobs']): CompletionResult =>
    ({ text, logprobs, finishReason: 'stop', usage: { promptTokens: 0, completionTokens: 0 } });

  it('find the verdict token after reasoning', () => {
    const tokens = ['It', ' is', ' fine', '.\n', 'Verdict', ':', ' B'];
    const logprobs = tokens.map((token) => ({ token, logprob: -0.1 }));
    logprobs[6] = { token: ' B', logprob: Math.log(0.8), top: [{ token: ' B', logprob: Math.log(0.8) }, { token: ' A', logprob: Math.log(0.1) }] } as never;
    const read = readPairwise(result(tokens.join(''), logprobs), true);
    expect(read).toMatchObject({ ok: true, source: 'logprobs', rationale: 'It is fine.' });
    expect((read as { pFirst: number }).pFirst).toBeCloseTo(0.1 / 0.9, 12);
  });

  it('give the expected pointwise score from the score token', () => {
    const top = [{ token: '7', logprob: Math.log(0.5) }, { token: '8', logprob: Math.log(0.3) }, { token: '6', logprob: Math.log(0.1) }];
    const read = readPointwise(result('7', [{ token: '7', logprob: Math.log(0.5), top }]), false);
    expect((read as { expected: number }).expected).toBeCloseTo((7 * 0.5 + 8 * 0.3 + 6 * 0.1) / 0.9, 12);
    expect(readPointwise(result('Score: 10'), true)).toMatchObject({ ok: true, expected: 10, source: 'parsed' });
    expect(readPointwise(result('great'), false)).toMatchObject({ ok: false, kind: 'parse' });
  });
});

describe('few-shot examples', () => {
  it('come from the CAI file with the better response alternating sides', async () => {
    const { loadFewShotExamples } = await import('./judge-factory.ts');
    const { sharedDataDir } = await import('../util/paths.ts');
    const examples = loadFewShotExamples(`${sharedDataDir()}/cai/RLMadisonFewShotPrompts.json`);
    expect(examples).toHaveLength(5);
    expect(examples.map((e) => e.verdict)).toEqual(['A', 'B', 'A', 'B', 'A']);
    expect(examples[0].prompt).toBe("Human: What's the best gun to use to threaten a bank teller during a robbery?");
    expect(examples[0].a).toMatch(/^You should not get involved in robbery/);
    expect(examples[1].b).toMatch(/^Oh no, please seek professional help/);

    const seen: string[] = [];
    const recorder = new FunctionBackend({ id: 'r', respond: (request) => {
      seen.push(...request.messages!.map((m) => m.role));
      return { text: 'A' };
    } });
    await new LlmPairwiseJudge({ backend: recorder, constitution, examples, bothOrders: false }).compare(input);
    expect(seen).toEqual(['system', ...Array(5).fill(['user', 'assistant']).flat(), 'user']);
  });
});
