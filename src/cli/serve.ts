import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('serve').description('(not available yet)').action(() => {
    throw new Error('rlaif serve is not available yet');
  });
}
