import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { projectRoot } from '../util/paths.ts';
import { readPrompts } from './cai.ts';
import { parseSourceSpec } from './serve.ts';

describe('rlaif serve reward --source', () => {
  it('parses name[:weight][:optional]', async () => {
    expect(await parseSourceSpec('numeric')).toMatchObject({ weight: 1, required: true });
    expect((await parseSourceSpec('numeric')).source.id).toBe('verifier:numeric');
    expect(await parseSourceSpec('json:0.25:optional')).toMatchObject({
      weight: 0.25,
      required: false,
    });
    await expect(parseSourceSpec('nope')).rejects.toThrow('field "--source"');
    await expect(parseSourceSpec('numeric:-1')).rejects.toThrow(/weight/);
    await expect(parseSourceSpec('numeric:1:sometimes')).rejects.toThrow('field "--source"');
  });

  it('loads a saved reward model as rm=<folder> and serves what it scores', async () => {
    const { LlamaModel } = await import('../model/llama.ts');
    const { RewardModel } = await import('../train/reward-model.ts');
    const { sharedModelsDir } = await import('../util/paths.ts');
    const { startRewardServer } = await import('../serve/reward-server.ts');
    const backbone = await LlamaModel.fromLlama2c(
      join(sharedModelsDir(), 'stories260K', 'stories260K.bin'),
    );
    const trained = new RewardModel(backbone, { seed: 5 });
    const folder = join(mkdtempSync(join(tmpdir(), 'rlaif-rm-')), 'rm');
    await trained.save(folder);

    const { source, weight } = await parseSourceSpec(`rm=${folder}:2`);
    expect(weight).toBe(2);
    const server = await startRewardServer({ source, port: 0 });
    try {
      const prompts = ['Once upon a time', 'Tom had a red ball.'];
      const responses = [', there was a kind dog.', ' He gave it to his sister.'];
      const reply = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: prompts.map((p, i) => p + responses[i]), prompts }),
      });
      const { rewards } = (await reply.json()) as { rewards: number[] };
      const direct = await trained.rewards(
        prompts.map((prompt, i) => ({ prompt, response: responses[i] })),
      );
      expect(rewards).toHaveLength(2);
      rewards.forEach((r, i) => expect(r).toBeCloseTo(direct[i], 4));
    } finally {
      await server.close();
      backbone.dispose();
    }
  }, 60_000);
});

describe('rlaif cai --prompts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rlaif-cli-'));

  it('reads text lines and JSONL prompts, naming file and line of a bad row', () => {
    const text = join(dir, 'p.txt');
    writeFileSync(text, 'first prompt\n\n  second prompt \n');
    expect(readPrompts(text)).toEqual(['first prompt', 'second prompt']);
    const jsonl = join(dir, 'p.jsonl');
    writeFileSync(jsonl, '{"prompt": "a"}\n{"text": "b"}\n');
    expect(() => readPrompts(jsonl)).toThrow(`${jsonl}:2, field "prompt"`);
  });
});

describe('rlaif prefs', () => {
  it('imports HH-RLHF rows and exports them as TRL conversational rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-prefs-'));
    const hh = join(dir, 'hh.jsonl');
    writeFileSync(
      hh,
      JSON.stringify({
        chosen: '\n\nHuman: Hi?\n\nAssistant: Hello, how can I help?',
        rejected: '\n\nHuman: Hi?\n\nAssistant: Go away.',
      }) + '\n',
    );
    const run = (...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [join(projectRoot, 'bin', 'rlaif.mjs'), 'prefs', ...args],
          { timeout: 60_000 },
          (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)),
        ),
      );
    const records = join(dir, 'prefs.jsonl');
    await run('import', '--in', hh, '--format', 'hh', '--out', records);
    const trl = await run('export', '--in', records, '--format', 'trl-chat', '--no-metadata');
    expect(JSON.parse(trl)).toEqual({
      prompt: [{ role: 'user', content: 'Hi?' }],
      chosen: [{ role: 'assistant', content: 'Hello, how can I help?' }],
      rejected: [{ role: 'assistant', content: 'Go away.' }],
    });
    expect(JSON.parse(readFileSync(records, 'utf8'))).toMatchObject({
      source: 'human',
      judge: 'import:hh',
    });
    await expect(run('export', '--in', records, '--format', 'csv')).rejects.toThrow(
      'field "--format": must be one of trl, trl-chat, openai, hh',
    );
  }, 90_000);
});
