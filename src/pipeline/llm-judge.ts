/**
 * The training judge over a real model: an OpenAI-compatible server (OpenAI, vLLM, Ollama,
 * llama.cpp's server), Anthropic, or a local GGUF, wrapped in the managed layer (call cache in
 * the run's store, bounded concurrency, retries, spending cap) and asked pairwise in both
 * orders by the constitution's principles.
 */
import type Database from 'better-sqlite3';

import { LlmPairwiseJudge } from '../judge/pairwise.ts';
import type { Constitution, PairwiseJudge } from '../judge/types.ts';
import { AnthropicBackend } from '../providers/anthropic.ts';
import { Budget } from '../providers/budget.ts';
import { ManagedBackend } from '../providers/managed.ts';
import { OpenAIBackend } from '../providers/openai.ts';
import type { TextBackend } from '../providers/types.ts';
import { CallCache } from '../store/call-cache.ts';
import { InputError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import type { LoadedConfig } from './config.ts';

export interface LlmJudgeOptions {
  /** The run's store: every call is cached there, so a rerun costs nothing. */
  db?: Database.Database;
  logger?: Logger;
}

export async function buildLlmJudge(
  loaded: LoadedConfig,
  constitution: Constitution,
  options: LlmJudgeOptions = {},
): Promise<PairwiseJudge> {
  const { judge } = loaded.config;
  const apiKey = judge.apiKeyEnv ? process.env[judge.apiKeyEnv] : undefined;
  if (judge.apiKeyEnv && !apiKey) {
    throw new InputError(`the environment variable ${judge.apiKeyEnv} is not set`, {
      file: loaded.file,
      field: 'judge.apiKeyEnv',
    });
  }

  let backend: TextBackend;
  if (judge.backend === 'openai-compatible') {
    backend = new OpenAIBackend({ model: judge.model ?? 'default', baseUrl: judge.baseUrl, apiKey });
  } else if (judge.backend === 'anthropic') {
    backend = new AnthropicBackend({
      model: judge.model ?? 'claude-3-5-haiku-latest',
      baseUrl: judge.baseUrl,
      apiKey,
    });
  } else {
    backend = await ggufBackend(loaded.paths.judgeModel!);
  }

  const managed = new ManagedBackend({
    backend,
    cache: options.db ? new CallCache(options.db) : undefined,
    concurrency: judge.concurrency,
    budget: new Budget({ limitUsd: judge.maxCostUsd ?? Infinity }),
    logger: options.logger,
  });
  return new LlmPairwiseJudge({
    backend: managed,
    constitution,
    bothOrders: judge.bothOrders,
    mode: judge.principles,
    seed: loaded.config.seed,
  });
}

/** node-llama-cpp backend over a local .gguf file. */
async function ggufBackend(path: string): Promise<TextBackend> {
  const { createTextBackend } = await import('../judge/judge-factory.ts');
  return createTextBackend(`gguf:${path}`);
}
