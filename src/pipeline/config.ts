/**
 * Loads a run config: YAML parsed with line positions, validated by the strict schema, paths
 * resolved against the config file, and every named file checked before any work starts. A
 * fault becomes an InputError naming the file, the line and the field.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

import { isMap, isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

import { InputError } from '../util/errors.ts';
import { projectRoot } from '../util/paths.ts';
import { runConfigSchema, type RunConfig } from './config-schema.ts';

export { runConfigSchema, type RunConfig };

/** The config file of the default run. */
export const defaultConfigPath = resolve(projectRoot, 'examples', 'quickstart.yaml');

export interface LoadedConfig {
  config: RunConfig;
  /** The config file, absolute. */
  file: string;
  /** Absolute paths of the files the config names. */
  paths: {
    trainPrompts: string;
    heldOutPrompts: string;
    constitution: string;
    /** Set when the policy model is given as a path rather than a name. */
    policyModel?: string;
    referenceModel?: string;
    judgeModel?: string;
  };
}

/** Reads, validates and resolves a config file; throws InputError before any work. */
export function loadRunConfig(file: string = defaultConfigPath): LoadedConfig {
  const absolute = resolve(file);
  if (!existsSync(absolute)) {
    throw new InputError('config file not found', { file: absolute });
  }
  return parseRunConfig(readFileSync(absolute, 'utf8'), absolute);
}

/** Validates config text; `file` names it in messages and anchors relative paths. */
export function parseRunConfig(text: string, file: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new InputError(`not valid YAML: ${first.message.split('\n')[0]}`, { file, line });
  }

  const raw = doc.toJS() ?? {};
  const parsed = runConfigSchema.safeParse(raw);
  if (!parsed.success) throw issueToError(parsed.error.issues[0], doc, lineCounter, file);
  const config = parsed.data;

  const base = dirname(file);
  const located = (value: string, path: (string | number)[]): string => {
    const full = isAbsolute(value) ? value : resolve(base, value);
    if (!existsSync(full)) {
      throw new InputError(`file not found: ${full}`, {
        file,
        line: lineOf(doc, lineCounter, path),
        field: path.join('.'),
      });
    }
    return full;
  };

  const paths: LoadedConfig['paths'] = {
    trainPrompts: located(config.prompts.train, ['prompts', 'train']),
    heldOutPrompts: located(config.prompts.heldOut, ['prompts', 'heldOut']),
    constitution: located(config.judge.constitution, ['judge', 'constitution']),
  };
  if (looksLikePath(config.policy.model)) {
    paths.policyModel = located(config.policy.model, ['policy', 'model']);
  }
  if (config.policy.tokenizer) located(config.policy.tokenizer, ['policy', 'tokenizer']);
  if (config.reference && looksLikePath(config.reference)) {
    paths.referenceModel = located(config.reference, ['reference']);
  }
  if (config.judge.backend === 'gguf') {
    if (!config.judge.model) {
      throw new InputError('the gguf judge needs the path of a .gguf file', {
        file,
        line: lineOf(doc, lineCounter, ['judge', 'backend']),
        field: 'judge.model',
      });
    }
    paths.judgeModel = located(config.judge.model, ['judge', 'model']);
  }
  if (config.judge.backend === 'openai-compatible' && !config.judge.baseUrl) {
    throw new InputError('the openai-compatible judge needs baseUrl (e.g. http://127.0.0.1:8000/v1)', {
      file,
      line: lineOf(doc, lineCounter, ['judge', 'backend']),
      field: 'judge.baseUrl',
    });
  }
  return { config, file, paths };
}

/** A model given with a folder separator or a file extension is a path, otherwise a name. */
export function looksLikePath(model: string): boolean {
  return model.includes('/') || model.includes('\\') || /\.(bin|gguf|safetensors)$/.test(model);
}

function issueToError(
  issue: z.core.$ZodIssue,
  doc: Document,
  lineCounter: LineCounter,
  file: string,
): InputError {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const field = [...path, key].join('.');
    return new InputError(`unknown key "${key}" (check its spelling; allowed keys are documented in README.md)`, {
      file,
      line: keyLine(doc, lineCounter, path, key) ?? lineOf(doc, lineCounter, path),
      field,
    });
  }
  const isMissing = issue.code === 'invalid_type' && lineOf(doc, lineCounter, path, true) === undefined;
  return new InputError(isMissing ? `missing: ${issue.message}` : issue.message, {
    file,
    line: lineOf(doc, lineCounter, path),
    field: path.join('.') || undefined,
  });
}

/** Line of the node at `path`, or of its nearest existing parent unless `exact`. */
function lineOf(
  doc: Document,
  lineCounter: LineCounter,
  path: (string | number)[],
  exact = false,
): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    if (exact) return undefined;
  }
  return undefined;
}

function keyLine(
  doc: Document,
  lineCounter: LineCounter,
  parent: (string | number)[],
  key: string,
): number | undefined {
  const map = parent.length === 0 ? doc.contents : doc.getIn(parent, true);
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isNode(pair.key) && (pair.key as { value?: unknown }).value === key && pair.key.range) {
      return lineCounter.linePos(pair.key.range[0]).line;
    }
  }
  return undefined;
}
