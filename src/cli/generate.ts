/**
 * `rlaif generate`: load a model, sample a continuation of a prompt, print it on stdout.
 * Speed figures go to stderr.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { LlamaModel } from '../model/llama.ts';
import { loadModel } from '../model/load.ts';
import { loadLlama2cTokenizer } from '../model/tokenizer-spm.ts';
import { InputError } from '../util/errors.ts';
import { parseFlags } from './flags.ts';

const optionsSchema = z.object({
  model: z.string().min(1),
  tokenizer: z.string().min(1).optional(),
  prompt: z.string(),
  maxNewTokens: z.coerce.number().int().min(0).max(1_000_000).default(256),
  temperature: z.coerce.number().min(0).default(1),
  topK: z.coerce.number().int().min(1).optional(),
  topP: z.coerce.number().gt(0).max(1).optional(),
  seed: z.coerce.number().int().default(0),
  stop: z.array(z.string()).default([]),
  bos: z.boolean().default(true),
});

type GenerateCliOptions = z.infer<typeof optionsSchema>;

export function register(program: Command): void {
  program
    .command('generate')
    .description('sample a continuation of a prompt from a local model and print it')
    .requiredOption('--model <path>', 'llama2.c .bin checkpoint, GGUF file or HF model folder')
    .option('--tokenizer <path>', 'tokenizer file (default: tok512.bin or tokenizer.bin beside a .bin)')
    .requiredOption('--prompt <text>', 'text to continue')
    .option('--max-new-tokens <n>', 'tokens to generate at most', '256')
    .option('--temperature <t>', 'sampling temperature; 0 is greedy', '1')
    .option('--top-k <k>', 'sample among the k most likely tokens')
    .option('--top-p <p>', 'sample from the smallest set of tokens holding probability p')
    .option('--seed <n>', 'random seed', '0')
    .option('--stop <text...>', 'stop after any of these strings (not printed)')
    .option('--no-bos', 'do not start the prompt with the BOS token')
    .action(async (raw: Record<string, unknown>) => {
      const flags = parseFlags(optionsSchema, raw);
      await runGenerate(flags);
    });
}

async function runGenerate(options: GenerateCliOptions): Promise<void> {
  const model = await openModel(options.model, options.tokenizer);
  const prompt = model.tokenizer.encode(options.prompt, { bos: options.bos });
  if (prompt.length === 0) {
    throw new InputError('the prompt is empty and --no-bos was given', { field: '--prompt' });
  }

  const started = performance.now();
  const [result] = await model.generate([prompt], {
    maxNewTokens: options.maxNewTokens,
    temperature: options.temperature,
    topK: options.topK,
    topP: options.topP,
    seed: options.seed,
    stop: options.stop,
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${result.text}\n`);
  process.stderr.write(`${result.tokens.length} tokens in ${seconds.toFixed(2)} s ` +
    `(${(result.tokens.length / Math.max(seconds, 1e-9)).toFixed(0)} tokens/s), ` +
    `finish: ${result.finishReason}\n`);
  model.dispose();
}

/**
 * Any format the format loader reads (llama2.c .bin, GGUF, HF folder, rlaif checkpoint).
 * llama2.c models end a story with BOS, so it ends generation there too.
 */
export async function openModel(modelPath: string, tokenizerPath?: string): Promise<LlamaModel> {
  const path = resolve(modelPath);
  if (!existsSync(path)) throw new InputError(`model not found: ${path}`, { field: '--model' });
  const tokenizerFile = tokenizerPath ? resolve(tokenizerPath) : undefined;
  const loaded = await loadModel(path, { tokenizerPath: tokenizerFile });
  let tokenizer = loaded.tokenizer;
  if (tokenizerFile && loaded.format !== 'llama2c') {
    tokenizer = await loadLlama2cTokenizer(tokenizerFile, { vocabSize: loaded.config.vocabSize });
  }
  const endTokens = loaded.format === 'llama2c'
    ? [tokenizer.eosId, tokenizer.bosId]
    : [tokenizer.eosId];
  return LlamaModel.fromWeights(loaded.config, loaded.weights, tokenizer, { endTokens });
}
