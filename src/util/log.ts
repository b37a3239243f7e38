/**
 * The logger: pino writing to stderr, so stdout stays for machine-readable results.
 * Modules receive a Logger; they never create one of their own.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.RLAIF_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined }, pino.destination(2));
}

/** A logger that drops everything: the default in library calls and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
