import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { projectRoot, sharedModelsDir } from '../util/paths.ts';
import { readMetrics } from '../util/metrics.ts';
import { RewardModel } from '../train/reward-model.ts';
import { readYamlConfig } from '../train/config-file.ts';
import { trainFileSchema } from '../train/train-config.ts';
import { runTrainRm } from './train-rm.ts';
import { runTraining } from './train.ts';

const dir = mkdtempSync(join(tmpdir(), 'rlaif-train-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(sharedModelsDir(), 'stories260K', 'stories260K.bin');

// Preferences from a known scorer: the response that mentions "happy" more often wins.
const endings = [
  'was happy.',
  'was sad.',
  'was happy and happy.',
  'went home.',
  'felt happy.',
  'cried.',
];
const count = (s: string) => s.split('happy').length - 1;
const records = Array.from({ length: 24 }, (_, i) => {
  const [a, b] = [endings[i % 6], endings[(i * 5 + 1) % 6]];
  const [chosen, rejected] = count(a) >= count(b) ? [a, b] : [b, a];
  return {
    prompt: `Once upon a time, Lily ${i % 3 === 0 ? 'played' : 'ran'} and she`,
    chosen: ` ${chosen}`,
    rejected: ` ${rejected}`,
    pChosen: 0.9,
    judge: 'count',
    source: 'ai',
  };
}).filter((r) => r.chosen !== r.rejected);
const prefs = join(dir, 'prefs.jsonl');
writeFileSync(prefs, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
const prompts = join(dir, 'prompts.txt');
writeFileSync(prompts, 'Once upon a time\nLily had a dog\nTom went to the park\n');

describe('rlaif train-rm and rlaif train', () => {
  it('trains, saves and reloads a reward model on stories260K', async () => {
    const out = join(dir, 'rm');
    const report = await runTrainRm({
      prefs,
      model,
      out,
      format: 'rlaif',
      epochs: 1,
      batchSize: 8,
      quiet: true,
    });
    expect(report.records).toBe(records.length);
    expect(report.validation!.pairs).toBeGreaterThan(0);
    expect(Number.isFinite(report.validation!.brier)).toBe(true);
    expect(readMetrics(join(out, 'metrics.jsonl')).some((m) => 'rm/val_accuracy' in m)).toBe(true);
    const loaded = await RewardModel.load(out);
    expect(loaded.offset).toBeCloseTo(report.offset, 6);
    loaded.dispose();
  });

  it('runs PPO against that reward model and resumes where it stopped', async () => {
    const config = join(dir, 'ppo.yaml');
    writeFileSync(
      config,
      [
        'algo: ppo',
        `policy: { model: ${model} }`,
        'prompts: prompts.txt',
        'reward: { rewardModel: rm }',
        'output: ppo-run',
        'trainer:',
        '  steps: 3',
        '  batchSize: 4',
        '  miniBatchSize: 2',
        '  epochs: 1',
        '  checkpointEvery: 1',
        '  sampling: { maxNewTokens: 8 }',
      ].join('\n') + '\n',
    );
    const parsed = readYamlConfig(config, trainFileSchema);
    const first = await runTraining(parsed, dir, { steps: 2, quiet: true });
    expect(first.steps).toBe(2);
    const second = await runTraining(parsed, dir, { quiet: true });
    expect(second.resumed).toBe(true);
    expect(second.steps).toBe(3);
    expect(readMetrics(join(dir, 'ppo-run', 'metrics.jsonl')).map((m) => m.step)).toEqual([
      1, 2, 3,
    ]);
    expect(existsSync(join(dir, 'ppo-run', 'final', 'model.safetensors'))).toBe(true);
  });

  it('runs offline DPO from the preference file', async () => {
    const config = join(dir, 'dpo.yaml');
    writeFileSync(
      config,
      `policy: { model: ${model} }\npreferences: prefs.jsonl\noutput: dpo-run\n` +
        'trainer: { batchSize: 8, epochs: 1 }\n',
    );
    const summary = await runTraining(
      readYamlConfig(config, trainFileSchema, { algo: 'dpo' }),
      dir,
      { quiet: true },
    );
    expect(summary.steps).toBe(Math.ceil(records.length / 8));
    expect(Number.isFinite(summary.metrics['loss/total'])).toBe(true);
  });

  it('rejects an unknown key naming file, line and field', () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(
      config,
      `algo: grpo\npolicy: { model: ${model} }\nprompts: prompts.txt\nreward: { rewardModel: rm }\n` +
        'output: x\ntrainer:\n  steps: 2\n  clip_range: 0.3\n',
    );
    let stderr = '';
    try {
      execFileSync('node', [join(projectRoot, 'bin', 'rlaif.mjs'), 'train', '--config', config], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (error) {
      stderr = String((error as { stderr: string }).stderr);
    }
    expect(stderr).toContain(`${config}:8, field "trainer.clip_range": unknown key "clip_range"`);
  });
});
