/**
 * Constitutions: the written principles a judge follows. Read from YAML or JSON (JSON is read
 * through the YAML parser so that both report line numbers), validated with zod, or built from
 * the Constitutional AI paper's instruction lists. Also how a comparison picks its principle.
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { InputError } from '../util/errors.ts';
import { makeRng } from '../util/rng.ts';
import { formatFieldPath, YamlSource, type FieldPath } from '../util/yaml-input.ts';
import type { Constitution, Principle } from './types.ts';

const principleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits, "_", ".", ":" or "-"'),
  text: z.string().trim().min(1, 'must not be empty'),
  weight: z.number().positive('must be greater than 0').finite().default(1),
  check: z.string().min(1).optional(),
  revision: z.string().min(1).optional(),
});

const templatesSchema = z.strictObject({
  system: z.string().min(1).optional(),
  pairwise: z.string().min(1).optional(),
  pointwise: z.string().min(1).optional(),
  listwise: z.string().min(1).optional(),
});

const constitutionSchema = z.strictObject({
  name: z.string().min(1),
  principles: z.array(principleSchema).min(1, 'a constitution needs at least one principle'),
  templates: templatesSchema.optional(),
});

export interface ParseConstitutionOptions {
  /** File name used in error messages. Default "<constitution>". */
  file?: string;
  /**
   * Names a principle's `check` may take. When given, an unknown check fails at load time
   * (naming its line) instead of at the first comparison.
   */
  knownChecks?: readonly string[];
}

/** Reads a constitution file (.yaml, .yml or .json). */
export function loadConstitution(file: string, options: Omit<ParseConstitutionOptions, 'file'> = {}):
  Constitution {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read constitution: ${(error as Error).message}`, { file });
  }
  return parseConstitution(text, { ...options, file });
}

/** Parses constitution text; faults name the file, the 1-based line and the field path. */
export function parseConstitution(text: string, options: ParseConstitutionOptions = {}):
  Constitution {
  const file = options.file ?? '<constitution>';
  const source = YamlSource.parse(text, file, 'YAML/JSON');
  if (source.data() === null) {
    throw new InputError('the constitution is empty', { file, line: 1, field: 'principles' });
  }

  const constitution = source.validate(constitutionSchema) as Constitution;
  checkUnique(constitution, source);
  if (options.knownChecks) checkKnownChecks(constitution, options.knownChecks, source);
  return constitution;
}

function checkUnique(c: Constitution, source: YamlSource): void {
  const seen = new Set<string>();
  c.principles.forEach((principle, index) => {
    if (seen.has(principle.id)) {
      throw source.error(`duplicate principle id "${principle.id}"`, ['principles', index, 'id']);
    }
    seen.add(principle.id);
  });
}

function checkKnownChecks(c: Constitution, known: readonly string[], source: YamlSource): void {
  c.principles.forEach((principle, index) => {
    if (principle.check === undefined || known.includes(principle.check)) return;
    throw source.error(
      `unknown check "${principle.check}"; known: ${known.join(', ')}`,
      ['principles', index, 'check'],
    );
  });
}

const madisonSchema = z.array(z.string().min(1)).min(1);
const critiqueSchema = z
  .record(z.string(), z.object({ prompt: z.array(z.string()).min(1), edit_request: z.string() }))
  .refine((value) => Object.keys(value).length > 0, 'no principles');

/**
 * The Constitutional AI paper's preference-labelling list (RLMadisonInstructions.json): a JSON
 * list of instructions, each ending in "Options:", which our templates supply themselves.
 */
export function loadCaiPreferenceConstitution(file: string): Constitution {
  const raw = readJson(file);
  const parsed = madisonSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(parsed.error.issues[0].message, { file, field: '[]' });
  const principles = parsed.data.map((text, index) => ({
    id: `cai-pref-${String(index).padStart(2, '0')}`,
    text: text.trim().replace(/\s*Options:\s*$/, ''),
    weight: 1,
  }));
  return { name: 'cai-preference', principles };
}

/**
 * The paper's critique-and-revision list (CritiqueRevisionInstructions.json): the critique
 * request becomes the principle's text, the revision request its `revision`.
 */
export function loadCaiCritiqueConstitution(file: string): Constitution {
  const raw = readJson(file);
  const parsed = critiqueSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(issue.message, { file, field: formatFieldPath(issue.path as FieldPath) });
  }
  const principles = Object.entries(parsed.data).map(([id, entry]) => ({
    id,
    text: stripMarkers(entry.prompt[0], 'CritiqueRequest:', 'Critique:'),
    revision: stripMarkers(entry.edit_request, 'RevisionRequest:', 'Revision:'),
    weight: 1,
  }));
  return { name: 'cai-critique', principles };
}

function stripMarkers(text: string, head: string, tail: string): string {
  let out = text.trim();
  if (out.startsWith(head)) out = out.slice(head.length);
  if (out.endsWith(tail)) out = out.slice(0, -tail.length);
  return out.trim();
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InputError(`cannot read JSON: ${(error as Error).message}`, { file });
  }
}

/**
 * The principle for one comparison: drawn in proportion to the weights from a stream seeded by
 * (seed, key), so the same item gets the same principle whatever order or concurrency it is
 * judged in, and a resumed run repeats the original choices.
 */
export function principleFor(constitution: Constitution, seed: number | string, key: string):
  Principle {
  return samplePrinciple(constitution, makeRng(`${seed}/principle/${key}`).next());
}

/** Weight-proportional choice with a uniform number u in [0, 1). */
export function samplePrinciple(constitution: Constitution, u: number): Principle {
  const { principles } = constitution;
  const total = principles.reduce((sum, p) => sum + p.weight, 0);
  let remaining = u * total;
  for (const principle of principles) {
    remaining -= principle.weight;
    if (remaining < 0) return principle;
  }
  return principles[principles.length - 1];
}

/** Weighted mean of per-principle values (the "evaluate all and average" mode). */
export function weightedMean(values: { weight: number; value: number }[]): number {
  const total = values.reduce((sum, v) => sum + v.weight, 0);
  return values.reduce((sum, v) => sum + v.weight * v.value, 0) / total;
}

/**
 * The principles one judgement uses: the explicit one, else all of them ('all' mode), else one
 * drawn for the item's key ('sample' mode).
 */
export function principlesToUse(options: {
  constitution: Constitution;
  mode?: 'sample' | 'all';
  seed?: number | string;
  key: string;
  explicit?: Principle;
}): Principle[] {
  if (options.explicit) return [options.explicit];
  if (options.mode === 'all') return options.constitution.principles;
  return [principleFor(options.constitution, options.seed ?? 0, options.key)];
}
