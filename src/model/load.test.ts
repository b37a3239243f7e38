import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import { saveCheckpoint } from './checkpoint.ts';
import { exportGguf, modelGgufParts, serializeGguf } from './gguf-writer.ts';
import { loadModel } from './load.ts';

const scratch = await mkdtemp(join(tmpdir(), 'rlaif-load-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const storiesDir = join(sharedModelsDir(), 'stories260K');
const storiesBin = join(storiesDir, 'stories260K.bin');
const tinyRandom = join(sharedModelsDir(), 'tiny-random', 'llama-2-tiny-random.gguf');
const stories = await loadModel(storiesBin);
const prompt = 'Once upon a time';

describe('loadModel dispatches on what the path is', () => {
  it('reads a llama2.c checkpoint with the tokenizer beside it, by file or by folder', async () => {
    expect(stories.format).toBe('llama2c');
    expect(stories.config).toMatchObject({ dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512 });
    expect(stories.tokenizer.encode(prompt, { bos: true })).toEqual([1, 403, 407, 261, 378]);
    const byFolder = await loadModel(storiesDir);
    expect(byFolder.format).toBe('llama2c');
    expect(byFolder.weights).toEqual(stories.weights);
  });

  it('reads GGUF files with their own vocabulary', async () => {
    const tiny = await loadModel(tinyRandom);
    expect(tiny.format).toBe('gguf');
    expect(tiny.config.vocabSize).toBe(32000);
    expect(tiny.tokenizer.encode('Hello world')).toEqual([15043, 3186]);

    const exported = join(scratch, 'stories.gguf');
    await exportGguf(exported, { ...stories, tokenizer: stories.tokenizer });
    const back = await loadModel(exported);
    expect(back.config).toEqual(stories.config);
    expect(back.weights).toEqual(stories.weights);
    expect(back.tokenizer.encode(prompt, { bos: true })).toEqual([1, 403, 407, 261, 378]);
  });

  it('reads our checkpoint folders, and a folder holding one .gguf', async () => {
    const dir = join(scratch, 'checkpoint');
    await saveCheckpoint(dir, stories.config, stories.weights, { tokenizer: stories.tokenizer });
    const checkpoint = await loadModel(dir);
    expect(checkpoint.format).toBe('checkpoint');
    expect(checkpoint.weights).toEqual(stories.weights);
    expect(checkpoint.tokenizer.decode(checkpoint.tokenizer.encode(prompt, { bos: true }))).toBe(prompt);

    const ggufFolder = join(scratch, 'one-gguf');
    await mkdir(ggufFolder);
    await copyFile(tinyRandom, join(ggufFolder, 'model.gguf'));
    expect((await loadModel(ggufFolder)).format).toBe('gguf');
  });
});

describe('loadModel errors name the file and the fault', () => {
  it('missing paths, unknown files and ambiguous folders', async () => {
    const missing = join(scratch, 'nothing-here.gguf');
    await expect(loadModel(missing)).rejects.toThrow(`${missing}: no such file or folder`);
    const text = join(scratch, 'notes.txt');
    await writeFile(text, 'hello');
    await expect(loadModel(text)).rejects.toThrow(/notes\.txt: not a model file/);
    const empty = join(scratch, 'empty');
    await mkdir(empty);
    await expect(loadModel(empty)).rejects.toThrow(/empty: cannot tell which model to load/);
  });

  it('wrong magic numbers and truncated files', async () => {
    const fake = join(scratch, 'fake.gguf');
    await writeFile(fake, Buffer.from('GGML this is not gguf at all, just words'));
    await expect(loadModel(fake)).rejects.toThrow(/fake\.gguf: not a GGUF file: magic number 0x4c4d4747/);

    const cutGguf = join(scratch, 'cut.gguf');
    await writeFile(cutGguf, (await readFile(tinyRandom)).subarray(0, 100_000));
    await expect(loadModel(cutGguf)).rejects.toThrow(/cut\.gguf: truncated/);

    const cutDir = join(scratch, 'cut-llama2c');
    await mkdir(cutDir);
    await writeFile(join(cutDir, 'model.bin'), (await readFile(storiesBin)).subarray(0, 500_000));
    await copyFile(join(storiesDir, 'tok512.bin'), join(cutDir, 'tok512.bin'));
    await expect(loadModel(join(cutDir, 'model.bin'))).rejects.toThrow(/model\.bin: truncated llama2\.c checkpoint/);

    const garbage = join(cutDir, 'garbage.bin');
    await writeFile(garbage, Buffer.alloc(4096, 0xff));
    await expect(loadModel(garbage)).rejects.toThrow(/garbage\.bin: not a llama2\.c checkpoint/);
  });

  it('unsupported tensor types', async () => {
    const parts = modelGgufParts({ ...stories, tokenizer: stories.tokenizer });
    const index = parts.tensors.findIndex((t) => t.name === 'blk.2.attn_v.weight');
    parts.tensors[index] = { ...parts.tensors[index], type: 14 }; // Q6_K
    const path = join(scratch, 'q6k.gguf');
    await writeFile(path, serializeGguf(parts.metadata, parts.tensors));
    await expect(loadModel(path)).rejects.toThrow(
      /q6k\.gguf: tensor "blk\.2\.attn_v\.weight" has type Q6_K, which is not supported/,
    );
  });

  it('a tokenizer that does not fit the model', async () => {
    const parts = modelGgufParts({ ...stories, tokenizer: stories.tokenizer });
    const shorten = (key: string) => {
      const entry = parts.metadata.find((e) => e.key === key)!;
      entry.value = (entry.value as unknown[]).slice(0, 500) as never;
    };
    ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type'].forEach(shorten);
    const path = join(scratch, 'short-vocab.gguf');
    await writeFile(path, serializeGguf(parts.metadata, parts.tensors));
    await expect(loadModel(path)).rejects.toThrow(
      /short-vocab\.gguf: tokenizer does not fit the model: it has 500 tokens, the model's vocabulary has 512/,
    );

    // A llama2.c model given another model's tokenizer file.
    const smallTokenizer = join(scratch, 'tok3.bin');
    const pieces = ['<unk>', '<s>', '</s>'].map((p) => Buffer.from(p));
    const header = Buffer.alloc(4);
    header.writeInt32LE(5);
    const records = pieces.map((p) => {
      const record = Buffer.alloc(8);
      record.writeFloatLE(0, 0);
      record.writeInt32LE(p.length, 4);
      return Buffer.concat([record, p]);
    });
    await writeFile(smallTokenizer, Buffer.concat([header, ...records]));
    await expect(loadModel(storiesBin, { tokenizerPath: smallTokenizer })).rejects.toThrow(
      /tok3\.bin: tokenizer does not fit the model: it has 3 tokens, the model's vocabulary has 512/,
    );
  });
});
