import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

import { chatReply, startScriptedServer, type ScriptedServer } from '../providers/scripted-server.ts';
import { JudgmentStore } from '../store/judgments.ts';
import { MetricsWriter, readMetrics } from '../util/metrics.ts';
import { projectRoot } from '../util/paths.ts';
import { parseCandidates, readCandidates } from './candidates.ts';
import { createDefaultJudge } from './default-judges.ts';
import { labelPairs } from './label.ts';

const dir = mkdtempSync(join(tmpdir(), 'label-'));
const cli = join(projectRoot, 'bin/rlaif.mjs');

function runCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: projectRoot,
    env: { ...process.env, RLAIF_QUIET: '1', RLAIF_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

describe('candidates', () => {
  it('fail on a bad JSONL line or a missing field naming file, line and field', () => {
    const good = '{"prompt": "p", "a": "x", "b": "y"}';
    expect(() => parseCandidates(`${good}\n{"prompt": "p", "a": "x"\n`, { file: 'in.jsonl' }))
      .toThrow(/^in\.jsonl:2: not valid JSON/);
    expect(() => parseCandidates(`${good}\n\n{"prompt": "p", "a": "x"}\n`, { file: 'in.jsonl' }))
      .toThrow('in.jsonl:3, field "b": Invalid input: expected string, received undefined');
    expect(() => parseCandidates('{"prompt": "p", "responses": ["only one"]}', { file: 'k.jsonl' }))
      .toThrow('k.jsonl:1, field "responses": needs at least two responses');
    expect(() => parseCandidates(`${good}\n${good}`, { file: 'd.jsonl' })).toThrow(/d\.jsonl:2, field "id": duplicate/);
  });

  it('turn K responses into pairs', () => {
    const pairs = parseCandidates('{"id": "s", "prompt": "p", "responses": ["r0", "r1", "r2"]}');
    expect(pairs.map((p) => [p.key, p.a, p.b])).toEqual([
      ['s#0-1', 'r0', 'r1'], ['s#0-2', 'r0', 'r2'], ['s#1-2', 'r1', 'r2'],
    ]);
  });

  it('reports the bad line through the CLI', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"prompt": "p", "a": "x", "b": "y"}\n{"prompt": "p", "b": "y"}\n');
    const { done } = runCli(['judge', '--input', file, '--out', join(dir, 'bad-out.jsonl')]);
    const result = await done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`rlaif: ${file}:2, field "a": Invalid input: expected string, received undefined`);
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '# nothing yet\n');
    const goodInput = writeCandidates('good.jsonl', 1);
    const second = await runCli(['judge', '--input', goodInput, '--out', join(dir, 'o.jsonl'), '--constitution', empty]).done;
    expect(second.stderr).toContain(`rlaif: ${empty}:1, field "principles": the constitution is empty`);
  });
});

describe('labelPairs', () => {
  it('stores one verdict per item and reuses them on a second run', async () => {
    const db = new Database(':memory:');
    const store = new JudgmentStore(db);
    const pairs = readCandidates(writeCandidates('embedded.jsonl', 12));
    const judge = createDefaultJudge({ seed: 2 });
    const metricsFile = join(dir, 'metrics.jsonl');
    const metrics = new MetricsWriter(metricsFile, () => 1000);
    const first = await labelPairs({ judge, pairs, store, progress: false, concurrency: 4, metrics, metricsEvery: 5 });
    expect(first).toMatchObject({ judged: 12, reused: 0, failures: [] });
    const lines = readMetrics(metricsFile);
    expect(lines.map((l) => l.step)).toEqual([5, 10, 12]);
    expect(lines[2]['judge/labels']).toBe(12);
    const meanP = first.records.reduce((sum, r) => sum + r.pChosen, 0) / 12;
    expect(lines[2]['judge/p_chosen_mean']).toBeCloseTo(meanP, 12);
    const second = await labelPairs({ judge, pairs, store, progress: false });
    expect(second).toMatchObject({ judged: 0, reused: 12 });
    expect(second.records).toEqual(first.records);
    for (const record of first.records) expect(record.pChosen).toBeGreaterThanOrEqual(0.5);
  });
});

let server: ScriptedServer | undefined;
afterAll(async () => server?.close());

describe('a labelling job killed with SIGKILL', () => {
  it('resumes to exactly one verdict per item without repeating cached calls', async () => {
    // Each answer depends only on the request, so reruns see the same replies.
    const seen = new Map<string, number>();
    server = await startScriptedServer((body) => {
      const digest = createHash('sha256').update(JSON.stringify(body.messages)).digest();
      seen.set(digest.toString('hex'), (seen.get(digest.toString('hex')) ?? 0) + 1);
      const pA = 0.2 + 0.6 * (digest[0] / 255);
      const top = [{ token: 'A', logprob: Math.log(pA) }, { token: 'B', logprob: Math.log(1 - pA) }];
      return { body: chatReply(pA >= 0.5 ? 'A' : 'B', [{ ...top[0], top_logprobs: top }]), delayMs: 40 };
    }, { keepBodies: false });

    const items = 40;
    const input = writeCandidates('pairs.jsonl', items);
    const out = join(dir, 'prefs.jsonl');
    const storeFile = join(dir, 'store.sqlite');
    const args = ['judge', '--input', input, '--out', out, '--store', storeFile, '--backend', 'openai:judge-model',
      '--base-url', server.baseUrl, '--concurrency', '4', '--retries', '0'];

    // Run 1: kill once some verdicts are stored.
    const first = runCli(args);
    await waitFor(() => count(storeFile, 'judgments') >= 8, 40_000);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const judgedAtKill = count(storeFile, 'judgments');
    const cachedAtKill = count(storeFile, 'call_cache');
    const callsRun1 = server.requests;
    expect(judgedAtKill).toBeLessThan(items);
    expect(existsSync(out)).toBe(false);

    // Run 2: finishes; asks the server only for what was not cached.
    const second = await runCli(args).done;
    expect(second.code, second.stderr).toBe(0);
    const callsRun2 = server.requests - callsRun1;
    expect(callsRun2).toBe(2 * items - cachedAtKill);
    expect(count(storeFile, 'judgments')).toBe(items);
    const db = new Database(storeFile, { readonly: true });
    expect(db.prepare('SELECT COUNT(DISTINCT item_key) AS n FROM judgments').get()).toEqual({ n: items });
    db.close();
    // A request is repeated only if it was in flight (answered, not yet stored) at the kill.
    const repeated = [...seen.values()].filter((n) => n > 1).length;
    expect(repeated).toBe(callsRun1 - cachedAtKill);
    expect(seen.size).toBe(2 * items);
    const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toHaveLength(items);

    // Run 3: everything is stored; no call at all, same output.
    const before = server.requests;
    const third = await runCli(args).done;
    expect(third.code).toBe(0);
    expect(server.requests).toBe(before);
    expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual(records);
  });
});

function writeCandidates(name: string, n: number): string {
  const file = join(dir, name);
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({
    id: `item-${i}`,
    prompt: `Once upon a time, child ${i} found a ball.`,
    a: `They shared the ball with a friend and smiled. (${i})`,
    b: `A scary monster took the ball and everyone cried. (${i})`,
  }));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function count(file: string, table: string): number {
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
