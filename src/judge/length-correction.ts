/**
 * A length-controlled judge: removes the part of a verdict explained by the length ratio of
 * the two responses. With the slope b of logit P(A) on log(len A / len B) measured by an audit,
 * the corrected verdict is sigmoid(logit P(A) - b * log(len A / len B)).
 */
import { logit } from './audit.ts';
import { sigmoid } from './embedded.ts';
import type { CompareOptions, PairwiseInput, PairwiseJudge, PairwiseResult } from './types.ts';

export interface LengthCorrectionOptions {
  judge: PairwiseJudge;
  /** Slope of logit P(A) on log(len A / len B), e.g. an audit's `lengthSlope.value`. */
  slope: number;
  /** Half-width of the tie band around 0.5 after correction. Default 0. */
  tieMargin?: number;
}

export class LengthCorrectedJudge implements PairwiseJudge {
  readonly id: string;

  constructor(private readonly options: LengthCorrectionOptions) {
    this.id = `${options.judge.id}+length-corrected`;
  }

  async compare(input: PairwiseInput, options?: CompareOptions): Promise<PairwiseResult> {
    const verdict = await this.options.judge.compare(input, options);
    if (!verdict.ok) return verdict;
    const ratio = Math.log((input.a.length + 1) / (input.b.length + 1));
    const correct = (p: number) => sigmoid(logit(p) - this.options.slope * ratio);
    const pA = correct(verdict.pA);
    const margin = this.options.tieMargin ?? 0;
    const choice = Math.abs(pA - 0.5) <= margin ? 'tie' : pA > 0.5 ? 'A' : 'B';
    // Per-order values are already on A's side, so the same ratio applies to both.
    const perOrder = verdict.perOrder?.map(correct);
    // An inconsistent pair stays a tie under the inconsistent-is-tie policy.
    const keepTie = verdict.choice === 'tie' && verdict.consistent === false;
    return { ...verdict, pA, perOrder, choice: keepTie ? 'tie' : choice };
  }
}
