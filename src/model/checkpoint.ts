/**
 * Checkpoints of what we train, as a Hugging Face-compatible folder: `model.safetensors` with
 * HF tensor names (F32) and a `config.json` that transformers reads as a Llama or Qwen2 config.
 *
 * RoPE: HF Llama code only knows the 'half' pairing, so interleaved models (llama2.c, GGUF
 * llama) are written with their q/k rows permuted into the half order, the inverse of what
 * llama.cpp's converter does. The file is then a plain HF checkpoint that other tools load with
 * the same logits. Our own config is kept under `rlaif.llamaConfig` in config.json so that
 * loadCheckpoint undoes the permutation and returns exactly the weights that were saved.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { z } from 'zod';

import { ModelFormatError } from '../util/errors.ts';
import {
  fromHfTensors,
  hfConfigFromLlama,
  llamaConfigFromHf,
  toHfTensors,
  withRopeStyle,
  type NamedTensor,
} from './hf-layout.ts';
import {
  readSafetensors,
  serializeSafetensors,
  tensorToFloat32,
  type SafetensorsFile,
} from './safetensors.ts';
import { tokenizerJsonOf } from './gguf-vocab.ts';
import { readJsonFile } from './model-file.ts';
import type { LlamaConfig, LlamaWeights, Tokenizer } from './types.ts';

export const CHECKPOINT_WEIGHTS_FILE = 'model.safetensors';
export const CHECKPOINT_CONFIG_FILE = 'config.json';

/** A tensor saved beside the model (a value or reward head, say). */
export interface ExtraTensor {
  shape: number[];
  data: Float32Array;
}

export interface SaveCheckpointOptions {
  /** Tensors saved under their own names beside the model's; default none. */
  extra?: Record<string, ExtraTensor>;
  /** Token ids recorded in config.json for other tools; default none. */
  bosId?: number;
  eosId?: number;
  /** Free-form strings stored in the safetensors `__metadata__`; default none. */
  metadata?: Record<string, string>;
  /**
   * Written as tokenizer.json (+ tokenizer_config.json) so the folder loads with its tokenizer;
   * default none. Its BOS/EOS ids are recorded in config.json unless given above.
   */
  tokenizer?: Tokenizer;
}

export interface LoadedCheckpoint {
  config: LlamaConfig;
  weights: LlamaWeights;
  /** Tensors in the file that are not part of the model. */
  extra: Map<string, ExtraTensor>;
  metadata: Record<string, string>;
}

export const llamaConfigSchema = z.object({
  dim: z.number().int().positive(),
  hiddenDim: z.number().int().positive(),
  nLayers: z.number().int().positive(),
  nHeads: z.number().int().positive(),
  nKvHeads: z.number().int().positive(),
  vocabSize: z.number().int().positive(),
  maxSeqLen: z.number().int().positive(),
  normEps: z.number().positive(),
  ropeTheta: z.number().positive(),
  ropeStyle: z.enum(['interleaved', 'half']),
  tiedEmbeddings: z.boolean(),
  qkvBias: z.boolean(),
});

/** Writes `model.safetensors` and `config.json` into `dir` (created if needed). */
export async function saveCheckpoint(
  dir: string,
  config: LlamaConfig,
  weights: LlamaWeights,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const half = withRopeStyle(config, weights, 'half');
  const tensors = toHfTensors(half.config, half.weights);
  const names = new Set(tensors.map((t) => t.name));
  for (const [name, tensor] of Object.entries(options.extra ?? {})) {
    if (names.has(name)) throw new Error(`extra tensor "${name}" clashes with a model tensor`);
    tensors.push({ name, shape: tensor.shape, data: tensor.data });
  }

  const { tokenizer } = options;
  const tokenIds = { bosId: options.bosId ?? tokenizer?.bosId, eosId: options.eosId ?? tokenizer?.eosId };
  const hfConfig = {
    ...hfConfigFromLlama(half.config, tokenIds),
    rlaif: { llamaConfig: config },
  };
  const bytes = serializeSafetensors(
    tensors.map((t): [string, { shape: number[]; data: Float32Array }] => [t.name, t]),
    { format: 'pt', ...options.metadata },
  );

  // Write beside, then rename: a killed save never leaves a half-written checkpoint behind.
  await mkdir(dir, { recursive: true });
  await replaceFile(join(dir, CHECKPOINT_WEIGHTS_FILE), bytes);
  if (tokenizer) await writeTokenizerFiles(dir, tokenizer);
  await replaceFile(join(dir, CHECKPOINT_CONFIG_FILE), JSON.stringify(hfConfig, null, 2) + '\n');
}

