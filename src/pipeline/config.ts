/**
 * Loads a run config: YAML parsed with line positions, validated by the strict schema, paths
 * resolved against the config file, and every named file checked before any work starts. A
 * fault becomes an InputError naming the file, the line and the field.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

import { stringify } from 'yaml';

import { InputError } from '../util/errors.ts';
import { projectRoot } from '../util/paths.ts';
import { YamlSource, type FieldPath } from '../util/yaml-input.ts';
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
  /** Lines of fields named in messages raised after loading (absent: not written in the file). */
  lines?: { policyModel?: number; reference?: number };
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
  const source = YamlSource.parse(text, file);
  const config = source.validate(runConfigSchema);

  const base = dirname(file);
  const located = (value: string, path: FieldPath): string => {
    const full = isAbsolute(value) ? value : resolve(base, value);
    if (!existsSync(full)) throw source.error(`file not found: ${full}`, path);
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
        line: source.lineOf(['judge', 'backend']),
        field: 'judge.model',
      });
    }
    paths.judgeModel = located(config.judge.model, ['judge', 'model']);
  }
  if (config.judge.backend === 'openai-compatible' && !config.judge.baseUrl) {
    throw new InputError(
      'the openai-compatible judge needs baseUrl (e.g. http://127.0.0.1:8000/v1)',
      { file, line: source.lineOf(['judge', 'backend']), field: 'judge.baseUrl' },
    );
  }
  const lines = {
    policyModel: source.lineOf(['policy', 'model'], true),
    reference: source.lineOf(['reference'], true),
  };
  return { config, file, paths, lines };
}

/**
 * The config as stored in a run folder: defaults filled in and every file path absolute, so the
 * stored config.yaml runs again from wherever it is read.
 */
export function storedRunConfig(loaded: LoadedConfig): RunConfig {
  const { config, paths } = loaded;
  const base = dirname(loaded.file);
  return {
    ...config,
    runDir: resolve(config.runDir),
    policy: {
      ...config.policy,
      model: paths.policyModel ?? config.policy.model,
      ...(config.policy.tokenizer ? { tokenizer: resolve(base, config.policy.tokenizer) } : {}),
    },
    ...(config.reference ? { reference: paths.referenceModel ?? config.reference } : {}),
    prompts: { ...config.prompts, train: paths.trainPrompts, heldOut: paths.heldOutPrompts },
    judge: {
      ...config.judge,
      constitution: paths.constitution,
      ...(paths.judgeModel ? { model: paths.judgeModel } : {}),
    },
  };
}

/** The text of a run folder's config.yaml. */
export function storedConfigText(loaded: LoadedConfig): string {
  const header = '# The resolved config this run was started with (defaults filled in, paths absolute).';
  return `${header}\n${stringify(storedRunConfig(loaded))}`;
}

/** A model given with a folder separator or a file extension is a path, otherwise a name. */
export function looksLikePath(model: string): boolean {
  return model.includes('/') || model.includes('\\') || /\.(bin|gguf|safetensors)$/.test(model);
}
