/**
 * OpenAI-compatible Chat Completions (`POST {baseUrl}/chat/completions`): OpenAI itself, vLLM,
 * SGLang, llama.cpp's server, rlaif's own serve endpoint. Asks for log-probs with top
 * alternatives when the request wants them. The API key comes from the environment or the
 * options, lives in a private field, and is never logged, stored or part of the cache key.
 */
import { z } from 'zod';

import { postJson } from './http.ts';
import type { ChatMessage, CompletionRequest, CompletionResult, TextBackend } from './types.ts';

export interface OpenAIBackendOptions {
  model: string;
  /**
   * API root including the version, e.g. "http://127.0.0.1:8000/v1". Default: env
   * RLAIF_JUDGE_BASE_URL, then OPENAI_BASE_URL, then https://api.openai.com/v1.
   */
  baseUrl?: string;
  /** Default: env RLAIF_JUDGE_API_KEY, then OPENAI_API_KEY; servers without auth need none. */
  apiKey?: string;
  /** Milliseconds per attempt. Default 60 000. */
  timeoutMs?: number;
  /** Identity in cache keys. Default "openai:<model>" (plus "@host" off api.openai.com). */
  id?: string;
  /** Whether the server returns log-probs. Default true. */
  supportsLogprobs?: boolean;
}

const alternativeSchema = z.object({ token: z.string(), logprob: z.number() });
const replySchema = z.object({
  choices: z.array(z.object({
    message: z.object({ content: z.string().nullable().optional() }),
    finish_reason: z.string().nullable().optional(),
    logprobs: z.object({
      content: z.array(alternativeSchema.extend({ top_logprobs: z.array(alternativeSchema).optional() }))
        .nullable().optional(),
    }).nullable().optional(),
  })).min(1),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).optional(),
});

export class OpenAIBackend implements TextBackend {
  readonly id: string;
  readonly supportsLogprobs: boolean;
  readonly model: string;
  private readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: OpenAIBackendOptions) {
    this.model = options.model;
    this.baseUrl = (options.baseUrl ?? process.env.RLAIF_JUDGE_BASE_URL ?? process.env.OPENAI_BASE_URL
      ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
    this.#apiKey = options.apiKey ?? process.env.RLAIF_JUDGE_API_KEY ?? process.env.OPENAI_API_KEY;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.supportsLogprobs = options.supportsLogprobs ?? true;
    const host = new URL(this.baseUrl).host;
    this.id = options.id ?? `openai:${options.model}${host === 'api.openai.com' ? '' : `@${host}`}`;
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    const wantLogprobs = this.supportsLogprobs && request.topLogprobs !== undefined;
    const body = {
      model: this.model,
      messages: toMessages(request),
      max_tokens: request.maxTokens,
      temperature: request.temperature,
      top_p: request.topP,
      stop: request.stop,
      seed: request.seed,
      ...(wantLogprobs ? { logprobs: true, top_logprobs: request.topLogprobs } : {}),
    };
    const headers: Record<string, string> = this.#apiKey ? { authorization: `Bearer ${this.#apiKey}` } : {};
    const reply = await postJson({
      url: `${this.baseUrl}/chat/completions`,
      headers,
      body,
      schema: replySchema,
      timeoutMs: this.timeoutMs,
      signal,
    });

    const choice = reply.choices[0];
    const content = choice.logprobs?.content ?? undefined;
    return {
      text: choice.message.content ?? '',
      logprobs: content?.map((position) => ({
        token: position.token,
        logprob: position.logprob,
        top: position.top_logprobs?.map((alt) => ({ token: alt.token, logprob: alt.logprob })),
      })),
      finishReason: finishReason(choice.finish_reason),
      usage: {
        promptTokens: reply.usage?.prompt_tokens ?? 0,
        completionTokens: reply.usage?.completion_tokens ?? 0,
      },
    };
  }

  /** Keeps the key out of `console.log(backend)` and JSON dumps. */
  toJSON(): Record<string, unknown> {
    return { id: this.id, model: this.model, baseUrl: this.baseUrl };
  }
}

function toMessages(request: CompletionRequest): ChatMessage[] {
  if (request.messages && request.messages.length > 0) return request.messages;
  return [{ role: 'user', content: request.prompt ?? '' }];
}

export function finishReason(reason: string | null | undefined): CompletionResult['finishReason'] {
  if (reason === 'stop' || reason === 'end_turn' || reason === 'stop_sequence') return 'stop';
  if (reason === 'length' || reason === 'max_tokens') return 'length';
  return 'other';
}
