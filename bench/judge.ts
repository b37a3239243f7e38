/**
 * Judge orchestration benchmark: labels per second and overhead per label at concurrency 1, 8
 * and 64, against a loopback OpenAI-compatible server that answers at once. Each label is a
 * pairwise verdict asked in both orders (two HTTP calls) through the full stack: principle
 * sampling, prompt rendering, the managed backend (limiter, retry wrapper, budget, SQLite call
 * cache), soft-label reading and the SQLite judgment store.
 *
 * Reference measured in the same run: the same number of bare HTTP calls (fetch + JSON parse)
 * at the same concurrency. Overhead per label = (full - bare) / labels, in wall and CPU time;
 * on a shared machine the CPU figure is the steadier one. The pure orchestration cost without
 * any HTTP is measured with an in-process backend. The server runs in a child process.
 *
 * Run: node --import tsx bench/judge.ts [--quick]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';

import { parseCandidates } from '../src/judge/candidates.ts';
import { labelPairs } from '../src/judge/label.ts';
import { LlmPairwiseJudge } from '../src/judge/pairwise.ts';
import { defaultTemplates, pairwiseMessages } from '../src/judge/templates.ts';
import type { Constitution } from '../src/judge/types.ts';
import { FunctionBackend } from '../src/providers/function-backend.ts';
import { ManagedBackend } from '../src/providers/managed.ts';
import { OpenAIBackend } from '../src/providers/openai.ts';
import type { TextBackend } from '../src/providers/types.ts';
import { CallCache } from '../src/store/call-cache.ts';
import { JudgmentStore } from '../src/store/judgments.ts';

const quick = process.argv.includes('--quick');
const LABELS = quick ? 200 : 400;
// Each figure is the best of REPEATS interleaved runs: on a shared machine the minimum is the
// least disturbed measurement.
const REPEATS = quick ? 1 : 3;
const CONCURRENCY = [1, 8, 64];

const constitution: Constitution = {
  name: 'bench',
  principles: [
    { id: 'kind', text: 'Choose the kinder story.', weight: 1 },
    { id: 'simple', text: 'Choose the simpler story.', weight: 1 },
  ],
};
const top = [{ token: 'A', logprob: Math.log(0.7) }, { token: 'B', logprob: Math.log(0.3) }];

function candidates(run: string) {
  const lines = Array.from({ length: LABELS }, (_, i) => JSON.stringify({
    id: `${run}-${i}`,
    prompt: `Once upon a time, child ${i} (${run}) found a ball in the park.`,
    a: `They shared the ball with a friend and smiled all day long. ${i}`,
    b: `A monster took the ball and everyone cried. ${i}`,
  }));
  return parseCandidates(lines.join('\n'));
}

async function timeLabels(makeBackend: () => TextBackend, concurrency: number, run: string) {
  const db = new Database(':memory:');
  const backend = new ManagedBackend({
    backend: makeBackend(),
    cache: new CallCache(db),
    concurrency,
    retries: 2,
  });
  const judge = new LlmPairwiseJudge({ backend, constitution });
  const pairs = candidates(run);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const store = new JudgmentStore(db);
  const summary = await labelPairs({ judge, pairs, store, concurrency, progress: false });
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  if (summary.judged !== LABELS) {
    throw new Error(`only ${summary.judged} labels: ${JSON.stringify(summary.failures[0])}`);
  }
  db.close();
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function best(timings: Timing[]): Timing {
  return {
    wallMs: Math.min(...timings.map((t) => t.wallMs)),
    cpuMs: Math.min(...timings.map((t) => t.cpuMs)),
  };
}

/** The same HTTP traffic with nothing around it: 2 calls per label, `concurrency` at a time. */
async function timeBareHttp(baseUrl: string, concurrency: number) {
  const calls = 2 * LABELS;
  // The same request body a label's call sends, so only the orchestration differs.
  const pair = candidates('bare')[0];
  const messages = pairwiseMessages({ templates: defaultTemplates, principle: constitution.principles[0].text,
    prompt: pair.prompt, a: pair.a, b: pair.b, chainOfThought: false });
  const body = JSON.stringify({
    model: 'bench', messages, max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 5,
  });
  let next = 0;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < calls) {
      const response = await fetch(`${baseUrl}/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body,
      });
      JSON.parse(await response.text());
    }
  }));
  const cpu = process.cpuUsage(cpuStart);
  return { wallMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// The server runs in its own process so its CPU time is not counted here.
const serverScript = fileURLToPath(new URL('./judge-server.ts', import.meta.url));
const serverProcess = spawn(process.execPath, ['--import', 'tsx', serverScript],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const [firstLine] = (await once(serverProcess.stdout!, 'data')) as [Buffer];
const baseUrl = firstLine.toString().trim();
const http = () => new OpenAIBackend({ model: 'bench', baseUrl, apiKey: 'unused' });
const inProcess = () => new FunctionBackend({ id: 'instant', supportsLogprobs: true, respond: () => ({
  text: 'A', logprobs: [{ token: 'A', logprob: top[0].logprob, top }],
}) });

// Warm up sockets, JIT and SQLite statements.
await timeLabels(http, 8, 'warm');
await timeBareHttp(baseUrl, 8);

console.log(`judge orchestration: ${LABELS} labels per setting, 2 calls per label (both orders), `
  + `best of ${REPEATS}`);
console.log('                full stack (HTTP)          | bare HTTP, same calls '
  + '| overhead (full - bare) | no HTTP at all');
console.log('concurrency  labels/s  ms/label  cpu ms/label |   ms/label  cpu ms '
  + '|  ms/label  cpu ms |  labels/s  cpu ms/label');
let firstRate = 0;
for (const concurrency of CONCURRENCY) {
  const runs = { full: [] as Timing[], bare: [] as Timing[], local: [] as Timing[] };
  for (let r = 0; r < REPEATS; r++) {
    runs.full.push(await timeLabels(http, concurrency, `http-${concurrency}-${r}`));
    runs.bare.push(await timeBareHttp(baseUrl, concurrency));
    runs.local.push(await timeLabels(inProcess, concurrency, `local-${concurrency}-${r}`));
  }
  const [full, bare, local] = [best(runs.full), best(runs.bare), best(runs.local)];
  const rate = LABELS / (full.wallMs / 1000);
  if (concurrency === 1) firstRate = rate;
  console.log([
    String(concurrency).padStart(11),
    rate.toFixed(0).padStart(9),
    (full.wallMs / LABELS).toFixed(3).padStart(9),
    (full.cpuMs / LABELS).toFixed(3).padStart(13),
    '|',
    (bare.wallMs / LABELS).toFixed(3).padStart(10),
    (bare.cpuMs / LABELS).toFixed(3).padStart(8),
    ((full.wallMs - bare.wallMs) / LABELS).toFixed(3).padStart(10),
    ((full.cpuMs - bare.cpuMs) / LABELS).toFixed(3).padStart(8),
    '|',
    (LABELS / (local.wallMs / 1000)).toFixed(0).padStart(16),
    (local.cpuMs / LABELS).toFixed(3).padStart(13),
  ].join(' '));
  if (concurrency !== 1) {
    console.log(`${''.padStart(11)} throughput ${(rate / firstRate).toFixed(2)}x concurrency 1`);
  }
}
serverProcess.kill();
const load = (await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`load average during the run: ${load} (2 cores)`);
