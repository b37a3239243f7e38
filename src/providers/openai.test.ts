import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';

import { LlmPairwiseJudge } from '../judge/pairwise.ts';
import type { Constitution, PairwiseVerdict } from '../judge/types.ts';
import { CallCache } from '../store/call-cache.ts';
import { Budget } from './budget.ts';
import { ManagedBackend } from './managed.ts';
import { OpenAIBackend } from './openai.ts';
import { chatReply, startScriptedServer, type ScriptedServer } from './scripted-server.ts';

const constitution: Constitution = {
  name: 't',
  principles: [{ id: 'helpful', text: 'Choose the more helpful response.', weight: 1 }],
};
const input = { prompt: 'Capital of France?', a: 'Paris.', b: 'Lyon.' };
const request = { messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 1, topLogprobs: 2 };

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function managed(backend: OpenAIBackend, extra: Partial<ConstructorParameters<typeof ManagedBackend>[0]> = {}) {
  return new ManagedBackend({ backend, retries: 3, minRetryDelayMs: 5, maxRetryDelayMs: 2000, ...extra });
}

describe('OpenAI-compatible backend on a loopback server', () => {
  it('answers a 429 with a retry that waits for Retry-After', async () => {
    server = await startScriptedServer((_body, index) => index === 0
      ? { status: 429, headers: { 'retry-after': '0.3' }, body: { error: { message: 'slow down' } } }
      : { body: chatReply('A') });
    const backend = managed(new OpenAIBackend({ model: 'm', baseUrl: server.baseUrl, apiKey: 'sk-secret' }));
    const started = performance.now();
    const result = await backend.complete(request);
    expect(result.text).toBe('A');
    expect(server.requests).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(backend.budget.totals.retries).toBe(1);
  });

  it('retries a 5xx, and gives up with a typed timeout when the server does not answer', async () => {
    server = await startScriptedServer((_body, index) => index === 0
      ? { status: 503, body: 'busy' }
      : { body: chatReply('B') });
    const ok = await managed(new OpenAIBackend({ model: 'm', baseUrl: server.baseUrl })).complete(request);
    expect(ok.text).toBe('B');
    await server.close();

    server = await startScriptedServer(() => ({ body: chatReply('A'), delayMs: 2_000 }));
    const slow = managed(new OpenAIBackend({ model: 'm', baseUrl: server.baseUrl, timeoutMs: 100 }), { retries: 1 });
    await expect(slow.complete(request)).rejects.toMatchObject({ name: 'ProviderTimeoutError' });
    expect(server.requests).toBe(2);
    const verdict = await new LlmPairwiseJudge({ backend: slow, constitution, bothOrders: false }).compare(input);
    expect(verdict).toMatchObject({ ok: false, kind: 'timeout' });
  });

  it('turns a malformed reply into a typed failure, without retrying', async () => {
    server = await startScriptedServer(() => ({ body: { choices: 'none' } }));
    const backend = managed(new OpenAIBackend({ model: 'm', baseUrl: server.baseUrl }));
    await expect(backend.complete(request)).rejects.toMatchObject({ name: 'MalformedReplyError' });
    expect(server.requests).toBe(1);
    const verdict = await new LlmPairwiseJudge({ backend, constitution }).compare(input);
    expect(verdict).toMatchObject({ ok: false, kind: 'backend', raw: '{"choices":"none"}' });
    expect((verdict as { message: string }).message).toMatch(/unexpected shape at "choices"/);

    await server.close();
    server = await startScriptedServer(() => ({ body: 'not json' }));
    const other = managed(new OpenAIBackend({ model: 'm', baseUrl: server.baseUrl }));
    await expect(other.complete(request)).rejects.toMatchObject({ name: 'MalformedReplyError' });
  });

  it('gives soft labels from the returned log-probs, caches every call and sends the key only as a header', async () => {
    // A-first order: P(A) = e^-0.2, P(B) = e^-1.8 -> 0.8320; swapped: P(A) = e^-1.2, P(B) = e^-0.4.
    server = await startScriptedServer((body) => {
      const user = body.messages[body.messages.length - 1].content as string;
      const parisFirst = user.indexOf('Paris.') < user.indexOf('Lyon.');
      const [a, b] = parisFirst ? [-0.2, -1.8] : [-1.2, -0.4];
      const top = [{ token: 'A', logprob: a }, { token: 'B', logprob: b }].sort((x, y) => y.logprob - x.logprob);
      return { body: chatReply(top[0].token, [{ ...top[0], top_logprobs: top }]) };
    });
    const db = new Database(':memory:');
    const budget = new Budget({ limitUsd: 1 });
    const backend = managed(new OpenAIBackend({ model: 'gpt-4o-mini', baseUrl: server.baseUrl, apiKey: 'sk-secret' }),
      { cache: new CallCache(db), budget });
    const judge = new LlmPairwiseJudge({ backend, constitution });
    const verdict = (await judge.compare(input)) as PairwiseVerdict;

    const first = Math.exp(-0.2) / (Math.exp(-0.2) + Math.exp(-1.8));
    const second = 1 - Math.exp(-1.2) / (Math.exp(-1.2) + Math.exp(-0.4));
    expect(verdict.perOrder![0]).toBeCloseTo(first, 12);
    expect(verdict.perOrder![1]).toBeCloseTo(second, 12);
    expect(verdict.pA).toBeCloseTo((first + second) / 2, 12);
    expect(verdict.source).toBe('logprobs');
    // Two calls of 10 prompt + 1 completion tokens at $0.15 / $0.60 per million.
    expect(verdict.usage!.costUsd).toBeCloseTo(2 * (10 * 0.15 + 1 * 0.6) / 1e6, 15);
    expect(server.requests).toBe(2);
    expect((server.bodies[0] as { top_logprobs: number }).top_logprobs).toBe(5);

    const again = (await judge.compare(input)) as PairwiseVerdict;
    expect(again.pA).toBe(verdict.pA);
    expect(server.requests).toBe(2);
    expect(budget.totals).toMatchObject({ calls: 2, cachedCalls: 2, promptTokens: 20 });
    const stored = db.prepare('SELECT key, backend, result FROM call_cache').all();
    expect(JSON.stringify(stored)).not.toContain('sk-secret');
    expect(JSON.stringify(backend)).not.toContain('sk-secret');
  });

  it('stops at the budget cap with a typed failure', async () => {
    server = await startScriptedServer(() => ({ body: chatReply('A', undefined, { prompt_tokens: 1000, completion_tokens: 1 }) }));
    // A call reserves about 74 prompt tokens + 1 at $2.50 / $10 per million ($0.000195) and
    // really costs 1000 * 2.5 / 1e6 + 1 * 10 / 1e6 = $0.00251: the second no longer fits.
    const budget = new Budget({ limitUsd: 0.0026 });
    const backend = managed(new OpenAIBackend({ model: 'gpt-4o', baseUrl: server.baseUrl }), { budget });
    const judge = new LlmPairwiseJudge({ backend, constitution, bothOrders: false });
    expect((await judge.compare(input)).ok).toBe(true);
    expect(budget.totals.costUsd).toBeCloseTo(0.00251, 12);
    expect(await judge.compare({ ...input, a: 'Marseille.' })).toMatchObject({ ok: false, kind: 'budget' });
    expect(server.requests).toBe(1);
  });
});
