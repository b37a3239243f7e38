/**
 * Pointwise and listwise protocols for LLM judges. Pointwise rates one response 1-10; with
 * log-probs the rating is the probability-weighted expected score over the score token's
 * alternatives, mapped onto [-1, 1] as a direct RLAIF reward. Listwise ranks K candidates,
 * shown in a seeded shuffled order so no candidate profits from always coming first.
 */
import type { CompletionRequest, TextBackend } from '../providers/types.ts';
import { makeRng } from '../util/rng.ts';
import { principlesToUse, weightedMean } from './constitution.ts';
import { callBackend, usageOf } from './pairwise.ts';
import { readPointwise, readRanking, scaleScore } from './soft-label.ts';
import { defaultTemplates, listwiseMessages, pointwiseMessages } from './templates.ts';
import type {
  Constitution,
  JudgeFailure,
  ListwiseResult,
  PointwiseResult,
  PointwiseVerdict,
  Principle,
} from './types.ts';

export interface LlmScoringJudgeOptions {
  backend: TextBackend;
  constitution: Constitution;
  /** Ask for a short rationale before the answer. Default false. */
  chainOfThought?: boolean;
  /** 'sample': one seeded principle per item (default); 'all': average over all (pointwise). */
  mode?: 'sample' | 'all';
  seed?: number;
  /** Alternatives asked per position. Default 10. */
  topLogprobs?: number;
  /** Default 2 without chain of thought (a "10" can take two tokens), 512 with it. */
  maxTokens?: number;
}

interface ItemOptions {
  principle?: Principle;
  key?: string;
  signal?: AbortSignal;
}

export class LlmPointwiseJudge {
  readonly id: string;
  private readonly templates;

  constructor(private readonly options: LlmScoringJudgeOptions) {
    this.id = `llm:${options.backend.id}`;
    this.templates = { ...defaultTemplates, ...options.constitution.templates };
  }

  async score(input: { prompt: string; response: string }, options: ItemOptions = {}):
    Promise<PointwiseResult> {
    const principles = principlesToUse({
      ...this.options,
      key: options.key ?? `${input.prompt}\u0000${input.response}`,
      explicit: options.principle,
    });
    const verdicts = await Promise.all(principles.map((p) => this.byPrinciple(input, p, options.signal)));
    const failed = verdicts.find((v): v is JudgeFailure => !v.ok);
    if (failed) return failed;
    const ok = verdicts as PointwiseVerdict[];
    if (ok.length === 1) return ok[0];

    const score = weightedMean(ok.map((v, i) => ({ weight: principles[i].weight, value: v.score })));
    return {
      ok: true,
      score,
      reward: scaleScore(score),
      principle: 'all',
      source: ok.every((v) => v.source === 'logprobs') ? 'logprobs' : 'parsed',
      usage: ok.reduce((total, v) => ({
        promptTokens: total.promptTokens + (v.usage?.promptTokens ?? 0),
        completionTokens: total.completionTokens + (v.usage?.completionTokens ?? 0),
        costUsd: total.costUsd + (v.usage?.costUsd ?? 0),
      }), { promptTokens: 0, completionTokens: 0, costUsd: 0 }),
    };
  }

  private async byPrinciple(input: { prompt: string; response: string }, principle: Principle,
    signal?: AbortSignal): Promise<PointwiseResult> {
    const chainOfThought = this.options.chainOfThought ?? false;
    const request: CompletionRequest = {
      messages: pointwiseMessages({
        templates: this.templates,
        principle: principle.text,
        prompt: input.prompt,
        response: input.response,
        chainOfThought,
      }),
      maxTokens: this.options.maxTokens ?? (chainOfThought ? 512 : 2),
      temperature: 0,
      topLogprobs: this.options.backend.supportsLogprobs ? (this.options.topLogprobs ?? 10) : undefined,
    };
    const reply = await callBackend(this.options.backend, request, signal);
    if (!reply.ok) return reply;
    const read = readPointwise(reply.result, chainOfThought);
    if (!read.ok) return read;
    return {
      ok: true,
      score: read.expected,
      reward: scaleScore(read.expected),
      distribution: read.distribution,
      principle: principle.id,
      rationale: read.rationale,
      source: read.source,
      usage: usageOf(reply.result),
    };
  }
}

export class LlmListwiseJudge {
  readonly id: string;
  private readonly templates;

  constructor(private readonly options: LlmScoringJudgeOptions & {
    /** Show candidates in a seeded random order. Default true. */
    shuffle?: boolean;
  }) {
    this.id = `llm:${options.backend.id}`;
    this.templates = { ...defaultTemplates, ...options.constitution.templates };
  }

  async rank(input: { prompt: string; responses: string[] }, options: ItemOptions = {}):
    Promise<ListwiseResult> {
    const key = options.key ?? [input.prompt, ...input.responses].join('\u0000');
    const [principle] = principlesToUse({
      ...this.options,
      mode: 'sample',
      key,
      explicit: options.principle,
    });
    const indices = input.responses.map((_, i) => i);
    // shown[j] = which candidate is shown at position j.
    const shown = this.options.shuffle === false
      ? indices
      : makeRng(`${this.options.seed ?? 0}/order/${key}`).shuffle(indices);
    const chainOfThought = this.options.chainOfThought ?? false;

    const request: CompletionRequest = {
      messages: listwiseMessages({
        templates: this.templates,
        principle: principle.text,
        prompt: input.prompt,
        responses: shown.map((i) => input.responses[i]),
        chainOfThought,
      }),
      maxTokens: this.options.maxTokens ?? (chainOfThought ? 512 : 4 * input.responses.length),
      temperature: 0,
      topLogprobs: this.options.backend.supportsLogprobs ? (this.options.topLogprobs ?? 10) : undefined,
    };
    const reply = await callBackend(this.options.backend, request, options.signal);
    if (!reply.ok) return reply;
    const read = readRanking(reply.result, input.responses.length, chainOfThought);
    if (!read.ok) return read;

    let pBest: number[] | undefined;
    if (read.pBest) {
      pBest = new Array<number>(input.responses.length).fill(0);
      read.pBest.forEach((p, j) => { pBest![shown[j]] = p; });
    }
    return {
      ok: true,
      ranking: read.ranking.map((position) => shown[position - 1]),
      pBest,
      principle: principle.id,
      rationale: read.rationale,
      source: pBest ? 'logprobs' : 'parsed',
      usage: usageOf(reply.result),
    };
  }
}

/** Every (better, worse) pair implied by a ranking, best first. */
export function rankingToPairs(ranking: number[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranking.length; i++) {
    for (let j = i + 1; j < ranking.length; j++) pairs.push([ranking[i], ranking[j]]);
  }
  return pairs;
}
