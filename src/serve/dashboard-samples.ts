/**
 * Samples as the dashboard's browser shows them: one group per prompt holding the responses the
 * policy wrote and the judge's verdicts on pairs of them. Groups come from the run store's
 * samples and preferences when the pipeline wrote them, otherwise from preferences.jsonl alone
 * (each distinct response text of a prompt becomes one response).
 */
import { z } from 'zod';

import type { PreferenceRecord } from '../judge/types.ts';
import type { SampleRow, StoredPreference } from '../store/run-store.ts';

export interface SampleVerdict {
  /** Index into the group's responses of the one the judge chose, and of the other. */
  chosen: number;
  rejected: number;
  pChosen: number;
  judge: string;
  principle?: string;
  rationale?: string;
  consistent?: boolean;
  /** The response shown first to the judge, when the store recorded the order. */
  shownFirst?: number;
  /**
   * P(chosen better) from each presentation order alone: `shownFirst` shown first, then shown
   * second. Present when the judge's stored verdict kept them; far apart means the judge
   * contradicted itself when the responses swapped places.
   */
  perOrder?: number[];
}

/** The judge's per-order P(a better) for a pair, found by judge, prompt, a and b. */
export type PerOrderLookup = (
  judge: string,
  prompt: string,
  a: string,
  b: string,
) => number[] | undefined;

export interface SampleGroup {
  /** The prompt's index in the run, or the group's position when read from preferences.jsonl. */
  promptIndex: number;
  prompt: string;
  responses: { sampleIndex: number; text: string; finishReason?: string }[];
  verdicts: SampleVerdict[];
}

export interface SampleGroupSummary {
  promptIndex: number;
  prompt: string;
  responses: number;
  verdicts: number;
  /** Verdicts whose two orders disagreed. */
  inconsistent: number;
}

export const sampleQuerySchema = z.object({
  q: z.string().max(500).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export type SampleQuery = z.infer<typeof sampleQuerySchema>;

/** Groups from the run store: K samples per prompt and the preferences between them. */
export function groupsFromStore(
  samples: readonly SampleRow[],
  preferences: readonly StoredPreference[],
  perOrder: PerOrderLookup = () => undefined,
): SampleGroup[] {
  const groups = new Map<number, SampleGroup>();
  for (const sample of samples) {
    let group = groups.get(sample.promptIndex);
    if (!group) {
      group = {
        promptIndex: sample.promptIndex,
        prompt: sample.prompt,
        responses: [],
        verdicts: [],
      };
      groups.set(sample.promptIndex, group);
    }
    group.responses.push({
      sampleIndex: sample.sampleIndex,
      text: sample.response,
      finishReason: sample.finishReason,
    });
  }
  for (const preference of preferences) {
    const group = groups.get(preference.promptIndex);
    if (!group) continue;
    const position = (sampleIndex: number) =>
      group.responses.findIndex((r) => r.sampleIndex === sampleIndex);
    const [first, second] = preference.pair.map(position);
    if (first < 0 || second < 0) continue;
    const firstIsChosen = group.responses[first].text === preference.chosen;
    const [a, b] = [group.responses[first].text, group.responses[second].text];
    const orders = perOrder(preference.judge, group.prompt, a, b);
    group.verdicts.push({
      ...verdictFields(preference),
      chosen: firstIsChosen ? first : second,
      rejected: firstIsChosen ? second : first,
      shownFirst: first,
      // Stored as P(a better) with a = the first sample; turn into P(chosen better).
      perOrder: orders?.map((p) => (firstIsChosen ? p : 1 - p)),
    });
  }
  return [...groups.values()].sort((a, b) => a.promptIndex - b.promptIndex);
}

/** Groups from preference records only, in order of each prompt's first appearance. */
export function groupsFromPreferences(records: readonly PreferenceRecord[]): SampleGroup[] {
  const groups = new Map<string, SampleGroup>();
  for (const record of records) {
    let group = groups.get(record.prompt);
    if (!group) {
      group = { promptIndex: groups.size, prompt: record.prompt, responses: [], verdicts: [] };
      groups.set(record.prompt, group);
    }
    const position = (text: string) => {
      let index = group.responses.findIndex((r) => r.text === text);
      if (index < 0)
        index = group.responses.push({ sampleIndex: group.responses.length, text }) - 1;
      return index;
    };
    group.verdicts.push({
      ...verdictFields(record),
      chosen: position(record.chosen),
      rejected: position(record.rejected),
    });
  }
  return [...groups.values()];
}

function verdictFields(record: PreferenceRecord): Omit<SampleVerdict, 'chosen' | 'rejected'> {
  const { pChosen, judge, principle, rationale, consistent } = record;
  return { pChosen, judge, principle, rationale, consistent };
}

export function querySamples(
  groups: readonly SampleGroup[],
  query: SampleQuery,
): { total: number; items: SampleGroupSummary[] } {
  const needle = query.q?.toLowerCase();
  const matches = needle
    ? groups.filter((g) =>
        [g.prompt, ...g.responses.map((r) => r.text)].some((t) => t.toLowerCase().includes(needle)),
      )
    : groups;
  return {
    total: matches.length,
    items: matches.slice(query.offset, query.offset + query.limit).map((group) => ({
      promptIndex: group.promptIndex,
      prompt: group.prompt,
      responses: group.responses.length,
      verdicts: group.verdicts.length,
      inconsistent: group.verdicts.filter((v) => v.consistent === false).length,
    })),
  };
}
