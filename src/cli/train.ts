import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('train').description('(not available yet)').action(() => {
    throw new Error('rlaif train is not available yet');
  });
}
