/**
 * YAML (and JSON, a subset of it) input with positions: parse once, keep the document and its
 * line table, and turn a schema fault or a semantic check into an InputError that names the
 * file, the 1-based line and the field. Configs, constitutions and trainer settings all read
 * their files through this.
 */
import { isMap, isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

import { InputError } from './errors.ts';

export type FieldPath = (string | number)[];

export class YamlSource {
  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Parses `text`; a syntax error becomes an InputError at its line. */
  static parse(text: string, file: string, kind = 'YAML'): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length > 0) {
      const first = doc.errors[0];
      throw new InputError(`not valid ${kind}: ${first.message.split('\n')[0]}`, {
        file,
        line: lines.linePos(first.pos[0]).line,
      });
    }
    return new YamlSource(file, doc, lines);
  }

  /** The plain data; null for an empty document. */
  data(): unknown {
    return this.doc.toJS() ?? null;
  }

  /**
   * Line of the node at `path`; a missing node points at its nearest existing parent, unless
   * `exact`, when it gives undefined.
   */
  lineOf(path: FieldPath, exact = false): number | undefined {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return this.lines.linePos(node.range[0]).line;
      if (exact) return undefined;
    }
    return undefined;
  }

  /** An InputError about the field at `path`. */
  error(message: string, path: FieldPath): InputError {
    return new InputError(message, {
      file: this.file,
      line: this.lineOf(path),
      field: path.length > 0 ? formatFieldPath(path) : undefined,
    });
  }

  /**
   * Validates the document (with `overrides` laid over its top level) against a schema; the
   * first fault becomes an InputError. Strict schemas name an unknown key at the key's line.
   */
  validate<S extends z.ZodType>(schema: S, overrides: Record<string, unknown> = {}): z.infer<S> {
    const raw = this.data();
    const value = Object.keys(overrides).length > 0 ? { ...(raw as object), ...overrides } : raw;
    const parsed = schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    throw this.issueError(parsed.error.issues[0]);
  }

  private issueError(issue: z.core.$ZodIssue): InputError {
    const path: FieldPath = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0];
      return new InputError(
        `unknown key "${key}" (check its spelling against the documented fields)`,
        {
          file: this.file,
          line: this.keyLine(path, key) ?? this.lineOf(path),
          field: formatFieldPath([...path, key]),
        },
      );
    }
    const missing = issue.code === 'invalid_type' && this.lineOf(path, true) === undefined;
    return this.error(missing ? `missing: ${issue.message}` : issue.message, path);
  }

  private keyLine(parent: FieldPath, key: string): number | undefined {
    const map = parent.length === 0 ? this.doc.contents : this.doc.getIn(parent, true);
    if (!isMap(map)) return undefined;
    for (const pair of map.items) {
      if (isNode(pair.key) && (pair.key as { value?: unknown }).value === key && pair.key.range) {
        return this.lines.linePos(pair.key.range[0]).line;
      }
    }
    return undefined;
  }
}

/** `['principles', 0, 'text']` → `principles[0].text`. */
export function formatFieldPath(path: FieldPath): string {
  return path.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${part}` : part),
    '',
  );
}

/**
 * Validates settings passed through an API (already parsed, no file): the first fault becomes
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
