/**
 * Constitutional AI's supervised stage (Bai et al. 2022, section 3): the policy answers a prompt,
 * then for each of N rounds a principle is sampled, the model critiques the current answer
 * against it and rewrites the answer following the principle's revision request. The whole chain
 * is kept; the last revision is the SFT target.
 *
 * Prompts to the model follow the paper's transcript layout, so a base (completion) model can
 * continue them, optionally after few-shot examples:
 *
 *   <few-shot>\n\nHuman: <prompt>\n\nAssistant: <answer>\n\nCritiqueRequest: <principle>\n\nCritique:
 *
 * and then `… <critique>\n\nRevisionRequest: <revision request>\n\nRevision:`. In "chat" mode the
 * same steps go as chat turns instead. Every generation goes through a TextBackend.
 */
import { createHash } from 'node:crypto';

import { principleFor } from '../judge/constitution.ts';
import type { Constitution, Principle } from '../judge/types.ts';
import type { ChatMessage, CompletionRequest, TextBackend } from '../providers/types.ts';

export interface CritiqueRevisionOptions {
  /** Writes critiques and revisions. */
  backend: TextBackend;
  /** Writes the first answer. Default: `backend`. */
  policy?: TextBackend;
  /** Principles with `text` (the critique request) and `revision` (the revision request). */
  constitution: Constitution;
  /** Critique-and-revision rounds per prompt. Default 1 (the paper uses up to 4). */
  rounds?: number;
  /** Seed of principle sampling. Default 0. */
  seed?: number;
  /** Worked examples placed before each critique and revision prompt ("text" mode). */
  fewShot?: string[];
  /** "text": transcript prompts for completion models (default); "chat": chat turns. */
  mode?: 'text' | 'chat';
  /** Token budgets. Defaults 128, 128, 192. */
  maxTokens?: { response?: number; critique?: number; revision?: number };
  /** Sampling temperature of every call. Default 0 (greedy). */
  temperature?: number;
  /**
   * How the policy sees a prompt in "text" mode; `{prompt}` is replaced. Default
   * "\n\nHuman: {prompt}\n\nAssistant:". A story model takes plain "{prompt}".
   */
  responseTemplate?: string;
}

export interface CritiqueRound {
  principle: string;
  critiqueRequest: string;
  critique: string;
  revisionRequest: string;
  revision: string;
  /** The revision came back empty, so the answer before it was kept. */
  keptPrevious?: boolean;
}

export interface CritiqueChain {
  prompt: string;
  /** The exact text the policy continued ("text" mode); the SFT prompt. */
  policyPrompt: string;
  initialResponse: string;
  rounds: CritiqueRound[];
  /** The SFT target: the last non-empty revision (or the first answer with no rounds). */
  finalResponse: string;
  backend: string;
  seed: number;
}

const STOP = [
  '\n\nHuman:',
  '\n\nAssistant:',
  '\n\nCritiqueRequest:',
  '\n\nRevisionRequest:',
  '\n\nCritique:',
  '\n\nRevision:',
];

/** Stable per-prompt key for principle sampling, independent of order and concurrency. */
export function promptKey(prompt: string): string {
  return createHash('sha256').update(prompt).digest('hex').slice(0, 16);
}

/** The principle of round `round` (0-based) for `prompt`. */
export function principleForRound(
  constitution: Constitution,
  seed: number,
  prompt: string,
  round: number,
): Principle {
  return principleFor(constitution, seed, `${promptKey(prompt)}/round-${round}`);
}

export class CritiqueReviser {
  private readonly rounds: number;
  private readonly seed: number;
  private readonly mode: 'text' | 'chat';
  private readonly fewShot: string;

  constructor(private readonly options: CritiqueRevisionOptions) {
    this.rounds = options.rounds ?? 1;
    this.seed = options.seed ?? 0;
    this.mode = options.mode ?? 'text';
    this.fewShot = (options.fewShot ?? []).join('');
    for (const p of options.constitution.principles) {
      if (!p.revision) throw new Error(`principle "${p.id}" has no revision request`);
    }
  }

