import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('run').description('(not available yet)').action(() => {
    throw new Error('rlaif run is not available yet');
  });
}
