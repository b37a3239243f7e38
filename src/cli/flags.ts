/**
 * Command-line flags validated with a zod schema: the first fault becomes an InputError naming
 * the flag as the user typed it (`--max-new-tokens`, not `maxNewTokens`).
 */
import type { z } from 'zod';

import { InputError } from '../util/errors.ts';

export function parseFlags<T extends z.ZodType>(schema: T, raw: Record<string, unknown>): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;

  const issue = parsed.error.issues[0];
  const name = String(issue.path[0] ?? '');
  const missing = issue.code === 'invalid_type' && raw[name] === undefined;
  throw new InputError(missing ? 'is required' : issue.message, { field: `--${kebab(name)}` });
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
