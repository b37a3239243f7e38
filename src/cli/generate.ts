import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('generate').description('(not available yet)').action(() => {
    throw new Error('rlaif generate is not available yet');
  });
}
