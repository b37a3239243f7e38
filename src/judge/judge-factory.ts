/**
 * Builds a pairwise judge from a few settings, the way the CLI and the pipeline name them:
 * a backend spec ("embedded", "openai:MODEL", "anthropic:MODEL", "gguf:PATH", "local:PATH"),
 * a constitution (a file, or a built-in name), and the operations settings. HTTP and local
 * backends are wrapped in the managed layer (cache in the given database, limits, retries,
 * budget).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type Database from 'better-sqlite3';
import { z } from 'zod';

import { AnthropicBackend } from '../providers/anthropic.ts';
import { Budget } from '../providers/budget.ts';
import { ManagedBackend } from '../providers/managed.ts';
import { OpenAIBackend } from '../providers/openai.ts';
import type { TextBackend } from '../providers/types.ts';
import { CallCache } from '../store/call-cache.ts';
import { InputError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { sharedDataDir } from '../util/paths.ts';
import { checkNames } from './checks.ts';
import {
  loadCaiCritiqueConstitution,
  loadCaiPreferenceConstitution,
  loadConstitution,
} from './constitution.ts';
import { childrenStoriesConstitution } from './default-judges.ts';
import { EmbeddedJudge } from './embedded.ts';
import { LengthCorrectedJudge } from './length-correction.ts';
import { LlmPairwiseJudge, type TiePolicy } from './pairwise.ts';
import { caiFewShotExamples, type PairwiseExample } from './templates.ts';
import type { Constitution, PairwiseJudge } from './types.ts';

export interface JudgeSettings {
  /** "embedded" (default), "openai:MODEL", "anthropic:MODEL", "gguf:PATH" or "local:PATH". */
  backend?: string;
  constitution: Constitution;
  /** Where the call cache lives; no cache without it. */
  db?: Database.Database;
  /** OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1. */
  baseUrl?: string;
  timeoutMs?: number;
  /** Calls in flight. Default 8. */
  concurrency?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  retries?: number;
  /** Spending cap in USD. Default: none. */
  budgetUsd?: number;
  /** Ask both orders. Default true. */
  bothOrders?: boolean;
  chainOfThought?: boolean;
  mode?: 'sample' | 'all';
  seed?: number;
  tiePolicy?: TiePolicy;
  topLogprobs?: number;
  /** LLM judges: worked examples shown before each question. */
  examples?: PairwiseExample[];
  /** Subtract this slope of logit P(A) on log(len A / len B) (from an audit). */
  lengthSlope?: number;
  /** Embedded judge: fallback checks with weights for principles without one. */
  checks?: Record<string, number>;
  /** Embedded judge: softness. Default 1. */
  temperature?: number;
  logger?: Logger;
}

export interface BuiltJudge {
  judge: PairwiseJudge;
  /** The managed backend of an LLM judge (its budget holds the totals). */
  backend?: ManagedBackend;
  close(): Promise<void>;
}

export async function createJudge(settings: JudgeSettings): Promise<BuiltJudge> {
  const spec = settings.backend ?? 'embedded';
  if (spec === 'embedded') {
    const judge = new EmbeddedJudge({
      name: `embedded:${settings.constitution.name}`,
      constitution: settings.constitution,
      checks: settings.checks,
      mode: settings.mode,
      seed: settings.seed,
      temperature: settings.temperature,
    });
    return { judge: withLength(judge, settings.lengthSlope), close: async () => undefined };
  }

  const backend = new ManagedBackend({
    backend: await createTextBackend(spec, settings),
    cache: settings.db ? new CallCache(settings.db) : undefined,
    concurrency: settings.concurrency,
    requestsPerMinute: settings.requestsPerMinute,
    tokensPerMinute: settings.tokensPerMinute,
    retries: settings.retries,
    budget: new Budget({ limitUsd: settings.budgetUsd }),
    logger: settings.logger,
  });
  const judge = new LlmPairwiseJudge({
    backend,
    constitution: settings.constitution,
    bothOrders: settings.bothOrders,
    chainOfThought: settings.chainOfThought,
    mode: settings.mode,
    seed: settings.seed,
    tiePolicy: settings.tiePolicy,
    topLogprobs: settings.topLogprobs,
    examples: settings.examples,
  });
  return { judge: withLength(judge, settings.lengthSlope), backend, close: () => backend.close() };
}

