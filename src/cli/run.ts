/**
 * `rlaif run [config.yaml]`: the whole RLAIF loop. Without a config it runs the default run
 * (examples/quickstart.yaml). Progress goes to stderr, the summary to stdout. Ctrl-C stops at
 * the next safe point and leaves a run that the same command resumes; a second Ctrl-C exits
 * at once (the stored work is still safe: every write is a transaction or an atomic rename).
 */
import type { Command } from 'commander';

import { terminalSummary, type EvaluationSummary } from '../eval/evaluate.ts';
import { defaultConfigPath, loadRunConfig } from '../pipeline/config.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { InputError } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';

interface RunFlags {
  runDir?: string;
  model?: string;
  modelsDir?: string;
  seed?: string;
  fresh?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run the RLAIF loop: sample, judge, reward model, RL, evaluate, report')
    .argument('[config]', 'run config (YAML); default: the built-in default run', defaultConfigPath)
    .option('--run-dir <dir>', 'run directory (overrides runDir in the config)')
    .option('--model <path>', 'policy model file (overrides the models folder lookup)')
    .option('--models-dir <dir>', 'folder of model folders (default: RLAIF_MODELS, then ~/.cache/rlaif/models)')
    .option('--seed <n>', 'seed (overrides seed in the config)')
    .option('--fresh', "delete the run's own files (only in a run directory) and start over")
    .option('--quiet', 'no progress bars')
    .action(async (configPath: string, flags: RunFlags) => {
      await runCommand(configPath, flags);
    });
}

async function runCommand(configPath: string, flags: RunFlags): Promise<void> {
  const loaded = loadRunConfig(configPath);
  if (flags.runDir) loaded.config.runDir = flags.runDir;
  if (flags.seed !== undefined) {
    const seed = Number(flags.seed);
    if (!Number.isInteger(seed) || seed < 0) {
      throw new InputError('must be a non-negative integer', { field: '--seed' });
    }
    loaded.config.seed = seed;
  }

  const logger = createLogger(process.env.RLAIF_LOG_LEVEL ?? 'warn');
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nstopping at the next safe point (Ctrl-C again to quit at once)...\n');
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);

  const started = Date.now();
  try {
    const { context, stagesRun } = await runPipeline({
      loaded,
      models: { modelPath: flags.model, modelsDir: flags.modelsDir },
      fresh: flags.fresh,
      logger,
      signal: controller.signal,
      quiet: flags.quiet,
    });
    const { readFileSync } = await import('node:fs');
    const summary = JSON.parse(readFileSync(context.files.summary, 'utf8')) as EvaluationSummary;
    process.stdout.write(`${terminalSummary(summary)}\n`);
    process.stdout.write(stagesRun.length === 0
      ? `already complete: ${context.files.dir} (pass --fresh to start over)\n`
      : `wall time: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    process.stdout.write(`report: ${context.files.report}\n`);
  } catch (error) {
    if ((error as Error).name !== 'RunInterrupted') throw error;
    process.stderr.write(`rlaif: ${(error as Error).message}\n`);
    process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
