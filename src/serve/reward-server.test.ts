import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { NumericAnswerVerifier } from '../rewards/numeric-answer.ts';
import type { RewardSource } from '../rewards/types.ts';
import { sharedDataDir } from '../util/paths.ts';
import { requestItems, startRewardServer, type RewardServer } from './reward-server.ts';

interface GsmRow {
  question: string;
  answer: string;
}

const rows: GsmRow[] = readFileSync(join(sharedDataDir(), 'gsm8k', 'test.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l));

const finalOf = (answer: string) => answer.split('####')[1].trim().replace(/,/g, '');

// Keep-alive sockets: the load test measures the server, not connection set-up.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function post(url: string, body: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `task(i)` for i < n with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

describe('reward server (OpenRLHF remote reward-model protocol)', () => {
  let server: RewardServer;

  beforeAll(async () => {
    server = await startRewardServer({
      source: new NumericAnswerVerifier(),
      port: 0,
      maxWaitMs: 2,
    });
  });
  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  it('answers a bounded loopback load correctly, with malformed requests interleaved', async () => {
    const requests = 3000;
    const wrong: string[] = [];
    let malformedSeen = 0;

    await pool(requests, 64, async (r) => {
      if (r % 100 === 99) {
        // Every 100th request is malformed in a different way.
        const bad = [
          '{"query": ["a"], "prompts": ["a", "b"]}',
          '{"query": "not a list"}',
          '{not json',
        ][malformedSeen++ % 3];
        const { status, json } = await post(server.url, bad);
        if (status !== 400 || typeof json.error !== 'string')
          wrong.push(`malformed ${r}: ${status}`);
        return;
      }
      // 1-3 items per request, alternately right and wrong answers.
      const size = 1 + (r % 3);
      const picked = Array.from({ length: size }, (_, k) => rows[(r * 3 + k) % rows.length]);
      const expected = picked.map((_, k) => ((r + k) % 2 === 0 ? 1 : 0));
      const prompts = picked.map((row) => `Q: ${row.question}\nA:`);
      const query = picked.map((row, k) => {
        const value = Number(finalOf(row.answer)) + (expected[k] === 1 ? 0 : 7);
        return `${prompts[k]} Let me think. The answer is ${value}.`;
      });
      const labels = picked.map((row) => finalOf(row.answer));
      const { status, json } = await post(server.url, JSON.stringify({ query, prompts, labels }));
      if (status !== 200 || JSON.stringify(json.rewards) !== JSON.stringify(expected)) {
        wrong.push(`request ${r}: ${status} ${JSON.stringify(json)} expected ${expected}`);
      }
    });

    expect(wrong).toEqual([]);
    expect(malformedSeen).toBe(30);
    // Concurrent requests were merged into fewer scoring calls.
    expect(server.batcher.stats.batches).toBeLessThan(2970);
    expect(server.batcher.stats.items).toBe(
      Array.from({ length: 3000 }, (_, r) => (r % 100 === 99 ? 0 : 1 + (r % 3))).reduce(
        (a, b) => a + b,
        0,
      ),
    );
  }, 60_000);

  it('returns rewards, scores and extra_logs as OpenRLHF reads them', async () => {
    const { status, json } = await post(
      server.url,
      JSON.stringify({
        query: ['Q: 2+2? A: #### 4', 'Q: 2+2? A: #### 5'],
        prompts: ['Q: 2+2? A:', 'Q: 2+2? A:'],
        labels: ['4', '4'],
      }),
    );
    expect(status).toBe(200);
    expect(json).toEqual({
      rewards: [1, 0],
      scores: [1, 0],
      extra_logs: { 'rlaif/failed': [0, 0] },
    });
  });

  it('names the field of a malformed request', async () => {
    expect(await post(server.url, '{"query": ["a"], "labels": [1, 2]}')).toEqual({
      status: 400,
      json: { error: 'field "labels": must have as many entries as "query"' },
    });
    const missing = await post(server.url, '{"prompts": []}');
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatch(/^field "query": /);
  });

  it('fails a request whose items cannot be scored, unless a failure reward is set', async () => {
    // No label: the numeric verifier cannot score the item.
    const unlabeled = JSON.stringify({ query: ['2+2 is 4'] });
    const strict = await post(server.url, unlabeled);
    expect(strict.status).toBe(502);
    expect(strict.json.error).toContain('no reference answer');

    const lenient = await startRewardServer({
      source: new NumericAnswerVerifier(),
      port: 0,
      failureReward: -1,
    });
    try {
      expect((await post(lenient.url, unlabeled)).json).toEqual({
        rewards: [-1],
        scores: [-1],
        extra_logs: { 'rlaif/failed': [1] },
      });
    } finally {
      await lenient.close();
    }
  });

  it('keeps one throwing request from failing the others in its batch', async () => {
    const picky: RewardSource = {
      id: 'picky',
      async score(items) {
        if (items.some((i) => i.response === 'poison')) throw new Error('cannot score poison');
        return items.map((i) => ({ ok: true, reward: i.response.length }));
      },
    };
    const guarded = await startRewardServer({ source: picky, port: 0, maxWaitMs: 50 });
    try {
      const [good, bad, other] = await Promise.all([
        post(guarded.url, JSON.stringify({ query: ['abc'] })),
        post(guarded.url, JSON.stringify({ query: ['poison'] })),
        post(guarded.url, JSON.stringify({ query: ['hello', 'x'] })),
      ]);
      expect(good.json.rewards).toEqual([3]);
      expect(bad).toEqual({
        status: 502,
        json: { error: 'reward source failed: cannot score poison' },
      });
      expect(other.json.rewards).toEqual([5, 1]);
      expect(guarded.batcher.stats).toEqual({ batches: 1, items: 4, splitRetries: 1 });
    } finally {
      await guarded.close();
    }
  });

  it('splits each query into prompt and response', () => {
    expect(
      requestItems({
        query: ['P: hi R', 'other'],
        prompts: ['P: hi', 'nope'],
        labels: ['7', null],
      }),
    ).toEqual([
      { prompt: 'P: hi', response: ' R', reference: '7' },
      { prompt: 'nope', response: 'other' },
    ]);
  });
});
