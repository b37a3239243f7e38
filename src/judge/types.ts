/**
 * What judges return and what the preference dataset holds. A judge's reply is data: it is
 * parsed into a Verdict or a JudgeFailure, never into a made-up score.
 */

export interface Principle {
  id: string;
  /** What an LLM judge reads. */
  text: string;
  weight: number;
  /** Name of a check the embedded judge can run for this principle, if any. */
  check?: string;
  /** A request to rewrite a response so it meets the principle (critique-and-revision lists). */
  revision?: string;
}

/** Prompt templates with `{{name}}` slots; absent ones fall back to the built-in defaults. */
export interface PromptTemplates {
  system?: string;
  pairwise?: string;
  pointwise?: string;
  listwise?: string;
}

export interface Constitution {
  name: string;
  principles: Principle[];
  templates?: PromptTemplates;
}

export type JudgeFailureKind =
  | 'parse' // the reply had no readable verdict
  | 'backend' // the call failed after retries
  | 'budget' // the spending cap was reached
  | 'timeout';

export interface JudgeFailure {
  ok: false;
  kind: JudgeFailureKind;
  message: string;
  /** The raw reply, when there was one. */
  raw?: string;
}

export interface PairwiseVerdict {
  ok: true;
  /** P(A is better than B), combined over both orders when both were asked. */
  pA: number;
  /** The hard choice after the tie policy. */
  choice: 'A' | 'B' | 'tie';
  /** Both orders picked the same response (undefined when only one order was asked). */
  consistent?: boolean;
  /** Per-order probabilities, A-first then B-first (the latter mapped back to A's side). */
  perOrder?: number[];
  principle: string;
  rationale?: string;
  /** Where the probability came from. */
  source: 'logprobs' | 'parsed' | 'embedded';
  usage?: { promptTokens: number; completionTokens: number; costUsd: number };
}

export type PairwiseResult = PairwiseVerdict | JudgeFailure;

export interface PreferenceRecord {
  prompt: string;
  chosen: string;
  rejected: string;
  /** Probability that `chosen` is better; 1 for hard human labels. */
  pChosen: number;
  judge: string;
  principle?: string;
  rationale?: string;
  /** Both orders agreed. */
  consistent?: boolean;
  source: 'ai' | 'human' | 'verifier';
  /** Weight in reward-model training (mixing human and AI labels). */
  weight?: number;
}

/** One comparison a pairwise judge is asked: which of `a` and `b` answers `prompt` better. */
export interface PairwiseInput {
  prompt: string;
  a: string;
  b: string;
}

export interface CompareOptions {
  /** Principle to judge by; a judge samples one from its constitution when absent. */
  principle?: Principle;
  /** Stable key of this comparison, used to sample the principle reproducibly. */
  key?: string;
  signal?: AbortSignal;
}

/** Anything that turns a comparison into a verdict: LLM judges and the embedded judge alike. */
export interface PairwiseJudge {
  /** Stable identity written into preference records, e.g. "embedded:default". */
  readonly id: string;
  compare(input: PairwiseInput, options?: CompareOptions): Promise<PairwiseResult>;
}

/** A 1-10 rating of one response. */
export interface PointwiseVerdict {
  ok: true;
  /** Probability-weighted expected score on 1..10 (the parsed score when no log-probs). */
  score: number;
  /** The score mapped linearly onto [-1, 1], the reward of direct RLAIF. */
  reward: number;
  /** P(score = k) for k = 1..10 (index 0 is 1) when log-probs gave it. */
  distribution?: number[];
  principle: string;
  rationale?: string;
  source: 'logprobs' | 'parsed' | 'embedded';
  usage?: { promptTokens: number; completionTokens: number; costUsd: number };
}

export type PointwiseResult = PointwiseVerdict | JudgeFailure;

/** An ordering of K candidates. */
export interface ListwiseVerdict {
  ok: true;
  /** Candidate indices (0-based, as given), best first. */
  ranking: number[];
  /** P(candidate i is best), from the log-probs of the first ranked item, when available. */
  pBest?: number[];
  principle: string;
  rationale?: string;
  source: 'logprobs' | 'parsed';
  usage?: { promptTokens: number; completionTokens: number; costUsd: number };
}

export type ListwiseResult = ListwiseVerdict | JudgeFailure;
