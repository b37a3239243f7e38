/**
 * `rlaif train-rm --prefs prefs.jsonl --model PATH --out DIR`: trains a Bradley-Terry reward
 * model on preference records, backbone = the given model. Writes the reward model and
 * metrics.jsonl into DIR; prints the held-out accuracy and calibration as JSON on stdout.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { importFormats, readPreferences, type ImportFormat } from '../interop/preference-files.ts';
import { readYamlConfig } from '../train/config-file.ts';
import { rewardModelConfigSchema } from '../train/reward-model-config.ts';
import { trainRewardModel } from '../train/reward-model-trainer.ts';
import { RewardModel } from '../train/reward-model.ts';
import { InputError } from '../util/errors.ts';
import { parseFlags } from './flags.ts';
import { createLogger } from '../util/log.ts';
import { MetricsWriter } from '../util/metrics.ts';
import { openModel } from './generate.ts';

const flagsSchema = z.object({
  prefs: z.string().min(1),
  model: z.string().min(1),
  out: z.string().min(1),
  tokenizer: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  format: z.enum(importFormats).default('rlaif'),
  epochs: z.coerce.number().int().positive().optional(),
  lr: z.coerce.number().positive().optional(),
  batchSize: z.coerce.number().int().positive().optional(),
  seed: z.coerce.number().int().optional(),
  quiet: z.boolean().optional(),
});

export function register(program: Command): void {
  program
    .command('train-rm')
    .description('train a Bradley-Terry reward model on preference pairs')
    .requiredOption('--prefs <file>', 'preference records (JSONL; see --format)')
    .requiredOption('--model <path>', 'backbone: llama2.c .bin, GGUF file or model folder')
    .requiredOption('--out <dir>', 'folder for the reward model and metrics.jsonl')
    .option('--tokenizer <path>', 'llama2.c tokenizer file when not beside the model')
    .option(
      '--config <file>',
      'YAML with reward-model settings (epochs, batchSize, optimizer, margin...)',
    )
    .option('--format <name>', `preference file format: ${importFormats.join(', ')}`, 'rlaif')
    .option('--epochs <n>', 'passes over the training pairs (overrides the config)')
    .option('--lr <x>', 'learning rate (overrides the config)')
    .option('--batch-size <n>', 'pairs per step (overrides the config)')
    .option('--seed <n>', 'seed of the split and the batch order (overrides the config)')
    .option('--quiet', 'no progress on stderr')
    .action(async (raw: Record<string, unknown>) => {
      const report = await runTrainRm(parseFlags(flagsSchema, raw));
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    });
}

export async function runTrainRm(flags: z.infer<typeof flagsSchema>) {
  const fromFile = flags.config
    ? readYamlConfig(resolve(flags.config), rewardModelConfigSchema)
    : rewardModelConfigSchema.parse({});
  const config = {
    ...fromFile,
    epochs: flags.epochs ?? fromFile.epochs,
    batchSize: flags.batchSize ?? fromFile.batchSize,
    seed: flags.seed ?? fromFile.seed,
    optimizer: { ...fromFile.optimizer, learningRate: flags.lr ?? fromFile.optimizer.learningRate },
  };
  const { records, skipped } = readPreferences(resolve(flags.prefs), flags.format as ImportFormat);
  if (records.length < 2)
    throw new InputError(`needs at least 2 preference records, found ${records.length}`, {
      file: flags.prefs,
    });

  const out = resolve(flags.out);
  mkdirSync(out, { recursive: true });
  const logger = createLogger(flags.quiet ? 'warn' : 'info');
  if (skipped.length > 0) logger.warn(`${skipped.length} preference lines skipped`);
  const backbone = await openModel(flags.model, flags.tokenizer);
  const model = new RewardModel(backbone, {
    seed: config.seed,
    maxPromptTokens: config.maxPromptTokens,
    maxResponseTokens: config.maxResponseTokens,
    id: `rm:${out}`,
  });
  const report = await trainRewardModel({
    model,
    records,
    config,
    metrics: new MetricsWriter(join(out, 'metrics.jsonl')),
    logger,
    silent: flags.quiet,
  });
  await model.save(out);
  model.dispose();
  return { out, records: records.length, ...report };
}
