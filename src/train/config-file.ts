/**
 * Reads a YAML training config and validates it against a zod schema. Every fault becomes an
 * InputError naming the file, the line of the offending node and the field path; unknown keys
 * are named as such (schemas here are strict).
 */
import { existsSync, readFileSync } from 'node:fs';

import { isMap, isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

import { InputError } from '../util/errors.ts';

/** `overrides` are top-level keys set before validation (command-line flags win over the file). */
export function readYamlConfig<S extends z.ZodType>(
  file: string,
  schema: S,
  overrides: Record<string, unknown> = {},
): z.infer<S> {
  if (!existsSync(file)) throw new InputError('config file not found', { file });
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), {
    lineCounter: lines,
    prettyErrors: false,
  });
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    throw new InputError(`not valid YAML: ${error.message.split('\n')[0]}`, {
      file,
      line: lines.linePos(error.pos[0]).line,
    });
  }
  const parsed = schema.safeParse({ ...(doc.toJS() ?? {}), ...overrides });
  if (parsed.success) return parsed.data;

  const issue = parsed.error.issues[0];
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    return fail(`unknown key "${key}"; check its spelling against the documented fields`, [
      ...path,
      key,
    ]);
  }
  return fail(issue.message, path);

  function fail(message: string, at: (string | number)[]): never {
    throw new InputError(message, {
      file,
      line: nodeLine(doc, lines, at),
      field: at.join('.') || undefined,
    });
  }
}

/** Line of the deepest existing node along `path` (a map key's own line for the last step). */
function nodeLine(
  doc: Document,
  lines: LineCounter,
  path: (string | number)[],
): number | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const parent = depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1), true);
    if (!isMap(parent)) continue;
    const pair = parent.items.find(
      (item) => isNode(item.key) && (item.key as { value?: unknown }).value === path[depth - 1],
    );
    if (pair && isNode(pair.key) && pair.key.range) return lines.linePos(pair.key.range[0]).line;
  }
  return isNode(doc.contents) && doc.contents.range
    ? lines.linePos(doc.contents.range[0]).line
    : undefined;
}

/**
 * Validates settings passed through the API (already parsed, no file): the first fault becomes
 * an InputError naming the field under `label`, e.g. `ppo.kl.coef`.
 */
export function validateSettings<S extends z.ZodType>(
  schema: S,
  value: unknown,
  label: string,
): z.infer<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    throw new InputError(`unknown key "${issue.keys[0]}"`, {
      field: [label, ...path, issue.keys[0]].join('.'),
    });
  }
  throw new InputError(issue.message, { field: [label, ...path].join('.') });
}
