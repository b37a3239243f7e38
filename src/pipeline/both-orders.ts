/**
 * Asks a pairwise judge in both orders and combines the answers: the second call shows the
 * responses swapped, so A's probability from it is 1 - P(first). Both calls share one
 * comparison key so the judge samples the same principle for them. Judges that already ask
 * both orders themselves (the LLM judges) are called once.
 */
import type { CompareOptions, PairwiseInput, PairwiseJudge, PairwiseResult } from '../judge/types.ts';

export interface BothOrdersOptions {
  /** The judge asks both orders itself; call it once. */
  judgeAsksBoth?: boolean;
  /** Stable key of the comparison (prompt index and pair). */
  key: string;
  signal?: AbortSignal;
}

export async function compareBothOrders(
  judge: PairwiseJudge,
  input: PairwiseInput,
  options: BothOrdersOptions,
): Promise<PairwiseResult> {
  const first = await judge.compare(input, { key: options.key, signal: options.signal });
  if (options.judgeAsksBoth || !first.ok) return first;
  const swapped = await judge.compare(
    { prompt: input.prompt, a: input.b, b: input.a },
    { key: options.key, signal: options.signal },
  );
  if (!swapped.ok) return swapped;

  const secondForA = 1 - swapped.pA;
  const pA = (first.pA + secondForA) / 2;
  const consistent = first.pA > 0.5 === secondForA > 0.5 && first.pA !== 0.5;
  return {
    ...first,
    pA,
    choice: pA > 0.5 ? 'A' : pA < 0.5 ? 'B' : 'tie',
    consistent,
    perOrder: [first.pA, secondForA],
  };
}

/** A judge that asks its inner judge both orders per comparison (see compareBothOrders). */
export class BothOrdersJudge implements PairwiseJudge {
  readonly id: string;

  constructor(private readonly inner: PairwiseJudge, private readonly innerAsksBoth: boolean) {
    this.id = inner.id;
  }

  compare(input: PairwiseInput, options: CompareOptions = {}): Promise<PairwiseResult> {
    const key = options.key ?? `${input.prompt}\u0000${input.a}\u0000${input.b}`;
    return compareBothOrders(this.inner, input, { key, judgeAsksBoth: this.innerAsksBoth, signal: options.signal });
  }
}
