/**
 * `rlaif cai`: Constitutional AI critique and revision over a prompt file, keeping every chain
 * (chains.jsonl) and the final revisions as SFT data (sft.jsonl); with `--sft`, fine-tunes the
 * policy on them in-process and saves the result as a checkpoint folder.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { CritiqueReviser } from '../cai/critique-revision.ts';
import { readChains, runCai, sftRows } from '../cai/run-cai.ts';
import { evaluateCompletionLoss, trainSft } from '../cai/sft.ts';
import { loadCaiCritiqueConstitution } from '../judge/constitution.ts';
import { loadLocalModel, loadTextBackend } from '../serve/openai-backends.ts';
import { InputError } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';
import { MetricsWriter } from '../util/metrics.ts';
import { sharedDataDir } from '../util/paths.ts';
import { startProgress } from '../util/progress.ts';

/** Prompts from a text file (one per line) or JSONL (`prompt` per line). */
export function readPrompts(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read: ${(error as Error).message}`, { file, field: '--prompts' });
  }
  const lines = text
    .split('\n')
    .map((l, i) => ({ line: i + 1, text: l }))
    .filter((l) => l.text.trim() !== '');
  if (!file.endsWith('.jsonl')) return lines.map((l) => l.text.trim());
  const row = z.object({ prompt: z.string().min(1) });
  return lines.map(({ line, text: content }) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch {
      throw new InputError('not valid JSON', { file, line });
    }
    const result = row.safeParse(parsed);
    if (!result.success)
      throw new InputError(result.error.issues[0].message, { file, line, field: 'prompt' });
    return result.data.prompt;
  });
}

const numberOption =
  (name: string, min: number, integer = false) =>
  (value: string) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || (integer && !Number.isInteger(parsed))) {
      throw new InputError(`must be ${integer ? 'an integer' : 'a number'} >= ${min}`, {
        field: name,
      });
    }
    return parsed;
  };

interface CaiCliOptions {
  prompts: string;
  model: string;
  critic?: string;
  out: string;
  constitution: string;
  fewShot?: string;
  fewShotCount: number;
  rounds: number;
  seed: number;
  template: string;
  mode: string;
  maxTokens: number;
  sft?: boolean;
  epochs: number;
  lr: number;
  batchSize: number;
}

export function register(program: Command): void {
  const caiDir = join(sharedDataDir(), 'cai');
  program
    .command('cai')
    .description(
      'Constitutional AI: critique and revise responses, keep the chains, SFT on the revisions',
    )
    .requiredOption('--prompts <file>', 'prompts: text (one per line) or JSONL with "prompt"')
    .requiredOption(
      '--model <spec>',
      'policy: model path (.bin, folder, .gguf), openai:<model>, anthropic:<model>',
    )
    .option('--critic <spec>', 'model that critiques and revises (default: the policy)')
    .requiredOption(
      '--out <dir>',
      'output folder: chains.jsonl, sft.jsonl, metrics.jsonl, sft-model/',
    )
    .option(
      '--constitution <file>',
      'critique-and-revision principles',
      join(caiDir, 'CritiqueRevisionInstructions.json'),
    )
    .option('--few-shot <file>', 'JSON list of worked critique-revision transcripts')
    .option(
      '--few-shot-count <n>',
      'how many few-shot examples to prepend',
      numberOption('--few-shot-count', 0, true),
      0,
    )
    .option(
      '--rounds <n>',
      'critique-revision rounds per prompt',
      numberOption('--rounds', 1, true),
      1,
    )
    .option(
      '--seed <n>',
      'seed of principle sampling and shuffling',
      numberOption('--seed', 0, true),
      0,
    )
    .option(
      '--template <text>',
      'how the policy sees a prompt ({prompt} is replaced)',
      '\n\nHuman: {prompt}\n\nAssistant:',
    )
    .option('--mode <mode>', 'text (transcripts, for completion models) | chat', 'text')
    .option(
      '--max-tokens <n>',
      'tokens per generated answer, critique or revision',
      numberOption('--max-tokens', 1, true),
      128,
    )
    .option('--sft', 'fine-tune the (local) policy on the final revisions')
    .option('--epochs <n>', 'SFT epochs', numberOption('--epochs', 1, true), 1)
    .option('--lr <lr>', 'SFT learning rate', numberOption('--lr', 0), 1e-3)
    .option('--batch-size <n>', 'SFT batch size', numberOption('--batch-size', 1, true), 4)
    .action(async (options: CaiCliOptions) => {
      const logger = createLogger();
      if (options.mode !== 'text' && options.mode !== 'chat')
        throw new InputError('must be text or chat', { field: '--mode' });
      mkdirSync(options.out, { recursive: true });
      const prompts = readPrompts(options.prompts);
      const constitution = loadCaiCritiqueConstitution(options.constitution);
      const fewShotFile =
        options.fewShot ??
        (options.fewShotCount > 0
          ? join(caiDir, 'CritiqueRevisionFewShotPrompts.json')
          : undefined);
      const fewShot = fewShotFile
        ? z
            .array(z.string())
            .parse(JSON.parse(readFileSync(fewShotFile, 'utf8')))
            .slice(0, options.fewShotCount)
        : [];

      const policy = await loadTextBackend(options.model);
      const critic = options.critic ? await loadTextBackend(options.critic, '--critic') : policy;
      try {
        const reviser = new CritiqueReviser({
          backend: critic.backend,
          policy: policy.backend,
          constitution,
          rounds: options.rounds,
          seed: options.seed,
          fewShot,
          mode: options.mode,
          responseTemplate: options.template.replace(/\\n/g, '\n'),
          maxTokens: {
            response: options.maxTokens,
            critique: options.maxTokens,
            revision: options.maxTokens,
          },
        });
        const chainsFile = join(options.out, 'chains.jsonl');
        const sftFile = join(options.out, 'sft.jsonl');
        const result = await runCai({ reviser, prompts, chainsFile, sftFile, logger });
        logger.info(
          { chains: result.chains.length, produced: result.produced, failed: result.failed.length },
          'critique and revision done',
        );

        if (options.sft)
          await fineTune(
            options,
            policy.model === undefined ? undefined : options.model,
            sftFile,
            logger,
          );
        process.stdout.write(
          JSON.stringify({
            chains: result.chains.length,
            failed: result.failed.length,
            chainsFile,
            sftFile,
          }) + '\n',
        );
      } finally {
        await policy.dispose();
        if (critic !== policy) await critic.dispose();
      }
    });
}

async function fineTune(
  options: CaiCliOptions,
  localPath: string | undefined,
  sftFile: string,
  logger: ReturnType<typeof createLogger>,
) {
  if (!localPath)
    throw new InputError('SFT needs a local model path as --model', { field: '--sft' });
  const examples = sftRows(readChains(join(options.out, 'chains.jsonl')));
  void sftFile;
  const model = await loadLocalModel(localPath, { trainable: true });
  try {
    const before = evaluateCompletionLoss(model, examples);
    const steps = Math.ceil(examples.length / options.batchSize) * options.epochs;
    const progress = startProgress({ label: 'sft', total: steps });
    const { losses } = await trainSft({
      model,
      examples,
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.lr,
      seed: options.seed,
      metrics: new MetricsWriter(join(options.out, 'metrics.jsonl')),
      onStep: (_, loss) => progress.tick(1, { loss }),
    });
    progress.stop();
    const after = evaluateCompletionLoss(model, examples);
    const { saveCheckpoint } = await import('../model/checkpoint.ts');
    const dir = join(options.out, 'sft-model');
    await saveCheckpoint(dir, model.config, model.exportWeights(), { tokenizer: model.tokenizer });
    logger.info({ before, after, steps: losses.length, dir }, 'SFT on revisions done');
  } finally {
    model.dispose();
  }
}
