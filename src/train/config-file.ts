/**
 * Reads a YAML training config and validates it against a zod schema. Every fault becomes an
 * InputError naming the file, the line of the offending node and the field path; unknown keys
 * are named as such (schemas here are strict).
 */
import { existsSync, readFileSync } from 'node:fs';

import type { z } from 'zod';

import { InputError } from '../util/errors.ts';
import { YamlSource } from '../util/yaml-input.ts';

/** `overrides` are top-level keys set before validation (command-line flags win over the file). */
export function readYamlConfig<S extends z.ZodType>(
  file: string,
  schema: S,
  overrides: Record<string, unknown> = {},
): z.infer<S> {
  if (!existsSync(file)) throw new InputError('config file not found', { file });
  return YamlSource.parse(readFileSync(file, 'utf8'), file).validate(schema, overrides);
}
