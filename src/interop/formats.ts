/**
 * Preference records in the file formats other tools read, one JSON object per line:
 *
 * - `trl`: TRL's standard preference format, `{prompt, chosen, rejected}` strings;
 * - `trl-chat`: TRL's conversational format, `prompt` a list of `{role, content}` messages and
 *   `chosen`/`rejected` one-message assistant lists;
 * - `openai`: OpenAI preference fine-tuning, `{input: {messages}, preferred_output,
 *   non_preferred_output}`;
 * - `hh`: HH-RLHF, `{chosen, rejected}` whole "\n\nHuman: …\n\nAssistant: …" transcripts.
 *
 * The record's other fields (pChosen, judge, principle, …) travel as extra snake_case columns
 * (`p_chosen`, `judge`, …) that TRL and `datasets` carry along; they are left out of OpenAI
 * files by default because that format is checked strictly. Rows without them import with the
 * defaults of ImportDefaults. TRL's implicit-prompt rows (no `prompt`, the conversation repeated
 * in both `chosen` and `rejected`) import too: the shared leading part becomes the prompt.
 */
import { z } from 'zod';

import type { PreferenceRecord } from '../judge/types.ts';
import type { ChatMessage } from '../providers/types.ts';
import {
  isTranscript,
  messagesToPrompt,
  promptToMessages,
  renderHhTranscript,
  splitHhPair,
} from './transcript.ts';

export const exportFormats = ['trl', 'trl-chat', 'openai', 'hh'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export interface ExportOptions {
  /** Add the record's other fields as extra columns. Default true, except for "openai". */
  metadata?: boolean;
}

/** Values for fields a row does not carry. */
export interface ImportDefaults {
  /** Default "import:<format>". */
  judge?: string;
  /** Default "human". */
  source?: PreferenceRecord['source'];
}

const message = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
const messages = z.array(message);

const metadataShape = {
  p_chosen: z.number().min(0).max(1).optional(),
  judge: z.string().optional(),
  principle: z.string().optional(),
  rationale: z.string().optional(),
  consistent: z.boolean().optional(),
  source: z.enum(['ai', 'human', 'verifier']).optional(),
  weight: z.number().nonnegative().optional(),
};

export const rowSchemas = {
  trl: z.object({
    prompt: z.string().optional(),
    chosen: z.string(),
    rejected: z.string(),
    ...metadataShape,
  }),
  'trl-chat': z.object({
    prompt: messages.optional(),
    chosen: messages.min(1),
    rejected: messages.min(1),
    ...metadataShape,
  }),
  openai: z.object({
    input: z.object({ messages: messages.min(1) }),
    preferred_output: z.array(message).length(1),
    non_preferred_output: z.array(message).length(1),
    metadata: z.object(metadataShape).optional(),
  }),
  hh: z.object({ chosen: z.string(), rejected: z.string(), ...metadataShape }),
} as const;

type Metadata = z.infer<z.ZodObject<typeof metadataShape>>;

function metadataOf(record: PreferenceRecord): Metadata {
  const out: Metadata = { p_chosen: record.pChosen, judge: record.judge };
  if (record.principle !== undefined) out.principle = record.principle;
  if (record.rationale !== undefined) out.rationale = record.rationale;
  if (record.consistent !== undefined) out.consistent = record.consistent;
  out.source = record.source;
  if (record.weight !== undefined) out.weight = record.weight;
  return out;
}

function recordFrom(
  texts: { prompt: string; chosen: string; rejected: string },
  meta: Metadata,
  format: ExportFormat,
  defaults: ImportDefaults,
): PreferenceRecord {
  const record: PreferenceRecord = {
    ...texts,
    pChosen: meta.p_chosen ?? 1,
    judge: meta.judge ?? defaults.judge ?? `import:${format}`,
    source: meta.source ?? defaults.source ?? 'human',
  };
  if (meta.principle !== undefined) record.principle = meta.principle;
  if (meta.rationale !== undefined) record.rationale = meta.rationale;
  if (meta.consistent !== undefined) record.consistent = meta.consistent;
  if (meta.weight !== undefined) record.weight = meta.weight;
  return record;
}

const assistant = (content: string): ChatMessage[] => [{ role: 'assistant', content }];

/** One record as one row of `format`. */
export function exportRecord(
  record: PreferenceRecord,
  format: ExportFormat,
  options: ExportOptions = {},
): Record<string, unknown> {
  const withMetadata = options.metadata ?? format !== 'openai';
  const meta = withMetadata ? metadataOf(record) : {};
  switch (format) {
    case 'trl':
      return { prompt: record.prompt, chosen: record.chosen, rejected: record.rejected, ...meta };
    case 'trl-chat':
      return {
        prompt: promptToMessages(record.prompt),
        chosen: assistant(record.chosen),
        rejected: assistant(record.rejected),
        ...meta,
      };
    case 'openai':
      return {
        input: { messages: promptToMessages(record.prompt) },
        preferred_output: assistant(record.chosen),
        non_preferred_output: assistant(record.rejected),
        ...(withMetadata ? { metadata: meta } : {}),
      };
    case 'hh':
      return {
        chosen: renderHhTranscript(record.prompt, record.chosen),
        rejected: renderHhTranscript(record.prompt, record.rejected),
        ...meta,
      };
  }
}

/** Why a row that passed its schema still cannot become a record. */
export class RowShapeError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'RowShapeError';
  }
}

