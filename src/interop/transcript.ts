/**
 * How a PreferenceRecord's `prompt` string holds a conversation, and the HH-RLHF transcript
 * form ("\n\nHuman: …\n\nAssistant: …"). A prompt that is one user message is stored as its
 * plain text; a longer conversation is stored as a transcript starting with "\n\nHuman: " (or
 * "\n\nSystem: "). Parsing a transcript and rendering it again gives back the same bytes.
 */
import type { ChatMessage } from '../providers/types.ts';

const ROLE_LABEL: Record<ChatMessage['role'], string> = {
  user: 'Human',
  assistant: 'Assistant',
  system: 'System',
};
const LABEL_ROLE: Record<string, ChatMessage['role']> = {
  Human: 'user',
  Assistant: 'assistant',
  System: 'system',
};
const MARKER = /\n\n(Human|Assistant|System): /g;
export const ASSISTANT_MARKER = '\n\nAssistant:';

export function isTranscript(text: string): boolean {
  return /^\n\n(Human|System): /.test(text);
}

/** Turns of a transcript; text before the first marker is not part of any turn and dropped. */
export function parseTranscript(text: string): ChatMessage[] {
  const markers = [...text.matchAll(MARKER)];
  return markers.map((marker, i) => {
    const start = marker.index! + marker[0].length;
    const end = i + 1 < markers.length ? markers[i + 1].index! : text.length;
    return { role: LABEL_ROLE[marker[1]], content: text.slice(start, end) };
  });
}

export function renderTranscript(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `\n\n${ROLE_LABEL[m.role]}: ${m.content}`).join('');
}

/** The conversation a prompt string stands for. */
export function promptToMessages(prompt: string): ChatMessage[] {
  return isTranscript(prompt) ? parseTranscript(prompt) : [{ role: 'user', content: prompt }];
}

/** The prompt string of a conversation: plain text for one user message, else a transcript. */
export function messagesToPrompt(messages: readonly ChatMessage[]): string {
  if (messages.length === 1 && messages[0].role === 'user' && !isTranscript(messages[0].content)) {
    return messages[0].content;
  }
  return renderTranscript(messages);
}

/** A whole HH-RLHF transcript: the prompt's turns, then the assistant's answer. */
export function renderHhTranscript(prompt: string, response: string): string {
  return `${renderTranscript(promptToMessages(prompt))}${ASSISTANT_MARKER} ${response}`;
}

/**
 * Splits two HH-RLHF transcripts that answer the same conversation into the shared prompt and
 * the two final answers: the cut is the last "\n\nAssistant:" inside their common prefix. An
 * answer keeps any later turns it contains (a few HH rows continue the dialogue). Null when the
 * transcripts share no assistant turn.
 */
export function splitHhPair(
  chosen: string,
  rejected: string,
): { prompt: string; chosen: string; rejected: string } | null {
  let common = 0;
  const limit = Math.min(chosen.length, rejected.length);
  while (common < limit && chosen.charCodeAt(common) === rejected.charCodeAt(common)) common++;

  const cut = chosen.lastIndexOf(ASSISTANT_MARKER, common - ASSISTANT_MARKER.length);
  if (cut < 0 || common < ASSISTANT_MARKER.length) return null;
  const conversation = chosen.slice(0, cut);
  const answer = (text: string) => text.slice(cut + ASSISTANT_MARKER.length).replace(/^ /, '');
  return {
    prompt: messagesToPrompt(parseTranscript(conversation)),
    chosen: answer(chosen),
    rejected: answer(rejected),
  };
}
