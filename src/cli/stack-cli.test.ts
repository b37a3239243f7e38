import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readPrompts } from './cai.ts';
import { parseSourceSpec } from './serve.ts';

describe('rlaif serve reward --source', () => {
  it('parses name[:weight][:optional]', () => {
    expect(parseSourceSpec('numeric')).toMatchObject({ weight: 1, required: true });
    expect(parseSourceSpec('numeric').source.id).toBe('verifier:numeric');
    expect(parseSourceSpec('json:0.25:optional')).toMatchObject({ weight: 0.25, required: false });
    expect(() => parseSourceSpec('nope')).toThrow('field "--source"');
    expect(() => parseSourceSpec('numeric:-1')).toThrow(/weight/);
    expect(() => parseSourceSpec('numeric:1:sometimes')).toThrow('field "--source"');
  });
});

describe('rlaif cai --prompts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rlaif-cli-'));

  it('reads text lines and JSONL prompts, naming file and line of a bad row', () => {
    const text = join(dir, 'p.txt');
    writeFileSync(text, 'first prompt\n\n  second prompt \n');
    expect(readPrompts(text)).toEqual(['first prompt', 'second prompt']);
    const jsonl = join(dir, 'p.jsonl');
    writeFileSync(jsonl, '{"prompt": "a"}\n{"text": "b"}\n');
    expect(() => readPrompts(jsonl)).toThrow(`${jsonl}:2, field "prompt"`);
  });
});
