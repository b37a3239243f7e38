/**
 * Anthropic Messages API (`POST {baseUrl}/v1/messages`). It returns no log-probs, so judges
 * read its verdicts by parsing. The key comes from the environment or the options and is
 * never logged, stored or part of the cache key.
 */
import { z } from 'zod';

import { postJson } from './http.ts';
import { finishReason } from './openai.ts';
import type { CompletionRequest, CompletionResult, TextBackend } from './types.ts';

export interface AnthropicBackendOptions {
  model: string;
  /** Default: env ANTHROPIC_BASE_URL, then https://api.anthropic.com. */
  baseUrl?: string;
  /** Default: env RLAIF_JUDGE_API_KEY, then ANTHROPIC_API_KEY. */
  apiKey?: string;
  /** Milliseconds per attempt. Default 60 000. */
  timeoutMs?: number;
  /** Identity in cache keys. Default "anthropic:<model>". */
  id?: string;
}

const replySchema = z.object({
  content: z.array(z.object({ type: z.string(), text: z.string().optional() })),
  stop_reason: z.string().nullable().optional(),
  usage: z.object({ input_tokens: z.number(), output_tokens: z.number() }).optional(),
});

export class AnthropicBackend implements TextBackend {
  readonly id: string;
  readonly supportsLogprobs = false;
  readonly model: string;
  private readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: AnthropicBackendOptions) {
    this.model = options.model;
    this.baseUrl = (options.baseUrl ?? process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com')
      .replace(/\/+$/, '');
    this.#apiKey = options.apiKey ?? process.env.RLAIF_JUDGE_API_KEY ?? process.env.ANTHROPIC_API_KEY;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.id = options.id ?? `anthropic:${options.model}`;
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    const messages = request.messages ?? [{ role: 'user' as const, content: request.prompt ?? '' }];
    const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    const body = {
      model: this.model,
      max_tokens: request.maxTokens,
      ...(system ? { system } : {}),
      messages: messages.filter((m) => m.role !== 'system'),
      temperature: request.temperature,
      top_p: request.topP,
      top_k: request.topK,
      stop_sequences: request.stop,
    };
    const headers: Record<string, string> = { 'anthropic-version': '2023-06-01' };
    if (this.#apiKey) headers['x-api-key'] = this.#apiKey;

    const reply = await postJson({
      url: `${this.baseUrl}/v1/messages`,
      headers,
      body,
      schema: replySchema,
      timeoutMs: this.timeoutMs,
      signal,
    });
    return {
      text: reply.content.filter((block) => block.type === 'text').map((b) => b.text ?? '').join(''),
      finishReason: finishReason(reply.stop_reason),
      usage: {
        promptTokens: reply.usage?.input_tokens ?? 0,
        completionTokens: reply.usage?.output_tokens ?? 0,
      },
    };
  }

  toJSON(): Record<string, unknown> {
    return { id: this.id, model: this.model, baseUrl: this.baseUrl };
  }
}
