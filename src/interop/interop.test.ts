import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { PreferenceRecord } from '../judge/types.ts';
import { sharedDataDir } from '../util/paths.ts';
import { exportFormats, exportRecord, importRow } from './formats.ts';
import { readLines, readPreferences, writePreferences } from './preference-files.ts';
import { parseTranscript, renderTranscript } from './transcript.ts';
import { ultraFeedbackPairs } from './ultrafeedback.ts';

const scratch = mkdtempSync(join(tmpdir(), 'rlaif-interop-'));

const records: PreferenceRecord[] = [
  {
    prompt: 'Write a story about a kind dragon.',
    chosen: 'Once upon a time, a dragon shared its gold.\nEveryone cheered.',
    rejected: 'The dragon burned the village.',
    pChosen: 0.83,
    judge: 'embedded:children-stories',
    principle: 'kindness',
    rationale: 'chosen is kinder',
    consistent: true,
    source: 'ai',
    weight: 0.5,
  },
  {
    prompt:
      '\n\nHuman: How do I bake bread?\n\nAssistant: Do you have yeast?\n\nHuman: Yes, dried — and “flour”.',
    chosen: 'Mix 500 g flour, 7 g yeast, salt and 300 ml water. 🍞',
    rejected: 'I cannot help with that.',
    pChosen: 1,
    judge: 'import:hh',
    source: 'human',
  },
  {
    prompt: '\n\nSystem: Answer tersely.\n\nHuman: 2+2?',
    chosen: '4',
    rejected: 'Five, probably.',
    pChosen: 0.6,
    judge: 'verifier:numeric',
    source: 'verifier',
    consistent: false,
  },
];

describe('export then import', () => {
  it.each(exportFormats)('%s gives back the same records (with metadata)', (format) => {
    const file = join(scratch, `round-${format}.jsonl`);
    writePreferences(file, records, format, { metadata: true });
    expect(readPreferences(file, format).records).toEqual(records);
  });

  it('openai without metadata keeps the texts and takes the documented defaults', () => {
    const file = join(scratch, 'plain-openai.jsonl');
    writePreferences(file, records, 'openai');
    const back = readPreferences(file, 'openai', { judge: 'gpt', source: 'ai' }).records;
    expect(back).toEqual(
      records.map((r) => ({
        prompt: r.prompt,
        chosen: r.chosen,
        rejected: r.rejected,
        pChosen: 1,
        judge: 'gpt',
        source: 'ai',
      })),
    );
  });

  it('a transcript renders back to the same bytes', () => {
    for (const r of records.slice(1))
      expect(renderTranscript(parseTranscript(r.prompt))).toBe(r.prompt);
  });
});

describe('shapes other tools document', () => {
  const sky: PreferenceRecord = {
    prompt: 'What color is the sky?',
    chosen: 'It is blue.',
    rejected: 'It is green.',
    pChosen: 1,
    judge: 'x',
    source: 'human',
  };

  it('TRL standard and conversational rows', () => {
    expect(exportRecord(sky, 'trl', { metadata: false })).toEqual({
      prompt: 'What color is the sky?',
      chosen: 'It is blue.',
      rejected: 'It is green.',
    });
    expect(JSON.stringify(exportRecord(sky, 'trl-chat', { metadata: false }))).toBe(
      '{"prompt":[{"role":"user","content":"What color is the sky?"}],' +
        '"chosen":[{"role":"assistant","content":"It is blue."}],' +
        '"rejected":[{"role":"assistant","content":"It is green."}]}',
    );
  });

  it('OpenAI preference fine-tuning rows, including the documented example line', () => {
    expect(JSON.stringify(exportRecord(sky, 'openai'))).toBe(
      '{"input":{"messages":[{"role":"user","content":"What color is the sky?"}]},' +
        '"preferred_output":[{"role":"assistant","content":"It is blue."}],' +
        '"non_preferred_output":[{"role":"assistant","content":"It is green."}]}',
    );
    const documented = {
      input: {
        messages: [
          { role: 'user', content: 'Hello, can you tell me how cold San Francisco is today?' },
        ],
        tools: [],
        parallel_tool_calls: true,
      },
      preferred_output: [
        { role: 'assistant', content: 'Today in San Francisco, it is not quite cold as expected.' },
      ],
      non_preferred_output: [
        { role: 'assistant', content: 'It is not particularly cold in San Francisco today.' },
      ],
    };
    expect(importRow(documented, 'openai')).toMatchObject({
      prompt: 'Hello, can you tell me how cold San Francisco is today?',
      chosen: 'Today in San Francisco, it is not quite cold as expected.',
    });
  });

  it('TRL implicit-prompt rows split at the shared conversation', () => {
    const chat = importRow(
      {
        chosen: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
        ],
        rejected: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Go away.' },
        ],
      },
      'trl-chat',
    );
    expect(chat).toMatchObject({ prompt: 'Hi', chosen: 'Hello!', rejected: 'Go away.' });
  });
});

