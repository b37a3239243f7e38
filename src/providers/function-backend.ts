/**
 * A TextBackend made from a plain function: rule-based judges (always "A", a seeded coin),
 * adapters over other code, and tests of the protocols that need exact replies.
 */
import type { CompletionRequest, CompletionResult, TextBackend } from './types.ts';

export interface FunctionBackendOptions {
  id: string;
  /** Default false. */
  supportsLogprobs?: boolean;
  respond(request: CompletionRequest, signal?: AbortSignal):
    Promise<Partial<CompletionResult> & { text: string }> | (Partial<CompletionResult> & { text: string });
}

export class FunctionBackend implements TextBackend {
  readonly id: string;
  readonly supportsLogprobs: boolean;
  /** Calls made so far. */
  calls = 0;
  private readonly respond: FunctionBackendOptions['respond'];

  constructor(options: FunctionBackendOptions) {
    this.id = options.id;
    this.supportsLogprobs = options.supportsLogprobs ?? false;
    this.respond = options.respond;
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    this.calls++;
    const reply = await this.respond(request, signal);
    return {
      finishReason: 'stop',
      usage: { promptTokens: 0, completionTokens: 0 },
      ...reply,
    };
  }
}

/** The text of the last user turn (or the raw prompt) of a request. */
export function lastUserText(request: CompletionRequest): string {
  const users = (request.messages ?? []).filter((m) => m.role === 'user');
  return users.length > 0 ? users[users.length - 1].content : (request.prompt ?? '');
}