  /** The whole chain for one prompt. Backend errors propagate to the caller. */
  async run(prompt: string, signal?: AbortSignal): Promise<CritiqueChain> {
    const policy = this.options.policy ?? this.options.backend;
    const template = this.options.responseTemplate ?? '\n\nHuman: {prompt}\n\nAssistant:';
    const policyPrompt = template.split('{prompt}').join(prompt);
    const first = await policy.complete(
      this.request(
        this.mode === 'chat'
          ? { messages: [{ role: 'user', content: prompt }] }
          : { prompt: policyPrompt },
        'response',
      ),
      signal,
    );
    const initialResponse = first.text.trim();

    let current = initialResponse;
    const rounds: CritiqueRound[] = [];
    for (let r = 0; r < this.rounds; r++) {
      const principle = principleForRound(this.options.constitution, this.seed, prompt, r);
      const round = await this.round(prompt, current, principle, signal);
      rounds.push(round);
      if (!round.keptPrevious) current = round.revision;
    }
    return {
      prompt,
      policyPrompt,
      initialResponse,
      rounds,
      finalResponse: current,
      backend: this.options.backend.id,
      seed: this.seed,
    };
  }

  private async round(
    prompt: string,
    answer: string,
    principle: Principle,
    signal?: AbortSignal,
  ): Promise<CritiqueRound> {
    const critiqueRequest = principle.text;
    const revisionRequest = principle.revision!;
    const backend = this.options.backend;

    let critiqueCall: Pick<CompletionRequest, 'prompt' | 'messages'>;
    if (this.mode === 'chat') {
      critiqueCall = { messages: this.chat(prompt, answer, critiqueRequest) };
    } else {
      critiqueCall = {
        prompt: `${this.transcript(prompt, answer)}\n\nCritiqueRequest: ${critiqueRequest}\n\nCritique:`,
      };
    }
    const critique = (
      await backend.complete(this.request(critiqueCall, 'critique'), signal)
    ).text.trim();

    let revisionCall: Pick<CompletionRequest, 'prompt' | 'messages'>;
    if (this.mode === 'chat') {
      revisionCall = {
        messages: [
          ...critiqueCall.messages!,
          { role: 'assistant', content: critique },
          { role: 'user', content: `${revisionRequest}\nReply with the rewritten response only.` },
        ],
      };
    } else {
      revisionCall = {
        prompt: `${critiqueCall.prompt} ${critique}\n\nRevisionRequest: ${revisionRequest}\n\nRevision:`,
      };
    }
    const revision = (
      await backend.complete(this.request(revisionCall, 'revision'), signal)
    ).text.trim();

    const round: CritiqueRound = {
      principle: principle.id,
      critiqueRequest,
      critique,
      revisionRequest,
      revision,
    };
    if (revision === '') round.keptPrevious = true;
    return round;
  }

  private transcript(prompt: string, answer: string): string {
    return `${this.fewShot}\n\nHuman: ${prompt}\n\nAssistant: ${answer}`;
  }

  private chat(prompt: string, answer: string, critiqueRequest: string): ChatMessage[] {
    return [
      { role: 'user', content: prompt },
      { role: 'assistant', content: answer },
      { role: 'user', content: critiqueRequest },
    ];
  }

  private request(
    base: Pick<CompletionRequest, 'prompt' | 'messages'>,
    step: 'response' | 'critique' | 'revision',
  ): CompletionRequest {
    const defaults = { response: 128, critique: 128, revision: 192 };
    return {
      ...base,
      maxTokens: this.options.maxTokens?.[step] ?? defaults[step],
      temperature: this.options.temperature ?? 0,
      stop: this.mode === 'text' ? STOP : undefined,
      seed: this.seed,
    };
  }
}
