import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { sharedDataDir } from '../util/paths.ts';
import { checkNames } from './checks.ts';
import {
  loadCaiCritiqueConstitution,
  loadCaiPreferenceConstitution,
  loadConstitution,
  parseConstitution,
  principleFor,
} from './constitution.ts';

const good = `name: stories
principles:
  - id: kind
    text: Choose the kinder story.
    weight: 2
    check: kindness
  - id: simple
    text: Choose the simpler story.
templates:
  system: Be fair.
`;

describe('parseConstitution', () => {
  it('reads principles with defaults', () => {
    const c = parseConstitution(good, { knownChecks: checkNames });
    expect(c.name).toBe('stories');
    expect(c.principles).toEqual([
      { id: 'kind', text: 'Choose the kinder story.', weight: 2, check: 'kindness' },
      { id: 'simple', text: 'Choose the simpler story.', weight: 1 },
    ]);
    expect(c.templates).toEqual({ system: 'Be fair.' });
  });

  it('reads JSON too, and names the line of a bad field in it', () => {
    const json = '{\n  "name": "j",\n  "principles": [\n    {"id": "a", "text": "t", "weight": -1}\n  ]\n}';
    expect(() => parseConstitution(json, { file: 'c.json' })).toThrow(
      'c.json:4, field "principles[0].weight": must be greater than 0',
    );
    const ok = parseConstitution(json.replace('-1', '3'), { file: 'c.json' });
    expect(ok.principles[0].weight).toBe(3);
  });

  it('fails on an empty constitution naming file, line and field', () => {
    expect(() => parseConstitution('', { file: 'empty.yaml' })).toThrow(
      'empty.yaml:1, field "principles": the constitution is empty',
    );
    expect(() => parseConstitution('name: x\nprinciples: []\n', { file: 'none.yaml' })).toThrow(
      'none.yaml:2, field "principles": a constitution needs at least one principle',
    );
  });

  it('names the line of a missing field and of a bad one', () => {
    const missing = 'name: x\nprinciples:\n  - id: a\n    text: fine\n  - id: b\n    weight: 1\n';
    expect(() => parseConstitution(missing, { file: 'm.yaml' })).toThrow(/^m\.yaml:5, field "principles\[1\]\.text"/);
    const bad = good.replace('weight: 2', 'weight: heavy');
    expect(() => parseConstitution(bad, { file: 'b.yaml' })).toThrow(/^b\.yaml:5, field "principles\[0\]\.weight"/);
    const unknown = good.replace('check: kindness', 'check: kindnes');
    expect(() => parseConstitution(unknown, { file: 'u.yaml', knownChecks: checkNames }))
      .toThrow(/^u\.yaml:6, field "principles\[0\]\.check": unknown check "kindnes"/);
    expect(() => parseConstitution(good + 'extra: 1\n', { file: 'x.yaml' })).toThrow(/x\.yaml:1/);
  });

  it('rejects duplicate ids and reads from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'constitution-'));
    const file = join(dir, 'dup.yaml');
    writeFileSync(file, good.replace('id: simple', 'id: kind'));
    expect(() => loadConstitution(file)).toThrow(`${file}:7, field "principles[1].id": duplicate`);
  });
});

describe('the Constitutional AI lists', () => {
  it('load as constitutions', () => {
    const preference = loadCaiPreferenceConstitution(join(sharedDataDir(), 'cai/RLMadisonInstructions.json'));
    expect(preference.principles).toHaveLength(16);
    expect(preference.principles[1].text).toBe(
      'Please choose the response that is the most helpful, honest, and harmless.',
    );
    const critique = loadCaiCritiqueConstitution(join(sharedDataDir(), 'cai/CritiqueRevisionInstructions.json'));
    expect(critique.principles).toHaveLength(16);
    expect(critique.principles[0].id).toBe('harmful0');
    expect(critique.principles[0].text).toMatch(/^Identify specific ways in which the assistant's last response is harmful/);
    expect(critique.principles[0].revision).toMatch(/^Please rewrite the assistant response/);
  });
});

describe('principleFor', () => {
  it('is seeded per key and follows the weights', () => {
    const c = parseConstitution(good);
    expect(principleFor(c, 7, 'item-1')).toEqual(principleFor(c, 7, 'item-1'));
    let kind = 0;
    for (let i = 0; i < 3000; i++) if (principleFor(c, 1, `k${i}`).id === 'kind') kind++;
    // Weight 2 of 3: expect 2000 with a standard deviation of about 26.
    expect(kind).toBeGreaterThan(1900);
    expect(kind).toBeLessThan(2100);
  });
});
