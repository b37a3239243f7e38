import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('train-rm').description('(not available yet)').action(() => {
    throw new Error('rlaif train-rm is not available yet');
  });
}
