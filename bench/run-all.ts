/**
 * Runs every benchmark one after another, each in its own process so one's memory and threads
 * do not colour the next one's figures. Extra arguments (e.g. --quick) go to each benchmark that
 * takes them.
 *
 * Run: npm run bench [-- --quick]
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benchmarks: { file: string; passesArgs: boolean }[] = [
  { file: 'engine.ts', passesArgs: true },
  { file: 'train.ts', passesArgs: false },
  { file: 'judge.ts', passesArgs: true },
  { file: 'serve.ts', passesArgs: false },
];

const extra = process.argv.slice(2);
let failed = 0;
for (const { file, passesArgs } of benchmarks) {
  process.stdout.write(`\n== bench/${file} ==\n`);
  const args = ['--import', 'tsx', join(here, file), ...(passesArgs ? extra : [])];
  const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stdout.write(`bench/${file} exited with ${result.status ?? result.signal}\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
