import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ModelFormatError } from '../util/errors.ts';
import { sharedModelsDir } from '../util/paths.ts';
import {
  assertTokenizerFits,
  loadLlama2cTokenizer,
  parseLlama2cTokenizer,
  SpmTokenizer,
} from './tokenizer-spm.ts';

const tokenizerPath = join(sharedModelsDir(), 'stories260K', 'tok512.bin');

/** llama2.c's encode, transcribed as plainly as possible: quadratic, no heap. */
function referenceEncode(vocab: string[], scores: number[], text: string): number[] {
  const lookup = (s: string) => vocab.indexOf(s);
  const tokens: number[] = [1];
  if (text.length > 0) tokens.push(lookup(' '));
  for (const char of text) {
    const id = lookup(char);
    if (id >= 3 && !/^<0x/.test(char)) tokens.push(id);
    else for (const byte of new TextEncoder().encode(char)) tokens.push(byte + 3);
  }
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 1; i < tokens.length - 1; i++) {
      const id = lookup(vocab[tokens[i]] + vocab[tokens[i + 1]]);
      if (id !== -1 && scores[id] > bestScore) {
        bestScore = scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

function readVocab(): { vocab: string[]; scores: number[] } {
  const bytes = readFileSync(tokenizerPath);
  const vocab: string[] = [];
  const scores: number[] = [];
  let offset = 4;
  while (offset < bytes.length) {
    scores.push(bytes.readFloatLE(offset));
    const length = bytes.readInt32LE(offset + 4);
    vocab.push(bytes.toString('utf8', offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return { vocab, scores };
}

describe('SentencePiece-style tokenizer', () => {
  const { vocab, scores } = readVocab();

  it('encodes "Once upon a time" as llama2.c does', async () => {
    const tokenizer = await loadLlama2cTokenizer(tokenizerPath, { vocabSize: 512 });
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
    expect(tokenizer.encode('Once upon a time', { bos: true, eos: true }).at(-1)).toBe(2);
    expect(tokenizer.encode('')).toEqual([]);
  });

  it('matches the plain llama2.c merge loop on varied text, with byte fallback', async () => {
    const tokenizer = await loadLlama2cTokenizer(tokenizerPath);
    const texts = [
      'Lily and Ben went to the park. They saw a big dog!',
      '  two  spaces, tabs\tand\nnew lines\n\n',
      'héllo wörld, naïve café — “quotes” ✓ 😀 日本',
      'aaaaaaaaaaaaaaaaaaaa the the the thethe',
      'Tom said, "I want to play with the red ball," and smiled.',
    ];
    for (const text of texts) {
      expect(tokenizer.encode(text, { bos: true })).toEqual(referenceEncode(vocab, scores, text));
    }
  });

  it('decodes to the exact text after BOS, joining byte tokens into UTF-8', async () => {
    const tokenizer = await loadLlama2cTokenizer(tokenizerPath);
    const text = 'héllo ✓ 😀 world\n\nend';
    const ids = tokenizer.encode(text, { bos: true });
    expect(ids.some((id) => id >= 3 && id < 259)).toBe(true); // some byte tokens
    expect(tokenizer.decode(ids)).toBe(text);
    // Without BOS the dummy-prefix space stays: the text as it follows a prompt.
    expect(tokenizer.decode(ids.slice(1))).toBe(` ${text}`);
    expect(tokenizer.piece(403)).toBe(' Once');
    expect(tokenizer.piece(1)).toBe('');
    expect(tokenizer.decode([1, 403, 2])).toBe('Once');
  });

  it('builds from SentencePiece pieces with ▁ and explicit token types', () => {
    const tokenizer = new SpmTokenizer({
      pieces: ['<unk>', '<s>', '</s>', '<0x41>', '▁', 'a', 'b', '▁a', 'ab', '▁ab'],
      scores: [0, 0, 0, 0, -1, -2, -3, -4, -5, -6],
      tokenTypes: [2, 3, 3, 6, 1, 1, 1, 1, 1, 1],
    });
    // Merges by score: '▁a' (-4) beats 'ab' (-5); then '▁a'+'b' -> '▁ab'.
    expect(tokenizer.encode('ab')).toEqual([9]);
    expect(tokenizer.encode('ba')).toEqual([4, 6, 5]);
    expect(tokenizer.encode('A')).toEqual([4, 3]); // 'A' only as a byte token
    expect(tokenizer.decode([1, 9, 3])).toBe('abA');
  });

  it('fails naming the file when the tokenizer does not fit the model', () => {
    const bytes = readFileSync(tokenizerPath);
    expect(() => parseLlama2cTokenizer(bytes, 'tok.bin', { vocabSize: 32000 })).toThrow(
      /^tok\.bin: tokenizer does not fit the model: it has 512 tokens, the model's vocabulary has 32000$/);
    expect(() => parseLlama2cTokenizer(bytes, 'tok.bin', { vocabSize: 500 })).toThrow(
      /^tok\.bin: tokenizer does not fit the model/);
    expect(() => parseLlama2cTokenizer(bytes.subarray(0, 1000), 'tok.bin')).toThrow(ModelFormatError);
    expect(() => parseLlama2cTokenizer(bytes.subarray(0, 1000), 'tok.bin')).toThrow(/tok\.bin: .*token/);
    const tokenizer = new SpmTokenizer({ pieces: ['<unk>', '<s>', '</s>'], scores: [0, 0, 0] });
    expect(() => assertTokenizerFits(tokenizer, 512, 'tok.model')).toThrow(
      /^tok\.model: tokenizer does not fit the model: it has 3 tokens/);
  });
});
