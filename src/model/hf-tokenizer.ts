/**
 * Our Tokenizer over a Hugging Face `tokenizer.json`, through @huggingface/tokenizers. Serves
 * HF model folders and the vocabularies inside GGUF files (converted to tokenizer.json form).
 * BOS/EOS are added here, never by the library's post-processor, so `encode` adds exactly
 * what the caller asks for.
 */
import { Tokenizer as HfTokenizerCore } from '@huggingface/tokenizers';

import { ModelFormatError } from '../util/errors.ts';
import type { Tokenizer } from './types.ts';

/** How single token strings map back to text: SentencePiece (▁, <0xHH>) or GPT-2 byte-level. */
export type PieceStyle = 'sentencepiece' | 'byte-level';

export interface HfTokenizerOptions {
  /** tokenizer_config.json contents; default {}. */
  config?: Record<string, unknown>;
  bosId: number;
  eosId: number;
  /** Where the tokenizer came from, for error messages. */
  source: string;
}

/** GPT-2's printable stand-ins for bytes, inverted: stand-in char code → byte value. */
function byteLevelDecoder(): Map<number, number> {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const map = new Map<number, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (direct.includes(b)) map.set(b, b);
    else map.set(256 + shifted++, b);
  }
  return map;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** The tokenizer.json contents this tokenizer was built from. */
  readonly json: Record<string, unknown>;
  private readonly core: HfTokenizerCore;
  private readonly pieceStyle: PieceStyle;
  private readonly specialIds: Set<number>;
  /** Added tokens that are plain text (not special): their content is their text. */
  private readonly addedTextIds: Set<number>;
  private readonly utf8 = new TextDecoder('utf-8');
  private byteLevel?: Map<number, number>;

  constructor(tokenizerJson: Record<string, unknown>, options: HfTokenizerOptions) {
    const config = { clean_up_tokenization_spaces: false, ...options.config };
    try {
      this.core = new HfTokenizerCore(tokenizerJson, config);
    } catch (error) {
      const problem = `tokenizer cannot be built: ${(error as Error).message}`;
      throw new ModelFormatError(options.source, problem, { cause: error });
    }
    const vocab = this.core.get_vocab(true);
    // A loop, not Math.max(...ids): spreading 150k-entry vocabularies overflows the call stack.
    let largest = -1;
    for (const id of vocab.values()) largest = Math.max(largest, id);
    this.vocabSize = largest + 1;
    this.json = tokenizerJson;
    this.bosId = options.bosId;
    this.eosId = options.eosId;
    const added = (tokenizerJson.added_tokens ?? []) as { id: number; special?: boolean }[];
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
    this.addedTextIds = new Set(added.filter((t) => !t.special).map((t) => t.id));
    const decoder = JSON.stringify(tokenizerJson.decoder ?? '');
    this.pieceStyle = decoder.includes('ByteLevel') ? 'byte-level' : 'sentencepiece';
  }

  encode(text: string, options: { bos?: boolean; eos?: boolean } = {}): number[] {
    const ids = text.length > 0 ? this.core.encode(text, { add_special_tokens: false }).ids : [];
    return [...(options.bos ? [this.bosId] : []), ...ids, ...(options.eos ? [this.eosId] : [])];
  }

  decode(ids: readonly number[]): string {
    const kept = ids.filter((id) => !this.specialIds.has(id) && id !== this.bosId && id !== this.eosId);
    return kept.length > 0 ? this.core.decode([...kept], { skip_special_tokens: true }) : '';
  }

  piece(id: number): string {
    if (this.specialIds.has(id) || id === this.bosId || id === this.eosId) return '';
    const token = this.core.id_to_token(id);
    if (token === undefined) return '';
    if (this.addedTextIds.has(id)) return token;
    if (this.pieceStyle === 'sentencepiece') {
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
      if (byte) return this.utf8.decode(new Uint8Array([parseInt(byte[1], 16)]));
      return token.replaceAll('\u2581', ' ');
    }
    this.byteLevel ??= byteLevelDecoder();
    const bytes = Array.from(token, (ch: string) => this.byteLevel!.get(ch.codePointAt(0)!) ?? 0x3f);
    return this.utf8.decode(new Uint8Array(bytes));
  }

  /** The token string of an id as the vocabulary spells it. */
  tokenString(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  idOf(token: string): number | undefined {
    return this.core.token_to_id(token);
  }
}
