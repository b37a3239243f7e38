/**
 * `rlaif ui`: the local dashboard over a folder of runs, on 127.0.0.1 unless told otherwise.
 */
import { resolve } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { parseFlags } from './flags.ts';
import { createLogger } from '../util/log.ts';
import { startDashboard } from '../serve/dashboard-server.ts';

const optionsSchema = z.object({
  runs: z.string().min(1),
  port: z.coerce
    .number({ message: 'expected a port number from 0 to 65535' })
    .int()
    .min(0)
    .max(65535),
  host: z.string().min(1),
});

export function register(program: Command): void {
  program
    .command('ui')
    .description('serve the dashboard: runs, metrics, samples, audits and blind comparisons')
    .option('--runs <dir>', 'folder holding one folder per run', 'runs')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '4780')
    .option(
      '--host <address>',
      'interface to bind; anything but loopback exposes your runs',
      '127.0.0.1',
    )
    .action(async (raw: Record<string, string>) => {
      const logger = createLogger();
      const { runs, port, host } = parseFlags(optionsSchema, raw);
      const server = await startDashboard({ runsDir: resolve(runs), port, host, logger });
      process.stdout.write(`dashboard on ${server.url} (runs in ${resolve(runs)})\n`);

      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
