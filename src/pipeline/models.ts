/**
 * Loads the run's models: resolves a name or path to files (model/hub.ts), reads them with the
 * format loader (llama2.c .bin + tokenizer, GGUF, a Hugging Face or rlaif checkpoint folder)
 * and builds the in-process LlamaModel.
 */
import { loadCheckpoint } from '../model/checkpoint.ts';
import { ModelNotFoundError, resolveModel, type ResolvedModel } from '../model/hub.ts';
import { LlamaModel } from '../model/llama.ts';
import { loadModel } from '../model/load.ts';
import type { Tokenizer } from '../model/types.ts';
import { InputError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { looksLikePath, type LoadedConfig } from './config.ts';

export interface ModelLocation {
  /** `--model` flag. */
  modelPath?: string;
  /** `--models-dir` flag. */
  modelsDir?: string;
  logger?: Logger;
  quiet?: boolean;
}

/** Finds the files of `model` (a name or a path), downloading a known model when needed. */
export async function locateModel(model: string, where: ModelLocation): Promise<ResolvedModel> {
  if (where.modelPath) {
    return resolveModel({ name: model, modelPath: where.modelPath, logger: where.logger });
  }
  if (looksLikePath(model)) return resolveModel({ name: model, modelPath: model, logger: where.logger });
  return resolveModel({ name: model, modelsDir: where.modelsDir, logger: where.logger, silent: where.quiet });
}

/**
 * Finds a model named in the run config; a missing one is reported at its config field (the
 * --model flag, when given, is reported by itself).
 */
export async function locateConfiguredModel(
  loaded: LoadedConfig,
  field: 'policy.model' | 'reference',
  where: ModelLocation,
): Promise<ResolvedModel> {
  const model = field === 'policy.model' ? loaded.config.policy.model : loaded.config.reference!;
  try {
    return await locateModel(model, where);
  } catch (error) {
    if (where.modelPath || !(error instanceof ModelNotFoundError)) throw error;
    const line = field === 'policy.model' ? loaded.lines?.policyModel : loaded.lines?.reference;
    throw new InputError(error.message, { file: loaded.file, line, field }, { cause: error });
  }
}

/** Builds a trainable LlamaModel from resolved files. */
export async function loadPolicy(files: ResolvedModel): Promise<LlamaModel> {
  const loaded = await loadModel(files.model, { tokenizerPath: files.tokenizer });
  return LlamaModel.fromWeights(loaded.config, loaded.weights, loaded.tokenizer);
}

/** A policy saved by saveCheckpoint (the run's final policy), with the start's tokenizer. */
export async function loadSavedPolicy(dir: string, tokenizer: Tokenizer): Promise<LlamaModel> {
  const saved = await loadCheckpoint(dir);
  return LlamaModel.fromWeights(saved.config, saved.weights, tokenizer);
}
