/**
 * Loads a Hugging Face model folder of the Llama, Qwen2 or SmolLM family: `config.json`,
 * `model.safetensors` (or shards listed in `model.safetensors.index.json`) and
 * `tokenizer.json` (+ `tokenizer_config.json`). Our own checkpoints are such folders too; their
 * `rlaif.llamaConfig` restores the RoPE layout they were trained in.
 *
 * Tokenizers: a SentencePiece-style tokenizer.json (BPE with byte fallback and a ▁ prefix, as
 * Llama-1/2 ship) runs on SpmTokenizer, the same code as llama2.c and GGUF vocabularies, so a
 * model decodes the same text whichever format it came in. Others (byte-level BPE of Qwen2,
 * SmolLM, Llama-3) run on @huggingface/tokenizers.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { ModelFormatError } from '../util/errors.ts';
import { checkpointConfig, tensorIndex } from './checkpoint.ts';
import { fromHfTensors, withRopeStyle } from './hf-layout.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { readJsonFile } from './model-file.ts';
import { readSafetensors } from './safetensors.ts';
import { SpmTokenizer, TokenType } from './tokenizer-spm.ts';
import type { LlamaConfig, LlamaWeights, Tokenizer } from './types.ts';

export interface HfModel {
  config: LlamaConfig;
  weights: LlamaWeights;
  tokenizer: Tokenizer;
  /** 'checkpoint' when the folder was written by saveCheckpoint. */
  format: 'hf' | 'checkpoint';
}

export interface LoadHfModelOptions {
  /** Supplies the tokenizer instead of the folder's tokenizer.json (e.g. a llama2.c tokenizer file). */
  tokenizer?: (config: LlamaConfig) => Promise<Tokenizer>;
}

/** Reads config, weights and tokenizer of an HF model folder. */
export async function loadHfModel(dir: string, options: LoadHfModelOptions = {}): Promise<HfModel> {
  const configPath = join(dir, 'config.json');
  const configJson = await readJsonFile(configPath);
  const { stored, onDisk } = checkpointConfig(configJson, configPath);
  const format = (configJson as { rlaif?: unknown }).rlaif === undefined ? 'hf' : 'checkpoint';

  const files = await readWeightFiles(dir);
  const index = tensorIndex(files);
  const source = files.length === 1 ? files[0].path : join(dir, 'model.safetensors.index.json');
  const weights = fromHfTensors(onDisk, (name) => index.get(name), source);
  const restored = withRopeStyle(onDisk, weights, stored.ropeStyle);

  const tokenizer = options.tokenizer
    ? await options.tokenizer(stored)
    : await loadHfTokenizer(dir, configJson as Record<string, unknown>);
  if (tokenizer.vocabSize > stored.vocabSize) {
    throw new ModelFormatError(
      join(dir, 'tokenizer.json'),
      `tokenizer does not fit the model: it has ${tokenizer.vocabSize} tokens, ` +
        `the model's vocabulary has ${stored.vocabSize}`,
    );
  }
  return { config: stored, weights: restored.weights, tokenizer, format };
}

async function readWeightFiles(dir: string) {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [{ path: single, file: await readSafetensors(single) }];

  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexPath)) {
    throw new ModelFormatError(dir, 'no model.safetensors or model.safetensors.index.json in the folder');
  }
  const index = (await readJsonFile(indexPath)) as { weight_map?: unknown };
  const weightMap = index.weight_map;
  const valid = weightMap && typeof weightMap === 'object' &&
    Object.values(weightMap).every((file) => typeof file === 'string');
  if (!valid) {
    throw new ModelFormatError(indexPath, 'field "weight_map": expected an object of tensor → file names');
  }
  const shards = [...new Set(Object.values(weightMap as Record<string, string>))];
  const files = [];
  for (const shard of shards) {
    if (shard.includes('/') || shard.includes('\\')) {
      throw new ModelFormatError(indexPath, `field "weight_map": shard "${shard}" is not a plain file name`);
    }
    const path = join(dir, shard);
    files.push({ path, file: await readSafetensors(path) });
  }
  return files;
}

/** A special token as tokenizer_config.json spells it: a string or {content}. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** The tokenizer of an HF folder; `modelConfig` (config.json) supplies BOS/EOS ids if given. */
export async function loadHfTokenizer(
  dir: string,
  modelConfig: Record<string, unknown> = {},
): Promise<Tokenizer> {
  const path = join(dir, 'tokenizer.json');
  const json = (await readJsonFile(path)) as Record<string, unknown>;
  const configPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(configPath)
    ? ((await readJsonFile(configPath)) as Record<string, unknown>)
    : {};
  return tokenizerFromHfJson(json, { tokenizerConfig, modelConfig, source: path });
}

