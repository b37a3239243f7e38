/**
 * The pairwise protocol for LLM judges: ask "A or B?" by one principle, in both orders to cancel
 * position bias, and combine the two soft answers. The second order shows the responses
 * swapped; its P(first) is P(b better), so A's side is 1 - that.
 */
import type { CompletionRequest, CompletionResult, TextBackend } from '../providers/types.ts';
import { principlesToUse, weightedMean } from './constitution.ts';
import { readPairwise, type SoftPairwise } from './soft-label.ts';
import { defaultTemplates, pairwiseMessages, type PairwiseExample } from './templates.ts';
import type {
  CompareOptions,
  Constitution,
  JudgeFailure,
  PairwiseInput,
  PairwiseJudge,
  PairwiseResult,
  PairwiseVerdict,
  Principle,
} from './types.ts';

/**
 * How a hard choice is made from the combined probability.
 * - 'inconsistent-is-tie' (default): orders that disagree make a tie; otherwise pA decides.
 * - 'average': pA alone decides.
 * In both, |pA - 0.5| <= tieMargin is a tie.
 */
export type TiePolicy = 'inconsistent-is-tie' | 'average';

export interface LlmPairwiseJudgeOptions {
  backend: TextBackend;
  constitution: Constitution;
  /** Written into preference records. Default `llm:<backend id>`. */
  name?: string;
  /** Ask both orders (doubles the calls). Default true. */
  bothOrders?: boolean;
  /** Ask for a short rationale before the verdict. Default false. */
  chainOfThought?: boolean;
  examples?: PairwiseExample[];
  /** 'sample': one seeded principle per comparison (default); 'all': average over all. */
  mode?: 'sample' | 'all';
  seed?: number;
  tiePolicy?: TiePolicy;
  /** Default 0. */
  tieMargin?: number;
  /** Alternatives asked per position. Default 5 (backends without log-probs ignore it). */
  topLogprobs?: number;
  /** Default 1 without chain of thought, 512 with it. */
  maxTokens?: number;
}

export class LlmPairwiseJudge implements PairwiseJudge {
  readonly id: string;
  private readonly options: LlmPairwiseJudgeOptions;
  private readonly templates;

  constructor(options: LlmPairwiseJudgeOptions) {
    this.options = options;
    this.id = options.name ?? `llm:${options.backend.id}`;
    this.templates = { ...defaultTemplates, ...options.constitution.templates };
  }

  async compare(input: PairwiseInput, options: CompareOptions = {}): Promise<PairwiseResult> {
    const principles = principlesToUse({
      ...this.options,
      key: options.key ?? `${input.prompt}\u0000${input.a}\u0000${input.b}`,
      explicit: options.principle,
    });

    const verdicts = await Promise.all(principles.map((p) => this.byPrinciple(input, p, options.signal)));
    const failed = verdicts.find((v): v is JudgeFailure => !v.ok);
    if (failed) return failed;
    const ok = verdicts as PairwiseVerdict[];
    if (ok.length === 1) return ok[0];

    const pA = weightedMean(ok.map((v, i) => ({ weight: principles[i].weight, value: v.pA })));
    return {
      ...this.decide(pA, ok.every((v) => v.consistent !== false) ? true : false),
      principle: 'all',
      source: ok.every((v) => v.source === 'logprobs') ? 'logprobs' : 'parsed',
      rationale: ok.map((v) => v.rationale && `${v.principle}: ${v.rationale}`).filter(Boolean)
        .join('\n') || undefined,
      usage: sumUsage(ok),
    };
  }

