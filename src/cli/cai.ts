import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('cai').description('(not available yet)').action(() => {
    throw new Error('rlaif cai is not available yet');
  });
}