/** A validated row of `format` as a record; throws RowShapeError when the row cannot be split. */
export function importRow(
  row: unknown,
  format: ExportFormat,
  defaults: ImportDefaults = {},
): PreferenceRecord {
  switch (format) {
    case 'trl': {
      const r = rowSchemas.trl.parse(row);
      const texts =
        r.prompt !== undefined
          ? { prompt: r.prompt, chosen: r.chosen, rejected: r.rejected }
          : splitImplicit(r.chosen, r.rejected);
      return recordFrom(texts, r, format, defaults);
    }
    case 'trl-chat': {
      const r = rowSchemas['trl-chat'].parse(row);
      const texts =
        r.prompt !== undefined
          ? {
              prompt: messagesToPrompt(r.prompt),
              chosen: lastAssistant(r.chosen, 'chosen'),
              rejected: lastAssistant(r.rejected, 'rejected'),
            }
          : splitImplicitMessages(r.chosen, r.rejected);
      return recordFrom(texts, r, format, defaults);
    }
    case 'openai': {
      const r = rowSchemas.openai.parse(row);
      const texts = {
        prompt: messagesToPrompt(r.input.messages),
        chosen: lastAssistant(r.preferred_output, 'preferred_output'),
        rejected: lastAssistant(r.non_preferred_output, 'non_preferred_output'),
      };
      return recordFrom(texts, r.metadata ?? {}, format, defaults);
    }
    case 'hh': {
      const r = rowSchemas.hh.parse(row);
      return recordFrom(splitImplicit(r.chosen, r.rejected), r, format, defaults);
    }
  }
}

function lastAssistant(list: ChatMessage[], field: string): string {
  if (list.length !== 1 || list[0].role !== 'assistant') {
    throw new RowShapeError('expected exactly one assistant message', `${field}`);
  }
  return list[0].content;
}

/** Implicit prompt in text form: HH transcripts share their conversation up to the last answer. */
function splitImplicit(chosen: string, rejected: string) {
  if (!isTranscript(chosen) || !isTranscript(rejected)) {
    throw new RowShapeError(
      'without a prompt, chosen and rejected must be "\\n\\nHuman: " transcripts',
      'prompt',
    );
  }
  const split = splitHhPair(chosen, rejected);
  if (!split) throw new RowShapeError('chosen and rejected share no assistant turn', 'chosen');
  return split;
}

/** Implicit prompt in message form: the shared leading messages, then one assistant answer each. */
function splitImplicitMessages(chosen: ChatMessage[], rejected: ChatMessage[]) {
  const shared = chosen.length - 1;
  const samePrefix =
    chosen.length === rejected.length &&
    chosen
      .slice(0, shared)
      .every((m, i) => m.role === rejected[i].role && m.content === rejected[i].content);
  if (!samePrefix || shared < 1) {
    throw new RowShapeError('chosen and rejected must share all messages but the last', 'chosen');
  }
  return {
    prompt: messagesToPrompt(chosen.slice(0, shared)),
    chosen: lastAssistant(chosen.slice(shared), 'chosen'),
    rejected: lastAssistant(rejected.slice(shared), 'rejected'),
  };
}
