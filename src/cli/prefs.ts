/**
 * `rlaif prefs`: move preference datasets between rlaif (PreferenceRecord JSONL) and the
 * formats of TRL, OpenAI, HH-RLHF and UltraFeedback; measure a judge against human labels;
 * mix human and AI labels with weights.
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { exportFormats, type ExportFormat } from '../interop/formats.ts';
import { judgeAgreement, mixLabels } from '../interop/human-preferences.ts';
import {
  formatPreferences,
  importFormats,
  readPreferences,
  writePreferences,
  type ImportFormat,
} from '../interop/preference-files.ts';
import { createEvaluatorJudge } from '../judge/default-judges.ts';
import { createJudge, resolveConstitution } from '../judge/judge-factory.ts';
import { InputError } from '../util/errors.ts';
import { startProgress } from '../util/progress.ts';

function parseChoice<T extends string>(value: string, choices: readonly T[], option: string): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new InputError(`must be one of ${choices.join(', ')}`, { field: option });
  }
  return value as T;
}

function parseWeight(value: string, option: string): number {
  const parsed = z.coerce.number().nonnegative().safeParse(value);
  if (!parsed.success) throw new InputError('must be a number >= 0', { field: option });
  return parsed.data;
}

function output(
  file: string | undefined,
  records: Parameters<typeof formatPreferences>[0],
  format: ExportFormat | 'rlaif',
  metadata?: boolean,
): void {
  if (file) writePreferences(file, records, format, { metadata });
  else process.stdout.write(formatPreferences(records, format, { metadata }));
}

export function register(program: Command): void {
  const prefs = program
    .command('prefs')
    .description('import, export and compare preference datasets');

  prefs
    .command('export')
    .description('write rlaif preferences (PreferenceRecord JSONL) in another format')
    .requiredOption('--in <file>', 'preferences.jsonl of a run')
    .requiredOption('--format <format>', exportFormats.join(' | '))
    .option('--out <file>', 'output file (default: stdout)')
    .option('--no-metadata', 'leave out p_chosen, judge, principle, ... columns')
    .action((options: { in: string; format: string; out?: string; metadata: boolean }) => {
      const format = parseChoice(options.format, exportFormats, '--format');
      const { records } = readPreferences(options.in, 'rlaif');
      // Commander sets metadata=true unless --no-metadata: keep the per-format default then.
      output(options.out, records, format, options.metadata ? undefined : false);
      process.stderr.write(`exported ${records.length} records as ${format}\n`);
    });

  prefs
    .command('import')
    .description('read another format into rlaif preferences (PreferenceRecord JSONL)')
    .requiredOption('--in <file>', 'input file (.jsonl or .jsonl.gz)')
    .requiredOption('--format <format>', importFormats.join(' | '))
    .option('--out <file>', 'output file (default: stdout)')
    .option('--judge <name>', 'judge name for rows that carry none')
    .option('--source <source>', 'ai | human | verifier, for rows that carry none')
    .option('--pairing <policy>', 'ultrafeedback: best-vs-worst | best-vs-random | all-pairs')
    .option('--seed <n>', 'seed of best-vs-random', '0')
    .option('--skip-invalid', 'skip bad lines (reported on stderr) instead of stopping')
    .action(
      (options: {
        in: string;
        format: string;
        out?: string;
        judge?: string;
        source?: string;
        pairing?: string;
        seed: string;
        skipInvalid?: boolean;
      }) => {
        const format = parseChoice<ImportFormat>(options.format, importFormats, '--format');
        const source =
          options.source === undefined
            ? undefined
            : parseChoice(options.source, ['ai', 'human', 'verifier'] as const, '--source');
        const pairing =
          options.pairing === undefined
            ? undefined
            : parseChoice(
                options.pairing,
                ['best-vs-worst', 'best-vs-random', 'all-pairs'] as const,
                '--pairing',
              );
        const { records, skipped } = readPreferences(options.in, format, {
          judge: options.judge,
          source,
          pairing,
          seed: Number(options.seed),
          skipInvalid: options.skipInvalid,
        });
        for (const error of skipped) process.stderr.write(`skipped ${error.message}\n`);
        output(options.out, records, 'rlaif');
        process.stderr.write(
          `imported ${records.length} records (${skipped.length} lines skipped)\n`,
        );
      },
    );

  prefs
    .command('agreement')
    .description("how often a judge picks the human's choice, with a 95% Wilson interval")
    .requiredOption('--in <file>', 'human preferences')
    .option('--format <format>', importFormats.join(' | '), 'hh')
    .option(
      '--judge <spec>',
      'evaluator (held-out embedded judge) | embedded | openai:MODEL | anthropic:MODEL | gguf:PATH',
      'evaluator',
    )
    .option('--constitution <spec>', 'for --judge other than evaluator: a file or built-in name')
    .option('--base-url <url>', 'OpenAI-compatible API root for openai:MODEL')
    .option('--concurrency <n>', 'judge calls in flight', '4')
    .option('--limit <n>', 'first n pairs only')
    .option('--seed <n>', 'seed of the order randomisation and principle sampling', '0')
    .action(
      async (options: {
        in: string;
        format: string;
        judge: string;
        constitution?: string;
        baseUrl?: string;
        concurrency: string;
        limit?: string;
        seed: string;
      }) => {
        const format = parseChoice<ImportFormat>(options.format, importFormats, '--format');
        const seed = Number(options.seed);
        const built =
          options.judge === 'evaluator'
            ? { judge: createEvaluatorJudge(), close: async () => {} }
            : await createJudge({
                backend: options.judge,
                constitution: resolveConstitution(options.constitution),
                baseUrl: options.baseUrl,
                seed,
              });
        try {
          let { records } = readPreferences(options.in, format, { source: 'human' });
          if (options.limit) records = records.slice(0, Number(options.limit));
          const progress = startProgress({ label: 'agreement', total: records.length });
          const result = await judgeAgreement({
            judge: built.judge,
            records,
            seed,
            concurrency: parseWeight(options.concurrency, '--concurrency') || 1,
            onProgress: () => progress.tick(),
          });
          progress.stop();
          process.stdout.write(JSON.stringify({ judge: built.judge.id, ...result }) + '\n');
        } finally {
          await built.close();
        }
      },
    );

  prefs
    .command('mix')
    .description('join human and AI preferences with training weights')
    .requiredOption('--human <file>', 'human preferences (rlaif JSONL)')
    .requiredOption('--ai <file>', 'AI preferences (rlaif JSONL)')
    .option('--human-weight <w>', 'weight of human labels', '1')
    .option('--ai-weight <w>', 'weight of AI labels', '1')
    .option('--per-group', 'balance group totals in the weight ratio, whatever their sizes')
    .option('--out <file>', 'output file (default: stdout)')
    .action(
      (options: {
        human: string;
        ai: string;
        humanWeight: string;
        aiWeight: string;
        perGroup?: boolean;
        out?: string;
      }) => {
        const mixed = mixLabels({
          human: readPreferences(options.human, 'rlaif').records,
          ai: readPreferences(options.ai, 'rlaif').records,
          humanWeight: parseWeight(options.humanWeight, '--human-weight'),
          aiWeight: parseWeight(options.aiWeight, '--ai-weight'),
          mode: options.perGroup ? 'per-group' : 'per-label',
        });
        output(options.out, mixed, 'rlaif');
      },
    );
}
