/**
 * One entry point for every model format: `loadModel(path)` looks at what the path is and
 * returns plain config, weights and tokenizer.
 * - a `.gguf` file (or any file starting with the GGUF magic): weights and the vocabulary in it;
 * - a llama2.c `.bin` checkpoint: its tokenizer is `tokenizerPath`, else tok512.bin or
 *   tokenizer.bin beside it;
 * - a folder with `config.json`: a Hugging Face model, or a checkpoint saved by rlaif;
 * - a folder holding exactly one `.gguf`, or one llama2.c `.bin`: that file.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

import { ModelFormatError } from '../util/errors.ts';
import { ggufModel, readGguf } from './gguf-reader.ts';
import { ggufVocab, tokenizerFromVocab } from './gguf-vocab.ts';
import { loadHfModel } from './hf-loader.ts';
import { findLlama2cTokenizer } from './llama.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';
import { assertTokenizerFits, loadLlama2cTokenizer } from './tokenizer-spm.ts';
import type { LlamaConfig, LlamaWeights, Tokenizer } from './types.ts';

export type ModelFormat = 'llama2c' | 'gguf' | 'hf' | 'checkpoint';

export interface LoadedModel {
  config: LlamaConfig;
  weights: LlamaWeights;
  tokenizer: Tokenizer;
  format: ModelFormat;
}

export interface LoadModelOptions {
  /**
   * The tokenizer file: for llama2.c, default tok512.bin or tokenizer.bin beside the model; for
   * a model folder, a llama2.c tokenizer file used instead of the folder's tokenizer.json.
   */
  tokenizerPath?: string;
}

const GGUF_MAGIC_BYTES = 'GGUF';

/** Loads a model of any supported format; errors name the file and the fault. */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const kind = await stat(path).catch(() => undefined);
  if (!kind) throw new ModelFormatError(path, 'no such file or folder');
  if (kind.isDirectory()) return loadFolder(path, options);

  if (extname(path) === '.gguf' || (await startsWith(path, GGUF_MAGIC_BYTES))) return loadGgufModel(path);
  if (extname(path) === '.bin') return loadLlama2c(path, options);
  if (extname(path) === '.safetensors' || extname(path) === '.json') {
    throw new ModelFormatError(path, 'a Hugging Face model is loaded from its folder; pass the folder');
  }
  throw new ModelFormatError(
    path,
    'not a model file: expected a .gguf file, a llama2.c .bin checkpoint or a model folder',
  );
}

async function startsWith(path: string, magic: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(magic.length), 0, magic.length, 0);
    return bytesRead === magic.length && buffer.toString('latin1') === magic;
  } finally {
    await handle.close();
  }
}

async function loadFolder(dir: string, options: LoadModelOptions): Promise<LoadedModel> {
  const names = await readdir(dir);
  if (names.includes('config.json')) {
    const { tokenizerPath } = options;
    if (!tokenizerPath) return loadHfModel(dir);
    return loadHfModel(dir, {
      tokenizer: async (config) => {
        const tokenizer = await loadLlama2cTokenizer(tokenizerPath, { vocabSize: config.vocabSize });
        assertTokenizerFits(tokenizer, config.vocabSize, tokenizerPath);
        return tokenizer;
      },
    });
  }
  const ggufs = names.filter((name) => name.endsWith('.gguf'));
  if (ggufs.length === 1) return loadGgufModel(join(dir, ggufs[0]));
  const isTokenizer = (name: string) => /^(tok\d*|tokenizer)\.bin$/.test(name);
  const checkpoints = names.filter((name) => name.endsWith('.bin') && !isTokenizer(name));
  if (ggufs.length === 0 && checkpoints.length === 1) return loadLlama2c(join(dir, checkpoints[0]), options);
  const found = names.length === 0 ? 'an empty folder' : names.join(', ');
  throw new ModelFormatError(
    dir,
    'cannot tell which model to load: expected config.json, exactly one .gguf file, ' +
      `or exactly one llama2.c .bin checkpoint (found ${found})`,
  );
}

async function loadGgufModel(path: string): Promise<LoadedModel> {
  const file = await readGguf(path);
  const { config, weights } = ggufModel(file);
  const tokenizer = tokenizerFromVocab(ggufVocab(file), path);
  assertTokenizerFits(tokenizer, config.vocabSize, path);
  return { config, weights, tokenizer, format: 'gguf' };
}

async function loadLlama2c(path: string, options: LoadModelOptions): Promise<LoadedModel> {
  const { config, weights } = await loadLlama2cCheckpoint(path);
  const tokenizerPath = options.tokenizerPath ?? findLlama2cTokenizer(path);
  const tokenizer = await loadLlama2cTokenizer(tokenizerPath, { vocabSize: config.vocabSize });
  return { config, weights, tokenizer, format: 'llama2c' };
}
