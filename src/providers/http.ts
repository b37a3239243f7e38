/**
 * One JSON POST with a time limit, mapping every way it can fail to a typed ProviderError.
 * The body is validated by the caller's zod schema, so a reply of the wrong shape becomes a
 * MalformedReplyError instead of an undefined deep inside a judge.
 */
import type { z } from 'zod';

import {
  MalformedReplyError,
  ProviderError,
  ProviderTimeoutError,
  parseRetryAfter,
} from './errors.ts';

export interface PostJsonOptions<T> {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  schema: z.ZodType<T>;
  /** Milliseconds before the attempt is abandoned. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export async function postJson<T>(options: PostJsonOptions<T>): Promise<T> {
  // A plain controller and timer: AbortSignal.timeout/any build transferable signals that cost
  // more per call than the rest of the request path, and their timers outlive the request.
  const controller = new AbortController();
  const timeout = { aborted: false };
  const timer = setTimeout(() => {
    timeout.aborted = true;
    controller.abort();
  }, options.timeoutMs);
  const forward = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) forward();
  else options.signal?.addEventListener('abort', forward, { once: true });
  const signal = controller.signal;

  let response: Response;
  let text: string;
  try {
    response = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(options.body),
      signal,
    });
    text = await response.text();
  } catch (error) {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', forward);
    if (timeout.aborted) {
      throw new ProviderTimeoutError(`no reply from ${redact(options.url)} within ${options.timeoutMs} ms`);
    }
    if (options.signal?.aborted) throw error;
    throw new ProviderError(`request to ${redact(options.url)} failed: ${(error as Error).message}`,
      { retryable: true }, { cause: error });
  }
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', forward);

  if (!response.ok) {
    const status = response.status;
    throw new ProviderError(`${redact(options.url)} answered ${status}: ${text.slice(0, 300)}`, {
      status,
      retryable: status === 429 || status === 408 || status >= 500,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      raw: text.slice(0, 2000),
    });
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MalformedReplyError(`${redact(options.url)} answered with invalid JSON`, text);
  }
  const parsed = options.schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.join('.');
    throw new MalformedReplyError(
      `${redact(options.url)} answered with an unexpected shape at "${where}": ${issue.message}`,
      text,
    );
  }
  return parsed.data;
}

/** URL without credentials or query string, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '<url>';
  }
}
