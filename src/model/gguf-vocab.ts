/**
 * The tokenizer stored in a GGUF file (`tokenizer.ggml.*`) as plain data, and its conversion to
 * a Hugging Face `tokenizer.json` so @huggingface/tokenizers can run it:
 * - "llama": a SentencePiece BPE vocabulary (pieces, scores, types). SentencePiece merges the
 *   adjacent pair whose joined piece scores highest; a BPE whose merge list is ordered by that
 *   score does the same, with bytes for characters outside the vocabulary (<0xHH> pieces).
 * - "gpt2": a byte-level BPE with explicit merges and a pre-tokenizer chosen by
 *   `tokenizer.ggml.pre`.
 */
import { ModelFormatError } from '../util/errors.ts';
import type { GgufFile } from './gguf-reader.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { SpmTokenizer, TokenType } from './tokenizer-spm.ts';
import type { Tokenizer } from './types.ts';


export interface GgufVocab {
  model: 'llama' | 'gpt2';
  /** Token strings: SentencePiece pieces (with ▁ for spaces) or byte-level BPE tokens. */
  tokens: string[];
  /** SentencePiece scores (llama); higher merges first. */
  scores?: number[];
  /** TokenType (tokenizer-spm.ts) per token; normal when absent. */
  tokenTypes?: number[];
  /** BPE merges "left right", first applied first (gpt2). */
  merges?: string[];
  bosId: number;
  eosId: number;
  unkId?: number;
  padId?: number;
  addBos?: boolean;
  /** SentencePiece's dummy-prefix space before the text (llama); default true. */
  addSpacePrefix?: boolean;
  /** llama.cpp's pre-tokenizer name for gpt2 vocabularies ("qwen2", "llama-bpe", "smollm", ...). */
  pre?: string;
}

function stringArray(file: GgufFile, key: string): string[] | undefined {
  const value = file.metadata.get(key);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ModelFormatError(file.path, `metadata "${key}" is not an array of strings`);
  }
  return value as string[];
}

function numberArray(file: GgufFile, key: string, length: number): number[] | undefined {
  const value = file.metadata.get(key);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number')) {
    throw new ModelFormatError(file.path, `metadata "${key}" is not an array of ${length} numbers`);
  }
  return value as number[];
}

function optionalId(file: GgufFile, key: string): number | undefined {
  const value = file.metadata.get(key);
  return typeof value === 'number' ? value : undefined;
}

/** The vocabulary stored in a GGUF file. */
export function ggufVocab(file: GgufFile): GgufVocab {
  const model = file.metadata.get('tokenizer.ggml.model');
  if (model !== 'llama' && model !== 'gpt2') {
    throw new ModelFormatError(
      file.path,
      model === undefined
        ? 'metadata "tokenizer.ggml.model" is missing: the file carries no tokenizer'
        : `tokenizer model "${String(model)}" is not supported (llama, gpt2 are)`,
    );
  }
  const tokens = stringArray(file, 'tokenizer.ggml.tokens');
  if (!tokens) throw new ModelFormatError(file.path, 'metadata "tokenizer.ggml.tokens" is missing');
  const bosId = optionalId(file, 'tokenizer.ggml.bos_token_id');
  const eosId = optionalId(file, 'tokenizer.ggml.eos_token_id');
  const addBos = file.metadata.get('tokenizer.ggml.add_bos_token');
  const pre = file.metadata.get('tokenizer.ggml.pre');
  const addSpacePrefix = file.metadata.get('tokenizer.ggml.add_space_prefix');
  return {
    model,
    tokens,
    scores: numberArray(file, 'tokenizer.ggml.scores', tokens.length),
    tokenTypes: numberArray(file, 'tokenizer.ggml.token_type', tokens.length),
    merges: stringArray(file, 'tokenizer.ggml.merges'),
    bosId: bosId ?? (model === 'llama' ? 1 : 0),
    eosId: eosId ?? (model === 'llama' ? 2 : 0),
    unkId: optionalId(file, 'tokenizer.ggml.unknown_token_id'),
    padId: optionalId(file, 'tokenizer.ggml.padding_token_id'),
    ...(typeof addBos === 'boolean' ? { addBos } : {}),
    ...(typeof pre === 'string' ? { pre } : {}),
    ...(typeof addSpacePrefix === 'boolean' ? { addSpacePrefix } : {}),
  };
}

