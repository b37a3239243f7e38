/**
 * `rlaif run` end to end in child processes, on a shortened config of the default run:
 * killed with SIGKILL while judging and again during PPO, then finished by the same command.
 * A Ctrl-C while sampling stops it cleanly first. The finished run must hold exactly one preference per pair, show PPO continued from its last
 * checkpoint (no step trained twice before it), a rising training reward, and a held-out
 * evaluator win rate above 50% with its interval. Also: a bad config fails before any work.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import type { EvaluationSummary } from '../src/eval/evaluate.ts';
import { LlamaModel } from '../src/model/llama.ts';
import { loadModel } from '../src/model/load.ts';
import { readMetrics } from '../src/util/metrics.ts';
import { projectRoot, sharedModelsDir } from '../src/util/paths.ts';

const cli = join(projectRoot, 'bin', 'rlaif.mjs');
const examples = join(projectRoot, 'examples');
const env = { ...process.env, RLAIF_MODELS: sharedModelsDir(), RLAIF_LOG_LEVEL: 'error', RLAIF_OFFLINE: '1' };

const trainPrompts = 32;
const pairsPerPrompt = 2;
const ppoSteps = 6;

function shortConfig(runDir: string): string {
  return `# shortened default run for tests
seed: 3
runDir: ${runDir}
prompts:
  train: ${join(examples, 'prompts', 'train.txt')}
  heldOut: ${join(examples, 'prompts', 'held-out.txt')}
  maxTrain: ${trainPrompts}
  maxHeldOut: 24
sampling:
  k: 4
  maxNewTokens: 24
judge:
  constitution: ${join(examples, 'constitutions', 'stories-for-children.yaml')}
  concurrency: 1
  pairsPerPrompt: ${pairsPerPrompt}
  principles: all
  temperature: 0.3
rewardModel:
  epochs: 2
  lr: 0.0003
rl:
  steps: ${ppoSteps}
  promptsPerStep: 16
  maxNewTokens: 24
  lam: 1
  epochs: 4
  lr: 0.0002
  klCoef: 0.1
  checkpointEvery: 2
`;
}

function startRun(config: string): ChildProcess {
  return spawn(process.execPath, [cli, 'run', config, '--quiet'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((done) => child.on('exit', (code, signal) => done({ code, signal, stdout, stderr })));
}

function countRows(store: string, table: 'judgments' | 'run_preferences'): number {
  if (!existsSync(store)) return 0;
  try {
    const db = new Database(store, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // the table does not exist yet
  }
}

async function waitFor(condition: () => boolean, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!condition()) {
    if (child.exitCode !== null) throw new Error(`the run exited (${child.exitCode}) before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('rlaif run', () => {
  it('fails on a bad config before any work, naming file, line and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-run-bad-'));
    const runDir = join(dir, 'run');
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, shortConfig(runDir).replace('  k: 4\n', '  k: 4\n  temprature: 0.7\n'));
    const unknown = spawnSync(process.execPath, [cli, 'run', config], { env, encoding: 'utf8' });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain(`${config}:11, field "sampling.temprature": unknown key "temprature"`);
    expect(existsSync(runDir)).toBe(false);

    writeFileSync(config, shortConfig(runDir).replace('steps: 6', 'steps: six'));
    const wrongType = spawnSync(process.execPath, [cli, 'run', config], { env, encoding: 'utf8' });
    expect(wrongType.status).toBe(1);
    expect(wrongType.stderr).toMatch(/bad\.yaml:\d+, field "rl\.steps": .*number/);
    expect(existsSync(runDir)).toBe(false);
  });

  it('resumes after SIGKILL in judging and in PPO, and the final policy wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-run-'));
    const runDir = join(dir, 'run');
    const config = join(dir, 'short.yaml');
    writeFileSync(config, shortConfig(runDir));
    const store = join(runDir, 'store.sqlite');
    const totalPairs = trainPrompts * pairsPerPrompt;

    // 0. Ctrl-C while sampling: a clean stop with a resumable run.
    const interrupted = startRun(config);
    const interruptedExit = exited(interrupted);
    await waitFor(() => existsSync(store), interrupted, 'the store');
    interrupted.kill('SIGINT');
    const stopped = await interruptedExit;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('run the same command again to resume');

    // 1. Killed while judging: some verdicts stored, not all.
    const first = startRun(config);
    const firstExit = exited(first);
    await waitFor(() => countRows(store, 'judgments') > 0, first, 'the first verdicts');
    first.kill('SIGKILL');
    await firstExit;
    const afterKill = countRows(store, 'judgments');
    expect(afterKill).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(totalPairs);

    // 2. Killed during PPO, right after the step-2 checkpoint.
    const checkpoint = join(runDir, 'checkpoints', 'ppo', 'step-2', 'trainer-state.json');
    const second = startRun(config);
    const secondExit = exited(second);
    await waitFor(() => existsSync(checkpoint), second, 'the step-2 checkpoint');
    second.kill('SIGKILL');
    await secondExit;
    expect(countRows(store, 'run_preferences')).toBe(totalPairs);

    // 3. The same command finishes the run.
    const third = await exited(startRun(config));
    expect(third.stderr).toBe('');
    expect(third.code).toBe(0);
    expect(third.stdout).toContain('held-out evaluator: final policy preferred on');

    // Exactly one preference per pair, in the store and in the export.
    expect(countRows(store, 'run_preferences')).toBe(totalPairs);
    expect(countRows(store, 'judgments')).toBe(totalPairs);
    const exported = readFileSync(join(runDir, 'preferences.jsonl'), 'utf8').trim().split('\n');
    expect(exported).toHaveLength(totalPairs);

    // PPO continued from its checkpoint: steps 1 and 2 were trained once, every step is there.
    const ppo = readMetrics(join(runDir, 'metrics.jsonl')).filter((m) => m.stage === 'ppo');
    const steps = ppo.map((m) => m.step);
    expect(steps.filter((s) => s <= 2)).toEqual([1, 2]);
    expect(new Set(steps)).toEqual(new Set([1, 2, 3, 4, 5, 6]));
    const db = new Database(store, { readonly: true });
    const rl = db.prepare("SELECT detail FROM run_stages WHERE name = 'rl'").get() as { detail: string };
    db.close();
    expect(JSON.parse(rl.detail)).toMatchObject({ steps: ppoSteps, resumed: true });

    // The training reward rose: the last steps' mean score above the first steps'.
    const lastOf = new Map(ppo.map((m) => [m.step, m['score/mean'] as number]));
    const early = (lastOf.get(1)! + lastOf.get(2)!) / 2;
    const late = (lastOf.get(5)! + lastOf.get(6)!) / 2;
    expect(late).toBeGreaterThan(early);

    // The held-out evaluator prefers the final policy, with a 95% interval around the rate.
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as EvaluationSummary;
    expect(summary.evaluator.n).toBe(24);
    expect(summary.evaluator.rate).toBeGreaterThan(0.5);
    expect(summary.evaluator.low).toBeLessThan(summary.evaluator.rate);
    expect(summary.evaluator.high).toBeGreaterThan(summary.evaluator.rate);
    expect(readFileSync(join(runDir, 'report.html'), 'utf8')).toContain('Held-out evaluator win rate');
    expect(third.stdout).toMatch(/^result: (meets targets|missed targets: )/m);

    // The trained policy loads like any model folder, with its tokenizer, and generates.
    const final = await loadModel(join(runDir, 'checkpoints', 'final'));
    const policy = await LlamaModel.fromWeights(final.config, final.weights, final.tokenizer);
    const [story] = await policy.generate([policy.tokenizer.encode('Once', { bos: true })],
      { maxNewTokens: 8, temperature: 0 });
    expect(story.tokens.length).toBeGreaterThan(0);
    expect(policy.tokenizer.decode(story.tokens).trim().length).toBeGreaterThan(0);
    policy.dispose();

    // Run again, the finished run says so and does no work.
    const again = await exited(startRun(config));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already complete: ${runDir}`);
  }, 900_000);
});
