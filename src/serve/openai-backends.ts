/**
 * Text backends from a command-line spec, for `rlaif serve openai` and `rlaif cai`:
 *
 * - a path: a local model in-process (llama2.c `.bin`, a Hugging Face or checkpoint folder), or a
 *   `.gguf` through node-llama-cpp;
 * - "openai:<model>": any OpenAI-compatible server (base URL and key from the environment);
 * - "anthropic:<model>": the Anthropic API (key from the environment).
 *
 * Heavy modules load only when their kind is asked for.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';

import type { LlamaModel } from '../model/llama.ts';
import type { TextBackend } from '../providers/types.ts';
import { InputError } from '../util/errors.ts';

export interface LoadedBackend {
  backend: TextBackend;
  /** A short name: the file name without extension, or the remote model. */
  name: string;
  /** The in-process model, when there is one (for SFT). */
  model?: LlamaModel;
  dispose(): Promise<void>;
}

/** The in-process model at `path` (any format loadModel reads). */
export async function loadLocalModel(
  path: string,
  options: { trainable?: boolean } = {},
): Promise<LlamaModel> {
  const { loadModel } = await import('../model/load.ts');
  const { LlamaModel } = await import('../model/llama.ts');
  const loaded = await loadModel(path);
  const { tokenizer } = loaded;
  // llama2.c story models end a story with BOS rather than EOS.
  const endTokens = loaded.format === 'llama2c' ? [tokenizer.eosId, tokenizer.bosId] : undefined;
  return LlamaModel.fromWeights(loaded.config, loaded.weights, tokenizer, {
    trainable: options.trainable ?? false,
    endTokens,
  });
}

export async function loadTextBackend(spec: string, field = '--model'): Promise<LoadedBackend> {
  const remote = /^(openai|anthropic):(.+)$/.exec(spec);
  if (remote) {
    const [, kind, model] = remote;
    if (kind === 'openai') {
      const { OpenAIBackend } = await import('../providers/openai.ts');
      return { backend: new OpenAIBackend({ model }), name: model, dispose: async () => {} };
    }
    const { AnthropicBackend } = await import('../providers/anthropic.ts');
    return { backend: new AnthropicBackend({ model }), name: model, dispose: async () => {} };
  }

  if (!existsSync(spec)) {
    throw new InputError(
      'no such model file or folder (or use openai:<model>, anthropic:<model>)',
      { file: spec, field },
    );
  }
  const name = basename(spec).replace(/\.(bin|gguf)$/, '');
  if (spec.endsWith('.gguf')) {
    const { LlamaCppBackend } = await import('../providers/llama-cpp.ts');
    const backend = new LlamaCppBackend({ modelPath: spec });
    return { backend, name, dispose: async () => backend.close?.() };
  }
  const { CausalLMBackend } = await import('../providers/causal-lm.ts');
  const model = await loadLocalModel(spec);
  return {
    backend: new CausalLMBackend({ model, id: `local:${name}` }),
    name,
    model,
    dispose: async () => model.dispose(),
  };
}