/** Merges that make a BPE reproduce SentencePiece's highest-score-first merging. */
export function sentencePieceMerges(
  tokens: string[],
  scores: number[],
  types?: number[],
): [string, string][] {
  const isNormal = (id: number) => (types?.[id] ?? TokenType.normal) === TokenType.normal;
  const ids = new Map<string, number>();
  tokens.forEach((token, id) => {
    if (isNormal(id) && !ids.has(token)) ids.set(token, id);
  });
  const merges: { left: string; right: string; score: number; leftId: number; rightId: number }[] = [];
  tokens.forEach((token, id) => {
    if (!isNormal(id)) return;
    const chars = Array.from(token);
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      const leftId = ids.get(left);
      const rightId = ids.get(right);
      if (leftId !== undefined && rightId !== undefined) {
        merges.push({ left, right, score: scores[id], leftId, rightId });
      }
    }
  });
  // Highest score first; among equal scores, the lower ids first (a stable, documented order).
  merges.sort((a, b) => b.score - a.score || a.leftId - b.leftId || a.rightId - b.rightId);
  return merges.map((m) => [m.left, m.right]);
}

/** Split patterns of the byte-level pre-tokenizers llama.cpp names in `tokenizer.ggml.pre`. */
const CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|";
const PUNCTUATION_AND_SPACE = "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const PRE_TOKENIZER_PATTERNS: Record<string, string> = {
  // Numbers in runs of up to three digits (Llama-3) or one digit at a time (Qwen2).
  'llama-bpe': `${CONTRACTIONS}\\p{N}{1,3}${PUNCTUATION_AND_SPACE}`,
  qwen2: `${CONTRACTIONS}\\p{N}${PUNCTUATION_AND_SPACE}`,
};

function byteLevelPreTokenizer(pre: string | undefined): Record<string, unknown> {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const name = pre === 'llama3' ? 'llama-bpe' : pre;
  const pattern = name === undefined ? undefined : PRE_TOKENIZER_PATTERNS[name];
  if (pattern) {
    return {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
        { ...byteLevel, use_regex: false },
      ],
    };
  }
  if (pre === 'smollm' || pre === 'starcoder') {
    return { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel] };
  }
  // "gpt2", "default" and names not listed here: GPT-2's own split pattern.
  return byteLevel;
}

/** The vocabulary as an HF tokenizer.json object. */
export function tokenizerJsonFromVocab(vocab: GgufVocab): Record<string, unknown> {
  const types = vocab.tokenTypes ?? [];
  const vocabObject: Record<string, number> = {};
  vocab.tokens.forEach((token, id) => {
    if (!(token in vocabObject)) vocabObject[token] = id;
  });
  const added = vocab.tokens.flatMap((content, id) => {
    const type = types[id] ?? TokenType.normal;
    const special = type === TokenType.control || type === TokenType.unknown;
    if (!special && type !== TokenType.userDefined) return [];
    return [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special }];
  });

  if (vocab.model === 'llama') {
    if (!vocab.scores) throw new Error('a llama vocabulary needs scores');
    const unk = vocab.unkId !== undefined ? vocab.tokens[vocab.unkId] : null;
    return {
      version: '1.0',
      added_tokens: added,
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '\u2581' },
          { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
        ],
      },
      pre_tokenizer: null,
      post_processor: null,
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          { type: 'Strip', content: ' ', start: 1, stop: 0 },
        ],
      },
      model: {
        type: 'BPE', dropout: null, unk_token: unk, continuing_subword_prefix: null,
        end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
        vocab: vocabObject,
        merges: sentencePieceMerges(vocab.tokens, vocab.scores, vocab.tokenTypes),
      },
    };
  }

  if (!vocab.merges) throw new Error('a gpt2 vocabulary needs merges');
  return {
    version: '1.0',
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevelPreTokenizer(vocab.pre),
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: vocabObject,
      merges: vocab.merges.map((merge) => merge.split(' ', 2)),
    },
  };
}

/**
 * A Tokenizer for a GGUF vocabulary; `source` names the file in errors. SentencePiece
 * vocabularies run on SpmTokenizer (llama.cpp's merge rule, and a decode that drops only the
 * dummy-prefix space after BOS); byte-level BPE runs on @huggingface/tokenizers.
 */
export function tokenizerFromVocab(vocab: GgufVocab, source: string): Tokenizer {
  if (vocab.model === 'llama') {
    if (!vocab.scores) throw new ModelFormatError(source, 'metadata "tokenizer.ggml.scores" is missing');
    return new SpmTokenizer({
      pieces: vocab.tokens,
      scores: vocab.scores,
      ...(vocab.tokenTypes ? { tokenTypes: vocab.tokenTypes } : {}),
      bosId: vocab.bosId,
      eosId: vocab.eosId,
      unkId: vocab.unkId ?? 0,
      addDummyPrefix: vocab.addSpacePrefix ?? true,
    });
  }
  if (!vocab.merges) throw new ModelFormatError(source, 'metadata "tokenizer.ggml.merges" is missing');
  return new HfTokenizer(tokenizerJsonFromVocab(vocab), { bosId: vocab.bosId, eosId: vocab.eosId, source });
}

