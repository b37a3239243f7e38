/**
 * Diversity monitors of a set of responses: distinct-n (unique n-grams over all n-grams,
 * pooled over the set, Li et al. 2016) and self-similarity (mean pairwise Jaccard overlap of
 * word-bigram sets). A policy collapsing onto one answer shows distinct-n falling and
 * self-similarity rising against the starting policy.
 */

/** Lowercased words; punctuation dropped. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9']+/g) ?? [];
}

function ngrams(tokens: string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
  return out;
}

/** Unique n-grams / all n-grams over every response together; 0 when there are none. */
export function distinctN(texts: readonly string[], n: number): number {
  const all = texts.flatMap((t) => ngrams(words(t), n));
  return all.length === 0 ? 0 : new Set(all).size / all.length;
}

/** Mean Jaccard similarity of word-bigram sets over all pairs of responses. */
export function selfSimilarity(texts: readonly string[]): number {
  const sets = texts.map((t) => new Set(ngrams(words(t), 2)));
  let total = 0;
  let pairs = 0;
  for (let i = 0; i < sets.length; i++) {
    for (let j = i + 1; j < sets.length; j++) {
      const union = new Set([...sets[i], ...sets[j]]).size;
      let shared = 0;
      for (const g of sets[i]) if (sets[j].has(g)) shared++;
      total += union === 0 ? 0 : shared / union;
      pairs++;
    }
  }
  return pairs === 0 ? 0 : total / pairs;
}

export interface DiversityFigures {
  distinct1: number;
  distinct2: number;
  selfSimilarity: number;
  /** Mean length in words. */
  meanWords: number;
}

export function diversityOf(texts: readonly string[]): DiversityFigures {
  const lengths = texts.map((t) => words(t).length);
  return {
    distinct1: distinctN(texts, 1),
    distinct2: distinctN(texts, 2),
    selfSimilarity: selfSimilarity(texts),
    meanWords: lengths.length === 0 ? 0 : lengths.reduce((a, b) => a + b, 0) / lengths.length,
  };
}

/**
 * Collapse: distinct-2 fell below 60% of the start's, or self-similarity rose by more than
 * 0.2 (on a 0-1 scale). Both thresholds are loose on purpose: fine-tuning narrows a model's
 * style a little, collapse narrows it a lot.
 */
export function collapseAlarm(start: DiversityFigures, final: DiversityFigures): string | undefined {
  if (final.distinct2 < 0.6 * start.distinct2) {
    return `distinct-2 fell from ${start.distinct2.toFixed(3)} to ${final.distinct2.toFixed(3)}`;
  }
  if (final.selfSimilarity > start.selfSimilarity + 0.2) {
    return `self-similarity rose from ${start.selfSimilarity.toFixed(3)} to ` +
      final.selfSimilarity.toFixed(3);
  }
  return undefined;
}
