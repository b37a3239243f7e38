/**
 * Prompt templates of the LLM judge protocols. A template is text with `{{slot}}` markers; a
 * constitution may replace any of them. Few-shot examples become earlier chat turns.
 */
import type { ChatMessage } from '../providers/types.ts';
import type { PromptTemplates } from './types.ts';

export const defaultTemplates: Required<PromptTemplates> = {
  system: 'You are a careful, impartial judge. You compare responses by the principle you are '
    + 'given, not by their length or their order.',
  pairwise: [
    '{{principle}}',
    '',
    '[Prompt]',
    '{{prompt}}',
    '',
    '[Response A]',
    '{{a}}',
    '',
    '[Response B]',
    '{{b}}',
    '',
    '{{instruction}}',
  ].join('\n'),
  pointwise: [
    '{{principle}}',
    '',
    '[Prompt]',
    '{{prompt}}',
    '',
    '[Response]',
    '{{response}}',
    '',
    '{{instruction}}',
  ].join('\n'),
  listwise: [
    '{{principle}}',
    '',
    '[Prompt]',
    '{{prompt}}',
    '',
    '{{candidates}}',
    '',
    '{{instruction}}',
  ].join('\n'),
};

export const instructions = {
  pairwise: 'Which response is better? Answer with a single letter: A or B.',
  pairwiseCot: 'Explain briefly which response is better, then finish with a last line of the '
    + 'form "Verdict: A" or "Verdict: B".',
  pointwise: 'Rate the response from 1 (worst) to 10 (best). Answer with the number only.',
  pointwiseCot: 'Explain briefly, then finish with a last line of the form "Score: N", where N '
    + 'is a whole number from 1 (worst) to 10 (best).',
  listwise: 'Rank the responses from best to worst. Answer with their numbers only, best first, '
    + 'separated by ">", for example "2 > 1 > 3".',
  listwiseCot: 'Explain briefly, then finish with a last line of the form "Ranking: 2 > 1 > 3" '
    + 'listing every response number once, best first.',
};

/** Fills `{{slot}}` markers; an unknown slot is left as written so a typo shows in the prompt. */
export function renderTemplate(template: string, slots: Record<string, string>): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => slots[name] ?? whole);
}

/** A worked pairwise example shown to the judge before the real question. */
export interface PairwiseExample {
  prompt: string;
  a: string;
  b: string;
  verdict: 'A' | 'B';
  /** Shown before the verdict when the judge is asked to reason. */
  rationale?: string;
}

export interface PairwiseMessagesInput {
  templates: Required<PromptTemplates>;
  principle: string;
  prompt: string;
  a: string;
  b: string;
  chainOfThought: boolean;
  examples?: PairwiseExample[];
}

/** The chat turns of one pairwise question (one order). */
export function pairwiseMessages(input: PairwiseMessagesInput): ChatMessage[] {
  const instruction = input.chainOfThought ? instructions.pairwiseCot : instructions.pairwise;
  const ask = (prompt: string, a: string, b: string) =>
    renderTemplate(input.templates.pairwise, { principle: input.principle, prompt, a, b, instruction });

  const messages: ChatMessage[] = [{ role: 'system', content: input.templates.system }];
  for (const example of input.examples ?? []) {
    messages.push({ role: 'user', content: ask(example.prompt, example.a, example.b) });
    const answer = input.chainOfThought
      ? `${example.rationale ?? ''}\nVerdict: ${example.verdict}`.trim()
      : example.verdict;
    messages.push({ role: 'assistant', content: answer });
  }
  messages.push({ role: 'user', content: ask(input.prompt, input.a, input.b) });
  return messages;
}

export interface PointwiseMessagesInput {
  templates: Required<PromptTemplates>;
  principle: string;
  prompt: string;
  response: string;
  chainOfThought: boolean;
}

export function pointwiseMessages(input: PointwiseMessagesInput): ChatMessage[] {
  const instruction = input.chainOfThought ? instructions.pointwiseCot : instructions.pointwise;
  const content = renderTemplate(input.templates.pointwise, {
    principle: input.principle,
    prompt: input.prompt,
    response: input.response,
    instruction,
  });
  return [{ role: 'system', content: input.templates.system }, { role: 'user', content }];
}

export interface ListwiseMessagesInput {
  templates: Required<PromptTemplates>;
  principle: string;
  prompt: string;
  /** In the order shown; numbered from 1. */
  responses: string[];
  chainOfThought: boolean;
}

export function listwiseMessages(input: ListwiseMessagesInput): ChatMessage[] {
  const instruction = input.chainOfThought ? instructions.listwiseCot : instructions.listwise;
  const candidates = input.responses.map((r, i) => `[Response ${i + 1}]\n${r}`).join('\n\n');
  const content = renderTemplate(input.templates.listwise, {
    principle: input.principle,
    prompt: input.prompt,
    candidates,
    instruction,
  });
  return [{ role: 'system', content: input.templates.system }, { role: 'user', content }];
}

/**
 * Few-shot examples from the Constitutional AI paper's file (RLMadisonFewShotPrompts.json:
 * `{prompt, corrects, incorrects}`). The better response alternates between positions so the
 * examples teach no position.
 */
export function caiFewShotExamples(rows: { prompt: string; corrects: string[]; incorrects: string[] }[]):
  PairwiseExample[] {
  return rows.map((row, index) => {
    const better = row.corrects[0].trim();
    const worse = row.incorrects[0].trim();
    const prompt = row.prompt.replace(/\n\nAssistant:\s*$/, '').trim();
    return index % 2 === 0
      ? { prompt, a: better, b: worse, verdict: 'A' as const }
      : { prompt, a: worse, b: better, verdict: 'B' as const };
  });
}
