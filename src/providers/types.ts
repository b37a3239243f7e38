/**
 * One interface for "generate text" over every backend: OpenAI-compatible HTTP, Anthropic,
 * a GGUF through node-llama-cpp, the in-process model. Judges, Constitutional AI and the
 * pipeline only see this.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  /** Chat form; backends without chat templates render it as plain text. */
  messages?: ChatMessage[];
  /** Raw prompt form (completion models such as stories260K). */
  prompt?: string;
  maxTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  /** Ask for the top-n alternatives' log-probs at each generated position. */
  topLogprobs?: number;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  /** Alternatives at this position, most likely first, when requested and available. */
  top?: { token: string; logprob: number }[];
}

export interface CompletionResult {
  text: string;
  /** Present when the backend returns log-probs. */
  logprobs?: TokenLogprob[];
  finishReason: 'stop' | 'length' | 'other';
  usage: { promptTokens: number; completionTokens: number };
  /** True when the answer came from the call cache. */
  cached?: boolean;
  /** What the call cost by the backend's price table (0 when free or unpriced). */
  costUsd?: number;
}

export interface TextBackend {
  /** Stable identity used in cache keys, e.g. "openai:gpt-4o-mini" or "local:stories260K". */
  readonly id: string;
  /** Whether log-probs (and top alternatives) can be returned. */
  readonly supportsLogprobs: boolean;
  complete(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult>;
  close?(): Promise<void>;
}