function withLength(judge: PairwiseJudge, slope: number | undefined): PairwiseJudge {
  return slope === undefined || slope === 0 ? judge : new LengthCorrectedJudge({ judge, slope });
}

/** Few-shot examples from a JSON file in the CAI paper's format ({prompt, corrects, incorrects}). */
export function loadFewShotExamples(file: string): PairwiseExample[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InputError(`cannot read few-shot examples: ${(error as Error).message}`, { file });
  }
  const parsed = fewShotSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(issue.message, { file, field: issue.path.join('.') });
  }
  return caiFewShotExamples(parsed.data);
}

const fewShotSchema = z.array(z.object({
  prompt: z.string(),
  corrects: z.array(z.string()).min(1),
  incorrects: z.array(z.string()).min(1),
}));

/** A raw backend from its spec (no cache, limits or retries). */
export async function createTextBackend(
  spec: string,
  settings: Pick<JudgeSettings, 'baseUrl' | 'timeoutMs'> = {},
): Promise<TextBackend> {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const target = colon < 0 ? '' : spec.slice(colon + 1);
  if (!target) {
    throw new InputError(`backend "${spec}" needs a model or path after "${kind}:"`, { field: 'backend' });
  }

  const http = { baseUrl: settings.baseUrl, timeoutMs: settings.timeoutMs };
  switch (kind) {
    case 'openai':
      return new OpenAIBackend({ model: target, ...http });
    case 'anthropic':
      return new AnthropicBackend({ model: target, ...http });
    case 'gguf': {
      const { LlamaCppBackend } = await import('../providers/llama-cpp.ts');
      return new LlamaCppBackend({ modelPath: target });
    }
    case 'local': {
      const [{ LlamaModel }, { CausalLMBackend }] = await Promise.all([
        import('../model/llama.ts'),
        import('../providers/causal-lm.ts'),
      ]);
      const model = await LlamaModel.fromLlama2c(target, { trainable: false });
      return new CausalLMBackend({ model, id: `local:${target.split(/[\\/]/).pop()}` });
    }
    default:
      throw new InputError(
        `unknown backend "${spec}"; use embedded, openai:MODEL, anthropic:MODEL, gguf:PATH or local:PATH`,
        { field: 'backend' },
      );
  }
}

/**
 * A constitution by name or path: "children-stories" (default), "cai-preference" and
 * "cai-critique" (the paper's lists in the data folder), or a YAML/JSON file. A JSON file
 * holding the paper's own formats is recognised by its shape.
 */
export function resolveConstitution(spec: string | undefined, options: { dataDir?: string } = {}):
  Constitution {
  const cai = join(options.dataDir ?? sharedDataDir(), 'cai');
  if (!spec || spec === 'children-stories') return childrenStoriesConstitution();
  if (spec === 'cai-preference') return loadCaiPreferenceConstitution(join(cai, 'RLMadisonInstructions.json'));
  if (spec === 'cai-critique') {
    return loadCaiCritiqueConstitution(join(cai, 'CritiqueRevisionInstructions.json'));
  }

  if (spec.endsWith('.json')) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(spec, 'utf8'));
    } catch {
      raw = undefined; // loadConstitution below reports the fault with its line.
    }
    if (Array.isArray(raw)) return loadCaiPreferenceConstitution(spec);
    if (raw && typeof raw === 'object' && !('principles' in raw) &&
      Object.values(raw).every((v) => typeof v === 'object' && v !== null && 'edit_request' in v)) {
      return loadCaiCritiqueConstitution(spec);
    }
  }
  return loadConstitution(spec, { knownChecks: checkNames });
}

/** Parses "name=weight,name=weight" (weight defaults to 1). */
export function parseCheckWeights(text: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, weight = '1'] = part.split('=');
    const value = Number(weight);
    if (!checkNames.includes(name) || !(value > 0)) {
      throw new InputError(`bad check "${part}"; known: ${checkNames.join(', ')}`, { field: 'checks' });
    }
    weights[name] = value;
  }
  return weights;
}
