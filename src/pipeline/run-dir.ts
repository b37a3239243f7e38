/**
 * The run directory's lifecycle: creating it, reopening it for a resumed run, and clearing it
 * for `--fresh`. Only a folder that is recognisably a run (it holds the run's config.yaml or
 * store.sqlite) is ever cleared, and then only the files a run writes; anything else in it,
 * and any folder that is not a run, is left alone.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { InputError } from '../util/errors.ts';
import type { RunFiles } from './run-context.ts';

/** Every name a run writes directly inside its directory (SQLite adds -wal/-shm beside the store). */
export function runArtifactNames(files: RunFiles): string[] {
  const names = [files.config, files.store, files.metrics, files.preferences, files.checkpoints,
    files.report, files.summary].map((path) => path.slice(files.dir.length + 1));
  const store = files.store.slice(files.dir.length + 1);
  return [...names, `${store}-wal`, `${store}-shm`, `${store}-journal`];
}

/** True when the folder holds the marker files of a run. */
export function isRunDir(files: RunFiles): boolean {
  return existsSync(files.store) || existsSync(files.config);
}

function isEmptyOrMissing(dir: string): boolean {
  if (!existsSync(dir)) return true;
  if (!statSync(dir).isDirectory()) {
    throw new InputError(`the run directory ${dir} is a file, not a folder`, { field: 'runDir' });
  }
  return readdirSync(dir).length === 0;
}

/** Removes the run's own files from its directory; refuses a folder that is not a run. */
export function clearRunDir(files: RunFiles): void {
  if (isEmptyOrMissing(files.dir)) return;
  if (!isRunDir(files)) {
    throw new InputError(
      `--fresh refused: ${files.dir} is not a run directory (no config.yaml or store.sqlite in it), ` +
        'so nothing was deleted; pass --run-dir with a new or run folder',
      { field: 'runDir' },
    );
  }
  for (const name of runArtifactNames(files)) rmSync(join(files.dir, name), { recursive: true, force: true });
}

/**
 * Creates the run directory, or checks that the one there was started with this config.
 * `configText` is the resolved config as stored in the run's config.yaml.
 */
export function prepareRunDir(files: RunFiles, configText: string, fresh: boolean): void {
  const { dir, config: configFile } = files;
  // A run folder may keep the user's own files beside the run's; it stays usable after --fresh.
  const wasRun = isRunDir(files);
  if (fresh) clearRunDir(files);
  if (existsSync(configFile)) {
    if (readFileSync(configFile, 'utf8') !== configText) {
      throw new InputError(
        `the run directory ${dir} holds a run started with a different config; ` +
          'pass --fresh to start over, or --run-dir to use another directory',
        { file: configFile },
      );
    }
    return;
  }
  if (!wasRun && !isEmptyOrMissing(dir)) {
    throw new InputError(
      `the run directory ${dir} is not empty and is not a run directory; ` +
        'pass --run-dir with a new or empty folder',
      { field: 'runDir' },
    );
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(configFile, configText);
}