async function writeTokenizerFiles(dir: string, tokenizer: Tokenizer): Promise<void> {
  const json = tokenizerJsonOf(tokenizer);
  if (!json) throw new Error('this tokenizer cannot be saved as tokenizer.json');
  const tokenizerConfig = {
    bos_token: tokenizer.piece(tokenizer.bosId) || tokenString(json, tokenizer.bosId),
    eos_token: tokenizer.piece(tokenizer.eosId) || tokenString(json, tokenizer.eosId),
    clean_up_tokenization_spaces: false,
  };
  await replaceFile(join(dir, 'tokenizer.json'), JSON.stringify(json) + '\n');
  await replaceFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}

/** The spelling of token `id` in a tokenizer.json (added tokens first, then the vocabulary). */
function tokenString(json: Record<string, unknown>, id: number): string | undefined {
  const added = (json.added_tokens ?? []) as { id: number; content: string }[];
  const hit = added.find((t) => t.id === id);
  if (hit) return hit.content;
  const vocab = ((json.model ?? {}) as { vocab?: Record<string, number> }).vocab ?? {};
  return Object.keys(vocab).find((token) => vocab[token] === id);
}

async function replaceFile(path: string, contents: Uint8Array | string): Promise<void> {
  const temporary = `${path}.partial-${process.pid}`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

/**
 * Our config from a checkpoint's config.json: the `rlaif.llamaConfig` we stored, else the HF
 * fields. Also returns the config the tensors are laid out in (always 'half' for HF files).
 */
export function checkpointConfig(json: unknown, file: string): { stored: LlamaConfig; onDisk: LlamaConfig } {
  const onDisk = llamaConfigFromHf(json, file);
  const ours = (json as { rlaif?: { llamaConfig?: unknown } })?.rlaif?.llamaConfig;
  if (ours === undefined) return { stored: onDisk, onDisk };
  const parsed = llamaConfigSchema.safeParse(ours);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelFormatError(file, `field "rlaif.llamaConfig.${issue.path.join('.')}": ${issue.message}`);
  }
  return { stored: parsed.data, onDisk: { ...parsed.data, ropeStyle: 'half' } };
}

/** Float32 tensors of one or more safetensors files, looked up by name. */
export function tensorIndex(files: { path: string; file: SafetensorsFile }[]): Map<string, NamedTensor> {
  const index = new Map<string, NamedTensor>();
  for (const { path, file } of files) {
    for (const [name, tensor] of file.tensors) {
      index.set(name, { name, shape: tensor.shape, data: tensorToFloat32(tensor, path, name) });
    }
  }
  return index;
}

/** Reads a folder written by saveCheckpoint, returning exactly the config and weights saved. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const configPath = join(dir, CHECKPOINT_CONFIG_FILE);
  const { stored, onDisk } = checkpointConfig(await readJsonFile(configPath), configPath);
  const weightsPath = join(dir, CHECKPOINT_WEIGHTS_FILE);
  const file = await readSafetensors(weightsPath);
  const index = tensorIndex([{ path: weightsPath, file }]);

  const used = new Set<string>();
  const halfWeights = fromHfTensors(onDisk, (name) => {
    used.add(name);
    return index.get(name);
  }, weightsPath);
  const { weights } = withRopeStyle(onDisk, halfWeights, stored.ropeStyle);

  const extra = new Map<string, ExtraTensor>();
  for (const [name, tensor] of index) {
    if (!used.has(name)) extra.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return { config: stored, weights, extra, metadata: file.metadata };
}
