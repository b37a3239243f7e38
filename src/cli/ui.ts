import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('ui').description('(not available yet)').action(() => {
    throw new Error('rlaif ui is not available yet');
  });
}
