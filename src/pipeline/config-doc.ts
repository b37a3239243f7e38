/**
 * The config reference in Markdown, generated from the schema's documented fields, so the
 * README cannot drift from the code: `node --import tsx src/pipeline/config-doc.ts` prints it,
 * and a test checks the README holds exactly this text.
 */
import { pathToFileURL } from 'node:url';

import { runConfigSchema } from './config-schema.ts';

interface ZodLike {
  description?: string;
  _zod: { def: { type: string; innerType?: ZodLike; defaultValue?: unknown; shape?: unknown; entries?: Record<string, string> } };
  shape?: Record<string, ZodLike>;
}

/** Unwraps defaults and optionals down to the value's own schema. */
function unwrap(schema: ZodLike): ZodLike {
  let current = schema;
  while (['default', 'prefault', 'optional'].includes(current._zod.def.type) && current._zod.def.innerType) {
    current = current._zod.def.innerType;
  }
  return current;
}

function typeName(schema: ZodLike): string {
  const inner = unwrap(schema);
  if (inner._zod.def.type === 'enum') {
    return Object.values(inner._zod.def.entries ?? {}).map((v) => `\`${v}\``).join(' \\| ');
  }
  return inner._zod.def.type;
}

function rows(shape: Record<string, ZodLike>, prefix: string, out: string[]): void {
  for (const [key, field] of Object.entries(shape)) {
    const inner = unwrap(field);
    const path = prefix ? `${prefix}.${key}` : key;
    if (inner._zod.def.type === 'object' && inner.shape) {
      out.push(`| **\`${path}\`** | section | ${field.description ?? ''} |`);
      rows(inner.shape, path, out);
      continue;
    }
    const description = (field.description ?? '').replace(/\|/g, '\\|');
    out.push(`| \`${path}\` | ${typeName(field)} | ${description} |`);
  }
}

export function configReference(): string {
  const out = [
    '| field | type | meaning, default, recommended value |',
    '|---|---|---|',
  ];
  rows((runConfigSchema as unknown as ZodLike).shape!, '', out);
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(configReference() + '\n');
}