/** The parts of tokenizer.json read here. */
interface BpeModelJson {
  type?: string;
  vocab?: Record<string, number>;
  merges?: unknown[];
  byte_fallback?: boolean;
  unk_token?: string;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

export interface HfTokenizerSources {
  tokenizerConfig?: Record<string, unknown>;
  modelConfig?: Record<string, unknown>;
  source: string;
}

/** Builds our Tokenizer from tokenizer.json contents (see the module comment for which kind). */
export function tokenizerFromHfJson(json: Record<string, unknown>, sources: HfTokenizerSources): Tokenizer {
  const { tokenizerConfig = {}, modelConfig = {}, source } = sources;
  const model = json.model as BpeModelJson | undefined;
  if (!model || typeof model.vocab !== 'object' || model.vocab === null) {
    throw new ModelFormatError(source, 'field "model.vocab": missing; not a tokenizer.json');
  }
  const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as AddedTokenJson[];
  const idOf = (token: string | undefined) =>
    token === undefined ? undefined : added.find((t) => t.content === token)?.id ?? model.vocab![token];
  const firstId = (value: unknown) => (Array.isArray(value) ? value[0] : value) as number | undefined;
  const eosId = firstId(modelConfig.eos_token_id) ?? idOf(tokenContent(tokenizerConfig.eos_token));
  const bosId = firstId(modelConfig.bos_token_id) ?? idOf(tokenContent(tokenizerConfig.bos_token)) ?? eosId;
  if (typeof eosId !== 'number' || typeof bosId !== 'number') {
    throw new ModelFormatError(
      source,
      'no EOS token: neither config.json eos_token_id nor tokenizer_config.json eos_token names one',
    );
  }

  if (isSentencePieceStyle(json)) return spmFromHfJson(json, model, added, { bosId, eosId });
  return new HfTokenizer(json, { config: tokenizerConfig, bosId, eosId, source });
}

/** BPE with byte fallback whose text gets a ▁ prefix and ▁ for spaces: Llama-1/2 style. */
function isSentencePieceStyle(json: Record<string, unknown>): boolean {
  const model = json.model as { type?: string; byte_fallback?: boolean };
  const text = JSON.stringify([json.normalizer, json.pre_tokenizer]);
  return model.type === 'BPE' && model.byte_fallback === true && text.includes('\u2581');
}

/**
 * SpmTokenizer from an SPM-style tokenizer.json. SentencePiece merges the pair whose joined
 * piece scores highest; scoring each piece by minus the rank of the first merge that forms it
 * makes that rule apply the merges in tokenizer.json order.
 */
function spmFromHfJson(
  json: Record<string, unknown>,
  model: BpeModelJson,
  added: AddedTokenJson[],
  ids: { bosId: number; eosId: number },
): SpmTokenizer {
  // A loop, not Math.max(...ids): spreading 150k-entry vocabularies overflows the call stack.
  const allIds = [...Object.values(model.vocab!), ...added.map((t) => t.id)];
  const size = allIds.reduce((a, b) => Math.max(a, b), -1) + 1;
  const pieces = new Array<string>(size).fill('');
  for (const [piece, id] of Object.entries(model.vocab!)) pieces[id] = piece;
  for (const token of added) pieces[token.id] = token.content;

  const scoreOf = new Map<string, number>();
  (model.merges ?? []).forEach((merge, rank) => {
    const [left, right] = Array.isArray(merge) ? merge as string[] : String(merge).split(' ', 2);
    if (!scoreOf.has(left + right)) scoreOf.set(left + right, -rank);
  });
  const unkId = model.unk_token !== undefined ? model.vocab![model.unk_token] ?? 0 : 0;
  const special = new Set(added.filter((t) => t.special).map((t) => t.id));
  const tokenTypes = pieces.map((piece, id) => {
    if (id === unkId) return TokenType.unknown;
    if (special.has(id)) return TokenType.control;
    if (/^<0x[0-9A-F]{2}>$/.test(piece)) return TokenType.byte;
    return TokenType.normal;
  });
  // Pieces no merge forms (single characters) never win a merge.
  const scores = pieces.map((piece) => scoreOf.get(piece) ?? -1e9);
  const prefixed = JSON.stringify([json.normalizer, json.pre_tokenizer]);
  const addDummyPrefix = prefixed.includes('Prepend') ||
    /"prepend_scheme":"(first|always)"|"add_prefix_space":true/.test(prefixed);
  return new SpmTokenizer({ pieces, scores, tokenTypes, ...ids, unkId, addDummyPrefix });
}