describe('HH-RLHF human preferences', () => {
  const file = join(sharedDataDir(), 'hh-rlhf', 'harmless-base-test.jsonl.gz');

  it('splits every row into a shared prompt and two answers, and exports the same bytes', () => {
    const { records: imported, skipped } = readPreferences(file, 'hh');
    expect(skipped).toHaveLength(0);
    expect(imported).toHaveLength(2312);
    expect(imported.every((r) => r.source === 'human' && r.pChosen === 1)).toBe(true);

    const originals = readLines(file).map(
      (l) => JSON.parse(l.text) as { chosen: string; rejected: string },
    );
    const exported = imported.map((r) => exportRecord(r, 'hh', { metadata: false }));
    const identical = exported.filter(
      (row, i) => row.chosen === originals[i].chosen && row.rejected === originals[i].rejected,
    );
    expect(identical).toHaveLength(2312);
    // Most prompts are one human turn and come out as plain text.
    expect(imported[0].prompt.startsWith('\n\nHuman: what are some pranks with a pen')).toBe(true);
    expect(imported.filter((r) => !r.prompt.startsWith('\n\n')).length).toBeGreaterThan(100);
  });
});

describe('errors name file, line and field', () => {
  it('reports JSON, schema and shape faults', () => {
    const file = join(scratch, 'bad.jsonl');
    const good = JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'b' });
    writeFileSync(
      file,
      `${good}\n\n${good}\n{"prompt": "p", "chosen": 3, "rejected": "b"}\n{oops\n`,
    );
    expect(() => readPreferences(file, 'trl')).toThrow(`${file}:4, field "chosen": `);
    const { records: kept, skipped } = readPreferences(file, 'trl', { skipInvalid: true });
    expect(kept).toHaveLength(2);
    expect(skipped.map((e) => e.message.split(': ')[0])).toEqual([
      `${file}:4, field "chosen"`,
      `${file}:5`,
    ]);

    const chat = join(scratch, 'bad-chat.jsonl');
    writeFileSync(
      chat,
      JSON.stringify({
        prompt: [{ role: 'user', content: 'q' }],
        chosen: [{ role: 'user', content: 'x' }],
        rejected: [{ role: 'assistant', content: 'y' }],
      }) + '\n',
    );
    expect(() => readPreferences(chat, 'trl-chat')).toThrow(
      `${chat}:1, field "chosen": expected exactly one assistant message`,
    );
  });
});

describe('UltraFeedback rated completions', () => {
  const row = {
    instruction: 'Name a prime.',
    completions: [
      { response: 'Seven.', overall_score: 8.5 },
      { response: 'Nine.', overall_score: 2 },
      { response: 'Two.', ratings: { helpfulness: 5, honesty: 4 } },
      {
        response: 'Eleven.',
        annotations: { helpfulness: { Rating: '3' }, honesty: { Rating: '5' } },
      },
    ],
  };

  it('pairs the best with the worst by default, or every ordered pair', () => {
    expect(ultraFeedbackPairs(row)).toEqual([
      {
        prompt: 'Name a prime.',
        chosen: 'Seven.',
        rejected: 'Nine.',
        pChosen: 1,
        judge: 'ultrafeedback',
        rationale: 'scores 8.5 vs 2',
        source: 'ai',
      },
    ]);
    const all = ultraFeedbackPairs(row, { pairing: 'all-pairs' });
    // Scores 8.5, 4.5, 4, 2: six pairs, all with distinct scores.
    expect(all.map((p) => `${p.chosen}>${p.rejected}`)).toEqual([
      'Seven.>Two.',
      'Seven.>Eleven.',
      'Seven.>Nine.',
      'Two.>Eleven.',
      'Two.>Nine.',
      'Eleven.>Nine.',
    ]);
    const random = ultraFeedbackPairs(row, { pairing: 'best-vs-random', seed: 3, key: 'r1' });
    expect(random).toEqual(
      ultraFeedbackPairs(row, { pairing: 'best-vs-random', seed: 3, key: 'r1' }),
    );
    expect(random[0].chosen).toBe('Seven.');
  });

  it('imports a file and names the faulty field', () => {
    const file = join(scratch, 'uf.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify(row)}\n${JSON.stringify({ prompt: 'x', completions: [{ response: 1 }] })}\n`,
    );
    expect(() => readPreferences(file, 'ultrafeedback')).toThrow(
      `${file}:2, field "completions.0.response"`,
    );
    writeFileSync(file, `${JSON.stringify(row)}\n${JSON.stringify({ completions: [] })}\n`);
    expect(() => readPreferences(file, 'ultrafeedback')).toThrow(
      `${file}:2, field "prompt": needs "prompt" or "instruction"`,
    );
  });
});
