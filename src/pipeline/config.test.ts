import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { InputError } from '../util/errors.ts';
import { defaultConfigPath, loadRunConfig, parseRunConfig, storedConfigText } from './config.ts';

const examplesDir = join(defaultConfigPath, '..');
const fileInExamples = join(examplesDir, 'test-config.yaml');

function fault(text: string): InputError {
  try {
    parseRunConfig(text, fileInExamples);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('the config was accepted');
}

describe('run config', () => {
  it('loads the default run with every default filled in', () => {
    const { config, paths } = loadRunConfig();
    expect(config.policy.model).toBe('stories260K');
    expect(config.judge.backend).toBe('embedded');
    expect(config.rl.algorithm).toBe('ppo');
    expect(config.judge.bothOrders).toBe(true);
    expect(config.rewardModel.validationFraction).toBe(0.1);
    expect(paths.trainPrompts).toBe(join(examplesDir, 'prompts', 'train.txt'));
  });

  it('the default run is exactly the defaults', () => {
    expect(loadRunConfig().config).toEqual(parseRunConfig('', defaultConfigPath).config);
  });

  it('treats an empty file as the defaults', () => {
    const { config } = parseRunConfig('', fileInExamples);
    expect(config.sampling.k).toBe(4);
    expect(config.seed).toBe(1);
  });

  it('names the line and field of an unknown key', () => {
    const error = fault('seed: 2\nrl:\n  algorithm: ppo\n  klcoef: 0.1\n');
    expect(error.location).toEqual({ file: fileInExamples, line: 4, field: 'rl.klcoef' });
    expect(error.message).toContain('unknown key "klcoef"');
  });

  it('names the line and field of a wrong type', () => {
    const error = fault('sampling:\n  k: 4\n  temperature: hot\n');
    expect(error.location).toEqual({ file: fileInExamples, line: 3, field: 'sampling.temperature' });
    expect(error.message).toMatch(/number/);
  });

  it('rejects an algorithm it does not know', () => {
    const error = fault('rl:\n  algorithm: trpo\n');
    expect(error.location.line).toBe(2);
    expect(error.location.field).toBe('rl.algorithm');
  });

  it('names a missing prompts file, a missing model file and a missing constitution', () => {
    const prompts = fault('prompts:\n  train: nowhere.txt\n');
    expect(prompts.location).toMatchObject({ line: 2, field: 'prompts.train' });
    expect(prompts.message).toContain('nowhere.txt');

    const model = fault('seed: 3\npolicy:\n  model: ./missing/model.bin\n');
    expect(model.location).toMatchObject({ line: 3, field: 'policy.model' });

    const constitution = fault('judge:\n  backend: embedded\n  constitution: gone.yaml\n');
    expect(constitution.location).toMatchObject({ line: 3, field: 'judge.constitution' });
  });

  it('reports a YAML syntax error with its line', () => {
    const error = fault('seed: 1\nrl: [unclosed\n');
    expect(error.location.line).toBeGreaterThanOrEqual(2);
  });

  it('resolves relative paths against the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-config-'));
    writeFileSync(join(dir, 'p.txt'), 'Tom had a ball.\n');
    writeFileSync(join(dir, 'c.yaml'), 'name: x\nprinciples: [{id: a, text: b}]\n');
    const file = join(dir, 'run.yaml');
    writeFileSync(file, 'prompts: {train: p.txt, heldOut: p.txt}\njudge: {constitution: c.yaml}\n');
    const { paths } = loadRunConfig(file);
    expect(paths.heldOutPrompts).toBe(join(dir, 'p.txt'));
    expect(paths.constitution).toBe(join(dir, 'c.yaml'));
  });

  it("a run folder's stored config.yaml runs again from its own folder, unchanged", () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-config-'));
    writeFileSync(join(dir, 'p.txt'), 'Tom had a ball.\n');
    writeFileSync(join(dir, 'c.yaml'), 'name: x\nprinciples: [{id: a, text: b}]\n');
    writeFileSync(join(dir, 'm.bin'), 'weights');
    writeFileSync(join(dir, 't.bin'), 'tokens');
    const file = join(dir, 'run.yaml');
    writeFileSync(file, 'runDir: out\npolicy: {model: ./m.bin, tokenizer: t.bin}\n' +
      'prompts: {train: p.txt, heldOut: p.txt}\njudge: {constitution: c.yaml}\n');
    const text = storedConfigText(loadRunConfig(file));

    const stored = join(dir, 'runs', 'a', 'config.yaml');
    mkdirSync(dirname(stored), { recursive: true });
    writeFileSync(stored, text);
    const again = loadRunConfig(stored);
    expect(again.paths.trainPrompts).toBe(join(dir, 'p.txt'));
    expect(again.paths.constitution).toBe(join(dir, 'c.yaml'));
    expect(again.paths.policyModel).toBe(join(dir, 'm.bin'));
    expect(again.config.policy.tokenizer).toBe(join(dir, 't.bin'));
    // Stored again it is the same text, so re-running it resumes rather than conflicts.
    expect(storedConfigText(again)).toBe(text);
  });
});

describe('config reference', () => {
  it('README.md holds the reference generated from the schema', async () => {
    const { readFileSync } = await import('node:fs');
    const { configReference } = await import('./config-doc.ts');
    const readme = readFileSync(join(examplesDir, '..', 'README.md'), 'utf8');
    const between = /<!-- config-reference:start -->\n([\s\S]*?)<!-- config-reference:end -->/.exec(readme);
    expect(between?.[1].trim()).toBe(configReference().trim());
  });
});
