import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { RunStore, openRunDatabase } from '../store/run-store.ts';
import { InputError } from '../util/errors.ts';
import { silentLogger } from '../util/log.ts';
import { loadRunConfig } from './config.ts';
import { runPipeline } from './pipeline.ts';
import type { RunContext } from './run-context.ts';
import { runStages } from './runner.ts';

describe('run messages', () => {
  it('a missing model names the config file, line and field, and the --models-dir folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-messages-'));
    writeFileSync(join(dir, 'p.txt'), 'Tom had a ball.\n');
    writeFileSync(join(dir, 'c.yaml'), 'name: x\nprinciples: [{id: a, text: b}]\n');
    const file = join(dir, 'run.yaml');
    writeFileSync(file, `runDir: ${join(dir, 'run')}\npolicy:\n  model: no-such-model\n` +
      'prompts: {train: p.txt, heldOut: p.txt}\njudge: {constitution: c.yaml}\n');
    const modelsDir = join(dir, 'models');

    const error = await runPipeline({ loaded: loadRunConfig(file), models: { modelsDir }, quiet: true })
      .then(() => undefined, (e: unknown) => e as InputError);
    if (!error) throw new Error('the run started without its model');
    expect(error).toBeInstanceOf(InputError);
    expect(error.location).toEqual({ file, line: 3, field: 'policy.model' });
    expect(error.message).toContain(`${file}:3, field "policy.model": model "no-such-model" not found`);
    expect(error.message).toContain(`in the --models-dir folder ${modelsDir} `);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });

  it('a run whose stages are all done runs none of them again', async () => {
    const store = new RunStore(openRunDatabase(':memory:'));
    const context = { store, logger: silentLogger, clock: () => 0, signal: new AbortController().signal };
    let calls = 0;
    const stages = ['sample', 'rl'].map((name) => ({ name, run: async () => ({ calls: ++calls }) }));
    expect(await runStages(context as unknown as RunContext, stages)).toEqual(['sample', 'rl']);
    expect(await runStages(context as unknown as RunContext, stages)).toEqual([]);
    expect(calls).toBe(2);
  });
});