/**
 * A SentencePiece vocabulary for GGUF from pieces and scores as llama2.c's tokenizer file holds
 * them (spaces written as ' ', byte pieces as "<0xHH>"): spaces become ▁ again and each piece
 * gets its type. Ids 0, 1, 2 are <unk>, <s>, </s> in llama2.c vocabularies.
 */
export function vocabFromPieces(
  pieces: readonly string[],
  scores: readonly number[],
  ids: { bosId?: number; eosId?: number; unkId?: number } = {},
): GgufVocab {
  const { bosId = 1, eosId = 2, unkId = 0 } = ids;
  const tokens = pieces.map((piece) => piece.replaceAll(' ', '\u2581'));
  const tokenTypes = tokens.map((token, id) => {
    if (id === unkId) return TokenType.unknown;
    if (id === bosId || id === eosId) return TokenType.control;
    if (/^<0x[0-9A-F]{2}>$/.test(token)) return TokenType.byte;
    return TokenType.normal;
  });
  return { model: 'llama', tokens, scores: [...scores], tokenTypes, bosId, eosId, unkId, addBos: true };
}

/** The vocabulary of a SentencePiece tokenizer (as loaded from llama2.c's tokenizer.bin). */
export function vocabFromSpmTokenizer(tokenizer: SpmTokenizer): GgufVocab {
  const ids = Array.from({ length: tokenizer.vocabSize }, (_, id) => id);
  return vocabFromPieces(
    ids.map((id) => tokenizer.rawPiece(id)),
    ids.map((id) => tokenizer.score(id)),
    { bosId: tokenizer.bosId, eosId: tokenizer.eosId, unkId: tokenizer.unkId },
  );
}

/**
 * The tokenizer.json of one of our tokenizers, for checkpoints other tools can load:
 * SentencePiece vocabularies are converted, HF tokenizers give back the JSON they came from.
 */
export function tokenizerJsonOf(tokenizer: Tokenizer): Record<string, unknown> | undefined {
  if (tokenizer instanceof HfTokenizer) return tokenizer.json;
  if (tokenizer instanceof SpmTokenizer) return tokenizerJsonFromVocab(vocabFromSpmTokenizer(tokenizer));
  return undefined;
}

/** llama.cpp's pre-tokenizer name for a byte-level tokenizer.json's pre_tokenizer. */
function preTokenizerName(preTokenizer: unknown): string {
  const text = JSON.stringify(preTokenizer ?? null);
  for (const [name, pattern] of Object.entries(PRE_TOKENIZER_PATTERNS)) {
    if (text.includes(JSON.stringify(pattern))) return name;
  }
  return text.includes('"Digits"') ? 'smollm' : 'gpt2';
}

/**
 * The GGUF vocabulary of one of our tokenizers: SentencePiece ones as "llama", byte-level BPE
 * tokenizer.json ones as "gpt2" (merges, added tokens as control or user-defined tokens).
 */
export function vocabOf(tokenizer: Tokenizer): GgufVocab {
  if (tokenizer instanceof SpmTokenizer) return vocabFromSpmTokenizer(tokenizer);
  if (!(tokenizer instanceof HfTokenizer)) throw new Error('this tokenizer has no vocabulary to export');
  const { json } = tokenizer;
  const model = json.model as { type?: string; vocab: Record<string, number>; merges: (string | string[])[] };
  if (model.type !== 'BPE' || !JSON.stringify(json.decoder ?? '').includes('ByteLevel')) {
    throw new Error('only SentencePiece and byte-level BPE tokenizers can be exported to GGUF');
  }
  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  for (const [token, id] of Object.entries(model.vocab)) {
    tokens[id] = token;
    tokenTypes[id] = TokenType.normal;
  }
  for (const added of (json.added_tokens ?? []) as { id: number; content: string; special?: boolean }[]) {
    tokens[added.id] = added.content;
    tokenTypes[added.id] = added.special ? TokenType.control : TokenType.userDefined;
  }
  for (let id = 0; id < tokens.length; id++) {
    // Holes in the id range become unused placeholder tokens.
    if (tokens[id] === undefined) [tokens[id], tokenTypes[id]] = [`[PAD${id}]`, TokenType.unused];
  }
  return {
    model: 'gpt2',
    tokens,
    tokenTypes,
    merges: model.merges.map((merge) => (Array.isArray(merge) ? merge.join(' ') : merge)),
    bosId: tokenizer.bosId,
    eosId: tokenizer.eosId,
    pre: preTokenizerName(json.pre_tokenizer),
  };
}
