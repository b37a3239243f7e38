import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runFiles } from './run-context.ts';
import { prepareRunDir } from './run-dir.ts';

const configText = '# config\nseed: 1\n';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'rlaif-run-dir-'));
}

describe('run directory', () => {
  it('--fresh refuses a folder that is not a run and deletes nothing in it', () => {
    const dir = join(scratch(), 'precious');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'thesis.txt'), 'years of work');
    writeFileSync(join(dir, 'sub', 'notes.md'), 'notes');
    expect(() => prepareRunDir(runFiles(dir), configText, true)).toThrow(/--fresh refused: .*precious is not a run directory/);
    expect(readFileSync(join(dir, 'thesis.txt'), 'utf8')).toBe('years of work');
    expect(readFileSync(join(dir, 'sub', 'notes.md'), 'utf8')).toBe('notes');
    expect(existsSync(join(dir, 'config.yaml'))).toBe(false);
  });

  it('refuses to start a run in a non-empty folder that is not a run', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'thesis.txt'), 'years of work');
    expect(() => prepareRunDir(runFiles(dir), configText, false)).toThrow(/not empty and is not a run directory/);
    expect(existsSync(join(dir, 'config.yaml'))).toBe(false);
  });

  it('--fresh on a run removes only the run\'s own files', () => {
    const dir = scratch();
    const files = runFiles(dir);
    writeFileSync(files.config, '# config\nseed: 0\n');
    writeFileSync(files.store, 'db');
    writeFileSync(`${files.store}-wal`, 'wal');
    writeFileSync(files.metrics, '{}\n');
    mkdirSync(join(files.checkpoints, 'final'), { recursive: true });
    writeFileSync(join(dir, 'my-notes.txt'), 'keep me');

    prepareRunDir(files, configText, true);
    expect(readFileSync(files.config, 'utf8')).toBe(configText);
    expect(existsSync(files.store)).toBe(false);
    expect(existsSync(`${files.store}-wal`)).toBe(false);
    expect(existsSync(files.metrics)).toBe(false);
    expect(existsSync(files.checkpoints)).toBe(false);
    expect(readFileSync(join(dir, 'my-notes.txt'), 'utf8')).toBe('keep me');
  });

  it('creates a new folder, reopens a run with the same config and refuses a different one', () => {
    const dir = join(scratch(), 'a', 'b');
    prepareRunDir(runFiles(dir), configText, false);
    expect(readFileSync(join(dir, 'config.yaml'), 'utf8')).toBe(configText);
    expect(() => prepareRunDir(runFiles(dir), configText, false)).not.toThrow();
    expect(() => prepareRunDir(runFiles(dir), '# other\n', false)).toThrow(/different config/);
  });
});
