/**
 * SentencePiece-style BPE tokenizer built from a vocabulary of pieces and merge scores: the
 * scheme of Llama-1/2 vocabularies, stored by llama2.c as `tokenizer.bin` and by GGUF as
 * `tokenizer.ggml.*`. Encoding adds a dummy-prefix space, splits the text into characters,
 * then repeatedly merges the adjacent pair whose concatenation is the best-scoring piece
 * (leftmost on ties); characters without a piece fall back to `<0xNN>` byte tokens.
 */
import { readFile } from 'node:fs/promises';

import { ModelFormatError } from '../util/errors.ts';
import type { Tokenizer } from './types.ts';

/** Token kinds, numbered as GGUF's `tokenizer.ggml.token_type` numbers them. */
export const TokenType = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

export interface SpmTokenizerOptions {
  /** Token texts. SentencePiece's '▁' (U+2581) stands for a space and is read as one. */
  pieces: readonly string[];
  /** Merge priority of each piece; higher merges first. */
  scores: ArrayLike<number>;
  /**
   * Kind of each piece (TokenType numbers). Default: ids `unkId`, `bosId`, `eosId` are
   * control/unknown, pieces spelled `<0xNN>` are bytes, the rest normal.
   */
  tokenTypes?: ArrayLike<number>;
  /** Default 1. */
  bosId?: number;
  /** Default 2. */
  eosId?: number;
  /** Default 0. */
  unkId?: number;
  /** Prepend a space to non-empty text before encoding, as SentencePiece does; default true. */
  addDummyPrefix?: boolean;
}

interface Symbol {
  start: number; // index of the first character
  text: string;
  prev: number;
  next: number;
  alive: boolean;
}

interface Candidate {
  score: number;
  left: number;
  right: number;
  leftText: string;
  rightText: string;
  id: number;
}

