import { describe, expect, it } from 'vitest';

import { checkLibrary } from './checks.ts';
import { childrenStoriesConstitution, createDefaultJudge, createEvaluatorJudge } from './default-judges.ts';
import { createEmbeddedJudge, sigmoid } from './embedded.ts';
import type { PairwiseVerdict } from './types.ts';

const prompt = 'Once upon a time, a little dog named Max found a ball in the park.';
const kind = 'Max shared the ball with his friend Lily. They played together and laughed. '
  + 'Lily gave Max a big hug. They were happy and went home with a smile.';
const cruel = 'Max hit the cat and stole its food. A scary monster came and killed the cat. '
  + 'There was blood everywhere and everyone screamed and cried.';

describe('checks', () => {
  const checks = checkLibrary();

  it('score kind, hopeful, gentle stories above cruel, frightening ones', async () => {
    for (const name of ['kindness', 'hopeful_ending', 'not_frightening', 'vader_compound', 'vader_ending']) {
      const check = checks.get(name)!;
      const good = await check.score(prompt, kind);
      const bad = await check.score(prompt, cruel);
      expect(good, name).toBeGreaterThan(bad);
    }
  });

  it('measure topic, repetition, profanity and readability', async () => {
    const onTopic = checks.get('on_topic')!;
    expect(await onTopic.score(prompt, 'Max kicked the ball across the park.')).toBeGreaterThan(
      await onTopic.score(prompt, 'The rocket flew to the moon.'),
    );
    // Prompt content lemmas: time, little, dog, name, max, find, ball, park (8); response uses 3.
    expect(await onTopic.score(prompt, 'Max kicked the ball across the park.')).toBeCloseTo(3 / 8, 6);

    const repetition = checks.get('no_repetition')!;
    expect(await repetition.score('', 'the dog the dog the dog')).toBeCloseTo(2 / 5, 6);
    expect(await checks.get('not_profane')!.score('', 'what a shit day')).toBe(-1);
    const simple = checks.get('simple_language')!;
    expect(await simple.score('', 'The cat sat. It was red.')).toBeGreaterThan(
      await simple.score('', 'Notwithstanding considerable institutional opposition, the administration implemented comprehensive reorganisation.'),
    );
    expect(await simple.score('', '')).toBe(-1);
  });
});

describe('EmbeddedJudge', () => {
  it('prefers the kind story by every principle of the default constitution, in both positions', async () => {
    const judge = createDefaultJudge({ seed: 3 });
    for (const principle of childrenStoriesConstitution().principles) {
      if (principle.id === 'simple_language' || principle.id === 'on_topic') continue;
      const forward = (await judge.compare({ prompt, a: kind, b: cruel }, { principle })) as PairwiseVerdict;
      const swapped = (await judge.compare({ prompt, a: cruel, b: kind }, { principle })) as PairwiseVerdict;
      expect(forward.ok).toBe(true);
      expect(forward.pA, principle.id).toBeGreaterThan(0.5);
      expect(forward.pA + swapped.pA).toBeCloseTo(1, 12);
      expect(forward.choice).toBe('A');
      expect(forward.principle).toBe(principle.id);
      expect(forward.source).toBe('embedded');
      expect(forward.rationale).toContain(`${principle.id}: ${principle.check}`);
    }
  });

  it('is a sigmoid of the scaled score gap', async () => {
    const checks = checkLibrary();
    const vader = checks.get('vader_compound')!;
    const judge = createEmbeddedJudge({ checks: { vader_compound: 1 }, temperature: 2 });
    const verdict = (await judge.compare({ prompt, a: kind, b: cruel })) as PairwiseVerdict;
    const gap = ((vader.score(prompt, kind) as number) - (vader.score(prompt, cruel) as number)) / vader.scale;
    expect(verdict.pA).toBeCloseTo(sigmoid(gap / 2), 12);
  });

  it('calls identical responses a tie and samples principles reproducibly', async () => {
    const judge = createDefaultJudge({ seed: 1 });
    const tie = (await judge.compare({ prompt, a: kind, b: kind })) as PairwiseVerdict;
    expect(tie.pA).toBe(0.5);
    expect(tie.choice).toBe('tie');
    const principles = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const v = (await judge.compare({ prompt, a: kind, b: cruel }, { key: `item-${i}` })) as PairwiseVerdict;
      const again = (await judge.compare({ prompt, a: kind, b: cruel }, { key: `item-${i}` })) as PairwiseVerdict;
      expect(again.principle).toBe(v.principle);
      principles.add(v.principle);
    }
    expect(principles.size).toBe(5);
  });

  it('builds an evaluator from different signals and averages all principles on request', async () => {
    const evaluator = createEvaluatorJudge();
    const verdict = (await evaluator.compare({ prompt, a: cruel, b: kind })) as PairwiseVerdict;
    expect(verdict.pA).toBeLessThan(0.5);
    expect(verdict.rationale).toMatch(/vader/);

    const all = createEmbeddedJudge({ constitution: childrenStoriesConstitution(), mode: 'all' });
    const averaged = (await all.compare({ prompt, a: kind, b: cruel })) as PairwiseVerdict;
    expect(averaged.principle).toBe('all');
    const each = await Promise.all(childrenStoriesConstitution().principles.map((principle) =>
      all.compare({ prompt, a: kind, b: cruel }, { principle })));
    const mean = each.reduce((s, v) => s + (v as PairwiseVerdict).pA, 0) / each.length;
    expect(averaged.pA).toBeCloseTo(mean, 12);
  });

  it('refuses unknown checks and fluency without a model', () => {
    expect(() => createEmbeddedJudge({ checks: { nope: 1 } })).toThrow(/unknown check "nope"/);
    expect(() => createEmbeddedJudge({ checks: { fluency: 1 } })).toThrow(/needs a reference model/);
  });
});
