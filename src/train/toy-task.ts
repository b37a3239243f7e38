/**
 * A task whose best answer is known, for testing that training algorithms work: the reward is
 * the fraction of response characters equal to one letter, so the optimum is a response made
 * only of that letter. Pairs with ToyCausalLM's letter tokenizer.
 */
import type { CausalLM } from '../model/types.ts';
import type { PreferenceRecord } from '../judge/types.ts';
import type { RewardItem, RewardOutcome, RewardSource } from '../rewards/types.ts';
import { makeRng } from '../util/rng.ts';
import type { PromptRecord } from './rollout.ts';

export class LetterFractionReward implements RewardSource {
  readonly id: string;

  constructor(readonly letter = 'a') {
    this.id = `letter-fraction:${letter}`;
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return items.map((item) => ({ ok: true, reward: letterFraction(item.response, this.letter) }));
  }
}

/** Share of `text`'s characters equal to `letter`; 0 for an empty text. */
export function letterFraction(text: string, letter: string): number {
  if (text.length === 0) return 0;
  let hits = 0;
  for (const char of text) if (char === letter) hits++;
  return hits / text.length;
}

/** Short prompts over the letters b..h. */
export function toyPrompts(count = 8): PromptRecord[] {
  const letters = 'bcdefgh';
  return Array.from({ length: count }, (_, i) => ({
    prompt: letters[i % 7] + letters[(i * 3 + 1) % 7],
  }));
}

/** Mean reward of responses sampled from `policy` (one per prompt), for before/after checks. */
export async function meanSampledReward(options: {
  policy: CausalLM;
  prompts: PromptRecord[];
  reward: RewardSource;
  maxNewTokens: number;
  seed: number;
}): Promise<number> {
  const { policy, prompts, reward } = options;
  const results = await policy.generate(
    prompts.map((p) => policy.tokenizer.encode(p.prompt, { bos: true })),
    {
      maxNewTokens: options.maxNewTokens,
      seed: options.seed,
    },
  );
  const outcomes = await reward.score(
    prompts.map((p, i) => ({ prompt: p.prompt, response: results[i].text })),
  );
  const values = outcomes.map((o) => (o.ok ? o.reward : 0));
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Random letter strings; the one with more a's is chosen (a known scorer). */
export function toyPreferences(count: number, seed: number): PreferenceRecord[] {
  const rng = makeRng(seed);
  const letters = 'abcdefghijklm';
  const word = (pA: number) =>
    Array.from({ length: 6 }, () =>
      rng.next() < pA ? 'a' : letters[1 + rng.int(letters.length - 1)],
    ).join('');
  const prompts = toyPrompts();
  const records: PreferenceRecord[] = [];
  while (records.length < count) {
    const x = word(rng.next() * 0.8);
    const y = word(rng.next() * 0.8);
    const [fx, fy] = [letterFraction(x, 'a'), letterFraction(y, 'a')];
    if (fx === fy) continue;
    records.push({
      prompt: prompts[records.length % prompts.length].prompt,
      chosen: fx > fy ? x : y,
      rejected: fx > fy ? y : x,
      pChosen: 1,
      judge: 'letter-count',
      source: 'verifier',
    });
  }
  return records;
}
