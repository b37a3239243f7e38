/**
 * Reads a prompt file: plain text with one prompt per line (blank lines and lines starting
 * with "#" skipped), or JSONL whose objects carry a "prompt" string. A bad line names its file
 * and line number.
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { InputError } from '../util/errors.ts';

const jsonlPrompt = z.object({ prompt: z.string().min(1), reference: z.string().optional() });

export interface PromptLine {
  prompt: string;
  reference?: string;
}

export function readPrompts(file: string, limit?: number): PromptLine[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const isJsonl = file.endsWith('.jsonl');
  const out: PromptLine[] = [];
  lines.forEach((line, index) => {
    const text = line.trim();
    if (!text || (!isJsonl && text.startsWith('#'))) return;
    if (!isJsonl) {
      out.push({ prompt: text });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new InputError('not valid JSON', { file, line: index + 1 });
    }
    const parsed = jsonlPrompt.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(issue.message, { file, line: index + 1, field: issue.path.join('.') });
    }
    out.push(parsed.data);
  });
  if (out.length === 0) throw new InputError('no prompts in the file', { file });
  return limit ? out.slice(0, limit) : out;
}
