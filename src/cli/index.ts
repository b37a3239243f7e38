/**
 * The `rlaif` command line. Each command lives in its own file and registers itself on the
 * root program; this file only wires them together and maps errors to exit codes.
 */
import { Command } from 'commander';

import { RlaifError } from '../util/errors.ts';

type Registrar = (program: Command) => void;

// Loaded lazily so that `rlaif --help` does not pay for TensorFlow.js or node-llama-cpp.
const commandModules: Record<string, () => Promise<{ register: Registrar }>> = {
  generate: () => import('./generate.ts'),
  judge: () => import('./judge.ts'),
  'train-rm': () => import('./train-rm.ts'),
  train: () => import('./train.ts'),
  run: () => import('./run.ts'),
  cai: () => import('./cai.ts'),
  serve: () => import('./serve.ts'),
  prefs: () => import('./prefs.ts'),
  ui: () => import('./ui.ts'),
};

export async function main(argv: string[]): Promise<void> {
  const program = new Command('rlaif')
    .description('Reinforcement Learning from AI Feedback')
    .showHelpAfterError()
    .exitOverride();

  const requested = argv[2];
  const names = requested && requested in commandModules ? [requested] : Object.keys(commandModules);
  for (const name of names) {
    const module = await commandModules[name]();
    module.register(program);
  }

  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

function reportError(error: unknown): number {
  if (isCommanderExit(error)) return error.exitCode;
  if (error instanceof RlaifError) {
    process.stderr.write(`rlaif: ${error.message}\n`);
    return 1;
  }
  process.stderr.write(`rlaif: unexpected error\n${(error as Error)?.stack ?? String(error)}\n`);
  return 70;
}

function isCommanderExit(error: unknown): error is { exitCode: number } {
  return typeof error === 'object' && error !== null && 'code' in error && 'exitCode' in error &&
    String((error as { code: unknown }).code).startsWith('commander.');
}
