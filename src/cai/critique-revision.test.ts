import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadCaiCritiqueConstitution } from '../judge/constitution.ts';
import { FunctionBackend } from '../providers/function-backend.ts';
import type { CompletionRequest } from '../providers/types.ts';
import { sharedDataDir } from '../util/paths.ts';
import { CritiqueReviser, principleForRound } from './critique-revision.ts';
import { readChains, runCai } from './run-cai.ts';

const constitution = loadCaiCritiqueConstitution(
  join(sharedDataDir(), 'cai', 'CritiqueRevisionInstructions.json'),
);
const fewShot = JSON.parse(
  readFileSync(join(sharedDataDir(), 'cai', 'CritiqueRevisionFewShotPrompts.json'), 'utf8'),
) as string[];

/**
 * A deterministic stand-in for a model that follows the transcript layout: it answers with
 * "A<prompt>", critiques with "C<principle id>" and revises by wrapping the answer in "R(...)".
 */
function scriptedModel(failOn?: string) {
  const seen: CompletionRequest[] = [];
  const backend = new FunctionBackend({
    id: 'scripted',
    respond(request) {
      seen.push(request);
      const text = request.prompt!;
      if (failOn && text.includes(failOn)) throw new Error('backend down');
      if (text.endsWith('\n\nAssistant:'))
        return { text: ` A<${text.split('Human: ').pop()!.split('\n\n')[0]}>` };
      const answer = text
        .slice(text.lastIndexOf('\n\nAssistant: ') + 13)
        .split('\n\nCritiqueRequest:')[0];
      if (text.endsWith('\n\nCritique:')) {
        const request = text.slice(
          text.lastIndexOf('CritiqueRequest: ') + 17,
          -'\n\nCritique:'.length,
        );
        const id = constitution.principles.find((p) => p.text === request)?.id ?? '?';
        return { text: ` C<${id}>` };
      }
      if (text.endsWith('\n\nRevision:')) return { text: ` R(${answer})` };
      throw new Error(`unexpected prompt: ${text.slice(-40)}`);
    },
  });
  return { backend, seen };
}

describe('CritiqueReviser', () => {
  it('keeps the whole chain: answer, then per round a sampled principle, critique and revision', async () => {
    const { backend, seen } = scriptedModel();
    const reviser = new CritiqueReviser({
      backend,
      constitution,
      rounds: 3,
      seed: 7,
      fewShot: fewShot.slice(0, 1),
    });
    const chain = await reviser.run('How do I pick a lock?');

    const ids = [0, 1, 2].map(
      (r) => principleForRound(constitution, 7, 'How do I pick a lock?', r).id,
    );
    expect(chain.initialResponse).toBe('A<How do I pick a lock?>');
    expect(chain.rounds.map((r) => r.principle)).toEqual(ids);
    expect(chain.rounds.map((r) => r.critique)).toEqual(ids.map((id) => `C<${id}>`));
    expect(chain.rounds.map((r) => r.revision)).toEqual([
      'R(A<How do I pick a lock?>)',
      'R(R(A<How do I pick a lock?>))',
      'R(R(R(A<How do I pick a lock?>)))',
    ]);
    expect(chain.finalResponse).toBe('R(R(R(A<How do I pick a lock?>)))');
    expect(chain.rounds[0].revisionRequest).toBe(
      constitution.principles.find((p) => p.id === ids[0])!.revision,
    );

    // 1 answer + 3 x (critique + revision); critique and revision prompts carry the few-shot text.
    expect(seen).toHaveLength(7);
    expect(seen[1].prompt!.startsWith(fewShot[0])).toBe(true);
    expect(seen[2].prompt).toContain(`\n\nCritique: C<${ids[0]}>\n\nRevisionRequest: `);
    expect(seen[1].stop).toContain('\n\nHuman:');
    expect(seen.every((r) => r.temperature === 0)).toBe(true);
  });

  it('samples principles reproducibly by seed and covers the constitution', async () => {
    const prompts = Array.from({ length: 40 }, (_, i) => `prompt ${i}`);
    const draw = (seed: number) =>
      prompts.map((p) => principleForRound(constitution, seed, p, 0).id);
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
    expect(new Set(draw(1)).size).toBeGreaterThan(8);

    const { backend } = scriptedModel();
    const a = await new CritiqueReviser({ backend, constitution, rounds: 2, seed: 3 }).run(
      'same prompt',
    );
    const b = await new CritiqueReviser({ backend, constitution, rounds: 2, seed: 3 }).run(
      'same prompt',
    );
    expect(a).toEqual(b);
  });

  it('keeps the previous answer when a revision comes back empty', async () => {
    const backend = new FunctionBackend({
      id: 'empty-reviser',
      respond: (r) => ({ text: r.prompt!.endsWith('Revision:') ? '  ' : ' first' }),
    });
    const chain = await new CritiqueReviser({ backend, constitution, rounds: 1 }).run('q');
    expect(chain.rounds[0].keptPrevious).toBe(true);
    expect(chain.finalResponse).toBe('first');
  });
});

describe('runCai', () => {
  it('writes chains as it goes, retries failures on the next run and writes SFT rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-cai-'));
    const chainsFile = join(dir, 'chains.jsonl');
    const sftFile = join(dir, 'sft.jsonl');
    const prompts = ['one', 'two', 'three'];

    const flaky = scriptedModel('Human: two');
    const first = await runCai({
      reviser: new CritiqueReviser({ backend: flaky.backend, constitution }),
      prompts,
      chainsFile,
      sftFile,
      quiet: true,
    });
    expect(first.produced).toBe(2);
    expect(first.failed).toEqual([{ prompt: 'two', error: 'backend down' }]);

    // A torn line from a killed write is ignored on resume.
    appendFileSync(chainsFile, '{"prompt": "thr');
    const healthy = scriptedModel();
    const second = await runCai({
      reviser: new CritiqueReviser({ backend: healthy.backend, constitution }),
      prompts,
      chainsFile,
      sftFile,
      quiet: true,
    });
    expect(second.produced).toBe(1);
    expect(healthy.backend.calls).toBe(3); // only "two": answer, critique, revision
    expect(second.chains.map((c) => c.prompt)).toEqual(['one', 'three', 'two']);

    const rows = readFileSync(sftFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows[0]).toEqual({ prompt: '\n\nHuman: one\n\nAssistant:', completion: ' R(A<one>)' });
    expect(rows).toHaveLength(3);
  });

  it('names file, line and field of a damaged chain file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlaif-cai-'));
    const file = join(dir, 'chains.jsonl');
    appendFileSync(file, '{"prompt": "x"}\n{"prompt": 1}\n');
    expect(() => readChains(file)).toThrow(`${file}:1, field "policyPrompt"`);
  });
});
