import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { projectRoot } from '../util/paths.ts';
import { readYamlConfig } from './config-file.ts';
import { trainFileSchema } from './train-config.ts';

const examplesDir = join(projectRoot, 'examples', 'train');

describe('example rlaif train configs', () => {
  const files = readdirSync(examplesDir).filter((name) => name.endsWith('.yaml'));

  it('exist', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s is valid against the schema', (name) => {
    const config = readYamlConfig(join(examplesDir, name), trainFileSchema);
    expect(config.policy.model).toMatch(/checkpoints\/final$/);
  });
});
