/**
 * Where shared material lives. Models: `--model`/`--models-dir` flags win, then the
 * RLAIF_MODELS environment variable, then the user cache. Test data: RLAIF_DATA, else the
 * `../shared/data` folder beside the project.
 */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function modelsDir(override?: string): string {
  if (override) return resolve(override);
  if (process.env.RLAIF_MODELS) return resolve(process.env.RLAIF_MODELS);
  return cacheDir('models');
}

export function cacheDir(...parts: string[]): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'rlaif', ...parts);
}

/** The shared models folder for tests and benchmarks. */
export function sharedModelsDir(): string {
  return resolve(process.env.RLAIF_MODELS ?? join(projectRoot, '..', 'shared', 'models'));
}

/** The shared data folder for tests and benchmarks. */
export function sharedDataDir(): string {
  return resolve(process.env.RLAIF_DATA ?? join(projectRoot, '..', 'shared', 'data'));
}