export class SpmTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;

  private readonly pieces: string[];
  private readonly scores: Float32Array;
  private readonly types: Uint8Array;
  /** Text -> id for pieces that may appear in encoded text (not control, byte or unused). */
  private readonly lookup = new Map<string, number>();
  /** Byte value -> id of its `<0xNN>` token, or -1. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly addDummyPrefix: boolean;
  private readonly utf8 = new TextDecoder('utf-8');

  constructor(options: SpmTokenizerOptions) {
    const { pieces, scores } = options;
    if (scores.length !== pieces.length) {
      throw new Error(`tokenizer has ${pieces.length} pieces but ${scores.length} scores`);
    }
    this.vocabSize = pieces.length;
    this.bosId = options.bosId ?? 1;
    this.eosId = options.eosId ?? 2;
    this.unkId = options.unkId ?? 0;
    this.addDummyPrefix = options.addDummyPrefix ?? true;
    this.pieces = pieces.map((p) => p.replaceAll('\u2581', ' '));
    this.scores = Float32Array.from(scores);
    this.types = new Uint8Array(pieces.length);

    for (let id = 0; id < pieces.length; id++) {
      const piece = this.pieces[id];
      const byteMatch = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      let type = options.tokenTypes?.[id];
      if (type === undefined) {
        if (id === this.unkId) type = TokenType.unknown;
        else if (id === this.bosId || id === this.eosId) type = TokenType.control;
        else if (byteMatch) type = TokenType.byte;
        else type = TokenType.normal;
      }
      this.types[id] = type;
      if (type === TokenType.byte && byteMatch) {
        this.byteIds[parseInt(byteMatch[1], 16)] = id;
      } else if (type === TokenType.normal || type === TokenType.userDefined) {
        // The first of duplicate pieces wins, as in llama2.c's sorted lookup.
        if (!this.lookup.has(piece)) this.lookup.set(piece, id);
      }
    }
  }

  encode(text: string, options: { bos?: boolean; eos?: boolean } = {}): number[] {
    const ids: number[] = [];
    if (options.bos) ids.push(this.bosId);
    if (text.length > 0) ids.push(...this.encodeText(this.addDummyPrefix ? ` ${text}` : text));
    if (options.eos) ids.push(this.eosId);
    return ids;
  }

  /**
   * Text of `ids`. Control tokens (BOS, EOS) print nothing; byte tokens are joined into UTF-8;
   * the dummy-prefix space is dropped right after BOS, so decoding a continuation without BOS
   * gives exactly the text that follows its prompt.
   */
  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    const encoder = new TextEncoder();
    let afterBos = false;
    for (const id of ids) {
      this.checkId(id);
      const type = this.types[id];
      if (id === this.bosId) {
        afterBos = true;
        continue;
      }
      if (type === TokenType.control || type === TokenType.unused) {
        afterBos = false;
        continue;
      }
      if (type === TokenType.byte) {
        bytes.push(parseInt(this.pieces[id].slice(3, 5), 16));
      } else {
        let piece = this.pieces[id];
        if (afterBos && piece.startsWith(' ')) piece = piece.slice(1);
        for (const b of encoder.encode(piece)) bytes.push(b);
      }
      afterBos = false;
    }
    return this.utf8.decode(new Uint8Array(bytes));
  }

  piece(id: number): string {
    this.checkId(id);
    const type = this.types[id];
    if (type === TokenType.control || type === TokenType.unused) return '';
    if (type === TokenType.byte) {
      return String.fromCharCode(parseInt(this.pieces[id].slice(3, 5), 16));
    }
    return this.pieces[id];
  }

  /** The raw piece text (with spaces for '▁'), including control tokens' text. */
  rawPiece(id: number): string {
    this.checkId(id);
    return this.pieces[id];
  }

  score(id: number): number {
    this.checkId(id);
    return this.scores[id];
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary of ${this.vocabSize}`);
    }
  }

  private encodeText(text: string): number[] {
    // One symbol per character; unknown characters become byte tokens straight away.
    const symbols: Symbol[] = [];
    const fixed: number[][] = []; // byte-fallback ids per symbol, when the char has no piece
    let charIndex = 0;
    for (const char of text) {
      const id = this.lookup.get(char);
      symbols.push({ start: charIndex++, text: char, prev: symbols.length - 1, next: -1,
        alive: true });
      fixed.push(id === undefined ? this.byteFallback(char) : []);
    }
    for (let i = 0; i < symbols.length - 1; i++) symbols[i].next = i + 1;

    const heap = new CandidateHeap();
    const consider = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      if (fixed[left].length > 0 || fixed[right].length > 0) return;
      const merged = symbols[left].text + symbols[right].text;
      const id = this.lookup.get(merged);
      if (id === undefined) return;
      heap.push({ score: this.scores[id], left, right, leftText: symbols[left].text,
        rightText: symbols[right].text, id });
    };
    for (let i = 0; i < symbols.length - 1; i++) consider(i, i + 1);

    // Best score first, leftmost on ties; stale candidates (a side already merged) are skipped.
    for (let best = heap.pop(); best; best = heap.pop()) {
      const left = symbols[best.left];
      const right = symbols[best.right];
      if (!left.alive || !right.alive || left.next !== best.right) continue;
      if (left.text !== best.leftText || right.text !== best.rightText) continue;
      left.text += right.text;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = best.left;
      consider(left.prev, best.left);
      consider(best.left, left.next);
    }

    const ids: number[] = [];
    for (let i = 0; i >= 0 && i < symbols.length; i = symbols[i].next) {
      if (fixed[i].length > 0) ids.push(...fixed[i]);
      else ids.push(this.lookup.get(symbols[i].text)!);
      if (symbols[i].next < 0) break;
    }
    return ids;
  }

  private byteFallback(char: string): number[] {
    const ids: number[] = [];
    for (const byte of new TextEncoder().encode(char)) {
      const id = this.byteIds[byte];
      ids.push(id >= 0 ? id : this.unkId);
    }
    return ids;
  }
}

/** Max-heap on (score, then leftmost position). */
class CandidateHeap {
  private readonly items: Candidate[] = [];

  push(item: Candidate): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && before(items[l], items[best])) best = l;
        if (r < items.length && before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

function before(a: Candidate, b: Candidate): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

/**
 * Reads llama2.c's `tokenizer.bin`: int32 max_token_length, then per token a float32 score,
 * an int32 byte length and the UTF-8 bytes. The vocabulary size is not stored; pass the
 * model's to check the file fits it.
 */
export async function loadLlama2cTokenizer(path: string,
  options: { vocabSize?: number } = {}): Promise<SpmTokenizer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ModelFormatError(path, `cannot read tokenizer (${(error as Error).message})`,
      { cause: error });
  }
  return parseLlama2cTokenizer(bytes, path, options);
}

export function parseLlama2cTokenizer(bytes: Uint8Array, file: string,
  options: { vocabSize?: number } = {}): SpmTokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) {
    throw new ModelFormatError(file, 'truncated llama2.c tokenizer: no max_token_length header');
  }
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > 1024) {
    throw new ModelFormatError(file,
      `not a llama2.c tokenizer: max_token_length ${maxTokenLength} is outside 1..1024`);
  }
  const decoder = new TextDecoder('utf-8');
  const pieces: string[] = [];
  const scores: number[] = [];
  let offset = 4;
  while (offset < bytes.byteLength) {
    if (options.vocabSize !== undefined && pieces.length === options.vocabSize) break;
    if (offset + 8 > bytes.byteLength) {
      throw new ModelFormatError(file, `truncated llama2.c tokenizer inside token ${pieces.length}`);
    }
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 0 || length > maxTokenLength || offset + length > bytes.byteLength) {
      throw new ModelFormatError(file,
        `llama2.c tokenizer token ${pieces.length} has byte length ${length} ` +
        `(max_token_length ${maxTokenLength}, ${bytes.byteLength - offset} bytes left)`);
    }
    pieces.push(decoder.decode(bytes.subarray(offset, offset + length)));
    scores.push(score);
    offset += length;
  }
  if (options.vocabSize !== undefined &&
      (pieces.length !== options.vocabSize || offset !== bytes.byteLength)) {
    const found = offset === bytes.byteLength ? `${pieces.length} tokens` : 'more tokens';
    throw new ModelFormatError(file,
      `tokenizer does not fit the model: it has ${found}, the model's vocabulary has ` +
      `${options.vocabSize}`);
  }
  return new SpmTokenizer({ pieces, scores });
}

/** Throws ModelFormatError if `tokenizer` cannot serve a model of `vocabSize` tokens. */
export function assertTokenizerFits(tokenizer: Tokenizer, vocabSize: number, file: string): void {
  if (tokenizer.vocabSize !== vocabSize) {
    throw new ModelFormatError(file,
      `tokenizer does not fit the model: it has ${tokenizer.vocabSize} tokens, the model's ` +
      `vocabulary has ${vocabSize}`);
  }
}
