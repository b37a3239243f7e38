import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chatReply, startScriptedServer, type ScriptedServer } from '../providers/scripted-server.ts';
import { RunStore, openRunDatabase } from '../store/run-store.ts';
import { projectRoot, sharedModelsDir } from '../util/paths.ts';
import { loadRunConfig } from './config.ts';
import { runPipeline } from './pipeline.ts';

const examples = join(projectRoot, 'examples');
let server: ScriptedServer;

beforeAll(async () => {
  // A judge that always answers "A", sure of it: asked in both orders it contradicts itself.
  server = await startScriptedServer(() => ({
    body: chatReply('A', [{ token: 'A', logprob: -0.1, top_logprobs: [{ token: 'A', logprob: -0.1 }, { token: 'B', logprob: -2.4 }] }]),
  }));
});

afterAll(() => server.close());

function config(dir: string, algorithm: string): string {
  const file = join(dir, `${algorithm}.yaml`);
  writeFileSync(file, `seed: 5
runDir: ${join(dir, algorithm)}
prompts:
  train: ${join(examples, 'prompts', 'train.txt')}
  heldOut: ${join(examples, 'prompts', 'held-out.txt')}
  maxTrain: 4
  maxHeldOut: 3
sampling: { k: 2, maxNewTokens: 8 }
judge:
  backend: openai-compatible
  baseUrl: ${server.baseUrl}
  model: scripted
  constitution: ${join(examples, 'constitutions', 'stories-for-children.yaml')}
  principles: sample
rewardModel: { epochs: 1, batchSize: 2 }
rl: { algorithm: ${algorithm}, steps: 1, promptsPerStep: 2, minibatches: 1, epochs: 1 }
`);
  return file;
}

function evalCalls(file: string): number {
  const store = new RunStore(openRunDatabase(file));
  const start = store.evalSamples('start');
  const final = store.evalSamples('final');
  store.db.close();
  return start.reduce((calls, row, i) => calls + (row.response === final[i].response ? 1 : 2), 0);
}

describe('rlaif run with an OpenAI-compatible judge', () => {
  it('labels in both orders through the call cache; a rerun calls nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-llm-run-'));
    const loaded = loadRunConfig(config(dir, 'ppo'));
    const { context } = await runPipeline({ loaded, models: { modelsDir: sharedModelsDir() }, quiet: true });

    // 4 prompts x 1 pair, both orders; then 3 held-out comparisons, both orders, where a final
    // response equal to the start's asks one question twice, answered once (the call cache).
    expect(server.requests).toBe(4 * 2 + evalCalls(context.files.store));
    const preferences = readFileSync(context.files.preferences, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(preferences).toHaveLength(4);
    // "A" in both orders: the orders disagree and the soft label is the mean of 0.5 +- delta.
    for (const p of preferences) {
      expect(p.consistent).toBe(false);
      expect(p.pChosen).toBeCloseTo(0.5, 6);
      expect(p.judge).toBe('llm:openai:scripted@' + new URL(server.baseUrl).host);
    }

    const before = server.requests;
    await runPipeline({ loaded: loadRunConfig(config(dir, 'ppo')), models: { modelsDir: sharedModelsDir() }, quiet: true });
    expect(server.requests).toBe(before);
  });

  it('direct RLAIF scores each rollout against a starting-policy response', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-llm-run-'));
    const before = server.requests;
    const { context } = await runPipeline({
      loaded: loadRunConfig(config(dir, 'direct')),
      models: { modelsDir: sharedModelsDir() },
      quiet: true,
    });
    // One PPO step of 2 rollouts, each judged in both orders, then 3 held-out comparisons.
    expect(server.requests - before).toBe(2 * 2 + evalCalls(context.files.store));
    const summary = JSON.parse(readFileSync(context.files.summary, 'utf8'));
    expect(summary.trainingJudge.n).toBe(3);
  });
});
