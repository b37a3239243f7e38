/**
 * Typed failures of model backends. Each has a stable `name`; judges map them to
 * JudgeFailure kinds and the retry layer decides from `retryable` whether to try again.
 */
import { RlaifError } from '../util/errors.ts';

/** A call that failed: an HTTP error status, a refused connection, a malformed reply. */
export class ProviderError extends RlaifError {
  /** HTTP status when there was one. */
  readonly status?: number;
  /** Worth trying again: 429, 5xx, a dropped connection. */
  readonly retryable: boolean;
  /** Milliseconds the server asked us to wait (Retry-After). */
  readonly retryAfterMs?: number;
  /** The reply body, shortened, when there was one. */
  readonly raw?: string;

  constructor(
    message: string,
    details: { status?: number; retryable?: boolean; retryAfterMs?: number; raw?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
    this.status = details.status;
    this.retryable = details.retryable ?? false;
    this.retryAfterMs = details.retryAfterMs;
    this.raw = details.raw;
  }
}

/** The reply arrived but does not have the shape the API promises. Not retried. */
export class MalformedReplyError extends ProviderError {
  constructor(message: string, raw: string) {
    super(message, { retryable: false, raw: raw.slice(0, 2000) });
    this.name = 'MalformedReplyError';
  }
}

/** No reply within the time limit. Retried. */
export class ProviderTimeoutError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: true });
    this.name = 'ProviderTimeoutError';
  }
}

/** The spending cap would be passed by this call. Never retried. */
export class BudgetExceededError extends RlaifError {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetExceededError';
  }
}

/** Whether an error is worth another attempt, read by name so it works across module copies. */
export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'retryable' in error &&
    (error as { retryable: unknown }).retryable === true;
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