  private async byPrinciple(input: PairwiseInput, principle: Principle, signal?: AbortSignal):
    Promise<PairwiseResult> {
    const bothOrders = this.options.bothOrders ?? true;
    const orders = bothOrders ? [[input.a, input.b], [input.b, input.a]] : [[input.a, input.b]];

    const replies = await Promise.all(orders.map(([first, second]) =>
      this.ask(input.prompt, first, second, principle, signal)));
    const failed = replies.find((r): r is JudgeFailure => !r.ok);
    if (failed) return failed;
    const read = replies as (SoftPairwise & { usage: UsageCost })[];

    // Map the swapped order back to A's side.
    const perOrder = read.map((r, i) => (i === 0 ? r.pFirst : 1 - r.pFirst));
    const pA = perOrder.reduce((a, b) => a + b, 0) / perOrder.length;
    const consistent = bothOrders ? side(perOrder[0]) === side(perOrder[1]) : undefined;
    return {
      ...this.decide(pA, consistent),
      perOrder: bothOrders ? perOrder : undefined,
      principle: principle.id,
      rationale: read.map((r) => r.rationale).filter(Boolean).join('\n---\n') || undefined,
      source: read.every((r) => r.source === 'logprobs') ? 'logprobs' : 'parsed',
      usage: sumUsage(read),
    };
  }

  private decide(pA: number, consistent: boolean | undefined) {
    const margin = this.options.tieMargin ?? 0;
    const policy = this.options.tiePolicy ?? 'inconsistent-is-tie';
    let choice: 'A' | 'B' | 'tie' = Math.abs(pA - 0.5) <= margin ? 'tie' : pA > 0.5 ? 'A' : 'B';
    if (policy === 'inconsistent-is-tie' && consistent === false) choice = 'tie';
    return { ok: true as const, pA, choice, consistent };
  }

  private async ask(
    prompt: string,
    first: string,
    second: string,
    principle: Principle,
    signal?: AbortSignal,
  ): Promise<(SoftPairwise & { usage: UsageCost }) | JudgeFailure> {
    const chainOfThought = this.options.chainOfThought ?? false;
    const request: CompletionRequest = {
      messages: pairwiseMessages({
        templates: this.templates,
        principle: principle.text,
        prompt,
        a: first,
        b: second,
        chainOfThought,
        examples: this.options.examples,
      }),
      maxTokens: this.options.maxTokens ?? (chainOfThought ? 512 : 1),
      temperature: 0,
      topLogprobs: this.options.backend.supportsLogprobs ? (this.options.topLogprobs ?? 5) : undefined,
    };

    const reply = await callBackend(this.options.backend, request, signal);
    if (!reply.ok) return reply;
    const read = readPairwise(reply.result, chainOfThought);
    if (!read.ok) return read;
    return { ...read, usage: usageOf(reply.result) };
  }
}

export interface UsageCost {
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** Calls a backend, turning a thrown error into a typed JudgeFailure. */
export async function callBackend(backend: TextBackend, request: CompletionRequest, signal?: AbortSignal):
  Promise<{ ok: true; result: CompletionResult } | JudgeFailure> {
  try {
    return { ok: true, result: await backend.complete(request, signal) };
  } catch (error) {
    return failureFromError(error);
  }
}

/** Maps provider errors (by their stable names) to failure kinds. */
export function failureFromError(error: unknown): JudgeFailure {
  const name = (error as Error)?.name;
  const message = (error as Error)?.message ?? String(error);
  if (name === 'BudgetExceededError') return { ok: false, kind: 'budget', message };
  if (name === 'ProviderTimeoutError' || name === 'TimeoutError' || name === 'AbortError') {
    return { ok: false, kind: 'timeout', message };
  }
  const raw = (error as { raw?: string })?.raw;
  return { ok: false, kind: 'backend', message, raw };
}

export function usageOf(result: CompletionResult): UsageCost {
  return { ...result.usage, costUsd: result.costUsd ?? 0 };
}

function sumUsage(items: { usage?: UsageCost }[]): UsageCost {
  const total = { promptTokens: 0, completionTokens: 0, costUsd: 0 };
  for (const { usage } of items) {
    if (!usage) continue;
    total.promptTokens += usage.promptTokens;
    total.completionTokens += usage.completionTokens;
    total.costUsd += usage.costUsd;
  }
  return total;
}

function side(p: number): 'A' | 'B' | 'even' {
  return p > 0.5 ? 'A' : p < 0.5 ? 'B' : 'even';
}
