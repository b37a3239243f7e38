import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('prefs').description('(not available yet)').action(() => {
    throw new Error('rlaif prefs is not available yet');
  });
}
