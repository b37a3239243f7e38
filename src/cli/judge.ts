import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('judge').description('(not available yet)').action(() => {
    throw new Error('rlaif judge is not available yet');
  });
}
