import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { CallCache } from '../store/call-cache.ts';
import { FunctionBackend } from './function-backend.ts';
import { ManagedBackend } from './managed.ts';

const request = (content: string, maxTokens = 1) => ({ messages: [{ role: 'user' as const, content }], maxTokens });

function slowBackend(delayMs: number) {
  const state = { inFlight: 0, maxInFlight: 0, starts: [] as number[] };
  const backend = new FunctionBackend({
    id: 'slow',
    async respond() {
      state.starts.push(performance.now());
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      state.inFlight--;
      return { text: 'A', usage: { promptTokens: 3, completionTokens: 1 } };
    },
  });
  return { backend, state };
}

describe('ManagedBackend', () => {
  it('keeps at most `concurrency` calls in flight', async () => {
    const { backend, state } = slowBackend(20);
    const managed = new ManagedBackend({ backend, concurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => managed.complete(request(`q${i}`))));
    expect(state.maxInFlight).toBe(3);
    expect(backend.calls).toBe(12);
  });

  it('shares one call between identical requests in flight, and caches it', async () => {
    const { backend } = slowBackend(30);
    const cache = new CallCache(new Database(':memory:'));
    const managed = new ManagedBackend({ backend, cache });
    const replies = await Promise.all([managed.complete(request('same')), managed.complete(request('same'))]);
    expect(backend.calls).toBe(1);
    expect(replies.map((r) => r.cached)).toEqual([false, true]);
    expect((await managed.complete(request('same'))).cached).toBe(true);
    expect(backend.calls).toBe(1);
    expect(cache.size()).toBe(1);
    expect(managed.budget.totals).toMatchObject({ calls: 1, cachedCalls: 1, promptTokens: 3, completionTokens: 1 });
  });

  it('paces requests per minute', async () => {
    const { backend, state } = slowBackend(0);
    // 600 per minute: one start every 100 ms.
    const managed = new ManagedBackend({ backend, requestsPerMinute: 600, concurrency: 8 });
    await Promise.all(Array.from({ length: 4 }, (_, i) => managed.complete(request(`r${i}`))));
    // Judged on the schedule, not on single gaps: a start the event loop delays by a few ms
    // shortens the gap after it, while the i-th start still comes no earlier than i x 100 ms.
    const offsets = state.starts.map((t) => t - state.starts[0]);
    offsets.forEach((offset, i) => expect(offset).toBeGreaterThanOrEqual(i * 100 - 15));
    await managed.close();
  });

  it('holds calls back once the tokens-per-minute reservoir is spent', async () => {
    const { backend } = slowBackend(0);
    // Each request weighs ceil(40 / 4) = 10 prompt tokens + 10 max tokens = 20; 50 per minute fit two.
    const managed = new ManagedBackend({ backend, tokensPerMinute: 50 });
    const content = 'x'.repeat(40);
    await managed.complete(request(`${content}1`.slice(1), 10));
    await managed.complete(request(`${content}2`.slice(1), 10));
    let third = false;
    managed.complete(request(`${content}3`.slice(1), 10)).then(() => { third = true; }, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(third).toBe(false);
    expect(backend.calls).toBe(2);
    await managed.close();
  });
});
