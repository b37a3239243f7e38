import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { projectRoot, sharedModelsDir } from '../util/paths.ts';

const run = promisify(execFile);
const bin = join(projectRoot, 'bin', 'rlaif.mjs');
const checkpoint = join(sharedModelsDir(), 'stories260K', 'stories260K.bin');

describe('rlaif generate', () => {
  it('prints the greedy continuation of a llama2.c model found with its tokenizer', async () => {
    const { stdout, stderr } = await run(process.execPath, [bin, 'generate', '--model', checkpoint,
      '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '24']);
    expect(stdout.startsWith(', there was a little girl named Lily. She loved to play outside'))
      .toBe(true);
    expect(stderr).toMatch(/24 tokens in .* finish: length/);
  });

  it('names the flag of a bad option and the file of a bad tokenizer', async () => {
    const badTopP = run(process.execPath, [bin, 'generate', '--model', checkpoint, '--prompt', 'x',
      '--top-p', '2']);
    await expect(badTopP).rejects.toMatchObject({ stderr: expect.stringContaining('"--top-p"') });
    const gguf = join(sharedModelsDir(), 'tiny-random', 'llama-2-tiny-random.gguf');
    const badTokenizer = run(process.execPath, [bin, 'generate', '--model', checkpoint,
      '--tokenizer', gguf, '--prompt', 'x']);
    await expect(badTokenizer).rejects.toMatchObject({
      stderr: expect.stringContaining(`${gguf}: not a llama2.c tokenizer`),
    });
  });
});
