/**
 * Reward endpoint under a bounded loopback load: p50/p99 latency and requests per second for
 * the OpenRLHF protocol, backed by the GSM8K numeric verifier, against a bare Hono endpoint that
 * returns fixed rewards (the HTTP floor, measured in the same run), with and without the 5 ms
 * batching wait.
 *
 *   node --import tsx bench/serve.ts [--requests 3000] [--concurrency 32] [--items 4]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'node:http';

import { NumericAnswerVerifier } from '../src/rewards/numeric-answer.ts';
import type { RewardSource } from '../src/rewards/types.ts';
import { startRewardServer } from '../src/serve/reward-server.ts';
import { sharedDataDir } from '../src/util/paths.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    items: { type: 'string', default: '4' },
  },
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const itemsPerRequest = Number(values.items);

const rows = readFileSync(join(sharedDataDir(), 'gsm8k', 'test.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as { question: string; answer: string });

function body(r: number): string {
  const picked = Array.from(
    { length: itemsPerRequest },
    (_, k) => rows[(r * itemsPerRequest + k) % rows.length],
  );
  const prompts = picked.map((row) => `Q: ${row.question}\nA:`);
  return JSON.stringify({
    query: picked.map((row, k) => `${prompts[k]} ${row.answer}`),
    prompts,
    labels: picked.map((row) => row.answer.split('####')[1].trim()),
  });
}

function postJson(
  url: string,
  payload: string,
  agent: Agent,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface LoadResult {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
}

async function load(source: RewardSource, maxWaitMs = 5): Promise<LoadResult> {
  const server = await startRewardServer({ source, port: 0, maxWaitMs });
  const warmAgent = new Agent({ keepAlive: true, maxSockets: concurrency });
  // Warm-up (JIT, sockets), not measured.
  for (let i = 0; i < 200; i += concurrency) {
    await Promise.all(
      Array.from({ length: concurrency }, (_, k) => postJson(server.url, body(i + k), warmAgent)),
    );
  }
  warmAgent.destroy();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const payload = body(next++);
        const t0 = performance.now();
        const { status, text } = await postJson(server.url, payload, agent);
        latencies.push(performance.now() - t0);
        const json = JSON.parse(text) as { rewards?: number[] };
        if (status !== 200 || json.rewards?.length !== itemsPerRequest) errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  await server.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99), rps: requests / seconds, errors };
}

const fixed: RewardSource = {
  id: 'fixed',
  score: async (items) => items.map(() => ({ ok: true, reward: 1 })),
};

const floor = await load(fixed);
const unbatched = await load(fixed, 0);
const verifier = await load(new NumericAnswerVerifier());
// The floor again: on a shared machine the first and last runs bracket the drift in between.
const floorAgain = await load(fixed);
const show = (name: string, r: LoadResult) =>
  console.log(
    `${name.padEnd(22)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ` +
      `${r.rps.toFixed(0)} req/s  ${(r.rps * itemsPerRequest).toFixed(0)} items/s  errors ${r.errors}`,
  );
console.log(`${requests} requests x ${itemsPerRequest} items, ${concurrency} in flight, 127.0.0.1`);
show('fixed rewards (floor)', floor);
show('fixed, no batch wait', unbatched);
show('gsm8k verifier', verifier);
show('fixed rewards (again)', floorAgain);
const floorRps = (floor.rps + floorAgain.rps) / 2;
console.log(`verifier / floor throughput: ${(verifier.rps / floorRps).toFixed(2)}`);
