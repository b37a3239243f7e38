/**
 * Loads the run's models: resolves a name or path to files (model/hub.ts), reads the llama2.c
 * checkpoint and tokenizer, or a checkpoint folder written by the trainers, and builds the
 * in-process LlamaModel.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { loadCheckpoint } from '../model/checkpoint.ts';
import { resolveModel, type ResolvedModel } from '../model/hub.ts';
import { LlamaModel } from '../model/llama.ts';
import { loadLlama2cCheckpoint } from '../model/llama2c.ts';
import { loadLlama2cTokenizer } from '../model/tokenizer-spm.ts';
import type { Tokenizer } from '../model/types.ts';
import { RlaifError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { looksLikePath } from './config.ts';

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

/** Builds a trainable LlamaModel from resolved files. */
export async function loadPolicy(files: ResolvedModel): Promise<LlamaModel> {
  if (statSync(files.model).isDirectory()) {
    throw new RlaifError(`${files.model}: loading model folders is not supported by rlaif run yet; ` +
      'pass a llama2.c .bin file');
  }
  if (!files.model.endsWith('.bin')) {
    throw new RlaifError(`${files.model}: rlaif run trains llama2.c .bin checkpoints; ` +
      'other formats can be judged with or served');
  }
  const checkpoint = await loadLlama2cCheckpoint(files.model);
  const tokenizerPath = files.tokenizer ?? join(files.model, '..', 'tok512.bin');
  if (!existsSync(tokenizerPath)) {
    throw new RlaifError(`no tokenizer beside ${files.model}: expected ${tokenizerPath}`);
  }
  const tokenizer = await loadLlama2cTokenizer(tokenizerPath, { vocabSize: checkpoint.config.vocabSize });
  return LlamaModel.fromWeights(checkpoint.config, checkpoint.weights, tokenizer);
}

/** A policy saved by saveCheckpoint (the run's final policy), with the start's tokenizer. */
export async function loadSavedPolicy(dir: string, tokenizer: Tokenizer): Promise<LlamaModel> {
  const saved = await loadCheckpoint(dir);
  return LlamaModel.fromWeights(saved.config, saved.weights, tokenizer);
}
